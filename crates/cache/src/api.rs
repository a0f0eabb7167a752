//! The cache contract every backend implements, and the data its optional capabilities return.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::error::Result;
use crate::load::{Flights, LoadError};

/// The cache contract shared by every backend (`single`, `ha`, `redis`, `disabled`) and by
/// [`AnyCache`](crate::AnyCache), the configured selection of one of them.
///
/// Keys and values are arbitrary bytes (empty, containing `\0`, not UTF-8: all allowed). Values are copied
/// in: the cache never keeps a reference to the caller's buffer. Values come out as [`Bytes`], an immutable
/// handle: nothing the caller does with it can change what the cache holds, which is the guarantee the
/// reference contract's "copy out" gives.
///
/// Every method is `async`, safe to call concurrently from many tasks, and cancel-safe: dropping the future
/// (for example through [`tokio::time::timeout`] as a deadline) leaves the cache consistent, and an operation
/// that was dropped either took effect whole or not at all for single-key calls.
///
/// After [`close`](Cache::close) every call returns [`Error::Closed`](crate::Error::Closed); `close` itself is
/// idempotent.
///
/// Optional capabilities have default implementations: batch calls fall back to one call per key, the
/// others return [`Error::Unsupported`](crate::Error::Unsupported). [`capabilities`](Cache::capabilities)
/// tells which ones a backend implements natively, so no downcasting is needed.
pub trait Cache: Send + Sync {
    /// The backend's name as used in `cache.mode` (`single`, `ha`, `redis`, `disabled`).
    fn name(&self) -> &'static str;

    /// What this backend implements beyond the core contract.
    fn capabilities(&self) -> Capabilities;

    /// Returns the value stored under `key`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) on a miss (including an expired entry),
    /// [`Error::Closed`](crate::Error::Closed) after close, or a backend failure.
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Bytes>> + Send;

    /// Stores `value` under `key` with no expiry, replacing any previous value and its TTL.
    ///
    /// A bounded cache may decline to admit a new key (admission policy) or evict it later; that is not an
    /// error, and it is counted in [`Stats::rejections`].
    ///
    /// # Errors
    /// [`Error::Closed`](crate::Error::Closed) after close, or a backend failure.
    fn set(&self, key: &[u8], value: &[u8]) -> impl Future<Output = Result<()>> + Send;

    /// Stores `value` under `key` for `ttl`. A zero `ttl` means no expiry, as in the reference system.
    ///
    /// # Errors
    /// As [`set`](Cache::set); [`Error::InvalidArgument`](crate::Error::InvalidArgument) if the backend
    /// cannot represent `ttl`.
    fn set_with_ttl(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Removes `key`. Removing a missing key is not an error.
    ///
    /// # Errors
    /// [`Error::Closed`](crate::Error::Closed) after close, or a backend failure.
    fn delete(&self, key: &[u8]) -> impl Future<Output = Result<()>> + Send;

    /// Tells whether `key` is present and not expired.
    ///
    /// # Errors
    /// [`Error::Closed`](crate::Error::Closed) after close, or a backend failure.
    fn exists(&self, key: &[u8]) -> impl Future<Output = Result<bool>> + Send;

    /// Returns the remaining time to live of `key`: `Some(remaining)`, or `None` when it never expires.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the key is absent,
    /// [`Error::Closed`](crate::Error::Closed) after close, or a backend failure.
    fn ttl(&self, key: &[u8]) -> impl Future<Output = Result<Option<Duration>>> + Send;

    /// Releases the backend's resources. Idempotent; afterwards every call returns
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Errors
    /// A backend failure while shutting down (the cache is closed anyway).
    fn close(&self) -> impl Future<Output = Result<()>> + Send;

    /// The single-flight table of this cache, which [`get_or_load`](Cache::get_or_load) and
    /// [`try_get_or_load`](Cache::try_get_or_load) run on. An implementation holds one [`Flights`]
    /// and returns it.
    fn flights(&self) -> &Flights;

    /// Returns the value of `key`; on a miss runs `loader`, stores its value for `ttl` (zero: no
    /// expiry) and returns it. However many callers miss `key` at once on this cache in this process,
    /// one loader runs and they all get its value (from the loader's caller, not from a re-read, so
    /// they get it even when the backend declines or discards the write). If that caller is cancelled
    /// (its future dropped, or a deadline passed), a waiting caller runs its own loader instead. A
    /// failed store does not fail the call: the loaded value is returned and the failure logged.
    ///
    /// ```
    /// use std::time::Duration;
    /// use relaycache::{Cache, SingleCache, config::SingleConfig};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let cache = SingleCache::new(&SingleConfig::default())?;
    /// let load = || async { relaycache::Bytes::from_static(b"from the database") };
    /// let v = cache.get_or_load(b"user:1", Duration::from_secs(60), load).await?;
    /// assert_eq!(v, "from the database");
    /// assert_eq!(cache.get(b"user:1").await?, "from the database");
    /// # Ok::<(), relaycache::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`get`](Cache::get), except that a miss is not an error.
    fn get_or_load<F, Fut>(
        &self,
        key: &[u8],
        ttl: Duration,
        loader: F,
    ) -> impl Future<Output = Result<Bytes>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Bytes> + Send,
    {
        async move {
            let load = || async move { Ok::<_, std::convert::Infallible>(loader().await) };
            match self.try_get_or_load(key, ttl, load).await {
                Ok(value) => Ok(value),
                Err(LoadError::Cache(e)) => Err(e),
                Err(LoadError::Load(never)) => match never {},
            }
        }
    }

    /// [`get_or_load`](Cache::get_or_load) with a loader that can fail. A loader's error goes to its
    /// own caller only and is not cached: callers waiting on that load then elect one of them to run
    /// its loader, and a later call runs the loader again.
    ///
    /// # Errors
    /// [`LoadError::Load`] with this caller's loader error; [`LoadError::Cache`] with the cache's
    /// error (as [`get`](Cache::get), a miss excepted), in which case no loader ran.
    fn try_get_or_load<F, Fut, E>(
        &self,
        key: &[u8],
        ttl: Duration,
        loader: F,
    ) -> impl Future<Output = Result<Bytes, LoadError<E>>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send,
        E: Send,
    {
        self.flights().try_get_or_load(self, key, ttl, loader)
    }

    /// Returns the values of the keys that are present; missing keys are simply absent from the map.
    ///
    /// # Errors
    /// As [`get`](Cache::get), except that misses are not errors.
    fn get_multi(
        &self,
        keys: &[&[u8]],
    ) -> impl Future<Output = Result<HashMap<Bytes, Bytes>>> + Send {
        async move {
            let mut found = HashMap::with_capacity(keys.len());
            for key in keys {
                match self.get(key).await {
                    Ok(value) => {
                        found.insert(Bytes::copy_from_slice(key), value);
                    }
                    Err(crate::Error::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(found)
        }
    }

    /// Stores every item with no expiry.
    ///
    /// # Errors
    /// As [`set`](Cache::set). Items before the failing one may have been stored.
    fn set_multi(&self, items: &[(&[u8], &[u8])]) -> impl Future<Output = Result<()>> + Send {
        self.set_multi_with_ttl(items, Duration::ZERO)
    }

    /// Stores every item with the same `ttl` (zero: no expiry).
    ///
    /// # Errors
    /// As [`set_with_ttl`](Cache::set_with_ttl). Items before the failing one may have been stored.
    fn set_multi_with_ttl(
        &self,
        items: &[(&[u8], &[u8])],
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for (key, value) in items {
                self.set_with_ttl(key, value, ttl).await?;
            }
            Ok(())
        }
    }

    /// Counters and sizes of the cache.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) when [`Capabilities::stats`] is false,
    /// [`Error::Closed`](crate::Error::Closed) after close.
    fn stats(&self) -> impl Future<Output = Result<Stats>> + Send {
        let backend = self.name();
        async move { Err(crate::Error::unsupported("stats", backend)) }
    }

    /// Checks that the backend is reachable and serving.
    ///
    /// # Errors
    /// [`Error::Closed`](crate::Error::Closed) after close, or why the backend is not healthy.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    /// Membership of the cluster this cache belongs to.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) for backends that are not clustered.
    fn cluster_info(&self) -> impl Future<Output = Result<ClusterInfo>> + Send {
        let backend = self.name();
        async move { Err(crate::Error::unsupported("cluster_info", backend)) }
    }

    /// Sets (`Some`) or removes (`None`) the expiry of an existing key without touching its value.
    /// Returns false when the key is absent.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) when [`Capabilities::expire`] is false.
    fn expire(
        &self,
        key: &[u8],
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (key, ttl);
        let backend = self.name();
        async move { Err(crate::Error::unsupported("expire", backend)) }
    }

    /// Lists keys starting with `prefix`, a page at a time. Start with cursor 0; the scan is complete when
    /// the returned [`ScanPage::cursor`] is 0. Keys present for the whole scan are returned at least once.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) when [`Capabilities::scan`] is false.
    fn scan(
        &self,
        cursor: u64,
        prefix: &[u8],
        count: usize,
    ) -> impl Future<Output = Result<ScanPage>> + Send {
        let _ = (cursor, prefix, count);
        let backend = self.name();
        async move { Err(crate::Error::unsupported("scan", backend)) }
    }

    /// Removes every key starting with `prefix` and returns how many were removed. An empty prefix clears
    /// the cache.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) when [`Capabilities::invalidate_prefix`] is false.
    fn invalidate_prefix(&self, prefix: &[u8]) -> impl Future<Output = Result<u64>> + Send {
        let _ = prefix;
        let backend = self.name();
        async move { Err(crate::Error::unsupported("invalidate_prefix", backend)) }
    }
}

/// Which optional capabilities a backend implements natively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`Cache::stats`] returns real counters.
    pub stats: bool,
    /// [`Cache::cluster_info`] is available.
    pub cluster_info: bool,
    /// [`Cache::get_multi`] and the `set_multi` calls are native batches rather than a loop.
    pub native_multi: bool,
    /// [`Cache::expire`] is available.
    pub expire: bool,
    /// [`Cache::scan`] is available.
    pub scan: bool,
    /// [`Cache::invalidate_prefix`] is available.
    pub invalidate_prefix: bool,
    /// The multi-key operations of [`KeyOps`](crate::KeyOps) (`rename`, `copy`,
    /// `set_multi_if_absent`) are atomic across all their keys, not only per key.
    pub atomic_multi_key: bool,
}

impl Capabilities {
    /// No optional capability.
    #[must_use]
    pub const fn none() -> Self {
        Capabilities {
            stats: false,
            cluster_info: false,
            native_multi: false,
            expire: false,
            scan: false,
            invalidate_prefix: false,
            atomic_multi_key: false,
        }
    }

    /// Every optional capability but cluster info.
    #[must_use]
    pub const fn local() -> Self {
        Capabilities {
            stats: true,
            cluster_info: false,
            native_multi: false,
            expire: true,
            scan: true,
            invalidate_prefix: true,
            atomic_multi_key: true,
        }
    }
}

/// Counters and sizes reported by [`Cache::stats`]. The first five fields are the reference system's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// Keys currently held.
    pub key_count: u64,
    /// Bytes currently charged against the bound (keys, values and per-entry overhead).
    pub bytes_used: u64,
    /// Keys evicted to respect the size bound.
    pub evictions: u64,
    /// Keys removed because their TTL passed.
    pub expirations: u64,
    /// Writes of new keys the admission policy declined.
    pub rejections: u64,
    /// Writes that added a key.
    pub inserts: u64,
    /// Writes that replaced the value of a present key.
    pub updates: u64,
    /// The bound in bytes, 0 when unbounded or unknown.
    pub max_cost: u64,
}

impl Stats {
    /// Builds stats from the five reference counters; the others are zero.
    #[must_use]
    pub fn new(hits: u64, misses: u64, key_count: u64, bytes_used: u64, evictions: u64) -> Self {
        Stats {
            hits,
            misses,
            key_count,
            bytes_used,
            evictions,
            ..Stats::default()
        }
    }
}

/// Cluster membership as seen by this node, from [`Cache::cluster_info`]. The first three fields are the
/// reference system's; the rest describe the routing table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClusterInfo {
    /// The gossip (membership) address of this node; empty for a client.
    pub memberlist_addr: String,
    /// Live members including this node.
    pub cluster_members: usize,
    /// True when this process runs a cluster node; false for a client of external nodes.
    pub is_embedded: bool,
    /// `serving`, `below member_count_quorum` or `leaving` (a client: `client`).
    pub state: String,
    /// The live members, sorted by gossip address.
    pub members: Vec<ClusterMember>,
    /// The routing table's local epoch (incremented on every change this node saw).
    pub epoch: u64,
    /// A hash of the member identities: equal on nodes that see the same members.
    pub fingerprint: u64,
    /// `partition_count`.
    pub partition_count: u32,
    /// `replica_count`.
    pub replica_count: u32,
    /// `member_count_quorum`.
    pub member_count_quorum: u32,
    /// Partitions this node is primary for.
    pub primary_partitions: u32,
    /// Partitions this node keeps a backup copy of.
    pub backup_partitions: u32,
    /// Partitions this node is still receiving (migrations in flight).
    pub incoming_partitions: u32,
    /// For each partition, the RPC addresses of its owners, primary first.
    pub partitions: Vec<Vec<String>>,
}

/// One member in [`ClusterInfo::members`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClusterMember {
    /// Its gossip (membership) address.
    pub gossip_addr: String,
    /// Its RPC address (`bind_addr`).
    pub rpc_addr: String,
    /// Its generation: start time in milliseconds, bumped when it rejoins.
    pub generation: u64,
    /// True for the node answering.
    pub is_self: bool,
}

/// One page of a [`Cache::scan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanPage {
    /// Where to continue; 0 when the scan is complete.
    pub cursor: u64,
    /// Keys of this page.
    pub keys: Vec<Bytes>,
}
