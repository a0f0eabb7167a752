//! TTL emulation for caches without per-entry expiry: the value is stored with its deadline and an
//! expired value is treated as absent on `get`, which is what a user of such a cache would write.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::{Adapter, Spec};

/// Wraps a cache of `(V, deadline)` into a cache of `V` with per-entry TTL.
pub(crate) struct Expiring<C, K, V> {
    inner: C,
    _types: PhantomData<fn(K, V)>,
}

impl<C, K, V> Expiring<C, K, V> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: C) -> Self {
        Self {
            inner,
            _types: PhantomData,
        }
    }
}

/// Far enough in the future to mean "no TTL".
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl<K, V, C> Adapter<K, V> for Expiring<C, K, V>
where
    C: Adapter<K, (V, Instant)>,
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn build(spec: &Spec) -> Option<Self> {
        C::build(spec).map(Self::new)
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        match self.inner.get(key) {
            Some((value, deadline)) if Instant::now() < deadline => Some(value),
            _ => None,
        }
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        self.inner.insert(key, (value, Instant::now() + NEVER));
    }

    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.inner.insert(key, (value, Instant::now() + ttl));
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn settle(&self) {
        self.inner.settle();
    }
}
