//! MULTI EXEC DISCARD WATCH UNWATCH: commands sent after `MULTI` are checked and queued (`+QUEUED`),
//! `EXEC` runs them in order and replies with the array of their replies, `DISCARD` drops them.
//!
//! As in Redis, a command refused while queueing (unknown, wrong arity) makes `EXEC` fail with
//! `EXECABORT`, and a command failing while running does not stop the others.
//!
//! Isolation: `EXEC` runs its commands holding the server's isolation lock exclusively, while every
//! connection executes its commands holding it shared, so no other client of this server process runs
//! a command between the queued commands of one `EXEC`, in every cache mode. Clients of other processes
//! (another `ha` node, another program writing to the same Redis) are not held back.
//!
//! `WATCH key...` makes the next `EXEC` reply a null array and run nothing when, since the `WATCH`, a
//! client of this server ran a write command naming the key (the watching client included, outside
//! `MULTI`), or when the key's state (absent, or its value and whether it has a TTL) differs at `EXEC`:
//! that covers expiry, eviction and writes through other nodes or processes that change the value.
//! `EXEC`, `DISCARD`, `RESET`, `UNWATCH` and disconnecting forget the watched keys.

use relaycache::KeyOps;
use relaycache_resp::cmd::{COMMANDS, Command};
use relaycache_resp::{Args, Writer};

use crate::dispatch::Flow;
use crate::server::Shared;
use crate::session::Session;

/// At most this many commands may be queued by one `MULTI`.
const MAX_QUEUED: usize = 100_000;
/// At most this many argument bytes may be queued by one `MULTI`.
const MAX_QUEUED_BYTES: usize = 64 << 20;

/// The commands queued since `MULTI`, as owned arguments.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    queued: Vec<Vec<Vec<u8>>>,
    bytes: usize,
    /// A command was refused while queueing: `EXEC` must fail.
    failed: bool,
}

impl Transaction {
    /// Marks the transaction as failed (a command was refused while queueing).
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }
}

/// `MULTI`.
pub(super) fn multi(session: &mut Session, w: &mut Writer<'_>) -> Flow {
    if session.transaction.is_some() {
        w.error(b"ERR MULTI calls can not be nested");
    } else {
        session.transaction = Some(Transaction::default());
        w.ok();
    }
    Flow::Continue
}

/// `DISCARD`.
pub(super) fn discard<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    w: &mut Writer<'_>,
) -> Flow {
    if session.transaction.take().is_some() {
        shared.watches.unwatch(session.id, &mut session.watching);
        w.ok();
    } else {
        w.error(b"ERR DISCARD without MULTI");
    }
    Flow::Continue
}

/// Queues a command of an open transaction (parsed successfully, or with an argument error that EXEC
/// will reply).
pub(crate) fn queue(args: Args<'_>, transaction: &mut Transaction, w: &mut Writer<'_>) {
    let size: usize = args.iter().map(<[u8]>::len).sum();
    if transaction.queued.len() >= MAX_QUEUED || transaction.bytes + size > MAX_QUEUED_BYTES {
        transaction.failed = true;
        w.error(b"ERR too many commands queued in this MULTI (relaycache limit)");
        return;
    }
    transaction.bytes += size;
    transaction
        .queued
        .push(args.iter().map(<[u8]>::to_vec).collect());
    w.simple(b"QUEUED");
}

/// `EXEC`: runs the queued commands in order.
pub(super) async fn exec<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    w: &mut Writer<'_>,
) -> Flow {
    let Some(transaction) = session.transaction.take() else {
        w.error(b"ERR EXEC without MULTI");
        return Flow::Continue;
    };
    if transaction.failed {
        shared.watches.unwatch(session.id, &mut session.watching);
        w.error(b"EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    let changed = !session.watching.is_empty()
        && shared
            .watches
            .changed(&shared.cache, &session.watching)
            .await;
    shared.watches.unwatch(session.id, &mut session.watching);
    if changed {
        w.null_array();
        return Flow::Continue;
    }
    w.array(transaction.queued.len());
    let mut flow = Flow::Continue;
    for raw in &transaction.queued {
        let args = Args::from_owned(raw);
        // Parsed once already when queued: an error now is the argument error found then.
        match Command::parse_indexed(args) {
            (index, Ok(command)) => {
                let before = w.len();
                let mut inner = Writer::new(w.buffer(), session.protocol);
                let next = Box::pin(super::run(command, shared, session, &mut inner)).await;
                if next != Flow::Continue {
                    flow = next;
                }
                if let Some(i) = index
                    && !crate::dispatch::out_starts_error(w, before)
                {
                    if shared.watches.active() {
                        shared.watches.touch_command(&COMMANDS[i], args);
                    }
                    shared.encodings.after_command(&COMMANDS[i], args);
                }
            }
            (_, Err(e)) => w.error(e.to_string().as_bytes()),
        }
    }
    flow
}

/// `WATCH key...`.
pub(super) async fn watch<C: KeyOps>(
    shared: &Shared<C>,
    session: &mut Session,
    keys: Args<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    if session.transaction.is_some() {
        w.error(b"ERR WATCH inside MULTI is not allowed");
        return Flow::Continue;
    }
    for key in keys.iter() {
        shared
            .watches
            .watch(&shared.cache, session.id, &mut session.watching, key)
            .await;
    }
    w.ok();
    Flow::Continue
}
