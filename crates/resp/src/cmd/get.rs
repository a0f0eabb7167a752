//! GET and GETDEL take just a key: their parsing is the arity check in [`Command::parse`](super::Command::parse).

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn get_arity() {
        assert_eq!(
            parse_words(&["GET"]).unwrap_err(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            parse_words(&["get", "a", "b"]).unwrap_err(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert!(parse_words(&["GETDEL", "a"]).is_ok());
    }
}
