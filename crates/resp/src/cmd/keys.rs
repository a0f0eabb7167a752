//! DEL UNLINK EXISTS TYPE KEYS take keys as they come; SCAN has options.

use crate::parse::{CommandError, Cursor, is, parse_int};

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan<'a> {
    /// Where to continue; 0 starts a new scan.
    pub cursor: u64,
    /// Glob pattern keys must match.
    pub pattern: Option<&'a [u8]>,
    /// How many keys to examine (a hint), at least 1; 10 by default.
    pub count: usize,
    /// Only keys of this type (`string` is the only type relaycache stores).
    pub kind: Option<&'a [u8]>,
}

pub(super) fn scan<'a>(c: &mut Cursor<'a>) -> Result<Scan<'a>, CommandError> {
    let cursor = c.next_bytes()?;
    let cursor = std::str::from_utf8(cursor)
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|_| !cursor.starts_with(b"+"))
        .ok_or(CommandError::InvalidCursor)?;
    let mut scan = Scan {
        cursor,
        pattern: None,
        count: 10,
        kind: None,
    };
    while let Some(opt) = c.next_opt() {
        if c.remaining() == 0 {
            return Err(CommandError::Syntax);
        }
        if is(opt, "match") {
            scan.pattern = Some(c.next_bytes()?);
        } else if is(opt, "count") {
            let count = parse_int(c.next_bytes()?)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            scan.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if is(opt, "type") {
            scan.kind = Some(c.next_bytes()?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn scan_options() {
        assert!(parse_words(&["scan", "0", "match", "a*", "count", "100"]).is_ok());
        assert_eq!(
            parse_words(&["scan", "x"]).unwrap_err(),
            "ERR invalid cursor"
        );
        assert_eq!(
            parse_words(&["scan", "0", "count", "0"]).unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse_words(&["scan", "0", "match"]).unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse_words(&["del"]).unwrap_err(),
            "ERR wrong number of arguments for 'del' command"
        );
    }
}
