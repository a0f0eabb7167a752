//! EXPIRE and PEXPIRE (with `NX XX GT LT`); PERSIST, TTL and PTTL take just a key.

use crate::parse::{CommandError, Cursor, is, parse_int};

/// `EXPIRE key seconds [NX|XX|GT|LT]` or `PEXPIRE key milliseconds [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expire<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The new time to live in milliseconds; zero or negative deletes the key, as in Redis.
    pub millis: i64,
    /// When to apply it.
    pub condition: ExpireCondition,
    /// `expire` or `pexpire`, for error messages.
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
}

pub(super) fn expire<'a>(
    c: &mut Cursor<'a>,
    name: &'static str,
    unit: i64,
) -> Result<Expire<'a>, CommandError> {
    let key = c.next_bytes()?;
    let millis = parse_int(c.next_bytes()?)?
        .checked_mul(unit)
        .ok_or(CommandError::InvalidExpire(name))?;
    let mut condition = ExpireCondition::Always;
    while let Some(opt) = c.next_opt() {
        let next = if is(opt, "nx") {
            ExpireCondition::NoExpiry
        } else if is(opt, "xx") {
            ExpireCondition::HasExpiry
        } else if is(opt, "gt") {
            ExpireCondition::Greater
        } else if is(opt, "lt") {
            ExpireCondition::Less
        } else {
            return Err(CommandError::Other(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        };
        let compatible = matches!(
            (condition, next),
            (ExpireCondition::Always, _)
                | (
                    ExpireCondition::HasExpiry,
                    ExpireCondition::Greater | ExpireCondition::Less
                )
                | (
                    ExpireCondition::Greater | ExpireCondition::Less,
                    ExpireCondition::HasExpiry
                )
        );
        if !compatible {
            return Err(CommandError::Other(
                "ERR NX and XX, GT or LT options at the same time are not compatible".to_owned(),
            ));
        }
        if condition == ExpireCondition::Always || next != ExpireCondition::HasExpiry {
            condition = next;
        }
    }
    Ok(Expire {
        key,
        millis,
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
    }
}
