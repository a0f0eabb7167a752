//! MGET takes keys; MSET takes key-value pairs.

use super::Command;
use crate::decode::Args;
use crate::parse::CommandError;

pub(super) fn mset(args: Args<'_>) -> Result<Command<'_>, CommandError> {
    if args.len() % 2 == 0 {
        return Err(CommandError::Arity("mset"));
    }
    Ok(Command::Mset(args.skip(1)))
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn mset_pairs() {
        assert!(parse_words(&["mset", "a", "1", "b", "2"]).is_ok());
        assert_eq!(
            parse_words(&["mset", "a", "1", "b"]).unwrap_err(),
            "ERR wrong number of arguments for 'mset' command"
        );
    }
}
