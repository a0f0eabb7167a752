//! `redis` mode: the cache on a Redis or Valkey server, or on a Redis Cluster, through redis-rs.
//!
//! | module | job |
//! |---|---|
//! | `connect` | [`RedisBuilder`]: settings, URL and credential handling, the first connection |
//! | `conn` | the connection (one server with reconnection, or a cluster) and per-node commands |
//! | `keys` | the key prefix, `SCAN MATCH` patterns, the cursor that walks every cluster master |
//! | `batch` | `get_multi` / `set_multi` as `MGET` and pipelines, grouped by hash slot on a cluster |
//! | `scan` | `scan` and `invalidate_prefix` (`SCAN` + `UNLINK` on every master) |
//! | `info` | the server half of `stats` (`DBSIZE`, `INFO`) |
//! | `errors` | redis-rs failures as [`Error`] variants that say what happened |
//! | `health` | remembers a lost connection, so a timeout while reconnecting says so |
//!
//! Every call is bounded by the response timeout; see `docs/redis.md` for the semantics.

mod batch;
mod conn;
mod connect;
mod errors;
mod health;
mod info;
mod keys;
mod scan;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use redis::{Cmd, RedisResult};

use self::conn::Conn;
use self::health::Health;
use self::info::NodeInfo;
use self::keys::Keys;
use crate::api::{Cache, Capabilities, ScanPage, Stats};
use crate::error::{Error, Result};
use crate::keyops::{
    ExpireCondition, ExpiryUpdate, KeyOps, MAX_BIT_OFFSET, SetCondition, SetExpiry, SetOptions,
    SetOutcome, with_bit, with_range,
};
use crate::load::Flights;

pub use self::connect::RedisBuilder;

/// The longest TTL accepted, in milliseconds: far beyond any real use, and far from the point where
/// Redis' `now + ttl` would overflow.
const MAX_TTL_MS: u64 = 1 << 52;

/// A cache on Redis (or Valkey), one server or a Redis Cluster. Built with [`RedisBuilder`], or by
/// [`AnyCache::from_config`](crate::AnyCache::from_config) with `cache.mode: redis`.
///
/// Every key is stored as `prefix + key`. TTLs are Redis' own (`SET ... PX`, millisecond precision); a
/// lost connection is re-established in the background with bounded backoff; every call fails with an
/// explicit [`Error`] rather than waiting past the response timeout.
///
/// ```no_run
/// use relaycache::backend::RedisBuilder;
/// use relaycache::Cache;
/// # async fn demo() -> relaycache::Result<()> {
/// let cache = RedisBuilder::cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
///     .prefix("cc-relay:")
///     .connect()
///     .await?;
/// cache.set_with_ttl(b"user:42", b"Ada", std::time::Duration::from_secs(60)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisCache {
    /// `None` once closed.
    conn: RwLock<Option<Conn>>,
    /// Where we are connected, without credentials, for error messages.
    endpoint: String,
    keys: Keys,
    timeout: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    health: Health,
    flights: Flights,
}

impl RedisCache {
    fn new(conn: Conn, endpoint: String, prefix: Bytes, timeout: Duration) -> Self {
        RedisCache {
            conn: RwLock::new(Some(conn)),
            endpoint,
            keys: Keys::new(prefix),
            timeout,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            health: Health::default(),
            flights: Flights::new(),
        }
    }

    /// Where this cache is connected (`host:port`, or the cluster's seed nodes), without credentials.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The prefix put in front of every key.
    #[must_use]
    pub fn prefix(&self) -> &[u8] {
        self.keys.prefix()
    }

    /// True when connected to a Redis Cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.conn.read().as_ref().is_some_and(Conn::is_cluster)
    }

    /// A handle on the connection, or [`Error::Closed`].
    fn conn(&self) -> Result<Conn> {
        self.conn.read().clone().ok_or(Error::Closed)
    }

    /// Runs one round trip of `op` within the response timeout and maps its failure. A call that times out
    /// after the connection was lost (and before any call succeeded again) is reported as the lost
    /// connection, because that is why it got no answer.
    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => {
                self.health.succeeded();
                Ok(value)
            }
            Ok(Err(e)) => {
                let error = errors::map(op, &self.endpoint, self.timeout, &e);
                if let Error::Connection { reason, .. } = &error {
                    self.health.lost(reason);
                }
                tracing::debug!(component = "redis", op, endpoint = %self.endpoint, error = %error, "call failed");
                Err(error)
            }
            Err(_) => {
                tracing::debug!(component = "redis", op, endpoint = %self.endpoint, after = ?self.timeout, "call timed out");
                Err(match self.health.lost_reason() {
                    Some(reason) => Error::Connection {
                        endpoint: self.endpoint.clone(),
                        reason: format!(
                            "{op}: not reconnected within {:?}; the connection was lost: {reason}",
                            self.timeout
                        ),
                    },
                    None => Error::Timeout {
                        op,
                        after: self.timeout,
                    },
                })
            }
        }
    }

    /// Runs a command that names one key (routed by that key on a cluster).
    async fn keyed<T: redis::FromRedisValue>(&self, op: &'static str, cmd: Cmd) -> Result<T> {
        let mut conn = self.conn()?;
        self.call(op, cmd.query_async(&mut conn)).await
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// `SET key value [PX ms]`.
fn set_cmd(key: &[u8], value: &[u8], ttl_ms: Option<u64>) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ms) = ttl_ms {
        cmd.arg("PX").arg(ms);
    }
    cmd
}

/// A command with one key argument.
fn key_cmd(name: &str, key: &[u8]) -> Cmd {
    let mut cmd = redis::cmd(name);
    cmd.arg(key);
    cmd
}

/// The `PX` argument for `ttl`: `None` for zero (no expiry), sub-millisecond TTLs rounded up so they
/// still expire rather than living forever.
fn ttl_millis(ttl: Duration) -> Result<Option<u64>> {
    if ttl.is_zero() {
        return Ok(None);
    }
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    match u64::try_from(ms) {
        Ok(ms) if ms <= MAX_TTL_MS => Ok(Some(ms)),
        _ => Err(Error::InvalidArgument(format!(
            "TTL {ttl:?} is too large for Redis (at most {MAX_TTL_MS} ms)"
        ))),
    }
}

impl Cache for RedisCache {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            native_multi: true,
            ..Capabilities::local()
        }
    }

    fn flights(&self) -> &Flights {
        &self.flights
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        let value: Option<Vec<u8>> = self
            .keyed("get", key_cmd("GET", &self.keys.full(key)))
            .await?;
        self.count(value.is_some());
        value.map(Bytes::from).ok_or(Error::NotFound)
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.keyed("set", set_cmd(&self.keys.full(key), value, None))
            .await
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let ms = ttl_millis(ttl)?;
        self.keyed("set", set_cmd(&self.keys.full(key), value, ms))
            .await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        let _removed: u64 = self
            .keyed("delete", key_cmd("UNLINK", &self.keys.full(key)))
            .await?;
        Ok(())
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        let n: u64 = self
            .keyed("exists", key_cmd("EXISTS", &self.keys.full(key)))
            .await?;
        Ok(n > 0)
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        let ms: i64 = self
            .keyed("ttl", key_cmd("PTTL", &self.keys.full(key)))
            .await?;
        match ms {
            -2 => Err(Error::NotFound),
            ms if ms < 0 => Ok(None),
            ms => Ok(Some(Duration::from_millis(ms.unsigned_abs()))),
        }
    }

    async fn close(&self) -> Result<()> {
        // Dropping the last handle closes the connections; calls already running finish on their clone.
        let _dropped = self.conn.write().take();
        Ok(())
    }

    async fn get_multi(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        self.get_many(keys).await
    }

    async fn set_multi(&self, items: &[(&[u8], &[u8])]) -> Result<()> {
        self.set_many(items, None).await
    }

    async fn set_multi_with_ttl(&self, items: &[(&[u8], &[u8])], ttl: Duration) -> Result<()> {
        let ms = ttl_millis(ttl)?;
        self.set_many(items, ms).await
    }

    async fn stats(&self) -> Result<Stats> {
        let mut conn = self.conn()?;
        let nodes = self.call("stats", conn.nodes()).await?;
        let mut total = NodeInfo::default();
        for node in &nodes {
            let mut pipe = redis::pipe();
            pipe.cmd("DBSIZE").cmd("INFO");
            let (keys, info): (u64, String) =
                self.call("stats", conn.pipeline_on(node, pipe)).await?;
            total = total.add(NodeInfo::parse(keys, &info));
        }
        Ok(Stats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            key_count: total.keys,
            bytes_used: total.used_memory,
            evictions: total.evicted_keys,
            expirations: total.expired_keys,
            max_cost: total.maxmemory,
            ..Stats::default()
        })
    }

    async fn ping(&self) -> Result<()> {
        // On a cluster every master must answer: a cluster missing one cannot serve all keys.
        let mut conn = self.conn()?;
        self.call("ping", conn.ping_all()).await
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        let full = self.keys.full(key);
        match ttl.map(ttl_millis).transpose()?.flatten() {
            Some(ms) => {
                let mut cmd = key_cmd("PEXPIRE", &full);
                cmd.arg(ms);
                let set: u64 = self.keyed("expire", cmd).await?;
                Ok(set == 1)
            }
            None => {
                // PERSIST answers 0 both for a missing key and for a key without TTL; ask EXISTS too.
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .add_command(key_cmd("PERSIST", &full))
                    .ignore()
                    .add_command(key_cmd("EXISTS", &full));
                let mut conn = self.conn()?;
                let (present,): (u64,) = self.call("expire", pipe.query_async(&mut conn)).await?;
                Ok(present == 1)
            }
        }
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        self.scan_page(cursor, prefix, count).await
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.remove_prefix(prefix).await
    }
}

/// Each operation is one Redis command, atomic on the server. On a Redis Cluster the multi-key ones
/// (`RENAME`, `COPY`, `MSETNX`) need their keys in one hash slot (a common `{tag}`), as in Redis.
impl KeyOps for RedisCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let full = self.keys.full(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&full[..]).arg(value);
        match options.condition {
            SetCondition::Always => {}
            SetCondition::IfAbsent => {
                cmd.arg("NX");
            }
            SetCondition::IfPresent => {
                cmd.arg("XX");
            }
        }
        match options.expiry {
            SetExpiry::Never => {}
            SetExpiry::Keep => {
                cmd.arg("KEEPTTL");
            }
            SetExpiry::After(ttl) => {
                if let Some(ms) = ttl_millis(ttl.max(Duration::from_nanos(1)))? {
                    cmd.arg("PX").arg(ms);
                }
            }
        }
        if options.return_previous {
            // One atomic command on the server: SET ... GET (Redis 7 accepts it with NX / XX).
            cmd.arg("GET");
            let previous: Option<Vec<u8>> = self.keyed("set", cmd).await?;
            let written = options.condition.allows(previous.is_some());
            Ok(SetOutcome::new(written, previous.map(Bytes::from)))
        } else {
            // `OK` when written, nil when NX / XX declined.
            let reply: Option<String> = self.keyed("set", cmd).await?;
            Ok(SetOutcome::new(reply.is_some(), None))
        }
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        let value: Option<Vec<u8>> = self
            .keyed("take", key_cmd("GETDEL", &self.keys.full(key)))
            .await?;
        self.count(value.is_some());
        value.map(Bytes::from).ok_or(Error::NotFound)
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        let removed: u64 = self
            .keyed("remove", key_cmd("UNLINK", &self.keys.full(key)))
            .await?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        let mut cmd = key_cmd("INCRBY", &self.keys.full(key));
        cmd.arg(delta);
        match self.keyed::<i64>("increment", cmd).await {
            Err(Error::Backend { message, .. }) if message.contains("not an integer") => Err(
                Error::InvalidArgument("value is not an integer or out of range".to_owned()),
            ),
            Err(Error::Backend { message, .. }) if message.contains("overflow") => Err(
                Error::InvalidArgument("increment or decrement would overflow".to_owned()),
            ),
            other => other,
        }
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        let mut cmd = key_cmd("INCRBYFLOAT", &self.keys.full(key));
        cmd.arg(increment);
        let text: Vec<u8> = self
            .keyed("increment_float", cmd)
            .await
            .map_err(value_error)?;
        Ok(Bytes::from(text))
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        let mut cmd = key_cmd("APPEND", &self.keys.full(key));
        cmd.arg(suffix);
        self.keyed("append", cmd).await.map_err(value_error)
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        // Refused here as Redis would, without sending a request that large.
        with_range(None, offset, &bytes[..bytes.len().min(1)])?;
        let mut cmd = key_cmd("SETRANGE", &self.keys.full(key));
        cmd.arg(offset).arg(bytes);
        self.keyed("set_range", cmd).await.map_err(value_error)
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        if offset > MAX_BIT_OFFSET {
            return with_bit(None, offset, bit).map(|(_, previous)| previous);
        }
        let mut cmd = key_cmd("SETBIT", &self.keys.full(key));
        cmd.arg(offset).arg(u8::from(bit));
        let previous: u8 = self.keyed("set_bit", cmd).await.map_err(value_error)?;
        Ok(previous == 1)
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        let full = self.keys.full(key);
        let cmd = match expiry {
            ExpiryUpdate::Keep => key_cmd("GETEX", &full),
            ExpiryUpdate::Persist => {
                let mut cmd = key_cmd("GETEX", &full);
                cmd.arg("PERSIST");
                cmd
            }
            // A deadline already passed: Redis deletes the key once read.
            ExpiryUpdate::After(ttl) if ttl.is_zero() => key_cmd("GETDEL", &full),
            ExpiryUpdate::After(ttl) => {
                let mut cmd = key_cmd("GETEX", &full);
                cmd.arg("PX").arg(ttl_millis(ttl)?.unwrap_or(1));
                cmd
            }
        };
        let value: Option<Vec<u8>> = self.keyed("get_and_expire", cmd).await?;
        self.count(value.is_some());
        value.map(Bytes::from).ok_or(Error::NotFound)
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        // One `PEXPIRE` with Redis's own condition (Redis 7); 0 ms deletes the key as Redis does.
        let mut cmd = key_cmd("PEXPIRE", &self.keys.full(key));
        cmd.arg(ttl_millis(ttl)?.unwrap_or(0));
        for option in condition.options() {
            cmd.arg(*option);
        }
        let changed: i64 = self.keyed("expire_if", cmd).await?;
        Ok(changed == 1)
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        let name = if only_if_absent { "RENAMENX" } else { "RENAME" };
        let mut cmd = key_cmd(name, &self.keys.full(from));
        cmd.arg(&self.keys.full(to)[..]);
        let reply: redis::Value = match self.keyed("rename", cmd).await {
            Err(Error::Backend { message, .. }) if message.contains("no such key") => {
                return Err(Error::NotFound);
            }
            other => other?,
        };
        // RENAME answers OK, RENAMENX 1 or 0.
        Ok(!matches!(reply, redis::Value::Int(0)))
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        let mut cmd = key_cmd("COPY", &self.keys.full(from));
        cmd.arg(&self.keys.full(to)[..]);
        if replace {
            cmd.arg("REPLACE");
        }
        let copied: u8 = self.keyed("copy", cmd).await?;
        Ok(copied == 1)
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        if items.is_empty() {
            return Ok(true);
        }
        let mut cmd = redis::cmd("MSETNX");
        for (k, v) in items {
            cmd.arg(&self.keys.full(k)[..]).arg(*v);
        }
        let written: u8 = self.keyed("set_multi_if_absent", cmd).await?;
        Ok(written == 1)
    }
}

/// Redis's value errors (`ERR value is not a valid float`, ...) as [`Error::InvalidArgument`] with the
/// same text, as the other backends report them.
fn value_error(e: Error) -> Error {
    const TEXTS: [&str; 5] = [
        "value is not a valid float",
        "increment would produce NaN or Infinity",
        "string exceeds maximum allowed size (proto-max-bulk-len)",
        "bit offset is not an integer or out of range",
        "value is not an integer or out of range",
    ];
    let known = match &e {
        Error::Backend { message, .. } => TEXTS.iter().find(|t| message.contains(*t)),
        _ => None,
    };
    match known {
        Some(text) => Error::InvalidArgument((*text).to_owned()),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_millis_rounds_up_and_bounds() {
        assert_eq!(ttl_millis(Duration::ZERO).expect("zero"), None);
        assert_eq!(ttl_millis(Duration::from_nanos(1)).expect("tiny"), Some(1));
        assert_eq!(
            ttl_millis(Duration::from_micros(1500)).expect("1.5ms"),
            Some(2)
        );
        assert_eq!(ttl_millis(Duration::from_secs(3)).expect("3s"), Some(3000));
        assert!(matches!(
            ttl_millis(Duration::MAX),
            Err(Error::InvalidArgument(_))
        ));
    }
}
