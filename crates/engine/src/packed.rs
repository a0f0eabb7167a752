//! [`ByteCache`]: the engine specialised for byte keys and values, storing each key and its value in
//! **one** heap allocation ([`Packed`]), which is what the facade's `single` backend uses.
//!
//! A generic `Cache<Vec<u8>, Bytes>` pays two allocations per entry (key and value) plus their handles
//! (24 + 32 bytes); a packed entry is one 16-byte handle and one allocation of `4 + key + value` bytes.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::builder::{BuildError, Builder};
use crate::cache::{Cache, ScanPage};
use crate::stats::Stats;

/// A key and its value in one allocation: `[key length: u32 LE][key][value]`. Hashes, compares and
/// borrows as its key, so a `Cache<Packed, ()>` is looked up by `&[u8]`.
#[derive(Clone)]
pub struct Packed(Box<[u8]>);

impl Packed {
    /// Packs `key` and `value`. Keys longer than `u32::MAX` bytes are not supported (truncated length
    /// would corrupt the split), so they are rejected by returning `None`.
    #[must_use]
    pub fn new(key: &[u8], value: &[u8]) -> Option<Self> {
        let klen = u32::try_from(key.len()).ok()?;
        let mut buf = Vec::with_capacity(4 + key.len() + value.len());
        buf.extend_from_slice(&klen.to_le_bytes());
        buf.extend_from_slice(key);
        buf.extend_from_slice(value);
        Some(Packed(buf.into_boxed_slice()))
    }

    fn split(&self) -> usize {
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.0[..4]);
        4 + u32::from_le_bytes(len) as usize
    }

    /// The key bytes.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        &self.0[4..self.split()]
    }

    /// The value bytes.
    #[must_use]
    pub fn value(&self) -> &[u8] {
        &self.0[self.split()..]
    }

    /// Key bytes + value bytes + [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD): the weight the byte bound
    /// charges for this entry.
    #[must_use]
    pub fn weight(&self) -> u64 {
        (self.0.len() - 4) as u64 + crate::ENTRY_OVERHEAD
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("key_len", &self.key().len())
            .field("value_len", &self.value().len())
            .finish()
    }
}

impl PartialEq for Packed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Packed {}

impl Hash for Packed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Borrow<[u8]> for Packed {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl AsRef<[u8]> for Packed {
    fn as_ref(&self) -> &[u8] {
        self.key()
    }
}

/// A byte-keyed, byte-valued cache bounded in bytes (weight = key + value +
/// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD)), each entry one allocation. Same policy and guarantees as
/// [`Cache`]; values are copied out.
///
/// ```
/// use relaycache_engine::ByteCache;
/// let cache = ByteCache::new(1 << 20, 10_000).unwrap();
/// cache.insert(b"k", b"v");
/// assert_eq!(cache.get(b"k"), Some(b"v".to_vec()));
/// ```
#[derive(Debug)]
pub struct ByteCache {
    inner: Cache<Packed, ()>,
}

impl ByteCache {
    /// A builder with the byte weigher preset; finish with [`ByteCache::from_cache`].
    pub fn builder() -> Builder<Packed, ()> {
        Cache::builder().weigher(|k: &Packed, _| k.weight())
    }

    /// A cache of `max_cost` bytes with `num_counters` admission counters.
    ///
    /// # Errors
    /// A [`BuildError`] for a zero setting.
    pub fn new(max_cost: u64, num_counters: u64) -> Result<Self, BuildError> {
        Ok(Self::from_cache(
            Self::builder()
                .max_cost(max_cost)
                .num_counters(num_counters)
                .build()?,
        ))
    }

    /// Wraps a cache built from [`ByteCache::builder`].
    pub fn from_cache(inner: Cache<Packed, ()>) -> Self {
        ByteCache { inner }
    }

    /// The underlying cache.
    pub fn inner(&self) -> &Cache<Packed, ()> {
        &self.inner
    }

    /// A copy of the value of `key`, if present and not expired.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// Calls `f` with the value of `key` under the shard's read lock (no copy).
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.inner.get_with(key, |k, ()| f(k.value()))
    }

    /// Stores `value` under `key` with no expiry (see [`Cache::insert`]).
    pub fn insert(&self, key: &[u8], value: &[u8]) {
        self.insert_with_ttl(key, value, Duration::ZERO);
    }

    /// Stores `value` under `key` for `ttl` (zero: no expiry).
    pub fn insert_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) {
        match Packed::new(key, value) {
            Some(p) => self.inner.insert_with_ttl(p, (), ttl),
            None => {
                self.inner.remove(key);
            }
        }
    }

    /// Removes `key`; true if it was present and not expired.
    pub fn remove(&self, key: &[u8]) -> bool {
        self.inner.remove(key).is_some()
    }

    /// Tells whether `key` is present and not expired.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.inner.contains_key(key)
    }

    /// See [`Cache::ttl`].
    pub fn ttl(&self, key: &[u8]) -> Option<Option<Duration>> {
        self.inner.ttl(key)
    }

    /// See [`Cache::set_ttl`].
    pub fn set_ttl(&self, key: &[u8], ttl: Option<Duration>) -> bool {
        self.inner.set_ttl(key, ttl)
    }

    /// Keys starting with `prefix`, a page at a time (see [`Cache::scan`]).
    pub fn scan(&self, cursor: u64, count: usize, prefix: &[u8]) -> ScanPage<Vec<u8>> {
        let page = self
            .inner
            .scan(cursor, count, |k| k.key().starts_with(prefix));
        ScanPage {
            cursor: page.cursor,
            keys: page.keys.iter().map(|k| k.key().to_vec()).collect(),
        }
    }

    /// Removes every key starting with `prefix`; returns how many.
    pub fn invalidate_prefix(&self, prefix: &[u8]) -> u64 {
        self.inner.invalidate_prefix(prefix)
    }

    /// See [`Cache::stats`].
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// See [`Cache::len`].
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// See [`Cache::clear`].
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// See [`Cache::run_pending_tasks`].
    pub fn run_pending_tasks(&self) {
        self.inner.run_pending_tasks();
    }

    /// See [`Cache::reclaim_expired`].
    pub fn reclaim_expired(&self, max: usize) -> usize {
        self.inner.reclaim_expired(max)
    }

    /// See [`Cache::update_max_cost`].
    pub fn update_max_cost(&self, max_cost: u64) {
        self.inner.update_max_cost(max_cost);
    }
}
