//! PING ECHO HELLO AUTH QUIT SELECT CLIENT: commands about the connection itself.

use super::Command;
use crate::parse::{CommandError, Cursor, is, parse_int};

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The protocol version asked for (2 or 3), if any.
    pub protover: Option<i64>,
    /// `AUTH username password`.
    pub auth: Option<(&'a [u8], &'a [u8])>,
    /// `SETNAME clientname`.
    pub setname: Option<&'a [u8]>,
}

/// `CLIENT` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Client<'a> {
    /// `CLIENT SETNAME name`.
    SetName(&'a [u8]),
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT ID`.
    Id,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value`.
    SetInfo {
        /// `lib-name` or `lib-ver` (lower case).
        attr: &'static str,
        /// The value.
        value: &'a [u8],
    },
    /// `CLIENT INFO`.
    Info,
    /// `CLIENT LIST` (this connection only).
    List,
    /// `CLIENT NO-EVICT`, `NO-TOUCH`, `REPLY ON`: accepted, no effect.
    NoOp,
}

pub(super) fn ping<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    match c.remaining() {
        0 => Ok(Command::Ping(None)),
        1 => Ok(Command::Ping(c.next_opt())),
        _ => Err(CommandError::Arity("ping")),
    }
}

pub(super) fn auth<'a>(c: &mut Cursor<'a>) -> Result<Command<'a>, CommandError> {
    match c.remaining() {
        1 => Ok(Command::Auth {
            username: None,
            password: c.next_bytes()?,
        }),
        2 => Ok(Command::Auth {
            username: Some(c.next_bytes()?),
            password: c.next_bytes()?,
        }),
        _ => Err(CommandError::Syntax),
    }
}

pub(super) fn hello<'a>(c: &mut Cursor<'a>) -> Result<Hello<'a>, CommandError> {
    let mut hello = Hello::default();
    let Some(version) = c.next_opt() else {
        return Ok(hello);
    };
    let version = parse_int(version).map_err(|_| {
        CommandError::Other("ERR Protocol version is not an integer or out of range".to_owned())
    })?;
    if !(2..=3).contains(&version) {
        return Err(CommandError::NoProto);
    }
    hello.protover = Some(version);
    while let Some(option) = c.next_opt() {
        if is(option, "auth") && c.remaining() >= 2 {
            hello.auth = Some((c.next_bytes()?, c.next_bytes()?));
        } else if is(option, "setname") && c.remaining() >= 1 {
            hello.setname = Some(c.next_bytes()?);
        } else {
            return Err(CommandError::Other(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(hello)
}

pub(super) fn client<'a>(c: &mut Cursor<'a>) -> Result<Client<'a>, CommandError> {
    let sub = c.next_bytes()?;
    let arity = |n: usize, name: &'static str| {
        if c.remaining() == n {
            Ok(())
        } else {
            Err(CommandError::Arity(name))
        }
    };
    let cmd = if is(sub, "setname") {
        arity(1, "client|setname")?;
        let name = c.next_bytes()?;
        if name.iter().any(|&b| b <= b' ' || b > b'~') {
            return Err(CommandError::Other(
                "ERR Client names cannot contain spaces, newlines or special characters."
                    .to_owned(),
            ));
        }
        Client::SetName(name)
    } else if is(sub, "getname") {
        arity(0, "client|getname")?;
        Client::GetName
    } else if is(sub, "id") {
        arity(0, "client|id")?;
        Client::Id
    } else if is(sub, "info") {
        arity(0, "client|info")?;
        Client::Info
    } else if is(sub, "list") {
        Client::List
    } else if is(sub, "setinfo") {
        arity(2, "client|setinfo")?;
        let attr = c.next_bytes()?;
        let attr = if is(attr, "lib-name") {
            "lib-name"
        } else if is(attr, "lib-ver") {
            "lib-ver"
        } else {
            return Err(CommandError::Other(format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(attr)
            )));
        };
        Client::SetInfo {
            attr,
            value: c.next_bytes()?,
        }
    } else if is(sub, "no-evict") || is(sub, "no-touch") || is(sub, "reply") {
        Client::NoOp
    } else {
        return Err(CommandError::unknown_subcommand("CLIENT", sub));
    };
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use crate::cmd::tests::parse_words;

    #[test]
    fn hello_and_client() {
        assert_eq!(
            parse_words(&["HELLO", "4"]).unwrap_err(),
            "NOPROTO unsupported protocol version"
        );
        assert!(parse_words(&["hello", "3", "auth", "default", "pw", "setname", "x"]).is_ok());
        assert_eq!(
            parse_words(&["client", "bogus"]).unwrap_err(),
            "ERR unknown subcommand 'bogus'. Try CLIENT HELP."
        );
        assert_eq!(
            parse_words(&["ping", "a", "b"]).unwrap_err(),
            "ERR wrong number of arguments for 'ping' command"
        );
        assert_eq!(
            parse_words(&["select", "x"]).unwrap_err(),
            "ERR value is not an integer or out of range"
        );
    }
}
