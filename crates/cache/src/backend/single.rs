//! `single` mode: an in-process cache on [`relaycache_engine`], with a background
//! [`Reaper`] for expired entries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use relaycache_engine::{ByteCache, ByteChange, Expiry, Reaper};

use crate::api::{Cache, Capabilities, ScanPage, Stats};
use crate::config::SingleConfig;
use crate::error::{Error, Result};
use crate::keyops::{
    ExpireCondition, ExpiryUpdate, KeyOps, SetCondition, SetExpiry, SetOptions, SetOutcome,
    appended, parse_counter, with_bit, with_range,
};
use crate::load::Flights;

/// How often the reaper thread reclaims expired entries that no write has needed the room of.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// The in-process backend: a concurrent cache bounded in bytes, with TinyLFU admission and per-key TTL
/// (see `relaycache_engine` for the policy and guarantees).
///
/// Every entry weighs its key bytes + value bytes + [`ENTRY_OVERHEAD`](relaycache_engine::ENTRY_OVERHEAD) bytes of bookkeeping, and the
/// total never exceeds `max_cost`. A write is visible to the next read at once; a new key may be
/// declined by the admission policy when the cache is full, which is counted in [`Stats::rejections`].
/// An entry up to 16 MiB, or a quarter of `max_cost` when that is smaller
/// ([`entry_room`](relaycache_engine::entry_room)), always fits; a heavier one may be rejected, since
/// the cache is split into shards that each hold their share of `max_cost`. Expired keys are never returned. A write of a new key takes the place of an expired entry before
/// evicting a live one, and a background thread (one per cache, named `relaycache-reaper`) wakes
/// every second and reclaims the rest in small batches, so a cache that goes quiet does not keep
/// expired entries' memory. Each key and its value are stored together in one allocation
/// ([`ByteCache`]; the value gets one of its own when the entry is larger than 1 KiB). Values are copied in; a value read out is a [`Bytes`] that shares the stored
/// buffer (values up to [`COPY_OUT_MAX`](relaycache_engine::COPY_OUT_MAX) bytes are copied, which
/// costs no more), and it never changes afterwards: a later write stores a new buffer.
///
/// Every call takes one shard lock once. The read-modify-writes (`set_with_options`, `take`,
/// `increment`) run under the key's shard write lock ([`ByteCache::compute`]), so they are atomic
/// with respect to every other write of the same key.
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
    flights: Flights,
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
            .min_shard_cost(relaycache_engine::entry_room(config.max_cost))
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
            flights: Flights::new(),
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

    fn read(&self, key: &[u8]) -> Option<Bytes> {
        self.engine.get_bytes(key)
    }

    /// A read-modify-write of `key` keeping its expiry, under its shard lock: `f` gets the current
    /// value and returns the new one (`None`: no change) and the answer; an error changes nothing.
    fn update<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R)>,
    ) -> Result<R> {
        self.engine.compute(key, |current| {
            match f(current.as_ref().map(|e| e.value())) {
                Ok((Some(next), r)) => (ByteChange::Put(next, Expiry::Keep), Ok(r)),
                Ok((None, r)) => (ByteChange::Keep, Ok(r)),
                Err(e) => (ByteChange::Keep, Err(e)),
            }
        })
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

    fn flights(&self) -> &Flights {
        &self.flights
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        self.read(key).ok_or(Error::NotFound)
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_open()?;
        self.store(key, value, Duration::ZERO);
        Ok(())
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        self.check_open()?;
        self.store(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        self.check_open()?;
        self.engine.remove(key);
        Ok(())
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
            self.store(key, value, ttl);
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

impl KeyOps for SingleCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        self.check_open()?;
        let expiry = match options.expiry {
            SetExpiry::Never => Expiry::Never,
            // A zero TTL would mean "no expiry" to the engine; here it means "expire at once".
            SetExpiry::After(ttl) => Expiry::After(ttl.max(Duration::from_nanos(1))),
            SetExpiry::Keep => Expiry::Keep,
        };
        let outcome = self.engine.compute(key, |current| {
            let wanted = options.return_previous || options.condition != SetCondition::Always;
            let previous = current
                .as_ref()
                .filter(|_| wanted)
                .map(relaycache_engine::ByteEntry::to_bytes);
            let allowed = options.condition.allows(current.is_some());
            let change = if allowed {
                ByteChange::Put(value, expiry)
            } else {
                ByteChange::Keep
            };
            (change, SetOutcome::new(allowed, previous))
        });
        Ok(outcome)
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        self.engine
            .compute(key, |current| match current {
                Some(entry) => (ByteChange::<&[u8]>::Remove, Some(entry.to_bytes())),
                None => (ByteChange::Keep, None),
            })
            .ok_or(Error::NotFound)
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        self.check_open()?;
        Ok(self.engine.remove(key))
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        self.check_open()?;
        self.engine.compute(key, |current| {
            let next = match current {
                Some(entry) => parse_counter(entry.value()),
                None => Ok(0),
            }
            .and_then(|n| {
                n.checked_add(delta).ok_or_else(|| {
                    Error::InvalidArgument("increment or decrement would overflow".to_owned())
                })
            });
            match next {
                Ok(n) => (ByteChange::Put(n.to_string(), Expiry::Keep), Ok(n)),
                Err(e) => (ByteChange::Keep, Err(e)),
            }
        })
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        self.update(key, |current| {
            let next = crate::increment_float(current, increment)?;
            let text = Bytes::from(next.clone());
            Ok((Some(next), text))
        })
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        self.check_open()?;
        self.update(key, |current| {
            let next = appended(current, suffix)?;
            let len = next.len();
            Ok((Some(next), len))
        })
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        self.check_open()?;
        self.update(key, |current| {
            let len = current.map_or(0, <[u8]>::len);
            Ok(match with_range(current, offset, bytes)? {
                Some(next) => {
                    let len = next.len();
                    (Some(next), len)
                }
                None => (None, len),
            })
        })
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        self.check_open()?;
        self.update(key, |current| {
            let (next, previous) = with_bit(current, offset, bit)?;
            Ok((Some(next), previous))
        })
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        self.check_open()?;
        self.engine
            .compute(key, |current| {
                let Some(entry) = current else {
                    return (ByteChange::Keep, None);
                };
                let value = entry.to_bytes();
                let change = match expiry {
                    ExpiryUpdate::Keep => ByteChange::Keep,
                    ExpiryUpdate::Persist if entry.ttl.is_none() => ByteChange::Keep,
                    ExpiryUpdate::Persist => ByteChange::Put(value.clone(), Expiry::Never),
                    ExpiryUpdate::After(ttl) if ttl.is_zero() => ByteChange::Remove,
                    ExpiryUpdate::After(ttl) => ByteChange::Put(value.clone(), Expiry::After(ttl)),
                };
                (change, Some(value))
            })
            .ok_or(Error::NotFound)
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        self.check_open()?;
        Ok(self.engine.compute(key, |current| {
            let Some(entry) = current else {
                return (ByteChange::Keep, false);
            };
            if !condition.allows(entry.ttl, ttl) {
                return (ByteChange::Keep, false);
            }
            let change = if ttl.is_zero() {
                ByteChange::Remove
            } else {
                ByteChange::Put(entry.to_bytes(), Expiry::After(ttl))
            };
            (change, true)
        }))
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        self.check_open()?;
        self.engine.compute_many(&[from, to], |cur| {
            let Some(source) = &cur[0] else {
                return (Vec::new(), Err(Error::NotFound));
            };
            if from == to {
                return (Vec::new(), Ok(!only_if_absent));
            }
            if only_if_absent && cur[1].is_some() {
                return (Vec::new(), Ok(false));
            }
            let changes = vec![
                ByteChange::Remove,
                ByteChange::Put(source.to_bytes(), expiry_of(source)),
            ];
            (changes, Ok(true))
        })
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        self.check_open()?;
        if from == to {
            return Ok(false);
        }
        Ok(self.engine.compute_many(&[from, to], |cur| match &cur[0] {
            Some(source) if replace || cur[1].is_none() => {
                let put = ByteChange::Put(source.to_bytes(), expiry_of(source));
                (vec![ByteChange::Keep, put], true)
            }
            _ => (Vec::new(), false),
        }))
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        self.check_open()?;
        let keys: Vec<&[u8]> = items.iter().map(|(k, _)| *k).collect();
        Ok(self.engine.compute_many(&keys, |cur| {
            if cur.iter().any(Option::is_some) {
                return (Vec::new(), false);
            }
            let changes = items
                .iter()
                .map(|(_, v)| ByteChange::Put(*v, Expiry::Never))
                .collect();
            (changes, true)
        }))
    }
}

/// The expiry that gives another key exactly `entry`'s deadline (read in the same step).
fn expiry_of(entry: &relaycache_engine::ByteEntry<'_>) -> Expiry {
    entry.ttl.map_or(Expiry::Never, Expiry::After)
}
