//! What a node answers over RPC, to peers and to clients.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::Inner;
use crate::error::ClusterError;
use crate::placement::partition_of;
use crate::rpc::message::{MemberInfo, RemoteError, Request, Response, TableInfo};
use crate::rpc::{CallContext, Handler};

/// Largest page a `PULL` or `SCAN` answers with, whatever was asked.
const MAX_PAGE: usize = 4096;

/// The RPC handler of a node. Holds the node weakly, so that the listener does not keep a stopped node
/// alive.
pub(crate) struct NodeHandler(pub(crate) Weak<Inner>);

impl Handler for NodeHandler {
    fn fingerprint(&self) -> u64 {
        self.0
            .upgrade()
            .map_or(0, |inner| inner.table().fingerprint())
    }

    fn handle(
        &self,
        _ctx: CallContext,
        req: Request,
    ) -> impl std::future::Future<Output = Response> + Send {
        let inner = self.0.upgrade();
        async move {
            match inner {
                Some(inner) => answer(&inner, req).await,
                None => Response::Error(RemoteError::Closed),
            }
        }
    }
}

/// The answer of this node to `req`.
pub(crate) async fn answer(inner: &Arc<Inner>, req: Request) -> Response {
    if inner.closed.load(Ordering::Acquire) {
        return Response::Error(RemoteError::Closed);
    }
    match req {
        Request::Op { hops, op } => match inner.execute(op, hops).await {
            Ok(resp) => resp,
            Err(e) => error_response(e),
        },
        Request::Batch { hops, ops } => {
            // What this node answers at once is answered in place; the rest runs concurrently.
            let mut answers: Vec<Option<Response>> = Vec::with_capacity(ops.len());
            let (mut waiting, mut later) = (Vec::new(), Vec::new());
            for (i, op) in ops.into_iter().enumerate() {
                match inner.try_now(op) {
                    Ok(r) => answers.push(Some(r.unwrap_or_else(error_response))),
                    Err(op) => {
                        answers.push(None);
                        waiting.push(i);
                        later.push(inner.execute(op, hops));
                    }
                }
            }
            for (i, r) in waiting
                .into_iter()
                .zip(futures::future::join_all(later).await)
            {
                answers[i] = Some(r.unwrap_or_else(error_response));
            }
            Response::Batch(
                answers
                    .into_iter()
                    .map(|a| a.unwrap_or(Response::Error(RemoteError::Closed)))
                    .collect(),
            )
        }
        Request::Apply { entries } => {
            for entry in &entries {
                inner.hlc.observe(entry.version);
                inner.store.apply(entry);
            }
            Response::Ok
        }
        Request::Fetch { keys } => Response::Entries(inner.fetch_through(keys).await),
        Request::Peek { keys } => {
            Response::Entries(keys.iter().filter_map(|k| inner.store.get(k)).collect())
        }
        Request::Pull {
            partitions,
            cursor,
            count,
        } => {
            let page = inner.store.pull(
                &partitions,
                inner.cfg.tag.partition_count,
                cursor,
                (count as usize).clamp(1, MAX_PAGE),
            );
            Response::Page {
                cursor: page.cursor,
                entries: page.entries,
            }
        }
        Request::Table => {
            let table = inner.table();
            Response::Table(TableInfo {
                members: table
                    .members()
                    .iter()
                    .map(|m| MemberInfo {
                        gossip_addr: m.addr.to_string(),
                        generation: m.generation,
                    })
                    .collect(),
                partition_count: inner.cfg.tag.partition_count,
                replica_count: inner.cfg.replica_count,
                epoch: table.epoch(),
            })
        }
        Request::Stats => Response::Stats(inner.local_stats()),
        Request::Scan {
            cursor,
            prefix,
            count,
        } => {
            let table = inner.table();
            let me = inner.me();
            let pc = table.partition_count();
            let (cursor, keys) =
                inner
                    .store
                    .scan_keys(cursor, (count as usize).clamp(1, MAX_PAGE), |k| {
                        k.starts_with(&prefix)
                            && table
                                .owners(partition_of(k, pc))
                                .next()
                                .is_some_and(|o| o.addr == me.addr)
                    });
            Response::Scan { cursor, keys }
        }
        Request::Clock => Response::Count(inner.hlc.next().hlc),
        Request::Purge { prefix, version } => {
            // Count the keys this node is primary for, so that a cluster-wide sum counts each key once.
            inner.hlc.observe(version);
            let table = inner.table();
            let me = inner.me();
            let pc = table.partition_count();
            Response::Count(inner.store.purge_prefix(&prefix, version, |k| {
                table
                    .owners(partition_of(k, pc))
                    .next()
                    .is_some_and(|o| o.addr == me.addr)
            }))
        }
        Request::Leaving => Response::Ok,
    }
}

/// The wire form of an error.
pub(crate) fn error_response(e: ClusterError) -> Response {
    Response::Error(match e {
        ClusterError::Quorum(q) => RemoteError::Quorum {
            kind: q.kind,
            needed: q.needed,
            reached: q.reached,
        },
        ClusterError::Closed => RemoteError::Closed,
        other => RemoteError::Other(other.to_string()),
    })
}
