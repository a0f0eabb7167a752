//! The internal RPC (see `docs/cluster.md`, "The RPC protocol").
//!
//! - [`message`]: the [`Request`]s and [`Response`]s.
//! - [`codec`]: their RESP encoding, with its limits ([`encode_request`], [`decode_request`], ...).
//! - `handshake`: `HELLO` (cluster tag) and `AUTH` (HMAC proofs both ways) on every new connection.
//! - `server`: [`RpcServer`], the listener, calling a [`Handler`] for every request.
//! - `client`: [`RpcClient`], a pool of multiplexed connections per peer with per-call deadlines.
//! - `io`: framed reading, the coalescing writer and socket options both sides share.
//!
//! ```no_run
//! # async fn demo() -> relaycache_cluster::Result<()> {
//! use std::time::Duration;
//! use relaycache_cluster::ClusterTag;
//! use relaycache_cluster::rpc::{Request, RpcClient, RpcSettings};
//! let tag = ClusterTag { dmap_name: "cc-relay".into(), partition_count: 271, environment: 0 };
//! let client = RpcClient::new(RpcSettings::new(tag, None, Duration::from_secs(2)));
//! let (table, _fingerprint) = client.call("127.0.0.1:3320".parse().unwrap(), 0, Request::Table).await?;
//! # let _ = table; Ok(()) }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use crate::auth::AuthKey;
use crate::config::ClusterTag;

mod client;
pub mod codec;
mod handshake;
mod io;
pub mod message;
mod server;
#[cfg(test)]
mod tests;

pub use client::RpcClient;
pub use codec::{CodecError, decode_request, decode_response, encode_request, encode_response};
pub use message::{Entry, MemberInfo, NodeStats, Op, RemoteError, Request, Response, TableInfo};
pub use server::{CallContext, Handler, RpcServer};

/// Settings of both ends of the RPC.
#[derive(Debug, Clone)]
pub struct RpcSettings {
    /// What the peers must agree on (`dmap_name` and `partition_count` are checked in the handshake).
    pub tag: ClusterTag,
    /// The RPC key derived from the secret (label [`RPC_LABEL`](crate::auth::RPC_LABEL)); `None`:
    /// unauthenticated. Both ends must have one, and the same, or neither.
    pub key: Option<AuthKey>,
    /// The deadline of every call (connect, handshake and answer together), and of every handshake.
    pub request_timeout: Duration,
    /// The address outgoing connections are bound to before connecting; `None`: the system's choice.
    pub local_ip: Option<IpAddr>,
    /// Connections kept per peer (calls are spread round-robin over them), at least 1.
    pub connections_per_peer: usize,
    /// Connections the server accepts at once; more are closed at once.
    pub max_connections: usize,
}

impl RpcSettings {
    /// Settings with the defaults: no `local_ip`, 2 connections per peer, 1024 server connections.
    #[must_use]
    pub fn new(tag: ClusterTag, key: Option<AuthKey>, request_timeout: Duration) -> Self {
        RpcSettings {
            tag,
            key,
            request_timeout,
            local_ip: None,
            connections_per_peer: 2,
            max_connections: 1024,
        }
    }
}
