//! EXPIRE and PEXPIRE (with `NX XX GT LT`); PERSIST, TTL and PTTL take just a key.

use crate::parse::{CommandError, Cursor, is, parse_int};

/// `EXPIRE key seconds [NX|XX|GT|LT]`, `PEXPIRE key milliseconds [...]`, `EXPIREAT key unix-seconds
/// [...]` or `PEXPIREAT key unix-milliseconds [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expire<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The new time to live in milliseconds (or, when `absolute`, the Unix time in milliseconds); a
    /// time not in the future deletes the key, as in Redis.
    pub millis: i64,
    /// `millis` is a Unix time (`EXPIREAT`, `PEXPIREAT`), not a duration.
    pub absolute: bool,
    /// When to apply it.
    pub condition: ExpireCondition,
    /// `expire`, `pexpire`, `expireat` or `pexpireat`, for error messages.
    pub name: &'static str,
}

/// `NX XX GT LT` of EXPIRE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpireCondition {
    /// Always.
    #[default]
    Always,
    /// `NX`: only when the key has no expiry.
    NoExpiry,
    /// `XX`: only when the key has an expiry.
    HasExpiry,
    /// `GT`: only when the new expiry is later (no expiry counts as infinite).
    Greater,
    /// `LT`: only when the new expiry is sooner (no expiry counts as infinite).
    Less,
    /// `XX LT`: only when the key has an expiry and the new one is sooner. (`XX GT` is `GT`: no
    /// expiry, being infinite, is never exceeded.)
    LessIfExpiring,
}

pub(super) fn expire<'a>(
    c: &mut Cursor<'a>,
    name: &'static str,
    unit: i64,
    absolute: bool,
) -> Result<Expire<'a>, CommandError> {
    let key = c.next_bytes()?;
    let amount = c.next_bytes()?;
    // Redis checks the options before the number.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    while let Some(opt) = c.next_opt() {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(CommandError::Other(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::Other(
            "ERR NX and XX, GT or LT options at the same time are not compatible".to_owned(),
        ));
    }
    if gt && lt {
        return Err(CommandError::Other(
            "ERR GT and LT options at the same time are not compatible".to_owned(),
        ));
    }
    let condition = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::NoExpiry,
        (_, _, true, _) => ExpireCondition::Greater,
        (_, true, _, true) => ExpireCondition::LessIfExpiring,
        (_, _, _, true) => ExpireCondition::Less,
        (_, true, ..) => ExpireCondition::HasExpiry,
        _ => ExpireCondition::Always,
    };
    let millis = parse_int(amount)?
        .checked_mul(unit)
        .ok_or(CommandError::InvalidExpire(name))?;
    Ok(Expire {
        key,
        millis,
        absolute,
        condition,
        name,
    })
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn expire_options() {
        assert!(
            parse_words(&["expire", "k", "10", "gt"])
                .unwrap()
                .contains("Greater")
        );
        assert!(
            parse_words(&["pexpire", "k", "-1"])
                .unwrap()
                .contains("millis: -1")
        );
        assert_eq!(
            parse_words(&["expire", "k", "9223372036854775807"]).unwrap_err(),
            "ERR invalid expire time in 'expire' command"
        );
        assert!(parse_words(&["expire", "k", "1", "nx", "xx"]).is_err());
        assert_eq!(
            parse_words(&["expire", "k", "1", "gt", "lt"]).unwrap_err(),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert!(
            parse_words(&["expire", "k", "1", "xx", "lt"])
                .unwrap()
                .contains("LessIfExpiring")
        );
        assert!(
            parse_words(&["pexpireat", "k", "1"])
                .unwrap()
                .contains("absolute: true")
        );
    }
}
