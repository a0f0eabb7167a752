//! moka 0.12 `sync::Cache` (TinyLFU admission, LRU eviction, asynchronous maintenance).

use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// moka's synchronous cache.
pub(crate) struct Moka<K, V>(moka::sync::Cache<K, V>);

impl<K: Key, V: Value> Adapter<K, V> for Moka<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        let mut builder = moka::sync::Cache::builder().max_capacity(spec.capacity);
        if let Some(ttl) = spec.ttl {
            builder = builder.time_to_live(ttl);
        }
        Some(Self(builder.build()))
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        self.0.get(key)
    }

    fn len(&self) -> u64 {
        self.0.entry_count()
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        self.0.insert(key, value);
    }

    /// Every insert of a TTL workload uses the same TTL, configured cache-wide in [`Self::build`].
    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, _ttl: Duration) {
        self.0.insert(key, value);
    }

    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}
