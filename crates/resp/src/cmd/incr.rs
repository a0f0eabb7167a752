//! INCR DECR INCRBY DECRBY.

use super::Command;
use crate::parse::{CommandError, Cursor};

pub(super) fn incrby<'a>(c: &mut Cursor<'a>, negate: bool) -> Result<Command<'a>, CommandError> {
    let key = c.next_bytes()?;
    let by = c.next_i64()?;
    let delta = if negate {
        by.checked_neg()
            .ok_or_else(|| CommandError::Other("ERR decrement would overflow".to_owned()))?
    } else {
        by
    };
    Ok(Command::IncrBy { key, delta })
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn deltas() {
        assert!(
            parse_words(&["decrby", "k", "5"])
                .unwrap()
                .contains("delta: -5")
        );
        assert!(parse_words(&["decr", "k"]).unwrap().contains("delta: -1"));
        assert_eq!(
            parse_words(&["incrby", "k", "1.5"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
    }
}
