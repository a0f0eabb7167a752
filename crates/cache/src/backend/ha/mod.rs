//! `ha` mode: an embedded cluster node ([`relaycache_cluster::Node`]) or a client of external nodes
//! ([`relaycache_cluster::Client`]), behind the [`Cache`] contract.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use relaycache_cluster::placement::Table;
use relaycache_cluster::rpc::message::{Entry, NodeStats};
use relaycache_cluster::{
    Client, ClientConfig, ClusterError, ClusterTag, Node, NodeConfig, NodeStatus, Timings,
};

use crate::api::{Cache, Capabilities, ClusterInfo, ClusterMember, ScanPage, Stats};
use crate::config::{Environment, HaConfig, SingleConfig};
use crate::error::{Error, Result};
use crate::load::Flights;

mod keyops;

const BACKEND: &str = "ha";

/// The `ha` backend: a node of the cluster running in this process (`embedded: true`), or a client that
/// routes every call to the node owning the key (`embedded: false`).
///
/// Each call is routed to the key's primary, replicated to `replica_count` owners and answered after
/// `write_quorum` acknowledgements or `read_quorum` answers (see `docs/cluster.md`). The embedded node's
/// local store is bounded by the `ristretto:` section's `max_cost`: primary and backup copies both count.
/// [`close`](Cache::close) on an embedded node is a graceful leave: it hands its partitions over to the
/// next owners within `leave_timeout` before it stops.
///
/// The Redis-style read-modify-writes ([`KeyOps`](crate::KeyOps)) read the key's version and write
/// with a compare-and-set at its primary, so no concurrent write of the key is lost; those of one
/// process on one key take turns, so they do not make each other retry. The multi-key ones are atomic
/// per key only (module `keyops`).
#[derive(Debug)]
pub struct HaCache {
    target: Target,
    closed: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    flights: Flights,
    /// Turns of this process's read-modify-writes, striped by key (see module `keyops`).
    turns: keyops::Turns,
}

#[derive(Debug)]
enum Target {
    Node(Node),
    Client(Client),
}

impl HaCache {
    /// Starts a node (or connects a client) from the `cache.olric` section and the `cache.ristretto`
    /// section (the node's store bound).
    ///
    /// # Errors
    /// [`Error::Config`] is raised earlier by validation; here: [`Error::Backend`] when the node cannot
    /// bind its ports or no external node answers.
    pub async fn from_config(ha: &HaConfig, store: &SingleConfig) -> Result<HaCache> {
        let tag = ClusterTag {
            dmap_name: ha.dmap_name.clone(),
            partition_count: ha.partition_count,
            environment: timings(ha.environment).code,
        };
        let target = if ha.embedded {
            let bind = ha.bind_addr.clone().ok_or_else(|| Error::Backend {
                backend: BACKEND,
                message: "cache.olric.bind_addr is required when embedded is true".to_owned(),
            })?;
            let mut cfg = NodeConfig::new(bind);
            cfg.advertise_addr.clone_from(&ha.advertise_addr);
            cfg.peers.clone_from(&ha.peers);
            cfg.tag = tag;
            cfg.timings = timings(ha.environment);
            cfg.replica_count = ha.replica_count;
            cfg.read_quorum = ha.read_quorum;
            cfg.write_quorum = ha.write_quorum;
            cfg.member_count_quorum = ha.member_count_quorum;
            cfg.leave_timeout = ha.leave_timeout;
            cfg.request_timeout = ha.request_timeout;
            cfg.secret.clone_from(&ha.secret);
            cfg.max_cost = store.max_cost;
            cfg.num_counters = store.num_counters;
            Target::Node(Node::start(cfg).await.map_err(start_error)?)
        } else {
            let cfg = ClientConfig {
                addresses: ha.addresses.clone(),
                tag,
                request_timeout: ha.request_timeout,
                secret: ha.secret.clone(),
            };
            Target::Client(Client::connect(cfg).await.map_err(start_error)?)
        };
        Ok(HaCache::wrap(target))
    }

    /// Wraps a running node.
    #[must_use]
    pub fn from_node(node: Node) -> HaCache {
        HaCache::wrap(Target::Node(node))
    }

    /// Wraps a connected client.
    #[must_use]
    pub fn from_client(client: Client) -> HaCache {
        HaCache::wrap(Target::Client(client))
    }

    fn wrap(target: Target) -> HaCache {
        HaCache {
            target,
            closed: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            flights: Flights::new(),
            turns: keyops::Turns::new(),
        }
    }

    /// The embedded node, if this is one.
    #[must_use]
    pub fn node(&self) -> Option<&Node> {
        match &self.target {
            Target::Node(n) => Some(n),
            Target::Client(_) => None,
        }
    }

    /// How the embedded node sees the cluster; `None` for a client.
    #[must_use]
    pub fn status(&self) -> Option<NodeStatus> {
        self.node().map(Node::status)
    }

    /// Every member's counters, keyed by RPC address (a member that did not answer has an error).
    pub async fn cluster_stats(&self) -> Vec<(SocketAddr, Result<Stats>)> {
        let all = match &self.target {
            Target::Node(n) => n.cluster_stats().await,
            Target::Client(c) => c.cluster_stats().await,
        };
        all.into_iter()
            .map(|(addr, s)| (addr, s.map(to_stats).map_err(|e| self.error(e))))
            .collect()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Maps a cluster error; `Closed` from a peer (leaving) is a connection failure unless we closed.
    fn error(&self, e: ClusterError) -> Error {
        match e {
            ClusterError::Quorum(q) => Error::Quorum(q),
            ClusterError::Timeout { op, after, .. } => Error::Timeout { op, after },
            ClusterError::Connection { peer, reason, .. } => Error::Connection {
                endpoint: peer,
                reason,
            },
            ClusterError::Refused { peer, reason } => Error::Connection {
                endpoint: peer,
                reason: format!("handshake refused: {reason}"),
            },
            ClusterError::Closed if self.closed.load(Ordering::Acquire) => Error::Closed,
            ClusterError::Closed => Error::Connection {
                endpoint: "cluster".to_owned(),
                reason: "the owning node is leaving or stopped".to_owned(),
            },
            ClusterError::InvalidArgument(text) => Error::InvalidArgument(text),
            other => Error::Backend {
                backend: BACKEND,
                message: other.to_string(),
            },
        }
    }

    async fn fetch(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.check_open()?;
        let found = match &self.target {
            Target::Node(n) => n.get(key).await,
            Target::Client(c) => c.get(key).await,
        };
        found.map_err(|e| self.error(e))
    }

    async fn meta(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.check_open()?;
        let found = match &self.target {
            Target::Node(n) => n.meta(key).await,
            Target::Client(c) => c.meta(key).await,
        };
        found.map_err(|e| self.error(e))
    }

    async fn write(&self, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        self.check_open()?;
        let done = match &self.target {
            Target::Node(n) => n.set(key, value, expires_at).await,
            Target::Client(c) => c.set(key, value, expires_at).await,
        };
        done.map_err(|e| self.error(e))
    }
}

/// The environment preset's timings.
fn timings(env: Environment) -> Timings {
    match env {
        Environment::Local => Timings::local(),
        Environment::Lan => Timings::lan(),
        Environment::Wan => Timings::wan(),
    }
}

fn start_error(e: ClusterError) -> Error {
    Error::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

/// Wall-clock nanoseconds since the Unix epoch.
fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The absolute deadline of a TTL from now (Unix ms, rounded down, so the time left never exceeds the
/// TTL; 0 for a zero TTL, at least 1 ms ahead otherwise). Working in nanoseconds until the end keeps a
/// deadline given as an absolute time (`EXPIREAT`) exact through the round trip of [`HaCache::ttl`].
fn deadline(ttl: Duration) -> Result<u64> {
    if ttl.is_zero() {
        return Ok(0);
    }
    let now = now_ns();
    let at = now
        .checked_add(ttl.as_nanos())
        .map(|at| at / 1_000_000)
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|at| *at < i64::MAX as u64)
        .ok_or_else(|| Error::InvalidArgument(format!("TTL {ttl:?} is too large")))?;
    let soonest = u64::try_from(now / 1_000_000).unwrap_or(u64::MAX) + 1;
    Ok(at.max(soonest))
}

/// The time left until the deadline `expires_at` (Unix ms), to the nanosecond (at least 1 µs).
fn left_until(expires_at: u64) -> Duration {
    let left = u128::from(expires_at) * 1_000_000;
    let left = left.saturating_sub(now_ns()).max(1_000);
    Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX))
}

fn members_of(table: &Table, me: Option<SocketAddr>) -> Vec<ClusterMember> {
    table
        .members()
        .iter()
        .map(|m| ClusterMember {
            gossip_addr: m.addr.to_string(),
            rpc_addr: m.rpc_addr().to_string(),
            generation: m.generation,
            is_self: Some(m.addr) == me,
        })
        .collect()
}

fn partitions_of(table: &Table) -> Vec<Vec<String>> {
    (0..table.partition_count())
        .map(|p| table.owners(p).map(|o| o.rpc_addr().to_string()).collect())
        .collect()
}

fn node_info(n: &Node) -> ClusterInfo {
    let status = n.status();
    let table = n.table();
    let state = if status.leaving {
        "leaving"
    } else if status.has_member_quorum {
        "serving"
    } else {
        "below member_count_quorum"
    };
    ClusterInfo {
        memberlist_addr: status.local.addr.to_string(),
        cluster_members: status.members.len(),
        is_embedded: true,
        state: state.to_owned(),
        members: members_of(&table, Some(status.local.addr)),
        epoch: status.epoch,
        fingerprint: status.fingerprint,
        partition_count: status.partition_count,
        replica_count: table.replica_count(),
        member_count_quorum: status.member_count_quorum,
        primary_partitions: status.primary_partitions,
        backup_partitions: status.backup_partitions,
        incoming_partitions: status.incoming_partitions,
        partitions: partitions_of(&table),
    }
}

fn to_stats(s: NodeStats) -> Stats {
    Stats {
        hits: s.hits,
        misses: s.misses,
        key_count: s.keys,
        bytes_used: s.bytes,
        evictions: s.evictions,
        expirations: s.expirations,
        rejections: s.rejections,
        max_cost: s.max_cost,
        ..Stats::default()
    }
}

impl Cache for HaCache {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            cluster_info: true,
            native_multi: true,
            atomic_multi_key: false,
            ..Capabilities::local()
        }
    }

    fn flights(&self) -> &Flights {
        &self.flights
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        match self.fetch(key).await?.and_then(|e| e.value) {
            Some(v) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(v)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(Error::NotFound)
            }
        }
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key, value, 0).await
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let at = deadline(ttl)?;
        self.write(key, value, at).await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        self.check_open()?;
        let done = match &self.target {
            Target::Node(n) => n.delete(key).await,
            Target::Client(c) => c.delete(key).await,
        };
        done.map_err(|e| self.error(e))
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.meta(key).await?.is_some())
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        let entry = self.meta(key).await?.ok_or(Error::NotFound)?;
        if entry.expires_at == 0 {
            return Ok(None);
        }
        Ok(Some(left_until(entry.expires_at)))
    }

    async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        match &self.target {
            Target::Node(n) => n.leave().await,
            Target::Client(c) => c.close(),
        }
        Ok(())
    }

    async fn get_multi(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        self.check_open()?;
        // One call per owner (a `BATCH` to each primary), not one per key.
        let found = match &self.target {
            Target::Node(n) => n.get_multi(keys).await,
            Target::Client(c) => c.get_multi(keys).await,
        }
        .map_err(|e| self.error(e))?;
        let mut map = HashMap::with_capacity(keys.len());
        for entry in found {
            // The entry's key and value are a copy of their own (the cluster copies answers out).
            match entry.and_then(|e| Some((e.key, e.value?))) {
                Some((key, value)) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    map.insert(key, value);
                }
                None => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(map)
    }

    async fn set_multi_with_ttl(&self, items: &[(&[u8], &[u8])], ttl: Duration) -> Result<()> {
        self.check_open()?;
        let at = deadline(ttl)?;
        match &self.target {
            Target::Node(n) => n.set_multi(items, at).await,
            Target::Client(c) => c.set_multi(items, at).await,
        }
        .map_err(|e| self.error(e))
    }

    async fn stats(&self) -> Result<Stats> {
        self.check_open()?;
        match &self.target {
            Target::Node(n) => Ok(to_stats(n.local_stats())),
            Target::Client(_) => {
                // A client holds nothing: its hits and misses, and the cluster's keys and bytes.
                let mut total = Stats {
                    hits: self.hits.load(Ordering::Relaxed),
                    misses: self.misses.load(Ordering::Relaxed),
                    ..Stats::default()
                };
                for (_, s) in self.cluster_stats().await {
                    let s = s?;
                    total.key_count += s.key_count;
                    total.bytes_used += s.bytes_used;
                    total.evictions += s.evictions;
                    total.expirations += s.expirations;
                    total.rejections += s.rejections;
                    total.max_cost += s.max_cost;
                }
                Ok(total)
            }
        }
    }

    async fn ping(&self) -> Result<()> {
        self.check_open()?;
        match &self.target {
            Target::Node(n) => {
                let status = n.status();
                if status.has_member_quorum {
                    Ok(())
                } else {
                    Err(Error::Quorum(relaycache_cluster::QuorumError {
                        kind: relaycache_cluster::QuorumKind::MemberCount,
                        needed: status.member_count_quorum,
                        reached: status.members.len() as u32,
                    }))
                }
            }
            Target::Client(c) => c.refresh().await.map_err(|e| self.error(e)),
        }
    }

    async fn cluster_info(&self) -> Result<ClusterInfo> {
        self.check_open()?;
        Ok(match &self.target {
            Target::Node(n) => node_info(n),
            Target::Client(c) => {
                let table = c.table();
                ClusterInfo {
                    memberlist_addr: String::new(),
                    cluster_members: table.members().len(),
                    is_embedded: false,
                    state: "client".to_owned(),
                    members: members_of(&table, None),
                    epoch: table.epoch(),
                    fingerprint: table.fingerprint(),
                    partition_count: table.partition_count(),
                    replica_count: table.replica_count(),
                    partitions: partitions_of(&table),
                    ..ClusterInfo::default()
                }
            }
        })
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        self.check_open()?;
        let at = match ttl {
            Some(ttl) => deadline(ttl.max(Duration::from_millis(1)))?,
            None => 0,
        };
        let done = match &self.target {
            Target::Node(n) => n.expire(key, at).await,
            Target::Client(c) => c.expire(key, at).await,
        };
        done.map_err(|e| self.error(e))
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        self.check_open()?;
        let page = match &self.target {
            Target::Node(n) => n.scan(cursor, prefix, count).await,
            Target::Client(c) => c.scan(cursor, prefix, count).await,
        };
        let (cursor, keys) = page.map_err(|e| self.error(e))?;
        Ok(ScanPage { cursor, keys })
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.check_open()?;
        let done = match &self.target {
            Target::Node(n) => n.purge_prefix(prefix).await,
            Target::Client(c) => c.purge_prefix(prefix).await,
        };
        done.map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_deadline_survives_the_round_trip_through_a_ttl() {
        let now_ms = u64::try_from(now_ns() / 1_000_000).expect("a 64-bit time");
        for step in 0..2_000u64 {
            // Deadlines from 1 ms to years ahead, at every sub-second offset.
            let at = now_ms + 1 + step * 7_919 + (step % 13) * 86_400_000;
            // Exact when both clock readings fall within one millisecond; a thread descheduled
            // between them comes back later by the time that passed, and by no more.
            let started = std::time::Instant::now();
            let back = deadline(left_until(at)).expect("representable");
            let passed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            assert!(
                back >= at && back - at <= passed_ms,
                "deadline {at} came back as {back} after {passed_ms} ms"
            );
        }
        assert_eq!(deadline(Duration::ZERO).expect("zero"), 0, "no expiry");
        assert!(
            deadline(Duration::from_nanos(1)).expect("tiny") > now_ms,
            "in the future"
        );
    }
}
