//! OBJECT and MEMORY (introspection of one key), DUMP and RESTORE (a key's value as a payload).

use super::{Command, Deferred};
use crate::parse::{CommandError, Cursor, is, parse_int};

/// `OBJECT` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object<'a> {
    /// `OBJECT ENCODING key`.
    Encoding(&'a [u8]),
    /// `OBJECT FREQ key`.
    Freq(&'a [u8]),
    /// `OBJECT IDLETIME key`.
    IdleTime(&'a [u8]),
    /// `OBJECT REFCOUNT key`.
    RefCount(&'a [u8]),
    /// `OBJECT HELP`.
    Help,
}

/// `MEMORY` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory<'a> {
    /// `MEMORY USAGE key [SAMPLES n]` (the sample count does not matter for strings).
    Usage(&'a [u8]),
    /// `MEMORY HELP`.
    Help,
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restore<'a> {
    /// The key to create.
    pub key: &'a [u8],
    /// Milliseconds to live (0: no expiry), or with `absolute` a Unix time in milliseconds; the error to
    /// reply if it is not a non-negative integer (Redis checks it after `BUSYKEY`).
    pub ttl: Result<i64, Deferred>,
    /// What `DUMP` produced.
    pub payload: &'a [u8],
    /// `REPLACE`: overwrite an existing key.
    pub replace: bool,
    /// `ABSTTL`: `ttl` is a Unix time in milliseconds.
    pub absolute: bool,
}

/// A subcommand taking one key: its name, its full name for arity errors, and its variant.
type KeySub<'a> = (&'static str, &'static str, fn(&'a [u8]) -> Object<'a>);

pub(super) fn object<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let sub = c.next_bytes()?;
    let subs: [KeySub<'a>; 4] = [
        ("encoding", "object|encoding", Object::Encoding),
        ("freq", "object|freq", Object::Freq),
        ("idletime", "object|idletime", Object::IdleTime),
        ("refcount", "object|refcount", Object::RefCount),
    ];
    for (name, full, make) in subs {
        if is(sub, name) {
            if c.remaining() != 1 {
                return Err(CommandError::Arity(full));
            }
            return Ok(Command::Object(make(c.next_bytes()?)));
        }
    }
    if is(sub, "help") {
        if c.remaining() != 0 {
            return Err(CommandError::Arity("object|help"));
        }
        return Ok(Command::Object(Object::Help));
    }
    Err(CommandError::unknown_subcommand("OBJECT", sub))
}

pub(super) fn memory<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let sub = c.next_bytes()?;
    if is(sub, "help") {
        if c.remaining() != 0 {
            return Err(CommandError::Arity("memory|help"));
        }
        return Ok(Command::Memory(Memory::Help));
    }
    if !is(sub, "usage") {
        return Err(CommandError::unknown_subcommand("MEMORY", sub));
    }
    let key = c
        .next_bytes()
        .map_err(|_| CommandError::Arity("memory|usage"))?;
    while let Some(opt) = c.next_opt() {
        if is(opt, "samples") && c.remaining() > 0 {
            if parse_int(c.next_bytes()?)? < 0 {
                return Err(CommandError::Syntax);
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Command::Memory(Memory::Usage(key)))
}

pub(super) fn restore<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let ttl = c.next_bytes()?;
    let payload = c.next_bytes()?;
    let (mut replace, mut absolute, mut idle, mut freq) = (false, false, false, false);
    while let Some(opt) = c.next_opt() {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absolute = true;
        } else if is(opt, "idletime") && c.remaining() > 0 && !freq {
            if parse_int(c.next_bytes()?)? < 0 {
                return Err(CommandError::Other(
                    "ERR Invalid IDLETIME value, must be >= 0".to_owned(),
                ));
            }
            idle = true;
        } else if is(opt, "freq") && c.remaining() > 0 && !idle {
            if !(0..=255).contains(&parse_int(c.next_bytes()?)?) {
                return Err(CommandError::Other(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255".to_owned(),
                ));
            }
            freq = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let ttl = match parse_int(ttl) {
        Ok(n) if n < 0 => Err(Deferred::NegativeTtl),
        Ok(n) => Ok(n),
        Err(_) => Err(Deferred::NotInteger),
    };
    Ok(Command::Restore(Restore {
        key,
        ttl,
        payload,
        replace,
        absolute,
    }))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn object_and_memory() {
        assert!(parse_words(&["object", "ENCODING", "k"]).is_ok());
        assert_eq!(
            parse_words(&["object", "encoding"]).unwrap_err(),
            "ERR wrong number of arguments for 'object|encoding' command"
        );
        assert_eq!(
            parse_words(&["object", "Foo"]).unwrap_err(),
            "ERR unknown subcommand 'Foo'. Try OBJECT HELP."
        );
        assert_eq!(
            parse_words(&["memory", "usage"]).unwrap_err(),
            "ERR wrong number of arguments for 'memory|usage' command"
        );
        assert_eq!(
            parse_words(&["memory", "usage", "k", "samples", "-1"]).unwrap_err(),
            "ERR syntax error"
        );
        assert!(parse_words(&["memory", "usage", "k", "SAMPLES", "0"]).is_ok());
    }

    #[test]
    fn restore_options() {
        assert_eq!(
            parse_words(&["restore", "k", "0", "p", "idletime", "1", "freq", "2"]).unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse_words(&["restore", "k", "0", "p", "freq", "256"]).unwrap_err(),
            "ERR Invalid FREQ value, must be >= 0 and <= 255"
        );
        let parsed = parse_words(&["restore", "k", "-1", "p", "replace"]).unwrap();
        assert!(parsed.contains("Err(NegativeTtl)"), "{parsed}");
    }
}
