//! # relaycache
//!
//! One cache API over interchangeable backends, chosen by one configuration file.
//!
//! | mode | backend | what it is |
//! |---|---|---|
//! | `single` (default) | [`SingleCache`] | in-process concurrent cache (TinyLFU admission, byte bound, TTL) |
//! | `ha` | [`HaCache`] | an embedded cluster node (relaycache-cluster), or a client of external nodes |
//! | `redis` | `RedisCache` (feature `redis`) | a Redis / Valkey server or a Redis Cluster |
//! | `disabled` | [`DisabledCache`] | stores nothing: every get misses, every set succeeds |
//!
//! ## Map
//! - [`Cache`] (module `api`): the contract every backend implements: `get`, `set`, `set_with_ttl`,
//!   `delete`, `exists`, `ttl`, `close`, and the optional capabilities (`stats`, `ping`, `cluster_info`,
//!   `get_multi`, `set_multi`, `set_multi_with_ttl`, `expire`, `scan`, `invalidate_prefix`), announced by
//!   [`Capabilities`], and [`Cache::get_or_load`] / [`Cache::try_get_or_load`] in every mode.
//! - [`KeyOps`] (module `keyops`): Redis's read-modify-writes (`SET NX/XX/GET`, `GETDEL`, `INCRBY`,
//!   `INCRBYFLOAT`, `APPEND`, `SETRANGE`, `SETBIT`, `GETEX`, `RENAME`, `COPY`, `MSETNX`), each atomic,
//!   implemented natively by every backend, and the pure functions that compute their values
//!   (module `float`: `INCRBYFLOAT`'s extended-precision arithmetic and formatting).
//! - [`Flights`] (module `load`): the single-flight table behind `get_or_load`: concurrent misses of a
//!   key run one loader per cache and process, a cancelled leader hands over, errors are not cached
//!   ([`LoadError`]).
//! - [`Error`] (module `error`): what can go wrong; a miss is [`Error::NotFound`].
//! - [`Config`] (module [`config`]): YAML with the reference system's names, `${VAR}` expansion,
//!   `RELAYCACHE_*` overrides, validation that names the field.
//! - [`AnyCache`] (module `any`): the factory [`AnyCache::from_config`] and the enum that delegates to the
//!   chosen backend.
//! - [`backend`]: the backends, each usable on its own.
//! - `testing` (feature `testing`): the conformance suite any backend runs with one call.
//!
//! ## Guarantees
//! Every backend is safe to share between tasks, copies values in and out, returns [`Error::Closed`] after
//! [`Cache::close`] (which is idempotent), treats deleting a missing key as success, and is cancel-safe:
//! dropping a call's future, for example when a [`tokio::time::timeout`] deadline passes, leaves the cache
//! consistent.
//!
//! ## Features
//! - `redis` (default): the Redis backend ([`RedisCache`], built with [`RedisBuilder`]), which pulls in
//!   redis-rs and rustls (with the ring crypto provider) for `rediss://`.
//! - `testing`: the conformance suite; no extra dependencies.
//!
//! ## Example
//! ```
//! use std::time::Duration;
//! use relaycache::{AnyCache, Cache, Config};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config::from_yaml_str("cache:\n  mode: disabled\n")?;
//! let cache = AnyCache::from_config(&config).await?;
//! cache.set_with_ttl(b"user:42", b"{\"name\":\"Ada\"}", Duration::from_secs(60)).await?;
//! match cache.get(b"user:42").await {
//!     Ok(value) => println!("hit: {value:?}"),
//!     Err(e) if e.is_not_found() => println!("miss: load from the source"),
//!     Err(e) => return Err(e),
//! }
//! // A deadline is a timeout around any call; the cache stays consistent if it passes.
//! let _ = tokio::time::timeout(Duration::from_millis(50), cache.exists(b"user:42")).await;
//! cache.close().await?;
//! # Ok::<(), relaycache::Error>(())
//! # }).unwrap();
//! ```

mod any;
mod api;
pub mod backend;
pub mod config;
mod error;
mod float;
mod keyops;
mod load;
#[cfg(feature = "testing")]
pub mod testing;

/// The README's examples are compiled as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use any::AnyCache;
pub use api::{Cache, Capabilities, ClusterInfo, ClusterMember, ScanPage, Stats};
pub use backend::{DisabledCache, HaCache, SingleCache};
#[cfg(feature = "redis")]
pub use backend::{RedisBuilder, RedisCache};
pub use bytes::Bytes;
pub use config::{Config, ConfigError, Mode};
pub use error::{Error, Result};
pub use keyops::{
    ExpireCondition, ExpiryUpdate, KeyOps, MAX_BIT_OFFSET, MAX_STRING, SetCondition, SetExpiry,
    SetOptions, SetOutcome, appended, increment_float, incremented, parse_counter, with_bit,
    with_range,
};
pub use load::{Flights, LoadError};
