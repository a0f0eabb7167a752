//! SET (with `EX PX EXAT PXAT NX XX GET KEEPTTL`), SETNX, SETEX, PSETEX.

use crate::parse::{CommandError, Cursor, is, parse_int};

/// A write with Redis's SET options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// When to write.
    pub condition: SetCondition,
    /// What expiry the key gets.
    pub expiry: Expiry,
    /// `GET`: reply with the previous value.
    pub get: bool,
    /// The command as sent (`set`, `setex`, `psetex`, `setnx`, `getset`), for error messages.
    pub name: &'static str,
}

/// `NX` / `XX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Always write.
    #[default]
    Always,
    /// `NX`: only if the key is absent.
    IfAbsent,
    /// `XX`: only if the key is present.
    IfPresent,
}

/// The expiry a write gives its key. Values are validated positive and convertible to milliseconds
/// without overflow; whether they fit after adding the current time is the executor's check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry (any previous TTL is removed).
    #[default]
    Never,
    /// `KEEPTTL`: keep the key's current expiry.
    Keep,
    /// `EX` / `PX`: this many milliseconds from now (> 0).
    In(i64),
    /// `EXAT` / `PXAT`: at this Unix time in milliseconds (> 0).
    At(i64),
}

pub(super) fn set<'a>(c: &mut Cursor<'a>) -> Result<Set<'a>, CommandError> {
    let mut set = Set {
        key: c.next_bytes()?,
        value: c.next_bytes()?,
        condition: SetCondition::Always,
        expiry: Expiry::Never,
        get: false,
        name: "set",
    };
    let mut expire_arg: Option<(&[u8], i64, bool)> = None;
    let mut keep = false;
    while let Some(opt) = c.next_opt() {
        if is(opt, "nx") && set.condition != SetCondition::IfPresent {
            set.condition = SetCondition::IfAbsent;
        } else if is(opt, "xx") && set.condition != SetCondition::IfAbsent {
            set.condition = SetCondition::IfPresent;
        } else if is(opt, "get") {
            set.get = true;
        } else if is(opt, "keepttl") && expire_arg.is_none() {
            keep = true;
        } else if let Some((unit, absolute)) = expiry_option(opt)
            && !keep
            // Repeating the same option is allowed (the last one wins), as in Redis; mixing is not.
            && expire_arg.is_none_or(|(_, u, a)| (u, a) == (unit, absolute))
            && c.remaining() > 0
        {
            expire_arg = Some((c.next_bytes()?, unit, absolute));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if keep {
        set.expiry = Expiry::Keep;
    }
    if let Some((text, unit, absolute)) = expire_arg {
        let ms = millis(text, unit, "set")?;
        set.expiry = if absolute {
            Expiry::At(ms)
        } else {
            Expiry::In(ms)
        };
    }
    Ok(set)
}

/// The unit (ms per unit) and absoluteness of `EX PX EXAT PXAT`.
fn expiry_option(opt: &[u8]) -> Option<(i64, bool)> {
    if is(opt, "ex") {
        Some((1000, false))
    } else if is(opt, "px") {
        Some((1, false))
    } else if is(opt, "exat") {
        Some((1000, true))
    } else if is(opt, "pxat") {
        Some((1, true))
    } else {
        None
    }
}

pub(super) fn setnx<'a>(c: &mut Cursor<'a>) -> Result<Set<'a>, CommandError> {
    Ok(Set {
        key: c.next_bytes()?,
        value: c.next_bytes()?,
        condition: SetCondition::IfAbsent,
        expiry: Expiry::Never,
        get: false,
        name: "setnx",
    })
}

/// `GETSET key value`: `SET key value GET`.
pub(super) fn getset<'a>(c: &mut Cursor<'a>) -> Result<Set<'a>, CommandError> {
    Ok(Set {
        key: c.next_bytes()?,
        value: c.next_bytes()?,
        condition: SetCondition::Always,
        expiry: Expiry::Never,
        get: true,
        name: "getset",
    })
}

pub(super) fn setex<'a>(
    c: &mut Cursor<'a>,
    name: &'static str,
    unit: i64,
) -> Result<Set<'a>, CommandError> {
    let key = c.next_bytes()?;
    let ms = millis(c.next_bytes()?, unit, name)?;
    Ok(Set {
        key,
        value: c.next_bytes()?,
        condition: SetCondition::Always,
        expiry: Expiry::In(ms),
        get: false,
        name,
    })
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`: what to do with the key's expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GetExpiry {
    /// Leave it as it is (no option).
    #[default]
    Unchanged,
    /// `PERSIST`: remove it.
    Persist,
    /// `EX` / `PX` / `EXAT` / `PXAT`: as for SET.
    Set(Expiry),
}

pub(super) fn getex<'a>(c: &mut Cursor<'a>) -> Result<(&'a [u8], GetExpiry), CommandError> {
    let key = c.next_bytes()?;
    let mut persist = false;
    let mut expire_arg: Option<(&[u8], i64, bool)> = None;
    while let Some(opt) = c.next_opt() {
        if is(opt, "persist") && expire_arg.is_none() {
            persist = true;
        } else if let Some((unit, absolute)) = expiry_option(opt)
            && !persist
            && expire_arg.is_none_or(|(_, u, a)| (u, a) == (unit, absolute))
            && c.remaining() > 0
        {
            expire_arg = Some((c.next_bytes()?, unit, absolute));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let expiry = match expire_arg {
        Some((text, unit, absolute)) => {
            let ms = millis(text, unit, "getex")?;
            GetExpiry::Set(if absolute {
                Expiry::At(ms)
            } else {
                Expiry::In(ms)
            })
        }
        None if persist => GetExpiry::Persist,
        None => GetExpiry::Unchanged,
    };
    Ok((key, expiry))
}

/// A positive expire value times `unit`, in milliseconds.
pub(super) fn millis(text: &[u8], unit: i64, name: &'static str) -> Result<i64, CommandError> {
    let value = parse_int(text)?;
    if value <= 0 {
        return Err(CommandError::InvalidExpire(name));
    }
    value
        .checked_mul(unit)
        .ok_or(CommandError::InvalidExpire(name))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn options() {
        let ok = |w: &[&str]| parse_words(w).unwrap();
        assert!(ok(&["SET", "k", "v", "ex", "10", "nx", "get"]).contains("In(10000)"));
        assert!(ok(&["set", "k", "v", "PXAT", "5"]).contains("At(5)"));
        assert!(ok(&["set", "k", "v", "KEEPTTL", "XX"]).contains("Keep"));
        let err = |w: &[&str]| parse_words(w).unwrap_err();
        assert_eq!(err(&["set", "k", "v", "nx", "xx"]), "ERR syntax error");
        assert!(ok(&["getex", "k", "px", "5"]).contains("In(5)"));
        assert!(ok(&["getex", "k", "persist"]).contains("Persist"));
        assert_eq!(
            err(&["getex", "k", "ex", "1", "persist"]),
            "ERR syntax error"
        );
        assert_eq!(
            err(&["getex", "k", "ex", "0"]),
            "ERR invalid expire time in 'getex' command"
        );
        assert!(ok(&["set", "k", "v", "ex", "1", "ex", "2", "nx", "nx"]).contains("In(2000)"));
        assert!(ok(&["set", "k", "v", "keepttl", "keepttl", "get", "get"]).contains("Keep"));
        assert_eq!(
            err(&["set", "k", "v", "ex", "1", "px", "1"]),
            "ERR syntax error"
        );
        assert_eq!(
            err(&["set", "k", "v", "keepttl", "ex", "1"]),
            "ERR syntax error"
        );
        assert_eq!(err(&["set", "k", "v", "ex"]), "ERR syntax error");
        assert_eq!(err(&["set", "k", "v", "bogus"]), "ERR syntax error");
        assert_eq!(
            err(&["set", "k", "v", "ex", "0"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&["set", "k", "v", "ex", "-5"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&["set", "k", "v", "ex", "9223372036854775807"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            err(&["set", "k", "v", "ex", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err(&["setex", "k", "0", "v"]),
            "ERR invalid expire time in 'setex' command"
        );
        assert_eq!(
            err(&["psetex", "k", "-1", "v"]),
            "ERR invalid expire time in 'psetex' command"
        );
    }
}
