//! `scan` and `invalidate_prefix`: `SCAN MATCH <escaped prefix>*` on the server, or on every master of a
//! cluster in turn, with our key prefix removed from what is returned; invalidation `UNLINK`s each page.

use bytes::Bytes;
use redis::Value;

use super::RedisCache;
use super::conn::{Conn, Node, unexpected};
use super::errors::backend;
use super::keys::NodeCursor;
use crate::api::ScanPage;
use crate::error::{Error, Result};

/// The `COUNT` hint of the scans behind `invalidate_prefix`.
const INVALIDATE_COUNT: usize = 1000;

/// Pages one node's scan may take before `invalidate_prefix` gives up (a bound, far above what a node
/// holding 2^32 keys needs).
const MAX_PAGES_PER_NODE: u64 = 1 << 24;

/// `SCAN cursor MATCH pattern COUNT count`.
fn scan_cmd(cursor: u64, pattern: &[u8], count: usize) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count.max(1));
    cmd
}

impl RedisCache {
    /// One `SCAN` page. On a cluster the caller's cursor encodes which master and where on it.
    pub(super) async fn scan_page(
        &self,
        cursor: u64,
        prefix: &[u8],
        count: usize,
    ) -> Result<ScanPage> {
        let mut conn = self.conn()?;
        let pattern = self.keys.pattern(prefix);
        if !conn.is_cluster() {
            let (next, keys) = self
                .call(
                    "scan",
                    conn.query_on(&Node::Server, scan_cmd(cursor, &pattern, count)),
                )
                .await?;
            return Ok(ScanPage {
                cursor: next,
                keys: self.strip_all(keys),
            });
        }
        let nodes = self.call("scan", conn.nodes()).await?;
        let at = NodeCursor::decode(cursor);
        let Some(node) = nodes.get(at.node) else {
            return Err(Error::InvalidArgument(format!(
                "scan cursor {cursor} names master #{} but the cluster has {} masters now \
                 (its topology changed during the scan); start again from cursor 0",
                at.node,
                nodes.len()
            )));
        };
        let (next, keys) = self
            .call(
                "scan",
                conn.query_on(node, scan_cmd(at.cursor, &pattern, count)),
            )
            .await?;
        let next = match (next, at.node + 1 < nodes.len()) {
            (0, false) => 0,
            (0, true) => next_cursor(at.node + 1, 0)?,
            (next, _) => next_cursor(at.node, next)?,
        };
        Ok(ScanPage {
            cursor: next,
            keys: self.strip_all(keys),
        })
    }

    /// Scans every node for keys under `prefix` and unlinks them page by page; returns how many the
    /// server removed (keys that expired or were deleted meanwhile are not counted).
    pub(super) async fn remove_prefix(&self, prefix: &[u8]) -> Result<u64> {
        let op = "invalidate_prefix";
        let mut conn = self.conn()?;
        let pattern = self.keys.pattern(prefix);
        let nodes = self.call(op, conn.nodes()).await?;
        let mut removed = 0u64;
        for node in &nodes {
            let mut cursor = 0;
            let mut pages = 0;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = self
                    .call(
                        op,
                        conn.query_on(node, scan_cmd(cursor, &pattern, INVALIDATE_COUNT)),
                    )
                    .await?;
                if !keys.is_empty() {
                    removed += self.call(op, unlink(&mut conn, node, keys)).await?;
                }
                cursor = next;
                pages += 1;
                if cursor == 0 {
                    break;
                }
                if pages >= MAX_PAGES_PER_NODE {
                    return Err(backend(format!(
                        "invalidate_prefix: the scan of {node:?} did not finish after {pages} pages"
                    )));
                }
            }
        }
        Ok(removed)
    }

    /// Server keys to caller keys; keys outside our prefix (impossible with an escaped pattern) are
    /// dropped.
    fn strip_all(&self, keys: Vec<Vec<u8>>) -> Vec<Bytes> {
        keys.iter()
            .filter_map(|k| self.keys.strip(k))
            .map(Bytes::copy_from_slice)
            .collect()
    }
}

/// The caller's cursor for master `node` at its own `cursor`.
fn next_cursor(node: usize, cursor: u64) -> Result<u64> {
    NodeCursor { node, cursor }.encode().ok_or_else(|| {
        backend(format!(
            "scan cursor {cursor} of master #{node} does not fit in a relaycache cursor"
        ))
    })
}

/// Unlinks `keys`, which all live on `node`: one `UNLINK` on a single server; on a cluster one `UNLINK`
/// per key in a pipeline to that master (keys of several slots may not share one command).
async fn unlink(conn: &mut Conn, node: &Node, keys: Vec<Vec<u8>>) -> redis::RedisResult<u64> {
    if !conn.is_cluster() {
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(keys);
        return conn.query_on(node, cmd).await;
    }
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.cmd("UNLINK").arg(key);
    }
    let replies: Vec<Value> = conn.pipeline_on(node, pipe).await?;
    replies.iter().try_fold(0u64, |sum, reply| match reply {
        Value::Int(n) => Ok(sum + n.unsigned_abs()),
        other => Err(unexpected("an integer reply to UNLINK", other)),
    })
}
