//! SETRANGE SETBIT INCRBYFLOAT COPY BITOP: the read-modify-writes added beside the older string
//! commands.

use super::Command;
use crate::decode::Args;
use crate::parse::{CommandError, Cursor, is, parse_int};

/// The largest bit offset `SETBIT` takes (`2^32 - 1`).
const MAX_BIT_OFFSET: i64 = (1 << 32) - 1;

pub(super) fn setrange<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let offset = c.next_i64()?;
    let value = c.next_bytes()?;
    let offset = usize::try_from(offset)
        .map_err(|_| CommandError::Other("ERR offset is out of range".to_owned()))?;
    Ok(Command::SetRange { key, offset, value })
}

pub(super) fn setbit<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let bad_offset =
        || CommandError::Other("ERR bit offset is not an integer or out of range".to_owned());
    let offset = parse_int(c.next_bytes()?).map_err(|_| bad_offset())?;
    if !(0..=MAX_BIT_OFFSET).contains(&offset) {
        return Err(bad_offset());
    }
    let bit = match parse_int(c.next_bytes()?) {
        Ok(0) => false,
        Ok(1) => true,
        _ => {
            return Err(CommandError::Other(
                "ERR bit is not an integer or out of range".to_owned(),
            ));
        }
    };
    Ok(Command::SetBit {
        key,
        offset: offset.unsigned_abs(),
        bit,
    })
}

/// The operation of `BITOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOperation {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
    /// `NOT` (one source).
    Not,
}

pub(super) fn bitop<'a>(args: Args<'a>) -> Result<Command<'a>, CommandError> {
    let name = args.get(1).unwrap_or_default();
    let op = if is(name, "and") {
        BitOperation::And
    } else if is(name, "or") {
        BitOperation::Or
    } else if is(name, "xor") {
        BitOperation::Xor
    } else if is(name, "not") {
        BitOperation::Not
    } else {
        return Err(CommandError::Syntax);
    };
    let sources = args.skip(3);
    if op == BitOperation::Not && sources.len() != 1 {
        return Err(CommandError::Other(
            "ERR BITOP NOT must be called with a single source key.".to_owned(),
        ));
    }
    Ok(Command::BitOp {
        op,
        dest: args.get(2).unwrap_or_default(),
        sources,
    })
}

pub(super) fn copy<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let from = c.next_bytes()?;
    let to = c.next_bytes()?;
    let mut replace = false;
    while let Some(word) = c.next_opt() {
        if is(word, "replace") {
            replace = true;
        } else if is(word, "db") {
            // One database: DB 0 is this one; any other index does not exist.
            let db = c.next_bytes().map_err(|_| CommandError::Syntax)?;
            match parse_int(db) {
                Ok(0) => {}
                Ok(_) => {
                    return Err(CommandError::Other(
                        "ERR DB index is out of range".to_owned(),
                    ));
                }
                Err(_) => return Err(CommandError::NotInteger),
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Command::Copy { from, to, replace })
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn arguments_and_their_errors() {
        assert!(
            parse_words(&["setrange", "k", "5", "ab"])
                .unwrap()
                .contains("offset: 5")
        );
        assert_eq!(
            parse_words(&["setrange", "k", "-1", "ab"]).unwrap_err(),
            "ERR offset is out of range"
        );
        assert_eq!(
            parse_words(&["setrange", "k", "x", "ab"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
        assert!(
            parse_words(&["setbit", "k", "4294967295", "1"])
                .unwrap()
                .contains("bit: true")
        );
        for bad in ["4294967296", "-1", "x"] {
            assert_eq!(
                parse_words(&["setbit", "k", bad, "1"]).unwrap_err(),
                "ERR bit offset is not an integer or out of range"
            );
        }
        assert_eq!(
            parse_words(&["setbit", "k", "1", "2"]).unwrap_err(),
            "ERR bit is not an integer or out of range"
        );
        assert!(
            parse_words(&["copy", "a", "b", "REPLACE", "db", "0"])
                .unwrap()
                .contains("replace: true")
        );
        assert_eq!(
            parse_words(&["copy", "a", "b", "db", "1"]).unwrap_err(),
            "ERR DB index is out of range"
        );
        assert_eq!(
            parse_words(&["copy", "a", "b", "nope"]).unwrap_err(),
            "ERR syntax error"
        );
    }
}
