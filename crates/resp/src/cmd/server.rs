//! INFO COMMAND CONFIG DBSIZE FLUSHDB FLUSHALL TIME CLUSTER.MEMBERS CLUSTER.PARTITIONS: commands about
//! the server.

use super::Command;
use crate::decode::Args;
use crate::parse::{CommandError, Cursor, is};

/// `COMMAND` subcommands.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CommandInfo<'a> {
    /// `COMMAND`: every command.
    All,
    /// `COMMAND COUNT`.
    Count,
    /// `COMMAND INFO name...`.
    Info(Args<'a>),
    /// `COMMAND DOCS [name...]`: an empty map (no documentation is served).
    Docs,
    /// `COMMAND LIST`: the names.
    List,
}

/// `CONFIG` subcommands.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Config<'a> {
    /// `CONFIG GET pattern...`.
    Get(Args<'a>),
    /// `CONFIG SET ...`: refused, the configuration file is the source of truth.
    Set,
    /// `CONFIG RESETSTAT`.
    ResetStat,
}

pub(super) fn flush<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    if let Some(mode) = c.next_opt()
        && !(is(mode, "async") || is(mode, "sync"))
    {
        return Err(CommandError::Syntax);
    }
    c.finish()?;
    Ok(Command::Flush)
}

pub(super) fn command<'a>(c: &mut Cursor<'a>) -> Result<CommandInfo<'a>, CommandError> {
    let Some(sub) = c.next_opt() else {
        return Ok(CommandInfo::All);
    };
    if is(sub, "count") {
        Ok(CommandInfo::Count)
    } else if is(sub, "info") {
        Ok(CommandInfo::Info(c.rest()))
    } else if is(sub, "docs") {
        Ok(CommandInfo::Docs)
    } else if is(sub, "list") {
        Ok(CommandInfo::List)
    } else {
        Err(CommandError::unknown_subcommand("COMMAND", sub))
    }
}

pub(super) fn config<'a>(c: &mut Cursor<'a>) -> Result<Config<'a>, CommandError> {
    let sub = c.next_bytes()?;
    if is(sub, "get") {
        if c.remaining() == 0 {
            return Err(CommandError::Arity("config|get"));
        }
        Ok(Config::Get(c.rest()))
    } else if is(sub, "set") {
        Ok(Config::Set)
    } else if is(sub, "resetstat") {
        Ok(Config::ResetStat)
    } else {
        Err(CommandError::unknown_subcommand("CONFIG", sub))
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn subcommands() {
        assert!(parse_words(&["config", "get", "save"]).is_ok());
        assert_eq!(
            parse_words(&["config", "get"]).unwrap_err(),
            "ERR wrong number of arguments for 'config|get' command"
        );
        assert!(parse_words(&["COMMAND", "DOCS"]).is_ok());
        assert_eq!(
            parse_words(&["flushdb", "now"]).unwrap_err(),
            "ERR syntax error"
        );
    }
}
