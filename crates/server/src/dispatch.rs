//! From a request to its reply: parse the command, check authentication, run it, count it.

use bytes::BytesMut;
use relaycache::Cache;
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

/// The reply every command but `AUTH`, `HELLO` and `QUIT` gets before authentication.
const NOAUTH: &[u8] = b"NOAUTH Authentication required.";

/// Executes one request and appends its reply to `out`. Returns what to do next and the command's
/// index in [`COMMANDS`](relaycache_resp::cmd::COMMANDS) (for metrics).
pub(crate) async fn execute<C: Cache>(
    args: Args<'_>,
    shared: &Shared<C>,
    session: &mut Session,
    local: &mut Local,
    out: &mut BytesMut,
) -> (Flow, Option<usize>) {
    let mut w = Writer::new(out, session.protocol);
    let before = w.len();
    let (index, parsed) = Command::parse_indexed(args);
    let flow = match parsed {
        Err(e) => {
            let early = matches!(e, CommandError::Unknown { .. } | CommandError::Arity(_));
            if session.authenticated || early {
                w.error(e.to_string().as_bytes());
            } else {
                w.error(NOAUTH);
            }
            local.error();
            Flow::Continue
        }
        Ok(command) => {
            if !session.authenticated
                && !matches!(
                    command,
                    Command::Auth { .. } | Command::Hello(_) | Command::Quit
                )
            {
                w.error(NOAUTH);
                local.error();
                Flow::Continue
            } else {
                if let Some(i) = index {
                    session.last_command = relaycache_resp::cmd::COMMANDS[i].name;
                }
                let flow = cmd::run(command, shared, session, &mut w).await;
                if w.len() > before && out_starts_error(&w, before) {
                    local.error();
                }
                flow
            }
        }
    };
    (flow, index)
}

fn out_starts_error(w: &Writer<'_>, at: usize) -> bool {
    w.byte_at(at) == Some(b'-')
}
