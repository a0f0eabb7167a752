//! LCS: the longest common subsequence of two string values.

use super::Command;
use crate::parse::{CommandError, Cursor, is, parse_int};

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lcs<'a> {
    /// The first key (a missing key reads as an empty string).
    pub a: &'a [u8],
    /// The second key.
    pub b: &'a [u8],
    /// `LEN`: reply only the length.
    pub len: bool,
    /// `IDX`: reply the matching ranges and the length.
    pub idx: bool,
    /// `MINMATCHLEN n`: with `IDX`, leave out ranges shorter than this (a negative `n` counts as 0).
    pub min_match_len: u64,
    /// `WITHMATCHLEN`: with `IDX`, give each range's length.
    pub with_match_len: bool,
}

pub(super) fn lcs<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let a = c.next_bytes()?;
    let b = c.next_bytes()?;
    let mut lcs = Lcs {
        a,
        b,
        len: false,
        idx: false,
        min_match_len: 0,
        with_match_len: false,
    };
    while let Some(opt) = c.next_opt() {
        if is(opt, "idx") {
            lcs.idx = true;
        } else if is(opt, "len") {
            lcs.len = true;
        } else if is(opt, "withmatchlen") {
            lcs.with_match_len = true;
        } else if is(opt, "minmatchlen") && c.remaining() > 0 {
            let n = parse_int(c.next_bytes()?)?;
            lcs.min_match_len = u64::try_from(n).unwrap_or(0);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if lcs.idx && lcs.len {
        return Err(CommandError::Other(
            "ERR If you want both the length and indexes, please just use IDX.".to_owned(),
        ));
    }
    Ok(Command::Lcs(lcs))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn options() {
        let parsed = parse_words(&["lcs", "a", "b", "IDX", "minmatchlen", "-3", "withmatchlen"]);
        assert!(parsed.unwrap().contains("min_match_len: 0"));
        assert_eq!(
            parse_words(&["lcs", "a", "b", "minmatchlen"]).unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse_words(&["lcs", "a", "b", "minmatchlen", "x"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_words(&["lcs", "a", "b", "len", "idx"]).unwrap_err(),
            "ERR If you want both the length and indexes, please just use IDX."
        );
        assert_eq!(
            parse_words(&["lcs", "a"]).unwrap_err(),
            "ERR wrong number of arguments for 'lcs' command"
        );
    }
}
