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
//! - [`version`]: [`Version`] and the hybrid logical clock.
//! - `error`: [`ClusterError`] and [`QuorumError`].

pub mod auth;
pub mod config;
mod error;
pub mod membership;
pub mod rpc;
pub mod version;

pub use config::{ClientConfig, ClusterTag, NodeConfig, Timings};
pub use error::{ClusterError, QuorumError, QuorumKind, Result};
pub use version::{Hlc, Version};
