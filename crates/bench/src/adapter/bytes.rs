//! relaycache-engine's `ByteCache`: byte keys and values packed into one allocation per entry, `Bytes`
//! values handed out by `get_bytes` (what the facade's `single` backend does). Unit weights here, like
//! every other adapter, so capacities mean entries.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use relaycache_engine::{ByteCache, Cache, Packed};

use super::{Adapter, Key, Spec, Value};

/// Keys that can be viewed as bytes.
pub(crate) trait KeyBytes {
    /// Calls `f` with the key's bytes.
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R;
}

impl KeyBytes for u64 {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.to_le_bytes())
    }
}

impl KeyBytes for String {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

/// Values that convert to and from bytes.
pub(crate) trait ValueBytes: Sized {
    /// The value's bytes.
    fn bytes(&self) -> Cow<'_, [u8]>;
    /// The value back from its bytes (`None` if they do not encode one).
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
    /// The value of `key` in `cache`, decoded from the stored bytes.
    fn get_from(cache: &ByteCache, key: &[u8]) -> Option<Self> {
        cache.get_with(key, Self::from_bytes).flatten()
    }
}

impl ValueBytes for () {
    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&[])
    }

    fn from_bytes(_: &[u8]) -> Option<Self> {
        Some(())
    }
}

impl ValueBytes for u64 {
    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.to_le_bytes().to_vec())
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl ValueBytes for Bytes {
    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Bytes::copy_from_slice(bytes))
    }

    fn get_from(cache: &ByteCache, key: &[u8]) -> Option<Self> {
        cache.get_bytes(key)
    }
}

/// The engine's byte cache, seen as a cache of `K` to `V`.
pub(crate) struct ByteRelay<K, V> {
    cache: ByteCache,
    _types: PhantomData<fn(K) -> V>,
}

impl<K: Key + KeyBytes, V: Value + ValueBytes> Adapter<K, V> for ByteRelay<K, V> {
    fn build(spec: &Spec) -> Option<Self> {
        // The default weigher (1 per entry), not ByteCache's byte weigher: capacities are in entries.
        let inner = Cache::<Packed, ()>::builder()
            .max_cost(spec.capacity)
            .num_counters(spec.num_counters())
            .build()
            .ok()?;
        Some(Self {
            cache: ByteCache::from_cache(inner),
            _types: PhantomData,
        })
    }

    #[inline(always)]
    fn get(&self, key: &K) -> Option<V> {
        key.with_bytes(|k| V::get_from(&self.cache, k))
    }

    fn len(&self) -> u64 {
        self.cache.len() as u64
    }

    #[inline(always)]
    fn insert(&self, key: K, value: V) {
        key.with_bytes(|k| self.cache.insert(k, &value.bytes()));
    }

    #[inline(always)]
    fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        key.with_bytes(|k| self.cache.insert_with_ttl(k, &value.bytes(), ttl));
    }

    #[inline(always)]
    fn insert_copy(&self, key: K, payload: &[u8], ttl: Option<Duration>) {
        key.with_bytes(|k| {
            self.cache
                .insert_with_ttl(k, payload, ttl.unwrap_or(Duration::ZERO));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_bytes() {
        assert_eq!(u64::from_bytes(&7u64.bytes()), Some(7));
        assert_eq!(u64::from_bytes(b"short"), None);
        assert_eq!(
            Bytes::from_bytes(&Bytes::from_static(b"abc").bytes()),
            Some(Bytes::from_static(b"abc"))
        );
        assert_eq!(<()>::from_bytes(&().bytes()), Some(()));
        assert_eq!(7u64.with_bytes(<[u8]>::to_vec), 7u64.to_le_bytes().to_vec());
    }
}
