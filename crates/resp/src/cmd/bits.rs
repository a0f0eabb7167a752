//! GETBIT BITCOUNT BITPOS: reading a string as an array of bits (bit 0 is the most significant bit of
//! the first byte).
//!
//! Redis looks the key up before it reads the range of `BITCOUNT` and `BITPOS`, so a missing key
//! replies 0 (or -1) whatever the range says: the range is parsed here, but an error in it is kept
//! ([`Deferred`]) for the server to reply only when the key exists.

use super::{Command, Deferred};
use crate::parse::{CommandError, Cursor, is, parse_int};

/// The largest byte index a bit offset may reach (Redis's default `proto-max-bulk-len`, 512 MiB): offsets
/// run from 0 to 2^32 - 1.
const MAX_BIT_BYTES: u64 = 512 << 20;

/// Whether the indexes of a range count bytes or bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BitUnit {
    /// `BYTE` (the default): indexes are byte positions.
    #[default]
    Byte,
    /// `BIT`: indexes are bit positions.
    Bit,
}

/// The `start [end [BYTE|BIT]]` of BITCOUNT and BITPOS, as written (negative indexes count from the
/// end; the server clamps them to the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index.
    pub start: i64,
    /// Last index (inclusive); `None` when not given (BITPOS only: up to the end).
    pub end: Option<i64>,
    /// What the indexes count.
    pub unit: BitUnit,
}

/// `BITCOUNT key [start end [BYTE|BIT]]` or `BITPOS key bit [start [end [BYTE|BIT]]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitQuery<'a> {
    /// The key.
    pub key: &'a [u8],
    /// `BITPOS`: the bit looked for (`false` for 0); unused by `BITCOUNT`.
    pub bit: bool,
    /// The range (`Ok(None)`: the whole value), or the error to reply when the key exists.
    pub range: Result<Option<BitRange>, Deferred>,
}

pub(super) fn getbit<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let offset = bit_offset(c.next_bytes()?)?;
    c.finish()?;
    Ok(Command::GetBit { key, offset })
}

/// A bit offset as GETBIT (and SETBIT) read it: 0 to 2^32 - 1.
fn bit_offset(arg: &[u8]) -> Result<u64, CommandError> {
    parse_int(arg)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| n >> 3 < MAX_BIT_BYTES)
        .ok_or_else(|| {
            CommandError::Other("ERR bit offset is not an integer or out of range".to_owned())
        })
}

fn unit(arg: &[u8]) -> Result<BitUnit, Deferred> {
    if is(arg, "byte") {
        Ok(BitUnit::Byte)
    } else if is(arg, "bit") {
        Ok(BitUnit::Bit)
    } else {
        Err(Deferred::Syntax)
    }
}

fn index(arg: &[u8]) -> Result<i64, Deferred> {
    parse_int(arg).map_err(|_| Deferred::NotInteger)
}

pub(super) fn bitcount<'a>(c: &mut Cursor<'a>) -> Command<'a> {
    let key = c.next_opt().unwrap_or_default();
    let rest: Vec<&[u8]> = c.rest().iter().take(4).collect();
    let range = match (c.remaining(), rest.as_slice()) {
        (0, _) => Ok(None),
        (2, [start, end]) => index(start).and_then(|start| {
            Ok(Some(BitRange {
                start,
                end: Some(index(end)?),
                unit: BitUnit::Byte,
            }))
        }),
        (3, [start, end, u]) => index(start).and_then(|start| {
            let end = index(end)?;
            Ok(Some(BitRange {
                start,
                end: Some(end),
                unit: unit(u)?,
            }))
        }),
        _ => Err(Deferred::Syntax),
    };
    Command::BitCount(BitQuery {
        key,
        bit: false,
        range,
    })
}

pub(super) fn bitpos<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let bit = match c.next_i64()? {
        0 => false,
        1 => true,
        _ => {
            return Err(CommandError::Other(
                "ERR The bit argument must be 1 or 0.".to_owned(),
            ));
        }
    };
    let rest: Vec<&[u8]> = c.rest().iter().take(4).collect();
    // Redis reads the start, then the unit, then the end.
    let range = match (c.remaining(), rest.as_slice()) {
        (0, _) => Ok(None),
        (1, [start]) => index(start).map(|start| {
            Some(BitRange {
                start,
                end: None,
                unit: BitUnit::Byte,
            })
        }),
        (2, [start, end]) => index(start).and_then(|start| {
            Ok(Some(BitRange {
                start,
                end: Some(index(end)?),
                unit: BitUnit::Byte,
            }))
        }),
        (3, [start, end, u]) => index(start).and_then(|start| {
            let unit = unit(u)?;
            Ok(Some(BitRange {
                start,
                end: Some(index(end)?),
                unit,
            }))
        }),
        _ => Err(Deferred::Syntax),
    };
    Ok(Command::BitPos(BitQuery { key, bit, range }))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn getbit_offsets() {
        assert!(parse_words(&["getbit", "k", "4294967295"]).is_ok());
        for bad in ["4294967296", "-1", "x", "1.5", ""] {
            assert_eq!(
                parse_words(&["getbit", "k", bad]).unwrap_err(),
                "ERR bit offset is not an integer or out of range",
                "{bad}"
            );
        }
    }

    #[test]
    fn range_errors_wait_for_the_key() {
        // The command parses; the bad range is kept for the server.
        let parsed = parse_words(&["bitcount", "k", "a", "b"]).unwrap();
        assert!(parsed.contains("Err(NotInteger)"), "{parsed}");
        let parsed = parse_words(&["bitcount", "k", "0"]).unwrap();
        assert!(parsed.contains("Err(Syntax)"), "{parsed}");
        let parsed = parse_words(&["bitcount", "k", "0", "1", "bit", "x"]).unwrap();
        assert!(parsed.contains("Err(Syntax)"), "{parsed}");
        let parsed = parse_words(&["bitpos", "k", "1", "0", "x", "nope"]).unwrap();
        assert!(parsed.contains("Err(Syntax)"), "unit before end: {parsed}");
        assert_eq!(
            parse_words(&["bitpos", "k", "2"]).unwrap_err(),
            "ERR The bit argument must be 1 or 0."
        );
        assert_eq!(
            parse_words(&["bitpos", "k", "x"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
    }
}
