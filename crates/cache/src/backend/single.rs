//! `single` mode: an in-process cache on [`relaycache_engine`], with a background
//! [`Reaper`] for expired entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use relaycache_engine::{ByteCache, Reaper};

use crate::api::{
    Cache, Capabilities, ScanPage, SetCondition, SetExpiry, SetOptions, SetOutcome, Stats,
    parse_counter,
};
use crate::config::SingleConfig;
use crate::error::{Error, Result};

/// Below this share of `max_cost` per shard the cache uses fewer shards, so that large values (up to
/// this size, or `max_cost` when smaller) always fit a shard.
const MIN_SHARD_BYTES: u64 = 16 << 20;

/// How often the reaper thread reclaims expired entries that no write has needed the room of.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// Number of write locks; a key's lock is chosen by hash. Writes of one key are serialised by it, so
/// read-modify-write calls (`set_with_options`, `take`, `remove`, `increment`) are atomic with respect to
/// every other write of the same key. Reads take no lock.
const WRITE_STRIPES: usize = 256;

/// The in-process backend: a concurrent cache bounded in bytes, with TinyLFU admission and per-key TTL
/// (see `relaycache_engine` for the policy and guarantees).
///
/// Every entry weighs its key bytes + value bytes + [`ENTRY_OVERHEAD`](relaycache_engine::ENTRY_OVERHEAD) bytes of bookkeeping, and the
/// total never exceeds `max_cost`. A write is visible to the next read at once; a new key may be
/// declined by the admission policy when the cache is full, which is counted in [`Stats::rejections`].
/// Expired keys are never returned. A write of a new key takes the place of an expired entry before
/// evicting a live one, and a background thread (one per cache, named `relaycache-reaper`) wakes
/// every second and reclaims the rest in small batches, so a cache that goes quiet does not keep
/// expired entries' memory. Each key and its value are stored together in one allocation
/// ([`ByteCache`]); values are copied in and out.
///
/// `buffer_items` from the configuration is accepted and ignored: the reference engine buffered that
/// many reads per batch before applying them to its policy, while this engine applies every read and
/// write at once (reads only bump a per-entry counter), so there is nothing to size.
///
/// ```
/// use relaycache::{Cache, backend::SingleCache, config::SingleConfig};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let cache = SingleCache::new(&SingleConfig::default())?;
/// cache.set(b"k", b"v").await?;
/// assert_eq!(cache.get(b"k").await?, "v");
/// # Ok::<(), relaycache::Error>(())
/// # }).unwrap();
/// ```
pub struct SingleCache {
    engine: Arc<ByteCache>,
    /// `None` if the thread could not be started (logged); writes still reclaim expired entries then.
    reaper: Option<Reaper>,
    closed: AtomicBool,
    stripes: Box<[Mutex<()>]>,
    stripe_hasher: RandomState,
}

impl std::fmt::Debug for SingleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleCache")
            .field("engine", &self.engine)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl SingleCache {
    /// Builds the cache from its configuration section.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `max_cost` or `num_counters` is 0.
    pub fn new(config: &SingleConfig) -> Result<Self> {
        let engine = ByteCache::builder()
            .max_cost(config.max_cost)
            .num_counters(config.num_counters)
            .min_shard_cost(MIN_SHARD_BYTES)
            .build()
            .map(ByteCache::from_cache)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let engine = Arc::new(engine);
        let reaper = Reaper::start(&engine, REAP_EVERY)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "could not start the expiry reaper thread; expired entries are reclaimed only as writes need their room");
            })
            .ok();
        Ok(SingleCache {
            reaper,
            engine,
            closed: AtomicBool::new(false),
            stripes: (0..WRITE_STRIPES).map(|_| Mutex::new(())).collect(),
            stripe_hasher: RandomState::new(),
        })
    }

    /// The engine underneath, for callers that want its full API.
    pub fn engine(&self) -> &ByteCache {
        &self.engine
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn store(&self, key: &[u8], value: &[u8], ttl: Duration) {
        self.engine.insert_with_ttl(key, value, ttl);
    }

    /// The write lock of `key`. Held only across synchronous engine calls, never across an `.await`.
    fn write_lock(&self, key: &[u8]) -> MutexGuard<'_, ()> {
        let i = (self.stripe_hasher.hash_one(key) as usize) % self.stripes.len();
        // The lock guards no data, so a panic while it was held leaves nothing inconsistent.
        self.stripes[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn locked_store(&self, key: &[u8], value: &[u8], ttl: Duration) {
        let _guard = self.write_lock(key);
        self.store(key, value, ttl);
    }

    /// The TTL that keeps `key`'s current expiry on a rewrite: what is left of it, or zero (none).
    fn kept_ttl(&self, key: &[u8]) -> Duration {
        match self.engine.ttl(key) {
            Some(Some(left)) => left.max(Duration::from_nanos(1)),
            Some(None) | None => Duration::ZERO,
        }
    }

    fn read(&self, key: &[u8]) -> Option<Bytes> {
        self.engine.get_with(key, Bytes::copy_from_slice)
    }
}

impl Cache for SingleCache {
    fn name(&self) -> &'static str {
        "single"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            native_multi: true,
            ..Capabilities::local()
        }
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        self.read(key).ok_or(Error::NotFound)
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_open()?;
        self.locked_store(key, value, Duration::ZERO);
        Ok(())
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        self.check_open()?;
        self.locked_store(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        self.engine.remove(key);
        Ok(())
    }

    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        let needs_previous = options.return_previous || options.condition != SetCondition::Always;
        let previous = if needs_previous { self.read(key) } else { None };
        let allowed = options.condition.allows(previous.is_some());
        if allowed {
            let ttl = match options.expiry {
                SetExpiry::Never => Duration::ZERO,
                SetExpiry::After(ttl) => ttl.max(Duration::from_nanos(1)),
                SetExpiry::Keep => self.kept_ttl(key),
            };
            self.store(key, value, ttl);
        }
        Ok(SetOutcome::new(allowed, previous))
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        let value = self.read(key).ok_or(Error::NotFound)?;
        self.engine.remove(key);
        Ok(value)
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        let existed = self.engine.contains_key(key);
        self.engine.remove(key);
        Ok(existed)
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        let current = match self.read(key) {
            Some(v) => parse_counter(&v)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or_else(|| {
            Error::InvalidArgument("increment or decrement would overflow".to_owned())
        })?;
        self.store(key, next.to_string().as_bytes(), self.kept_ttl(key));
        Ok(next)
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        self.check_open()?;
        Ok(self.engine.contains_key(key))
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        self.check_open()?;
        self.engine.ttl(key).ok_or(Error::NotFound)
    }

    async fn close(&self) -> Result<()> {
        if !self.closed.swap(true, Ordering::AcqRel) {
            if let Some(reaper) = &self.reaper {
                reaper.stop();
            }
            self.engine.clear();
        }
        Ok(())
    }

    async fn get_multi(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        self.check_open()?;
        let mut found = HashMap::with_capacity(keys.len());
        for key in keys {
            if let Some(v) = self.read(key) {
                found.insert(Bytes::copy_from_slice(key), v);
            }
        }
        Ok(found)
    }

    async fn set_multi(&self, items: &[(&[u8], &[u8])]) -> Result<()> {
        self.set_multi_with_ttl(items, Duration::ZERO).await
    }

    async fn set_multi_with_ttl(&self, items: &[(&[u8], &[u8])], ttl: Duration) -> Result<()> {
        self.check_open()?;
        for (key, value) in items {
            self.locked_store(key, value, ttl);
        }
        Ok(())
    }

    async fn stats(&self) -> Result<Stats> {
        self.check_open()?;
        let s = self.engine.stats();
        Ok(Stats {
            hits: s.hits,
            misses: s.misses,
            key_count: s.key_count,
            bytes_used: s.bytes_used,
            evictions: s.evicted_size,
            expirations: s.evicted_expired,
            rejections: s.rejections,
            inserts: s.inserts,
            updates: s.updates,
            max_cost: s.max_cost,
        })
    }

    async fn ping(&self) -> Result<()> {
        self.check_open()
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        self.check_open()?;
        let _guard = self.write_lock(key);
        Ok(self.engine.set_ttl(key, ttl))
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        self.check_open()?;
        let page = self.engine.scan(cursor, count.max(1), prefix);
        Ok(ScanPage {
            cursor: page.cursor,
            keys: page.keys.into_iter().map(Bytes::from).collect(),
        })
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.check_open()?;
        Ok(self.engine.invalidate_prefix(prefix))
    }
}
