//! stretto 0.9 sync `Cache` (Ristretto's design: sampled LFU, buffered lossy writes).

use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// stretto's synchronous cache, every entry costing 1.
pub(crate) struct Stretto<K, V>(stretto::Cache<K, V>);

impl<K: Key, V: Value> Adapter<K, V> for Stretto<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        let counters = usize::try_from(spec.num_counters()).ok()?;
        let max_cost = i64::try_from(spec.capacity).ok()?;
        stretto::Cache::builder(counters, max_cost)
            .set_ignore_internal_cost(true)
            .finalize()
            .ok()
            .map(Self)
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        self.0.get(key).map(|v| v.value().clone())
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        self.0.insert(key, value, 1);
    }

    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.0.insert_with_ttl(key, value, 1, ttl);
    }

    fn settle(&self) {
        // An error only means the cache is closed, which cannot happen while we hold it.
        let _ = self.0.wait();
    }
}
