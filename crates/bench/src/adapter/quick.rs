//! quick_cache 0.7 `sync::Cache` with unit weights.

use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// quick_cache's concurrent cache.
pub(crate) struct Quick<K, V>(quick_cache::sync::Cache<K, V>);

impl<K: Key, V: Value> Adapter<K, V> for Quick<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        Some(Self(quick_cache::sync::Cache::new(
            usize::try_from(spec.capacity).ok()?,
        )))
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

    /// quick_cache has no TTL; [`super::run`] wraps it in [`super::Expiring`] for TTL workloads.
    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, _ttl: Duration) {
        self.0.insert(key, value);
    }
}
