//! `Mutex<lru::LruCache>`: the simplest thing a user would write.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// An LRU behind one mutex.
pub(crate) struct LruMutex<K, V>(Mutex<lru::LruCache<K, V>>);

impl<K: Key, V: Value> LruMutex<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<K, V>> {
        // A panic while holding the lock cannot leave the LRU inconsistent in a way that matters here.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<K: Key, V: Value> Adapter<K, V> for LruMutex<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        let capacity = NonZeroUsize::new(usize::try_from(spec.capacity).ok()?)?;
        Some(Self(Mutex::new(lru::LruCache::new(capacity))))
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    fn len(&self) -> u64 {
        self.lock().len() as u64
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        self.lock().put(key, value);
    }

    /// No TTL in `lru`; [`super::run`] wraps it in [`super::Expiring`] for TTL workloads.
    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, _ttl: Duration) {
        self.lock().put(key, value);
    }
}
