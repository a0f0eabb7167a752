//! [`Node`]: one embedded cluster node. It owns the membership, the RPC listener, the local store and
//! the tasks that keep the routing table current and move partitions.
//!
//! - `coordinate`: a routed operation end to end: forward to the primary, or coordinate it here (version,
//!   replication, quorums, read-repair, read-through of incoming partitions).
//! - `handler`: the RPC [`Handler`](crate::rpc::Handler): what the node answers to peers and clients.
//! - `rebalance`: routing-table changes, partition pulls, the hand-off of a graceful leave, and the
//!   dropping of partitions this node no longer owns.
//! - `replicate`: the writes coordinated here, sent to the other owners in batches (one queue per
//!   owner).

mod coordinate;
mod handler;
mod rebalance;
mod replicate;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthKey, GOSSIP_LABEL, RPC_LABEL};
use crate::config::NodeConfig;
use crate::error::{ClusterError, QuorumKind, Result};
use crate::membership::{Membership, MembershipSettings};
use crate::placement::{Owner, Table, tie_break};
use crate::rpc::message::{Entry, NodeStats, Op, Request, Response};
use crate::rpc::{RpcClient, RpcServer, RpcSettings};
use crate::store::Store;
use crate::version::{Hlc, Version};

/// Tables kept in [`Inner::previous`].
pub(crate) const PREVIOUS_TABLES: usize = 4;

/// A routed operation is forwarded at most this many times before a node coordinates it anyway.
pub(crate) const MAX_HOPS: u8 = 2;

/// How this node sees the cluster, for `/cluster`, `CLUSTER.MEMBERS` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStatus {
    /// This node's identity (advertised gossip address and generation).
    pub local: Owner,
    /// This node's RPC address.
    pub rpc_addr: SocketAddr,
    /// Live members, this node included, sorted by address.
    pub members: Vec<Owner>,
    /// The table's local epoch.
    pub epoch: u64,
    /// The table's fingerprint.
    pub fingerprint: u64,
    /// Partitions this node is primary for.
    pub primary_partitions: u32,
    /// Partitions this node holds a backup of.
    pub backup_partitions: u32,
    /// Partitions this node is still pulling.
    pub incoming_partitions: u32,
    /// `partition_count`.
    pub partition_count: u32,
    /// True while the node sees at least `member_count_quorum` members.
    pub has_member_quorum: bool,
    /// `member_count_quorum`.
    pub member_count_quorum: u32,
    /// True once a graceful leave has started.
    pub leaving: bool,
}

/// One cluster node. Cheap to clone (a handle); the node stops on [`Node::leave`] or [`Node::kill`].
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("rpc_addr", &self.inner.rpc_addr)
            .finish_non_exhaustive()
    }
}

/// Counters of the operations this node coordinated for its own callers.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Partitions being pulled: partition → the sources not yet read to the end, and when the pull began.
type Incoming = HashMap<u32, (Vec<Owner>, Instant)>;

pub(crate) struct Inner {
    cfg: NodeConfig,
    rpc_addr: SocketAddr,
    me: RwLock<Option<Owner>>,
    store: Store,
    hlc: Hlc,
    rpc: RpcClient,
    table: RwLock<Arc<Table>>,
    /// The tables before the last few changes (newest last, at most [`PREVIOUS_TABLES`]), each with
    /// when it was replaced: a read forwarded to an owner that has just gained the partition also asks
    /// the owners of these tables when that owner has nothing. Several, because a join often changes
    /// the table more than once in quick succession (the new member, then its renewed generation).
    previous: RwLock<std::collections::VecDeque<(Arc<Table>, Instant)>>,
    incoming: Mutex<Incoming>,
    /// Partitions this node stopped owning, and since when (dropped after the tombstone time).
    lost: Mutex<HashMap<u32, Instant>>,
    /// Writes an owner missed (its `APPLY` failed), sent again until they arrive.
    hints: Mutex<rebalance::Hints>,
    /// Queues of the writes coordinated here, per owner they go to.
    replicator: replicate::Replicator,
    /// Set until the node has seen another member (it holds nothing it was not written directly).
    fresh: AtomicBool,
    leaving: AtomicBool,
    closed: AtomicBool,
    counters: Counters,
    cancel: CancellationToken,
    tasks: TaskTracker,
    membership: OnceLock<Membership>,
    server: OnceLock<RpcServer>,
}

impl Node {
    /// Starts a node: binds the RPC listener on `bind_addr` and the gossip socket on its port + 2, joins
    /// the `peers`, and serves at once.
    ///
    /// # Errors
    /// [`ClusterError::Start`] when an address cannot be resolved or bound;
    /// [`ClusterError::InvalidArgument`] for settings that cannot work.
    pub async fn start(cfg: NodeConfig) -> Result<Node> {
        let rpc_addr = resolve(&cfg.bind_addr).await?;
        let gossip_bind = match &cfg.gossip_bind {
            Some(addr) => resolve(addr).await?,
            None => {
                let port = rpc_addr.port().checked_add(2).ok_or_else(|| {
                    ClusterError::Start(format!(
                        "bind_addr port {} leaves no room for the gossip port (+2)",
                        rpc_addr.port()
                    ))
                })?;
                SocketAddr::new(rpc_addr.ip(), port)
            }
        };
        let advertise = match &cfg.advertise_addr {
            Some(addr) => Some(resolve(addr).await?),
            None => None,
        };
        if cfg.secret.is_none() && !rpc_addr.ip().is_loopback() {
            tracing::warn!(
                bind_addr = %rpc_addr,
                "cluster node on a non-loopback address without cache.olric.secret: \
                 anyone who can reach its ports can join the cluster and read or write every key"
            );
        }
        let rpc_key = cfg.secret.as_deref().map(|s| AuthKey::derive(s, RPC_LABEL));
        let gossip_key = cfg
            .secret
            .as_deref()
            .map(|s| AuthKey::derive(s, GOSSIP_LABEL));
        let local_ip = (!rpc_addr.ip().is_unspecified()).then_some(rpc_addr.ip());
        let settings = rpc_settings(&cfg, rpc_key, local_ip);
        let store = Store::new(cfg.max_cost, cfg.num_counters, cfg.tombstone_ttl())?;
        let inner = Arc::new(Inner {
            rpc: RpcClient::new(settings.clone()),
            rpc_addr,
            me: RwLock::new(None),
            store,
            hlc: Hlc::new(0),
            table: RwLock::new(Arc::new(Table::new(
                &[],
                cfg.tag.partition_count,
                cfg.replica_count,
                0,
            ))),
            previous: RwLock::new(std::collections::VecDeque::new()),
            incoming: Mutex::new(HashMap::new()),
            lost: Mutex::new(HashMap::new()),
            hints: Mutex::new(rebalance::Hints::default()),
            replicator: replicate::Replicator::default(),
            fresh: AtomicBool::new(true),
            leaving: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            membership: OnceLock::new(),
            server: OnceLock::new(),
            cfg,
        });
        let handler = Arc::new(handler::NodeHandler(Arc::downgrade(&inner)));
        let server = RpcServer::bind(rpc_addr, settings, handler).await?;
        let _ = inner.server.set(server);
        let membership = match Membership::start(MembershipSettings {
            bind: gossip_bind,
            advertise,
            wrong_port_bind: Some(rpc_addr),
            peers: inner.cfg.peers.clone(),
            tag: inner.cfg.tag.clone(),
            timings: inner.cfg.timings,
            key: gossip_key,
        })
        .await
        {
            Ok(m) => m,
            Err(e) => {
                if let Some(server) = inner.server.get() {
                    server.shutdown().await;
                }
                return Err(e);
            }
        };
        let local = membership.local();
        let me = Owner {
            addr: local.addr,
            generation: local.generation,
        };
        *inner.me.write() = Some(me);
        // The clock's tie-break is the advertised address, known only now.
        inner.hlc.set_node(tie_break(me.addr));
        let _ = inner.membership.set(membership);
        inner.apply_view();
        rebalance::spawn_tasks(&inner);
        inner.wait_for_join().await;
        tracing::info!(
            rpc = %rpc_addr,
            gossip = %me.addr,
            generation = me.generation,
            dmap_name = %inner.cfg.tag.dmap_name,
            "cluster node started"
        );
        Ok(Node { inner })
    }

    /// This node's RPC address (`bind_addr`).
    #[must_use]
    pub fn rpc_addr(&self) -> SocketAddr {
        self.inner.rpc_addr
    }

    /// This node's advertised gossip address.
    #[must_use]
    pub fn gossip_addr(&self) -> SocketAddr {
        self.inner.me().addr
    }

    /// The current routing table.
    #[must_use]
    pub fn table(&self) -> Arc<Table> {
        self.inner.table()
    }

    /// How this node sees the cluster.
    #[must_use]
    pub fn status(&self) -> NodeStatus {
        self.inner.status()
    }

    /// Reads `key`: the newest live entry among `read_quorum` owners, or `None`.
    ///
    /// # Errors
    /// [`ClusterError::Quorum`], [`ClusterError::Timeout`], [`ClusterError::Connection`],
    /// [`ClusterError::Closed`].
    pub async fn get(&self, key: &[u8]) -> Result<Option<Entry>> {
        let found = self
            .inner
            .execute(
                Op::Get {
                    key: Bytes::copy_from_slice(key),
                },
                0,
            )
            .await
            .and_then(into_entry)?;
        let counter = if found.is_some() {
            &self.inner.counters.hits
        } else {
            &self.inner.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(found)
    }

    /// Reads many keys with one call per owner; the answers are in the order of `keys` (`None` for a
    /// miss).
    ///
    /// # Errors
    /// As [`Node::get`], for the first key that failed.
    pub async fn get_multi(&self, keys: &[&[u8]]) -> Result<Vec<Option<Entry>>> {
        self.inner.check_serving()?;
        let ops = Op::gets(keys);
        let mut found = Vec::with_capacity(keys.len());
        for answer in self.inner.execute_batch(ops).await {
            let entry = answer.and_then(into_entry)?;
            let counter = if entry.is_some() {
                &self.inner.counters.hits
            } else {
                &self.inner.counters.misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
            found.push(entry);
        }
        Ok(found)
    }

    /// Writes many keys with one call per owner, all expiring at `expires_at` (Unix ms; 0 never).
    ///
    /// # Errors
    /// As [`Node::set`], for the first key that failed (the others may have been written).
    pub async fn set_multi(&self, items: &[(&[u8], &[u8])], expires_at: u64) -> Result<()> {
        self.inner.check_serving()?;
        let ops = Op::sets(items, expires_at);
        for answer in self.inner.execute_batch(ops).await {
            answer?;
        }
        Ok(())
    }

    /// Reads `key`'s presence and deadline (the value may be left out).
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn meta(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.inner
            .execute(
                Op::Meta {
                    key: Bytes::copy_from_slice(key),
                },
                0,
            )
            .await
            .and_then(into_entry)
    }

    /// Reads `key`'s stored entry as its primary holds it, a tombstone or an expired value included
    /// (as an entry without a value): the version a compare-and-set ([`Node::set_if`]) expects. Counts
    /// neither a hit nor a miss.
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn read_versioned(&self, key: &[u8]) -> Result<Option<Entry>> {
        let op = Op::Meta {
            key: Bytes::copy_from_slice(key),
        };
        into_versioned(self.inner.execute(op, 0).await?)
    }

    /// Writes `value` (a tombstone when `None`) under `key`, expiring at `expires_at`, only if the
    /// version stored at the key's primary is `expected` ([`Version::ZERO`]: nothing); returns whether
    /// it wrote. The comparison and the write are one step at the primary, which serializes the key,
    /// so a read-modify-write built on it loses no concurrent write.
    ///
    /// # Errors
    /// As [`Node::get`]; a connection that broke after the request was sent is an error (the write
    /// may or may not have happened), not retried at another owner.
    pub async fn set_if(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        expires_at: u64,
        expected: Version,
    ) -> Result<bool> {
        let op = Op::SetIf {
            key: Bytes::copy_from_slice(key),
            value: value.map(Bytes::copy_from_slice),
            expires_at,
            expected,
        };
        match self.inner.execute(op, 0).await? {
            Response::Count(n) => Ok(n > 0),
            other => Err(unexpected(&other)),
        }
    }

    /// Writes `value` under `key`, expiring at `expires_at` (Unix ms; 0 never).
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn set(&self, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        self.inner
            .execute(
                Op::Set {
                    key: Bytes::copy_from_slice(key),
                    value: Bytes::copy_from_slice(value),
                    expires_at,
                },
                0,
            )
            .await
            .map(drop)
    }

    /// Deletes `key` (a versioned tombstone).
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn delete(&self, key: &[u8]) -> Result<()> {
        self.inner
            .execute(
                Op::Delete {
                    key: Bytes::copy_from_slice(key),
                },
                0,
            )
            .await
            .map(drop)
    }

    /// Sets (`expires_at` > 0) or removes (0) the deadline of a present key; false when absent.
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn expire(&self, key: &[u8], expires_at: u64) -> Result<bool> {
        match self
            .inner
            .execute(
                Op::Expire {
                    key: Bytes::copy_from_slice(key),
                    expires_at,
                },
                0,
            )
            .await?
        {
            Response::Count(n) => Ok(n > 0),
            other => Err(unexpected(&other)),
        }
    }

    /// This node's own copy of `key`, without routing (a tombstone or an expired value has no value):
    /// for diagnostics and tests of replication.
    #[must_use]
    pub fn local_entry(&self, key: &[u8]) -> Option<Entry> {
        self.inner.store.get(key)
    }

    /// This node's own counters.
    #[must_use]
    pub fn local_stats(&self) -> NodeStats {
        self.inner.local_stats()
    }

    /// Every member's counters (this node's from memory, the others' by RPC), keyed by RPC address.
    pub async fn cluster_stats(&self) -> Vec<(SocketAddr, Result<NodeStats>)> {
        let members = self.inner.table().members().to_vec();
        let me = self.inner.me();
        let calls = members.into_iter().map(|m| {
            let inner = Arc::clone(&self.inner);
            async move {
                if m.addr == me.addr {
                    return (inner.rpc_addr, Ok(inner.local_stats()));
                }
                let answer = inner.call(m, Request::Stats).await.and_then(|r| match r {
                    Response::Stats(s) => Ok(s),
                    other => Err(unexpected(&other)),
                });
                (m.rpc_addr(), answer)
            }
        });
        futures::future::join_all(calls).await
    }

    /// A page of the cluster's keys starting with `prefix`. The cursor walks the members in address
    /// order (high bits) and each member's keys it is primary for (low 48 bits); 0 starts and ends.
    ///
    /// # Errors
    /// As [`Node::get`].
    pub async fn scan(
        &self,
        cursor: u64,
        prefix: &[u8],
        count: usize,
    ) -> Result<(u64, Vec<Bytes>)> {
        self.inner.check_serving()?;
        let members = self.inner.table().members().to_vec();
        scan_members(&members, cursor, prefix, count, |m, req| {
            let inner = Arc::clone(&self.inner);
            async move {
                match inner.clone().call_or_local(m, req).await {
                    // A member that has just left holds nothing to list any more.
                    Err(e @ ClusterError::Connection { not_sent: true, .. }) => {
                        if inner.left(m).await {
                            Ok(Response::Scan {
                                cursor: 0,
                                keys: Vec::new(),
                            })
                        } else {
                            Err(e)
                        }
                    }
                    other => other,
                }
            }
        })
        .await
    }

    /// Removes every key starting with `prefix` on every member; returns how many keys were removed
    /// (counted where each is primary: exact when the members agree on the table; during a membership
    /// change a key may be counted twice or not at all, and is removed either way). See
    /// [`purge_members`] for what the purge guarantees.
    ///
    /// # Errors
    /// As [`Node::get`]; the first member that failed.
    pub async fn purge_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.inner.check_serving()?;
        let members = self.inner.table().members().to_vec();
        let total = purge_members(&members, prefix, |m, req| {
            let inner = Arc::clone(&self.inner);
            async move {
                match inner.clone().call_or_local(m, req).await {
                    // A member that has just left holds nothing to remove any more.
                    Err(e @ ClusterError::Connection { not_sent: true, .. }) => {
                        if inner.left(m).await {
                            Ok(Response::Count(0))
                        } else {
                            Err(e)
                        }
                    }
                    other => other,
                }
            }
        })
        .await?;
        Ok(total)
    }

    /// Leaves gracefully: hands every partition over to its next owners and announces the leave, within
    /// `leave_timeout`; then stops. Idempotent.
    pub async fn leave(&self) {
        rebalance::leave(&self.inner).await;
    }

    /// Stops at once without telling anybody, as a crash would (tests). Idempotent.
    pub async fn kill(&self) {
        self.inner.stop(false).await;
    }
}

impl Inner {
    /// This node's identity. Set before the node is handed out.
    pub(crate) fn me(&self) -> Owner {
        self.me.read().unwrap_or(Owner {
            addr: self.rpc_addr,
            generation: 0,
        })
    }

    pub(crate) fn table(&self) -> Arc<Table> {
        Arc::clone(&self.table.read())
    }

    /// With `peers` configured, waits (at most [`join_wait`]) until another member is seen, so that a
    /// node that restarts does not answer "miss" for keys its peers hold before it has joined them.
    async fn wait_for_join(self: &Arc<Self>) {
        if self.cfg.peers.is_empty() {
            return;
        }
        let Some(membership) = self.membership.get() else {
            return;
        };
        let mut view = membership.view();
        let wait = join_wait(&self.cfg);
        let stable = (self.cfg.timings.gossip_interval * 3).max(Duration::from_millis(200));
        let joined = tokio::time::timeout(wait, async {
            loop {
                if view.borrow_and_update().len() > 1 {
                    break;
                }
                if view.changed().await.is_err() {
                    return;
                }
            }
            // The first peer's answer brings the members it knows; wait until the view has stopped
            // growing, so the node does not serve with half the cluster in its table.
            while let Ok(changed) = tokio::time::timeout(stable, view.changed()).await {
                if changed.is_err() {
                    return;
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!(
                peers = ?self.cfg.peers,
                waited = ?wait,
                "no peer answered yet; serving alone until one joins (check cache.olric.peers and that their gossip ports are reachable)"
            );
        }
        self.apply_view();
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(ClusterError::Closed)
        } else {
            Ok(())
        }
    }

    /// Open and within `member_count_quorum`.
    pub(crate) fn check_serving(&self) -> Result<()> {
        self.check_open()?;
        let live = self.table().members().len() as u32;
        let needed = self.cfg.member_count_quorum;
        if live < needed {
            metrics::counter!("relaycache_cluster_quorum_failures_total", "quorum" => "member_count")
                .increment(1);
            return Err(ClusterError::quorum(QuorumKind::MemberCount, needed, live));
        }
        Ok(())
    }

    fn status(&self) -> NodeStatus {
        let table = self.table();
        let me = self.me();
        let (primary, backup) = table.owned_by(me.addr);
        let live = table.members().len() as u32;
        NodeStatus {
            local: me,
            rpc_addr: self.rpc_addr,
            members: table.members().to_vec(),
            epoch: table.epoch(),
            fingerprint: table.fingerprint(),
            primary_partitions: primary,
            backup_partitions: backup,
            incoming_partitions: self.incoming.lock().len() as u32,
            partition_count: self.cfg.tag.partition_count,
            has_member_quorum: live >= self.cfg.member_count_quorum,
            member_count_quorum: self.cfg.member_count_quorum,
            leaving: self.leaving.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn local_stats(&self) -> NodeStats {
        let s = self.store.stats();
        NodeStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            keys: s.key_count,
            bytes: s.bytes_used,
            evictions: s.evicted_size,
            expirations: s.evicted_expired,
            rejections: s.rejections,
            max_cost: s.max_cost,
        }
    }

    /// Calls `member` over RPC.
    pub(crate) async fn call(&self, member: Owner, req: Request) -> Result<Response> {
        let fp = self.table().fingerprint();
        let (resp, _) = self.rpc.call(member.rpc_addr(), fp, req).await?;
        Ok(resp)
    }

    /// True when `member` drops out of the table within the time a failure takes to detect (it was
    /// leaving, or it crashed), false when it stays a member.
    async fn left(&self, member: Owner) -> bool {
        let t = self.cfg.timings;
        let detection = (t.probe_interval.max(t.probe_timeout * 2)) * 2 + t.suspect_timeout;
        let deadline = Instant::now() + detection + Duration::from_secs(1);
        loop {
            let present = self
                .table()
                .members()
                .iter()
                .any(|m| m.addr == member.addr && m.generation == member.generation);
            if !present {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Answers `req` here when `member` is this node, else calls it.
    async fn call_or_local(self: Arc<Self>, member: Owner, req: Request) -> Result<Response> {
        if member.addr == self.me().addr {
            Ok(handler::answer(&self, req).await)
        } else {
            self.call(member, req).await.and_then(remote_result)
        }
    }

    /// Stops every task and socket; with `announce`, tells the members first (graceful leave).
    pub(crate) async fn stop(&self, announce: bool) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(m) = self.membership.get() {
            if announce {
                m.leave().await;
            } else {
                m.kill().await;
            }
        }
        self.cancel.cancel();
        if let Some(server) = self.server.get() {
            server.shutdown().await;
        }
        self.rpc.close();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await;
        tracing::info!(rpc = %self.rpc_addr, graceful = announce, "cluster node stopped");
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// How long a starting node waits for a peer before it serves alone: `max(2 s, 4 × probe_interval)`.
fn join_wait(cfg: &NodeConfig) -> Duration {
    (cfg.timings.probe_interval * 4).max(Duration::from_secs(2))
}

/// Turns a peer's error answer into an error.
pub(crate) fn remote_result(resp: Response) -> Result<Response> {
    use crate::rpc::message::RemoteError;
    match resp {
        Response::Error(RemoteError::Quorum {
            kind,
            needed,
            reached,
        }) => Err(ClusterError::quorum(kind, needed, reached)),
        Response::Error(RemoteError::Closed) => Err(ClusterError::Closed),
        Response::Error(RemoteError::Other(text)) => Err(ClusterError::Remote(text)),
        other => Ok(other),
    }
}

/// The error for an answer of the wrong shape.
pub(crate) fn unexpected(resp: &Response) -> ClusterError {
    ClusterError::Remote(format!("unexpected answer {resp:?}"))
}

/// The live entry of an `Op` read's answer (a tombstone or an expired value is a miss).
pub(crate) fn into_entry(resp: Response) -> Result<Option<Entry>> {
    match resp {
        Response::Entry(e) => Ok(e.filter(|e| e.value.is_some())),
        other => Err(unexpected(&other)),
    }
}

/// The stored entry of an `Op Meta` answer, a tombstone included.
pub(crate) fn into_versioned(resp: Response) -> Result<Option<Entry>> {
    match resp {
        Response::Entry(e) => Ok(e),
        other => Err(unexpected(&other)),
    }
}

/// The RPC settings of a node or client.
pub(crate) fn rpc_settings(
    cfg: &NodeConfig,
    key: Option<AuthKey>,
    local_ip: Option<IpAddr>,
) -> RpcSettings {
    RpcSettings {
        tag: cfg.tag.clone(),
        key,
        request_timeout: cfg.request_timeout,
        local_ip,
        connections_per_peer: 2,
        max_connections: 1024,
    }
}

/// Resolves `host:port` (a name through DNS) to its first address.
pub(crate) async fn resolve(addr: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| ClusterError::Start(format!("cannot resolve {addr:?}: {e}")))?
        .next()
        .ok_or_else(|| ClusterError::Start(format!("{addr:?} resolves to no address")))
}

/// Bits of a scan cursor that hold the member's own cursor.
const SCAN_MEMBER_SHIFT: u32 = 48;

/// Purges `prefix` on `members` in two rounds through `call`: `Clock` on each, then `Purge` at a
/// version above the highest clock reading. Every version stored anywhere when the purge began is
/// below it (a member's clock is at or above what it stores), so each member removes every such copy
/// and refuses those still in flight (a replication, a migration page, a read-repair) for the
/// tombstone lifetime; writes made after a member saw the purge get higher versions and stay. Returns
/// the sum of the members' counts.
pub(crate) async fn purge_members<F, Fut>(members: &[Owner], prefix: &[u8], call: F) -> Result<u64>
where
    F: Fn(Owner, Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    let clocks = futures::future::join_all(members.iter().map(|&m| call(m, Request::Clock))).await;
    let mut hlc = 0;
    for answer in clocks {
        match answer? {
            Response::Count(n) => hlc = hlc.max(n),
            other => return Err(unexpected(&other)),
        }
    }
    // The highest tie-break: above every version with the same clock reading.
    let version = Version {
        hlc,
        node: u32::MAX,
    };
    let purges = members.iter().map(|&m| {
        call(
            m,
            Request::Purge {
                prefix: Bytes::copy_from_slice(prefix),
                version,
            },
        )
    });
    let mut total = 0;
    for answer in futures::future::join_all(purges).await {
        match answer? {
            Response::Count(n) => total += n,
            other => return Err(unexpected(&other)),
        }
    }
    Ok(total)
}

/// One page of a cluster-wide scan over `members` (sorted), shared by nodes and clients.
pub(crate) async fn scan_members<F, Fut>(
    members: &[Owner],
    cursor: u64,
    prefix: &[u8],
    count: usize,
    call: F,
) -> Result<(u64, Vec<Bytes>)>
where
    F: Fn(Owner, Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    let mut index = (cursor >> SCAN_MEMBER_SHIFT) as usize;
    let mut inner_cursor = cursor & ((1 << SCAN_MEMBER_SHIFT) - 1);
    let mut keys = Vec::new();
    let count = count.max(1);
    // Bounded: each round either finishes a member or returns.
    for _ in 0..=members.len() {
        let Some(&member) = members.get(index) else {
            return Ok((0, keys));
        };
        let want = count.saturating_sub(keys.len()).max(1);
        let req = Request::Scan {
            cursor: inner_cursor,
            prefix: Bytes::copy_from_slice(prefix),
            count: u32::try_from(want).unwrap_or(u32::MAX),
        };
        match call(member, req).await? {
            Response::Scan {
                cursor: next,
                keys: page,
            } => {
                keys.extend(page);
                if next == 0 {
                    index += 1;
                    inner_cursor = 0;
                } else {
                    inner_cursor = next & ((1 << SCAN_MEMBER_SHIFT) - 1);
                }
            }
            other => return Err(unexpected(&other)),
        }
        if keys.len() >= count {
            if index >= members.len() {
                return Ok((0, keys));
            }
            return Ok((((index as u64) << SCAN_MEMBER_SHIFT) | inner_cursor, keys));
        }
    }
    Ok((0, keys))
}
