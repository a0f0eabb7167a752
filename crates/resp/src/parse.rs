//! From arguments to typed values: [`Cursor`] walks a command's arguments, [`CommandError`] is every
//! error reply a malformed command gets, worded exactly as Redis words it.

use std::fmt;

use crate::decode::Args;

/// A command that cannot run as written. [`fmt::Display`] gives the error line Redis sends (without the
/// leading `-`). Nothing was executed; the connection stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
    Unknown {
        /// The name as sent.
        name: String,
        /// The quoted first arguments, as Redis lists them.
        args: String,
    },
    /// `ERR wrong number of arguments for 'get' command`.
    Arity(&'static str),
    /// `ERR syntax error`.
    Syntax,
    /// `ERR value is not an integer or out of range`.
    NotInteger,
    /// `ERR invalid expire time in 'set' command`.
    InvalidExpire(&'static str),
    /// `ERR invalid cursor`.
    InvalidCursor,
    /// `ERR unknown subcommand 'foo'. Try CLIENT HELP.`.
    UnknownSubcommand {
        /// The container command, upper case.
        command: &'static str,
        /// The subcommand as sent.
        sub: String,
    },
    /// `NOPROTO unsupported protocol version`.
    NoProto,
    /// Any other error line, code included.
    Other(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown { name, args } => {
                write!(
                    f,
                    "ERR unknown command '{name}', with args beginning with: {args}"
                )
            }
            CommandError::Arity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::InvalidExpire(name) => {
                write!(f, "ERR invalid expire time in '{name}' command")
            }
            CommandError::InvalidCursor => f.write_str("ERR invalid cursor"),
            CommandError::UnknownSubcommand { command, sub } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {command} HELP.")
            }
            CommandError::NoProto => f.write_str("NOPROTO unsupported protocol version"),
            CommandError::Other(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CommandError {}

impl CommandError {
    /// `unknown subcommand` of the container `command` (upper case) for `sub` as sent.
    #[must_use]
    pub fn unknown_subcommand(command: &'static str, sub: &[u8]) -> CommandError {
        CommandError::UnknownSubcommand {
            command,
            sub: String::from_utf8_lossy(sub).into_owned(),
        }
    }

    /// The unknown-command error for `args` (name first), quoting up to 128 bytes of arguments.
    #[must_use]
    pub fn unknown(args: &Args<'_>) -> CommandError {
        let name = args.get(0).map(lossy_128).unwrap_or_default();
        let mut listed = String::new();
        for arg in args.skip(1).iter() {
            if listed.len() >= 128 {
                break;
            }
            let room = 128 - listed.len();
            let text = String::from_utf8_lossy(&arg[..arg.len().min(room)]).into_owned();
            listed.push('\'');
            listed.push_str(&text);
            listed.push_str("' ");
        }
        CommandError::Unknown { name, args: listed }
    }
}

fn lossy_128(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)]).into_owned()
}

/// Walks the arguments of one command after its name.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    args: Args<'a>,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `args`, positioned after the command name.
    #[must_use]
    pub fn new(args: Args<'a>) -> Self {
        Cursor { args, at: 1 }
    }

    /// Arguments not consumed yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.at)
    }

    /// The arguments not consumed yet, as [`Args`].
    #[must_use]
    pub fn rest(&self) -> Args<'a> {
        self.args.skip(self.at)
    }

    /// The next argument.
    ///
    /// # Errors
    /// [`CommandError::Syntax`] when there is none.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], CommandError> {
        let arg = self.args.get(self.at).ok_or(CommandError::Syntax)?;
        self.at += 1;
        Ok(arg)
    }

    /// The next argument if there is one.
    pub fn next_opt(&mut self) -> Option<&'a [u8]> {
        let arg = self.args.get(self.at)?;
        self.at += 1;
        Some(arg)
    }

    /// The next argument as a signed integer.
    ///
    /// # Errors
    /// [`CommandError::Syntax`] when there is none, [`CommandError::NotInteger`] when it does not parse.
    pub fn next_i64(&mut self) -> Result<i64, CommandError> {
        parse_int(self.next_bytes()?)
    }

    /// Fails with [`CommandError::Syntax`] if arguments are left.
    ///
    /// # Errors
    /// [`CommandError::Syntax`].
    pub fn finish(&self) -> Result<(), CommandError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(CommandError::Syntax)
        }
    }
}

/// Parses a signed integer the way Redis does (strict decimal, no spaces, no `+`).
///
/// # Errors
/// [`CommandError::NotInteger`].
pub fn parse_int(arg: &[u8]) -> Result<i64, CommandError> {
    crate::decode::parse_i64_strict(arg).ok_or(CommandError::NotInteger)
}

/// True when `arg` equals `word` ignoring ASCII case (command names and options are case-insensitive).
#[must_use]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
