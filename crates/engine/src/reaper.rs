//! [`Reaper`]: a background thread that reclaims expired entries of a cache nobody writes to.
//!
//! Writes reclaim expired entries only as they need room (a new key takes the place of an expired
//! entry before a live one is evicted). That keeps a write's cost the same whether or not a backlog of
//! expired entries waits, but a cache that receives no new keys would keep its expired entries' memory
//! (always within `max_cost`). A reaper wakes every interval and reclaims them in batches of
//! [`REAP_BATCH`], taking one shard lock per batch, so callers are never held up for a whole backlog.
//! It holds only a weak reference to the cache and ends when the cache or the [`Reaper`] is dropped.

use std::hash::Hash;
use std::sync::mpsc::{self, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::byte_cache::ByteCache;
use crate::cache::Cache;

/// Expired entries reclaimed per call (each shard lock is held for at most this many reclaims).
pub const REAP_BATCH: usize = 256;

/// A cache whose expired entries can be reclaimed in batches: [`Cache`] and [`ByteCache`].
pub trait ReclaimExpired: Send + Sync + 'static {
    /// Reclaims at most `max` expired entries; returns how many (see [`Cache::reclaim_expired`]).
    fn reclaim_expired(&self, max: usize) -> usize;
}

impl<K: Hash + Send + Sync + 'static, V: Send + Sync + 'static> ReclaimExpired for Cache<K, V> {
    fn reclaim_expired(&self, max: usize) -> usize {
        Cache::reclaim_expired(self, max)
    }
}

impl ReclaimExpired for ByteCache {
    fn reclaim_expired(&self, max: usize) -> usize {
        ByteCache::reclaim_expired(self, max)
    }
}

/// Handle to a reaper thread (named `relaycache-reaper`). [`stop`](Reaper::stop) or dropping the
/// handle ends the thread at once; so does dropping the cache.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use relaycache_engine::{Cache, Reaper};
/// let cache = Arc::new(Cache::<u64, u64>::builder().max_cost(1000).build().expect("valid"));
/// let reaper = Reaper::start(&cache, Duration::from_secs(1)).expect("thread started");
/// cache.insert_with_ttl(1, 1, Duration::from_millis(10));
/// // ... within about a second of expiring, the entry is reclaimed with no further calls.
/// reaper.stop();
/// ```
#[derive(Debug)]
pub struct Reaper {
    stop: Mutex<Option<Sender<()>>>,
}

impl Reaper {
    /// Starts a thread that reclaims `cache`'s expired entries every `every`.
    ///
    /// # Errors
    /// The operating system's error if the thread cannot be created.
    pub fn start<C: ReclaimExpired>(cache: &Arc<C>, every: Duration) -> std::io::Result<Reaper> {
        let (tx, rx) = mpsc::channel::<()>();
        let cache: Weak<C> = Arc::downgrade(cache);
        std::thread::Builder::new()
            .name("relaycache-reaper".into())
            .spawn(move || {
                // A message or a dropped sender both mean stop.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    let Some(cache) = cache.upgrade() else {
                        return;
                    };
                    while cache.reclaim_expired(REAP_BATCH) == REAP_BATCH {
                        // A long backlog still stops at once when asked to.
                        if !matches!(rx.try_recv(), Err(TryRecvError::Empty)) {
                            return;
                        }
                        std::thread::yield_now();
                    }
                }
            })?;
        Ok(Reaper {
            stop: Mutex::new(Some(tx)),
        })
    }

    /// Ends the thread (idempotent).
    pub fn stop(&self) {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
