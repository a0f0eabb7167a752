//! relaycache-engine, the cache under test: unit weights (the engine's default weigher), `max_cost` =
//! capacity in entries, `num_counters` = 10x capacity.
//!
//! The engine applies inserts synchronously under the shard lock (nothing buffered), so `settle` has
//! nothing to wait for. No `Reaper` thread is started: expired entries are reclaimed only as writes of
//! new keys need their room (the facade's `single` backend adds a reaper; here it would work off the
//! measured threads, during the other caches' runs).

use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// The engine's cache.
pub(crate) struct Relay<K, V>(relaycache_engine::Cache<K, V>);

impl<K: Key, V: Value> Adapter<K, V> for Relay<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        relaycache_engine::Cache::builder()
            .max_cost(spec.capacity)
            .num_counters(spec.num_counters())
            .build()
            .ok()
            .map(Self)
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        self.0.get(key)
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        self.0.insert(key, value);
    }

    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.0.insert_with_ttl(key, value, ttl);
    }
}
