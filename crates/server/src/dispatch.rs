//! From a request to its reply: parse the command, check authentication, run it, count it.

use bytes::BytesMut;
use relaycache::KeyOps;
use relaycache_resp::cmd::Command;
use relaycache_resp::{Args, CommandError, Writer};

use crate::cmd;
use crate::metrics::Local;
use crate::server::Shared;
use crate::session::Session;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next command.
    Continue,
    /// The client authenticated: lift the pre-authentication limits.
    Authenticated,
    /// Close after sending the replies (`QUIT`).
    Close,
}

/// The reply every command but `AUTH`, `HELLO`, `QUIT` and `RESET` gets before authentication.
const NOAUTH: &[u8] = b"NOAUTH Authentication required.";

/// Executes one request and appends its reply to `out`. Returns what to do next and the command's
/// index in [`COMMANDS`](relaycache_resp::cmd::COMMANDS) (for metrics).
///
/// The returned future is kept small on purpose: it is created once per command, and a large future
/// costs a large copy each time. GET and SET, the hot commands, run inline; the rest run in a boxed
/// future.
pub(crate) async fn execute<C: KeyOps>(
    args: Args<'_>,
    shared: &Shared<C>,
    session: &mut Session,
    local: &mut Local,
    out: &mut BytesMut,
) -> (Flow, Option<usize>) {
    let before = out.len();
    let (index, mut parsed) = Command::parse_indexed(args);
    if let Err(e) = &parsed
        && index.is_some_and(|i| relaycache_resp::cmd::COMMANDS[i].name == "exec")
    {
        // Redis: a malformed EXEC discards the transaction and says so, even outside MULTI.
        session.transaction = None;
        shared.watches.unwatch(session.id, &mut session.watching);
        let reason = e.to_string();
        let reason = reason.strip_prefix("ERR ").unwrap_or(&reason).to_owned();
        parsed = Err(CommandError::Other(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        )));
    }
    let mut w = Writer::new(out, session.protocol);
    // Redis refuses only unknown commands and wrong arity when queueing; a command whose arguments are
    // wrong is queued, and its error becomes its reply in EXEC's array.
    if session.authenticated
        && let Err(e) = &parsed
        && index.is_some_and(|i| relaycache_resp::cmd::COMMANDS[i].name != "exec")
        && !matches!(
            e,
            CommandError::Unknown { .. }
                | CommandError::Arity(_)
                | CommandError::UnknownSubcommand { .. }
        )
        && let Some(transaction) = session.transaction.as_mut()
    {
        cmd::queue(args, transaction, &mut w);
        return (Flow::Continue, index);
    }
    let command = match gate(parsed, session, &mut w) {
        Some(command) => command,
        None => {
            // A command refused inside MULTI makes EXEC fail, as in Redis.
            if let Some(transaction) = session.transaction.as_mut() {
                transaction.fail();
            }
            local.error();
            return (Flow::Continue, index);
        }
    };
    if let Some(transaction) = session.transaction.as_mut()
        && index.is_some_and(|i| relaycache_resp::cmd::COMMANDS[i].refused_in_multi())
    {
        // Redis: a `no_multi` command (`SAVE`) is refused when queued, and makes `EXEC` fail.
        transaction.fail();
        w.error(b"ERR Command not allowed inside a transaction");
        local.error();
        return (Flow::Continue, index);
    }
    if let Some(transaction) = session.transaction.as_mut()
        && !matches!(
            command,
            Command::Multi
                | Command::Exec
                | Command::Discard
                | Command::Watch(_)
                | Command::Quit
                | Command::Reset
        )
    {
        cmd::queue(args, transaction, &mut w);
        return (Flow::Continue, index);
    }
    if let Some(i) = index {
        session.last_command = relaycache_resp::cmd::COMMANDS[i].name;
    }
    let flow = match command {
        Command::Get(key) if args.len() == 2 && !session.prefetched.is_empty() => {
            match session.prefetched.take_get(key) {
                Some(Some(value)) => {
                    w.bulk(&value);
                    Flow::Continue
                }
                Some(None) => {
                    w.null();
                    Flow::Continue
                }
                None => cmd::get(&shared.cache, key, &mut w).await,
            }
        }
        Command::Get(key) => cmd::get(&shared.cache, key, &mut w).await,
        Command::Set(set) if args.len() == 3 && session.prefetched.take_set(set.key) => {
            w.ok();
            Flow::Continue
        }
        Command::Set(set) if cmd::is_plain_set(&set) => {
            cmd::set_plain(&shared.cache, set, &mut w).await
        }
        other => Box::pin(cmd::run(other, shared, session, &mut w)).await,
    };
    if out_starts_error(&w, before) {
        local.error();
    } else if let Some(i) = index {
        let spec = &relaycache_resp::cmd::COMMANDS[i];
        if shared.watches.active() {
            shared.watches.touch_command(spec, args);
        }
        shared.encodings.after_command(spec, args);
    }
    (flow, index)
}

/// Writes the error reply for a command that cannot run (bad syntax, or not authenticated yet), or
/// returns the command.
fn gate<'a>(
    parsed: Result<Command<'a>, CommandError>,
    session: &Session,
    w: &mut Writer<'_>,
) -> Option<Command<'a>> {
    match parsed {
        Err(e) => {
            let early = matches!(e, CommandError::Unknown { .. } | CommandError::Arity(_));
            if session.authenticated || early {
                w.error(e.to_string().as_bytes());
            } else {
                w.error(NOAUTH);
            }
            None
        }
        Ok(command) => {
            if !session.authenticated
                && !matches!(
                    command,
                    Command::Auth { .. } | Command::Hello(_) | Command::Quit | Command::Reset
                )
            {
                w.error(NOAUTH);
                None
            } else {
                Some(command)
            }
        }
    }
}

/// True when the reply written from `at` is an error.
pub(crate) fn out_starts_error(w: &Writer<'_>, at: usize) -> bool {
    w.byte_at(at) == Some(b'-')
}
