//! # relaycache-cluster
//!
//! The embeddable HA node behind relaycache's `ha` mode, and the client of such nodes. The design and its
//! promises are in `docs/cluster.md`; this map says where each part lives.
//!
//! ## Map
//! - [`config`]: [`NodeConfig`], [`ClientConfig`], the environment [`Timings`] and the [`ClusterTag`]
//!   every node must agree on.
//! - [`membership`]: SWIM membership on foca over UDP (the gossip port), with an authenticated, versioned
//!   packet wrapper, join with retry and backoff, leave notices and wrong-port detection.
//! - [`rpc`]: the internal RPC over TCP (the `bind_addr` port): messages, their RESP codec with limits, the
//!   authenticated handshake, the multiplexed connection pool with per-call deadlines, and the listener.
//! - `auth`: keys derived from the secret and HMAC-SHA256 tags.
//! - [`placement`]: key → partition (XXH3-64), partition → owners (rendezvous hashing), the
//!   [`Table`](placement::Table) with its epoch and fingerprint. Pure.
//! - `store`: the local store, versioned entries in the relaycache engine, applied last-writer-wins.
//! - [`Node`] (module `node`): one embedded node: routing, coordination (replication, quorums,
//!   read-repair), the RPC handler, rebalancing and graceful leave.
//! - [`Client`] (module `client`): a client of external nodes that routes each call to its primary.
//! - [`testing`]: free ports for nodes in tests, and the process's resident memory.
//! - [`version`]: [`Version`] and the hybrid logical clock.
//! - `error`: [`ClusterError`] and [`QuorumError`].

pub mod auth;
mod client;
pub mod config;
mod error;
pub mod membership;
mod node;
pub mod placement;
pub mod rpc;
mod store;
pub mod testing;
pub mod version;

pub use client::Client;
pub use config::{ClientConfig, ClusterTag, NodeConfig, Timings};
pub use error::{ClusterError, QuorumError, QuorumKind, Result};
pub use node::{Node, NodeStatus};
pub use version::{Hlc, Version};
