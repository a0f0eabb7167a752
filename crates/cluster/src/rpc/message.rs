//! The messages of the node-to-node and client-to-node RPC (see `docs/cluster.md`, "The RPC protocol").
//!
//! Types only; their RESP encoding is in `rpc::codec`.

use bytes::Bytes;

use crate::error::QuorumKind;
use crate::version::Version;

/// A stored entry as it travels between nodes: a value or a tombstone, with its version and deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Bytes,
    /// The value; `None` for a tombstone (a versioned delete).
    pub value: Option<Bytes>,
    /// Who wins against another copy.
    pub version: Version,
    /// Absolute expiry, Unix milliseconds; 0 for none.
    pub expires_at: u64,
}

impl Entry {
    /// This entry with its key and value copied into one allocation of their own. A decoded entry's key
    /// and value are slices of the connection's read buffer; kept as they are (in the store, or by a
    /// caller that holds a value it read), they would keep the whole buffer in memory (kilobytes,
    /// shared with every other message it carried).
    #[must_use]
    pub fn detached(&self) -> Entry {
        let (key, value) = detached_parts(&self.key, self.value.as_deref());
        Entry {
            key,
            value,
            ..*self
        }
    }
}

/// A copy of `key` and `value` in one allocation of their own (see [`Entry::detached`]); one buffer for
/// both, and its one reference count, is half the allocations of two.
pub(crate) fn detached_parts(key: &[u8], value: Option<&[u8]>) -> (Bytes, Option<Bytes>) {
    let mut cut = pieces([key, value.unwrap_or_default()].into_iter());
    let key = cut(key.len());
    (key, value.map(|v| cut(v.len())))
}

/// A routed operation on one key, coordinated by the key's primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read the value.
    Get {
        /// The key.
        key: Bytes,
    },
    /// Read presence and expiry (for `exists` and `ttl`).
    Meta {
        /// The key.
        key: Bytes,
    },
    /// Write a value.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// Absolute expiry in Unix ms; 0 none.
        expires_at: u64,
    },
    /// Delete (writes a tombstone).
    Delete {
        /// The key.
        key: Bytes,
    },
    /// Change the expiry of a present key; `expires_at` 0 removes it.
    Expire {
        /// The key.
        key: Bytes,
        /// Absolute expiry in Unix ms; 0 none.
        expires_at: u64,
    },
    /// Compare-and-set: write `value` (a tombstone when `None`) only if the version stored at the
    /// primary is `expected` ([`Version::ZERO`]: nothing stored). Answered `Count(1)` when written,
    /// `Count(0)` when the version differs. The step behind every read-modify-write.
    SetIf {
        /// The key.
        key: Bytes,
        /// The new value, or `None` for a delete.
        value: Option<Bytes>,
        /// Absolute expiry in Unix ms; 0 none.
        expires_at: u64,
        /// The version the write replaces.
        expected: Version,
    },
}

impl Op {
    /// The key the operation is about.
    #[must_use]
    pub fn key(&self) -> &Bytes {
        match self {
            Op::Get { key }
            | Op::Meta { key }
            | Op::Set { key, .. }
            | Op::Delete { key }
            | Op::Expire { key, .. }
            | Op::SetIf { key, .. } => key,
        }
    }

    /// A `Get` of each key, in order. The keys are copied into one buffer that the operations share
    /// (one allocation for the batch, and cloning an operation only counts a reference).
    #[must_use]
    pub fn gets(keys: &[&[u8]]) -> Vec<Op> {
        let mut cut = pieces(keys.iter().copied());
        keys.iter().map(|k| Op::Get { key: cut(k.len()) }).collect()
    }

    /// A `Set` of each item, in order, all expiring at `expires_at` (Unix ms; 0 never). Keys and
    /// values are copied into one buffer that the operations share, as in [`Op::gets`]; a node that
    /// stores one copies it out of that buffer.
    #[must_use]
    pub fn sets(items: &[(&[u8], &[u8])], expires_at: u64) -> Vec<Op> {
        let mut cut = pieces(items.iter().flat_map(|(k, v)| [*k, *v]));
        items
            .iter()
            .map(|(k, v)| Op::Set {
                key: cut(k.len()),
                value: cut(v.len()),
                expires_at,
            })
            .collect()
    }

    /// The name used in logs and errors.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Op::Get { .. } => "get",
            Op::Meta { .. } => "meta",
            Op::Set { .. } => "set",
            Op::Delete { .. } => "delete",
            Op::Expire { .. } => "expire",
            Op::SetIf { .. } => "set_if",
        }
    }

    /// True for operations that write.
    #[must_use]
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Set { .. } | Op::Delete { .. } | Op::Expire { .. } | Op::SetIf { .. }
        )
    }
}

/// Copies `parts` one after the other into one buffer of their own, and returns a cutter that hands
/// them out again in order: each call takes the next `len` bytes as a slice of that buffer (all of
/// them share its one allocation and reference count).
fn pieces<'a>(parts: impl Iterator<Item = &'a [u8]> + Clone) -> impl FnMut(usize) -> Bytes {
    let mut all = Vec::with_capacity(parts.clone().map(<[u8]>::len).sum());
    for part in parts {
        all.extend_from_slice(part);
    }
    let all = Bytes::from(all);
    let mut at = 0;
    move |len| {
        let end = (at + len).min(all.len());
        let part = all.slice(at..end);
        at = end;
        part
    }
}

/// A request (one RPC call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A routed operation. `hops` counts forwards so far (0 from a client or the first node).
    Op {
        /// Forwards so far.
        hops: u8,
        /// The operation.
        op: Op,
    },
    /// Several routed operations in one call, each run as [`Request::Op`] would be (how `get_multi` and
    /// `set_multi` reach each owner); answered with [`Response::Batch`], one item per operation.
    Batch {
        /// Forwards so far.
        hops: u8,
        /// The operations.
        ops: Vec<Op>,
    },
    /// Store these entries where newer (replication, read-repair, migration).
    Apply {
        /// The entries.
        entries: Vec<Entry>,
    },
    /// Return the newest entries of these keys this node knows (absent keys are left out): its own
    /// copy, and for a partition it is still pulling, the newest of its sources' copies too.
    Fetch {
        /// The keys.
        keys: Vec<Bytes>,
    },
    /// Return this node's own stored entries of these keys, nothing else (how read-through asks).
    Peek {
        /// The keys.
        keys: Vec<Bytes>,
    },
    /// A page of the entries (values and tombstones) the receiver holds in these partitions: how a new
    /// owner fills a partition it gained. Answered with [`Response::Page`].
    Pull {
        /// The partitions wanted.
        partitions: Vec<u32>,
        /// Where to continue (0 to start).
        cursor: u64,
        /// At most this many entries.
        count: u32,
    },
    /// The routing table (for clients).
    Table,
    /// This node's counters.
    Stats,
    /// A page of the keys this node is primary for.
    Scan {
        /// Where to continue (0 to start).
        cursor: u64,
        /// Only keys with this prefix.
        prefix: Bytes,
        /// About how many keys.
        count: u32,
    },
    /// This node's clock: a reading of its hybrid logical clock (`Count`), at or above every version it
    /// stores (the first round of a purge).
    Clock,
    /// Drop every key with this prefix older than `version` from this node's store, and refuse older
    /// copies of such keys from now on (for the tombstone lifetime).
    Purge {
        /// The prefix (empty: everything).
        prefix: Bytes,
        /// The purge's version: above every version the members held when the purge began.
        version: Version,
    },
    /// The sender is leaving the cluster gracefully.
    Leaving,
}

impl Request {
    /// The verb (for logs and metrics).
    #[must_use]
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Op { .. } => "op",
            Request::Batch { .. } => "batch",
            Request::Apply { .. } => "apply",
            Request::Fetch { .. } => "fetch",
            Request::Peek { .. } => "peek",
            Request::Pull { .. } => "pull",
            Request::Table => "table",
            Request::Stats => "stats",
            Request::Scan { .. } => "scan",
            Request::Clock => "clock",
            Request::Purge { .. } => "purge",
            Request::Leaving => "leaving",
        }
    }
}

/// What a member looks like in a [`TableInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Advertised gossip address (`host:port`); the RPC address is port − 2.
    pub gossip_addr: String,
    /// Generation (start time in ms, bumped on renewal).
    pub generation: u64,
}

/// The routing table as a node reports it to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Live members (this node included), sorted by address.
    pub members: Vec<MemberInfo>,
    /// `partition_count`.
    pub partition_count: u32,
    /// `replica_count`.
    pub replica_count: u32,
    /// The node's epoch.
    pub epoch: u64,
}

/// Counters of one node (for `STATS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeStats {
    /// Reads this node coordinated that found a value.
    pub hits: u64,
    /// Reads this node coordinated that found nothing.
    pub misses: u64,
    /// Entries in the local store (values, not tombstones).
    pub keys: u64,
    /// Bytes charged in the local store.
    pub bytes: u64,
    /// Entries evicted from the local store.
    pub evictions: u64,
    /// Expired entries removed.
    pub expirations: u64,
    /// New keys the admission policy declined.
    pub rejections: u64,
    /// Local store bound.
    pub max_cost: u64,
}

/// A failure a peer reports (the `ERR` status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// A quorum failed there.
    Quorum {
        /// Which one.
        kind: QuorumKind,
        /// Needed.
        needed: u32,
        /// Reached.
        reached: u32,
    },
    /// The node is closed or leaving.
    Closed,
    /// Anything else, as text.
    Other(String),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Done, nothing to return (`Apply`, `Leaving`).
    Ok,
    /// A single entry or nothing (`Op Get`/`Meta`: the newest entry; a tombstone or absence is `None`).
    Entry(Option<Entry>),
    /// Entries (`Fetch`).
    Entries(Vec<Entry>),
    /// A number (`Op Expire`: 1 if the key was present; `Purge`: keys removed).
    Count(u64),
    /// `Table`.
    Table(TableInfo),
    /// `Stats`.
    Stats(NodeStats),
    /// `Scan`.
    Scan {
        /// Where to continue; 0 when done.
        cursor: u64,
        /// The keys of this page.
        keys: Vec<Bytes>,
    },
    /// `Pull`: a page of entries.
    Page {
        /// Where to continue; 0 when done.
        cursor: u64,
        /// The entries of this page.
        entries: Vec<Entry>,
    },
    /// `Batch`: the answer of each operation, in order (`Ok`, `Entry`, `Count` or `Error`).
    Batch(Vec<Response>),
    /// The call failed there.
    Error(RemoteError),
}
