//! One small trait over every cache under test, so each workload is written once.
//!
//! Each cache is one `impl Adapter` in its own module. Workloads are written as a [`Job`] that is
//! monomorphised per cache by [`run`], so no dynamic dispatch sits in the measured loops.

mod bytes;
mod expiring;
mod lru_mutex;
mod moka_sync;
mod quick;
mod relay;
mod stretto_sync;

use std::hash::Hash;
use std::time::Duration;

pub(crate) use bytes::{KeyBytes, ValueBytes};
pub(crate) use expiring::Expiring;

/// The caches the tool knows, in table column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Peer {
    /// relaycache-engine's generic `Cache<K, V>`, the cache under test.
    Relaycache,
    /// relaycache-engine's `ByteCache` (key and value copied into one allocation, values copied out
    /// on `get`), what the facade's `single` backend uses.
    RelaycacheBytes,
    /// quick_cache 0.7 `sync::Cache` (the reference for ratios).
    QuickCache,
    /// moka 0.12 `sync::Cache`.
    Moka,
    /// stretto 0.9 sync `Cache`.
    Stretto,
    /// `Mutex<lru::LruCache>`.
    Lru,
}

impl Peer {
    /// All caches, in column order.
    pub(crate) const ALL: [Peer; 6] = [
        Peer::Relaycache,
        Peer::RelaycacheBytes,
        Peer::QuickCache,
        Peer::Moka,
        Peer::Stretto,
        Peer::Lru,
    ];

    /// Whether this is one of relaycache's own caches (not a peer to compare against).
    pub(crate) fn is_ours(self) -> bool {
        matches!(self, Peer::Relaycache | Peer::RelaycacheBytes)
    }

    /// The column label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Peer::Relaycache => "relaycache",
            Peer::RelaycacheBytes => "relaycache ByteCache",
            Peer::QuickCache => "quick_cache",
            Peer::Moka => "moka",
            Peer::Stretto => "stretto",
            Peer::Lru => "Mutex<lru>",
        }
    }
}

/// How to size and configure a cache for one measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Capacity in entries (every entry weighs 1).
    pub(crate) capacity: u64,
    /// Set when the workload inserts with this TTL: peers without per-entry TTL then get it emulated
    /// (value stored with its deadline, checked on `get`), moka gets it as its cache-wide
    /// `time_to_live` (every insert of the workload uses the same TTL, so this is equivalent).
    pub(crate) ttl: Option<Duration>,
    /// Admission counters per entry of capacity for the TinyLFU-class caches (relaycache, stretto);
    /// `None` = 10, as Ristretto recommends and relaycache's configuration documents.
    pub(crate) counters_per_entry: Option<u64>,
}

impl Spec {
    /// A spec with the default admission counters.
    pub(crate) fn new(capacity: u64, ttl: Option<Duration>) -> Self {
        Self {
            capacity,
            ttl,
            counters_per_entry: None,
        }
    }

    /// `num_counters` for the TinyLFU-class caches: by default 10x the entries.
    pub(crate) fn num_counters(&self) -> u64 {
        self.capacity
            .saturating_mul(self.counters_per_entry.unwrap_or(10))
            .max(100)
    }
}

/// Keys the adapters accept.
pub(crate) trait Key: Hash + Eq + Clone + Send + Sync + 'static {}
impl<T: Hash + Eq + Clone + Send + Sync + 'static> Key for T {}

/// Values the adapters accept.
pub(crate) trait Value: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Value for T {}

/// A cache under test, seen through the operations the workloads use.
pub(crate) trait Adapter<K, V>: Send + Sync + Sized + 'static {
    /// Builds the cache for `spec`, or `None` if this cache cannot be measured in this build (the
    /// table then shows `n/a`).
    fn build(spec: &Spec) -> Option<Self>;
    /// A clone of the value, if present (and not expired).
    fn get(&self, key: &K) -> Option<V>;
    /// Inserts or replaces.
    fn insert(&self, key: K, value: V);
    /// Inserts or replaces with a time to live.
    fn insert_with_ttl(&self, key: K, value: V, ttl: Duration);
    /// Inserts a copy of `payload`, a caller's borrowed bytes, with a time to live when `ttl` is given.
    /// By default the payload is copied into a fresh `V` (what a user of a cache of owned values
    /// does); a cache that copies on insert anyway overrides this, so that it copies once too.
    fn insert_copy(&self, key: K, payload: &[u8], ttl: Option<Duration>)
    where
        V: ValueBytes,
    {
        let Some(value) = V::from_bytes(payload) else {
            return;
        };
        match ttl {
            Some(ttl) => self.insert_with_ttl(key, value, ttl),
            None => self.insert(key, value),
        }
    }
    /// Number of entries held (after `settle`), as the cache reports it.
    fn len(&self) -> u64;
    /// Waits until buffered or asynchronous work (admission, eviction) has been applied, so that a
    /// replay sees the policy as it would be in steady state. A no-op for synchronous caches.
    fn settle(&self) {}
}

/// A workload, run once per cache with the concrete adapter type.
pub(crate) trait Job<K, V> {
    /// What the workload measures.
    type Output;
    /// Runs the workload on `cache`.
    fn run<C: Adapter<K, V>>(self, cache: C) -> Self::Output;
}

/// Builds `peer` for `spec` and runs `job` on it; `None` when the cache is not available.
pub(crate) fn run<K: Key + KeyBytes, V: Value + ValueBytes, J: Job<K, V>>(
    peer: Peer,
    spec: &Spec,
    job: J,
) -> Option<J::Output> {
    let with_ttl = spec.ttl.is_some();
    match peer {
        Peer::Relaycache => relay::Relay::<K, V>::build(spec).map(|c| job.run(c)),
        Peer::RelaycacheBytes => bytes::ByteRelay::<K, V>::build(spec).map(|c| job.run(c)),
        Peer::QuickCache if with_ttl => quick::Quick::<K, (V, std::time::Instant)>::build(spec)
            .map(|c| job.run(Expiring::new(c))),
        Peer::QuickCache => quick::Quick::<K, V>::build(spec).map(|c| job.run(c)),
        Peer::Moka => moka_sync::Moka::<K, V>::build(spec).map(|c| job.run(c)),
        Peer::Stretto => stretto_sync::Stretto::<K, V>::build(spec).map(|c| job.run(c)),
        Peer::Lru if with_ttl => lru_mutex::LruMutex::<K, (V, std::time::Instant)>::build(spec)
            .map(|c| job.run(Expiring::new(c))),
        Peer::Lru => lru_mutex::LruMutex::<K, V>::build(spec).map(|c| job.run(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Smoke;
    impl Job<u64, u64> for Smoke {
        type Output = (Option<u64>, Option<u64>);
        fn run<C: Adapter<u64, u64>>(self, cache: C) -> Self::Output {
            cache.insert(1, 10);
            cache.insert_with_ttl(2, 20, Duration::from_secs(60));
            cache.settle();
            assert_eq!(cache.len(), 2);
            (cache.get(&1), cache.get(&2))
        }
    }

    #[test]
    fn every_available_peer_stores_and_returns_values() {
        for peer in Peer::ALL {
            for ttl in [None, Some(Duration::from_secs(60))] {
                let spec = Spec::new(100, ttl);
                // stretto may drop an insert under contention by design; with settle() it does not.
                assert_eq!(
                    run(peer, &spec, Smoke),
                    Some((Some(10), Some(20))),
                    "{peer:?} ttl {ttl:?}"
                );
            }
        }
    }
}
