//! The settings of a node ([`NodeConfig`]) and of a client of nodes ([`ClientConfig`]).
//!
//! The facade (`relaycache`) builds these from its YAML `cache.olric` section; this crate does not read
//! files.

use std::time::Duration;

/// What every node of one cluster must agree on. Carried in every gossip packet and RPC handshake, so a
/// node of another cluster is refused with the setting that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTag {
    /// `dmap_name`.
    pub dmap_name: String,
    /// `partition_count`.
    pub partition_count: u32,
    /// `environment`, as a small number: 0 local, 1 lan, 2 wan (see [`Timings::code`]).
    pub environment: u8,
}

impl ClusterTag {
    /// Describes the first setting in which `other` differs from `self`, as "`name` is X there, Y here".
    #[must_use]
    pub fn mismatch(&self, other: &ClusterTag) -> Option<String> {
        if self.dmap_name != other.dmap_name {
            return Some(format!(
                "dmap_name is {:?} there, {:?} here",
                other.dmap_name, self.dmap_name
            ));
        }
        if self.partition_count != other.partition_count {
            return Some(format!(
                "partition_count is {} there, {} here",
                other.partition_count, self.partition_count
            ));
        }
        if self.environment != other.environment {
            return Some(format!(
                "environment is {:?} there, {:?} here",
                environment_name(other.environment),
                environment_name(self.environment)
            ));
        }
        None
    }
}

/// The name of an environment code (`local`, `lan`, `wan`, or `unknown`).
#[must_use]
pub fn environment_name(code: u8) -> &'static str {
    match code {
        0 => "local",
        1 => "lan",
        2 => "wan",
        _ => "unknown",
    }
}

/// Failure-detection timings (the `environment` presets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// 0 local, 1 lan, 2 wan.
    pub code: u8,
    /// How often updates are gossiped to a few members.
    pub gossip_interval: Duration,
    /// How often a random member is probed.
    pub probe_interval: Duration,
    /// How long a probe may take before indirect probes are tried and the member is suspected.
    pub probe_timeout: Duration,
    /// How long a suspected member has to refute the suspicion before it is declared down.
    pub suspect_timeout: Duration,
}

impl Timings {
    /// `environment: local`: same host.
    #[must_use]
    pub fn local() -> Self {
        Timings {
            code: 0,
            gossip_interval: Duration::from_millis(100),
            probe_interval: Duration::from_millis(100),
            probe_timeout: Duration::from_millis(200),
            suspect_timeout: Duration::from_secs(1),
        }
    }

    /// `environment: lan`: one data centre.
    #[must_use]
    pub fn lan() -> Self {
        Timings {
            code: 1,
            gossip_interval: Duration::from_millis(200),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            suspect_timeout: Duration::from_secs(5),
        }
    }

    /// `environment: wan`: across data centres.
    #[must_use]
    pub fn wan() -> Self {
        Timings {
            code: 2,
            gossip_interval: Duration::from_millis(500),
            probe_interval: Duration::from_secs(3),
            probe_timeout: Duration::from_secs(2),
            suspect_timeout: Duration::from_secs(15),
        }
    }
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address the RPC listener binds (`bind_addr`), `host:port`; port 0 picks a free one (tests).
    pub bind_addr: String,
    /// Address the gossip socket binds; `None`: the host of `bind_addr` and its port + 2.
    pub gossip_bind: Option<String>,
    /// The address other nodes reach this node's gossip port at; `None`: the bound gossip address, or,
    /// when that is unspecified (`0.0.0.0`), the local address that routes to the first peer.
    pub advertise_addr: Option<String>,
    /// Gossip addresses of nodes to join.
    pub peers: Vec<String>,
    /// What all nodes agree on.
    pub tag: ClusterTag,
    /// Failure-detection timings.
    pub timings: Timings,
    /// Copies of each key.
    pub replica_count: u32,
    /// Owners a read asks.
    pub read_quorum: u32,
    /// Owners that must acknowledge a write.
    pub write_quorum: u32,
    /// Live members needed to serve.
    pub member_count_quorum: u32,
    /// Time a graceful leave may take.
    pub leave_timeout: Duration,
    /// Deadline of each node-to-node call.
    pub request_timeout: Duration,
    /// Shared secret; `None`: unauthenticated (warned about on non-loopback addresses).
    pub secret: Option<String>,
    /// Bytes the local store may hold (primary and backup copies).
    pub max_cost: u64,
    /// Admission counters of the local store.
    pub num_counters: u64,
}

impl NodeConfig {
    /// A node on `bind_addr` with the reference system's defaults and `environment: local`.
    #[must_use]
    pub fn new(bind_addr: impl Into<String>) -> Self {
        NodeConfig {
            bind_addr: bind_addr.into(),
            gossip_bind: None,
            advertise_addr: None,
            peers: Vec::new(),
            tag: ClusterTag {
                dmap_name: "cc-relay".to_owned(),
                partition_count: 271,
                environment: 0,
            },
            timings: Timings::local(),
            replica_count: 1,
            read_quorum: 1,
            write_quorum: 1,
            member_count_quorum: 1,
            leave_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(2),
            secret: None,
            max_cost: 100 << 20,
            num_counters: 1_000_000,
        }
    }

    /// How long a tombstone is kept: `max(60 s, 4 × leave_timeout)`.
    #[must_use]
    pub fn tombstone_ttl(&self) -> Duration {
        (self.leave_timeout * 4).max(Duration::from_secs(60))
    }
}

/// Settings of a client of external nodes (`embedded: false`).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// RPC addresses (`bind_addr`) of some nodes; the rest are learnt from their table.
    pub addresses: Vec<String>,
    /// What the nodes agree on (checked in the handshake).
    pub tag: ClusterTag,
    /// Deadline of each call.
    pub request_timeout: Duration,
    /// Shared secret of the cluster.
    pub secret: Option<String>,
}
