//! PING HELLO AUTH RESET CLIENT.

use relaycache::KeyOps;
use relaycache_resp::cmd::{Client, Hello};
use relaycache_resp::{Protocol, Writer};

use crate::dispatch::Flow;
use crate::server::{REDIS_VERSION, Shared};
use crate::session::Session;

const WRONGPASS: &[u8] = b"WRONGPASS invalid username-password pair or user is disabled.";

pub(super) fn ping(message: Option<&[u8]>, w: &mut Writer<'_>) -> Flow {
    match message {
        Some(m) => w.bulk(m),
        None => w.simple(b"PONG"),
    }
    Flow::Continue
}

/// Compares in time independent of where the inputs differ (the length still shows).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

/// Checks credentials; the password is never logged.
fn check<C: KeyOps>(shared: &Shared<C>, username: Option<&[u8]>, password: &[u8]) -> bool {
    let user_ok = username.is_none_or(|u| u == b"default");
    match &shared.password {
        Some(expected) => constant_time_eq(password, expected) && user_ok,
        None => user_ok,
    }
}

pub(super) fn auth<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    username: Option<&[u8]>,
    password: &[u8],
    w: &mut Writer<'_>,
) -> Flow {
    if shared.password.is_none() && username.is_none() {
        w.error(
            b"ERR AUTH <password> called without any password configured for the default user. \
              Are you sure your configuration is correct?",
        );
        return Flow::Continue;
    }
    if check(shared, username, password) {
        let was = session.authenticated;
        session.authenticated = true;
        w.ok();
        if was {
            Flow::Continue
        } else {
            Flow::Authenticated
        }
    } else {
        tracing::info!(client = session.id, peer = %session.peer, "authentication failed");
        w.error(WRONGPASS);
        Flow::Continue
    }
}

/// `RESET`: RESP2, no name, no transaction; unauthenticated again when a password is required (the
/// connection keeps the limits it had).
pub(super) fn reset<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    w: &mut Writer<'_>,
) -> Flow {
    session.transaction = None;
    shared.watches.unwatch(session.id, &mut session.watching);
    session.name = None;
    session.protocol = Protocol::Resp2;
    session.authenticated = shared.password.is_none();
    Writer::new(w.buffer(), Protocol::Resp2).simple(b"RESET");
    Flow::Continue
}

pub(super) fn hello<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    hello: Hello<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    let mut flow = Flow::Continue;
    if let Some((user, pass)) = hello.auth {
        if !check(shared, Some(user), pass) {
            tracing::info!(client = session.id, peer = %session.peer, "authentication failed");
            w.error(WRONGPASS);
            return Flow::Continue;
        }
        if !session.authenticated {
            session.authenticated = true;
            flow = Flow::Authenticated;
        }
    } else if !session.authenticated {
        w.error(
            b"NOAUTH HELLO must be called with the client already authenticated, otherwise the \
              HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
              select the RESP protocol version at the same time",
        );
        return Flow::Continue;
    }
    if let Some(name) = hello.setname {
        session.name = Some(name.to_vec());
    }
    match hello.protover {
        Some(3) => session.protocol = Protocol::Resp3,
        Some(2) => session.protocol = Protocol::Resp2,
        _ => {}
    }
    // The reply is written in the protocol just selected.
    let mut w = Writer::new(w.buffer(), session.protocol);
    w.map(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(REDIS_VERSION.as_bytes());
    w.bulk(b"proto");
    w.integer(if session.protocol == Protocol::Resp3 {
        3
    } else {
        2
    });
    w.bulk(b"id");
    w.integer(i64::try_from(session.id).unwrap_or(i64::MAX));
    w.bulk(b"mode");
    w.bulk(b"standalone");
    w.bulk(b"role");
    w.bulk(b"master");
    w.bulk(b"modules");
    w.array(0);
    flow
}

pub(super) fn client<C: KeyOps>(
    _shared: &Shared<C>,
    session: &mut Session,
    client: Client<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    match client {
        Client::SetName(name) => {
            session.name = (!name.is_empty()).then(|| name.to_vec());
            w.ok();
        }
        Client::GetName => match &session.name {
            Some(name) => w.bulk(name),
            None => w.null(),
        },
        Client::Id => w.integer(i64::try_from(session.id).unwrap_or(i64::MAX)),
        Client::SetInfo { attr, value } => {
            if value.iter().any(|&b| b <= b' ' || b > b'~') {
                w.error(
                    format!("ERR {attr} cannot contain spaces, newlines or special characters.")
                        .as_bytes(),
                );
                return Flow::Continue;
            }
            let slot = if attr == "lib-name" {
                &mut session.lib_name
            } else {
                &mut session.lib_ver
            };
            *slot = Some(value.to_vec());
            w.ok();
        }
        Client::Info => w.verbatim(format!("{}\n", session.describe()).as_bytes()),
        Client::List => w.verbatim(format!("{}\n", session.describe()).as_bytes()),
        _ => w.ok(),
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
