//! # relaycache-server
//!
//! The binaries of relaycache and the library code they call (kept here so tests call it too):
//! - `relaycache-server`: serves the configured cache mode over RESP, so `redis-cli` and every Redis
//!   client work against it;
//! - `relaycache`: the command-line tool (`config validate`, `config init`, `version`, and client commands
//!   `get set del ttl stats ping scan cluster` against a running server).
//!
//! ## The path of a request
//! TCP bytes (through a TLS session on `tls_port`) → `connection` (one task per client: read, decode with
//! [`relaycache_resp::RequestDecoder`] under the configured limits, pipelined replies written with one
//! write) → `dispatch` (parse into a [`relaycache_resp::Command`], authentication gate, metrics) → `cmd`
//! (execute against the [`relaycache::Cache`]) → reply bytes.
//!
//! ## Modules
//! - [`Server`] / [`ServerHandle`] (module `server`): listeners, accept loop, max clients, graceful
//!   shutdown.
//! - `connection`, `session`, `dispatch`, `cmd`: serving one client.
//! - `busy_poll`: keeps one worker polling the sockets while requests keep coming (`server.busy_poll`).
//! - `transport`: the streams a client connection runs over (TCP, TLS over TCP).
//! - `tls`: the rustls configuration of `server.tls_*` and the handshake, for the RESP `tls_port` and
//!   the admin endpoint with `admin.tls`.
//! - `admin`: the axum endpoint (`/healthz /readyz /metrics /stats /cluster`), over HTTP or HTTPS.
//! - [`metrics`]: counters and their Prometheus rendering, and the process's `metrics` recorder (the
//!   cluster node's series).
//! - `watch`: the keys clients `WATCH`, marked dirty by writes and compared again at `EXEC`.
//! - `encoding`: what `OBJECT ENCODING` reports for values modified in place (`APPEND`, `SETBIT` ...).
//! - `glob`: Redis glob patterns (`KEYS`, `SCAN MATCH`).
//! - [`shutdown`], [`logging`], [`run`]: the pieces of `relaycache-server`'s `main`.
//! - [`client`]: a small RESP client (used by the CLI and the tests).
//! - [`cli`]: the `relaycache` tool.
//! - `testing` (feature `testing`): `MemoryCache`, a simple storing backend for tests.

mod admin;
mod busy_poll;
pub mod cli;
pub mod client;
mod cmd;
mod connection;
mod dispatch;
mod encoding;
mod glob;
pub mod logging;
pub mod metrics;
mod prefetch;
pub mod run;
mod server;
mod session;
pub mod shutdown;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod transport;
mod watch;

pub use server::{REDIS_VERSION, Server, ServerError, ServerHandle};
