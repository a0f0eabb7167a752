//! MOVE SWAPDB WAIT WAITAOF LASTSAVE SAVE BGSAVE ROLE READONLY READWRITE SLOWLOG LATENCY: the commands
//! about databases, persistence, replication and diagnostics that a server with one database, no
//! persistence, no replicas and cluster support disabled answers without doing anything. Their arguments
//! are checked in Redis's order, with Redis's texts.

use super::Command;
use crate::parse::{CommandError, Cursor, is, parse_int};

/// `SLOWLOG` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Slowlog {
    /// `SLOWLOG GET [count]` (the count is checked; the log is always empty).
    Get,
    /// `SLOWLOG LEN`.
    Len,
    /// `SLOWLOG RESET`.
    Reset,
    /// `SLOWLOG HELP`.
    Help,
}

/// `LATENCY` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Latency<'a> {
    /// `LATENCY LATEST`.
    Latest,
    /// `LATENCY HISTORY event`.
    History,
    /// `LATENCY RESET [event...]`.
    Reset,
    /// `LATENCY DOCTOR`.
    Doctor,
    /// `LATENCY GRAPH event`.
    Graph(&'a [u8]),
    /// `LATENCY HISTOGRAM [command...]`.
    Histogram,
    /// `LATENCY HELP`.
    Help,
}

/// Redis's error for an index outside a C `int`.
const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";

/// Redis's error for a `WAIT`/`WAITAOF` timeout that is not an integer.
const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";

/// A database index as Redis's `getIntFromObjectOrReply` reads it: `not_integer` (Redis's generic text
/// when `None`) for anything but a strict integer, the C `int` range error outside `i32`.
fn db_index(arg: &[u8], not_integer: Option<&str>) -> Result<i32, CommandError> {
    let other = |text: &str| CommandError::Other(text.to_owned());
    let n = parse_int(arg).map_err(|e| not_integer.map_or(e, other))?;
    i32::try_from(n).map_err(|_| not_integer.map_or_else(|| other(INT_RANGE), other))
}

/// A `WAIT`/`WAITAOF` timeout in milliseconds: a non-negative integer.
fn timeout(arg: &[u8]) -> Result<i64, CommandError> {
    let ms = parse_int(arg).map_err(|_| CommandError::Other(TIMEOUT_NOT_INTEGER.to_owned()))?;
    if ms < 0 {
        return Err(CommandError::Other("ERR timeout is negative".to_owned()));
    }
    Ok(ms)
}

/// `MOVE key db` (arity checked).
pub(super) fn move_key<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let db = db_index(c.next_bytes()?, None)?;
    Ok(Command::Move { key, db })
}

/// `SWAPDB index1 index2` (arity checked).
pub(super) fn swapdb<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let first = db_index(c.next_bytes()?, Some("ERR invalid first DB index"))?;
    let second = db_index(c.next_bytes()?, Some("ERR invalid second DB index"))?;
    Ok(Command::SwapDb(first, second))
}

/// `WAIT numreplicas timeout` (arity checked).
pub(super) fn wait<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let replicas = parse_int(c.next_bytes()?)?;
    let timeout = timeout(c.next_bytes()?)?;
    Ok(Command::Wait { replicas, timeout })
}

/// `WAITAOF numlocal numreplicas timeout` (arity checked), as Redis 7.2 reads it: `numlocal` 0 or 1,
/// `numreplicas` at least 0, then the timeout.
pub(super) fn waitaof<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let local = parse_int(c.next_bytes()?)?;
    if !(0..=1).contains(&local) {
        return Err(CommandError::Other(
            "ERR value is out of range, value must between 0 and 1".to_owned(),
        ));
    }
    if parse_int(c.next_bytes()?)? < 0 {
        return Err(CommandError::Other(
            "ERR value is out of range, must be positive".to_owned(),
        ));
    }
    timeout(c.next_bytes()?)?;
    Ok(Command::WaitAof { local: local == 1 })
}

/// `BGSAVE [SCHEDULE]`.
pub(super) fn bgsave<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    match c.remaining() {
        0 => Ok(Command::BgSave),
        1 if c.next_opt().is_some_and(|a| is(a, "schedule")) => Ok(Command::BgSave),
        _ => Err(CommandError::Syntax),
    }
}

/// Fails with the arity error of `full` (`slowlog|len`) unless exactly `n` arguments are left.
fn exactly(c: &Cursor<'_>, n: usize, full: &'static str) -> Result<(), CommandError> {
    if c.remaining() == n {
        Ok(())
    } else {
        Err(CommandError::Arity(full))
    }
}

/// `SLOWLOG GET [count] | LEN | RESET | HELP`.
pub(super) fn slowlog<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let sub = c.next_bytes()?;
    let parsed = if is(sub, "get") {
        match c.remaining() {
            0 => Slowlog::Get,
            1 => {
                let count = parse_int(c.next_bytes()?);
                if count.map_or(true, |n| n < -1) {
                    return Err(CommandError::Other(
                        "ERR count should be greater than or equal to -1".to_owned(),
                    ));
                }
                Slowlog::Get
            }
            _ => {
                return Err(CommandError::Other(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                    String::from_utf8_lossy(sub)
                )));
            }
        }
    } else if is(sub, "len") {
        exactly(c, 0, "slowlog|len")?;
        Slowlog::Len
    } else if is(sub, "reset") {
        exactly(c, 0, "slowlog|reset")?;
        Slowlog::Reset
    } else if is(sub, "help") {
        exactly(c, 0, "slowlog|help")?;
        Slowlog::Help
    } else {
        return Err(CommandError::unknown_subcommand("SLOWLOG", sub));
    };
    Ok(Command::Slowlog(parsed))
}

/// `LATENCY LATEST | HISTORY event | RESET [event...] | DOCTOR | GRAPH event | HISTOGRAM [command...] |
/// HELP`.
pub(super) fn latency<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let sub = c.next_bytes()?;
    let parsed = if is(sub, "latest") {
        exactly(c, 0, "latency|latest")?;
        Latency::Latest
    } else if is(sub, "history") {
        exactly(c, 1, "latency|history")?;
        Latency::History
    } else if is(sub, "reset") {
        Latency::Reset
    } else if is(sub, "doctor") {
        exactly(c, 0, "latency|doctor")?;
        Latency::Doctor
    } else if is(sub, "graph") {
        exactly(c, 1, "latency|graph")?;
        Latency::Graph(c.next_bytes()?)
    } else if is(sub, "histogram") {
        Latency::Histogram
    } else if is(sub, "help") {
        exactly(c, 0, "latency|help")?;
        Latency::Help
    } else {
        return Err(CommandError::unknown_subcommand("LATENCY", sub));
    };
    Ok(Command::Latency(parsed))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn database_indexes() {
        assert_eq!(
            parse_words(&["move", "k", "0"]).unwrap(),
            "Move { key: [107], db: 0 }"
        );
        assert_eq!(
            parse_words(&["move", "k", "x"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_words(&["move", "k", "2147483648"]).unwrap_err(),
            super::INT_RANGE
        );
        assert_eq!(
            parse_words(&["swapdb", "99999999999", "x"]).unwrap_err(),
            "ERR invalid first DB index"
        );
        assert_eq!(
            parse_words(&["swapdb", "0", "-0"]).unwrap_err(),
            "ERR invalid second DB index"
        );
        assert_eq!(
            parse_words(&["move", "k"]).unwrap_err(),
            "ERR wrong number of arguments for 'move' command"
        );
    }

    #[test]
    fn wait_arguments() {
        assert!(parse_words(&["wait", "-1", "0"]).is_ok());
        assert_eq!(
            parse_words(&["wait", "0", "-1"]).unwrap_err(),
            "ERR timeout is negative"
        );
        assert_eq!(
            parse_words(&["wait", "0", "1.5"]).unwrap_err(),
            "ERR timeout is not an integer or out of range"
        );
        assert_eq!(
            parse_words(&["waitaof", "2", "0", "0"]).unwrap_err(),
            "ERR value is out of range, value must between 0 and 1"
        );
        assert_eq!(
            parse_words(&["waitaof", "0", "-1", "0"]).unwrap_err(),
            "ERR value is out of range, must be positive"
        );
        assert_eq!(
            parse_words(&["waitaof", "1", "0", "x"]).unwrap_err(),
            "ERR timeout is not an integer or out of range"
        );
    }

    #[test]
    fn subcommands() {
        assert!(parse_words(&["bgsave", "SCHEDULE"]).is_ok());
        assert_eq!(
            parse_words(&["bgsave", "x"]).unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse_words(&["slowlog", "get", "-2"]).unwrap_err(),
            "ERR count should be greater than or equal to -1"
        );
        assert_eq!(
            parse_words(&["slowlog", "GET", "1", "2"]).unwrap_err(),
            "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
        );
        assert_eq!(
            parse_words(&["slowlog", "len", "x"]).unwrap_err(),
            "ERR wrong number of arguments for 'slowlog|len' command"
        );
        assert_eq!(
            parse_words(&["latency", "nope"]).unwrap_err(),
            "ERR unknown subcommand 'nope'. Try LATENCY HELP."
        );
        assert_eq!(
            parse_words(&["latency", "graph"]).unwrap_err(),
            "ERR wrong number of arguments for 'latency|graph' command"
        );
        assert!(parse_words(&["latency", "reset", "a", "b"]).is_ok());
    }
}
