//! MULTI EXEC DISCARD: commands sent after `MULTI` are checked and queued (`+QUEUED`), `EXEC` runs them
//! in order and replies with the array of their replies, `DISCARD` drops them.
//!
//! As in Redis, a command refused while queueing (unknown, wrong arity, bad syntax) makes `EXEC` fail
//! with `EXECABORT`, and a command failing while running does not stop the others. Unlike Redis, the
//! queued commands are not isolated from other clients: their writes may interleave with the
//! transaction's (relaycache is a cache over backends without transactions). `WATCH` is not supported.

use relaycache::KeyOps;
use relaycache_resp::cmd::Command;
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
pub(super) fn discard(session: &mut Session, w: &mut Writer<'_>) -> Flow {
    if session.transaction.take().is_some() {
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
        w.error(b"EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    w.array(transaction.queued.len());
    let mut flow = Flow::Continue;
    for raw in &transaction.queued {
        // Parsed once already when queued: an error now is the argument error found then.
        match Command::parse(Args::from_owned(raw)) {
            Ok(command) => {
                let mut inner = Writer::new(w.buffer(), session.protocol);
                let next = Box::pin(super::run(command, shared, session, &mut inner)).await;
                if next != Flow::Continue {
                    flow = next;
                }
            }
            Err(e) => w.error(e.to_string().as_bytes()),
        }
    }
    flow
}
