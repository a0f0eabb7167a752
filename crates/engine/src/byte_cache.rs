//! [`ByteCache`]: the engine specialised for byte keys and values, storing each key and its value in
//! **one** shared heap allocation ([`Packed`]), which is what the facade's `single` backend uses.

use std::time::Duration;

use bytes::Bytes;

use crate::builder::{BuildError, Builder};
use crate::cache::{Cache, ScanPage};
use crate::compute::{Change, Expiry};
use crate::packed::Packed;
use crate::stats::Stats;

/// Values up to this many bytes are copied out by [`ByteCache::get_bytes`]; longer ones are shared.
/// A copy this small costs one allocation, as sharing does (the `Bytes` owner cell), and spares the
/// two atomic updates of the buffer's count, which threads reading the same hot key would contend on.
pub const COPY_OUT_MAX: usize = 64;

/// The entry [`ByteCache::compute`] found: present and not expired.
#[derive(Debug)]
pub struct ByteEntry<'a> {
    packed: &'a Packed,
    /// Time left before it expires; `None` when it never does.
    pub ttl: Option<Duration>,
}

impl ByteEntry<'_> {
    /// The stored value.
    pub fn value(&self) -> &[u8] {
        self.packed.value()
    }

    /// The stored value as a [`Bytes`], shared or copied as [`ByteCache::get_bytes`] does.
    pub fn to_bytes(&self) -> Bytes {
        out_of(self.packed).into_bytes()
    }
}

/// What [`ByteCache::compute`] does with its key once the closure has decided.
#[derive(Debug)]
pub enum ByteChange<B> {
    /// Leaves the entry (or its absence) as it is.
    Keep,
    /// Removes the entry.
    Remove,
    /// Stores a copy of these bytes as the key's value, with this expiry.
    Put(B, Expiry),
}

/// The engine's change for `key` that `change` asks for (a value too large to pack removes the key).
fn packed_change<B: AsRef<[u8]>>(key: &[u8], change: ByteChange<B>) -> Change<Packed, ()> {
    match change {
        ByteChange::Keep => Change::Keep,
        ByteChange::Remove => Change::Remove,
        ByteChange::Put(value, expiry) => match Packed::new(key, value.as_ref()) {
            Some(packed) => Change::Put {
                key: packed,
                value: (),
                expiry,
            },
            None => Change::Remove,
        },
    }
}

/// What [`ByteCache::get_bytes`] takes out of the read lock.
enum Out {
    Copied(Bytes),
    Shared(Packed),
}

impl Out {
    fn into_bytes(self) -> Bytes {
        match self {
            Out::Copied(value) => value,
            Out::Shared(packed) => packed.into_value_bytes(),
        }
    }
}

/// A hit's value: a copy when it is short, another reference to the buffer otherwise.
#[inline]
fn out_of(packed: &Packed) -> Out {
    let value = packed.value();
    if value.len() <= COPY_OUT_MAX {
        Out::Copied(Bytes::copy_from_slice(value))
    } else {
        Out::Shared(packed.clone())
    }
}

/// A byte-keyed, byte-valued cache bounded in bytes (weight = key + value +
/// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD)), each entry one allocation. Same policy and guarantees as
/// [`Cache`]. Values are copied in; [`get_bytes`](ByteCache::get_bytes) hands a value out as a
/// [`Bytes`] that shares the stored buffer (the bytes are never written after the insert, so a value
/// handed out never changes, even when the key is rewritten or evicted: the buffer lives as long as
/// the last handle).
///
/// ```
/// use relaycache_engine::ByteCache;
/// let cache = ByteCache::new(1 << 20, 10_000).unwrap();
/// cache.insert(b"k", b"v");
/// assert_eq!(cache.get_bytes(b"k").as_deref(), Some(&b"v"[..]));
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

    /// The value of `key`, if present and not expired, as a [`Bytes`]: values longer than
    /// [`COPY_OUT_MAX`] share the stored buffer (one more reference, no copy; the reference is
    /// taken under the shard's read lock, the `Bytes` made after it), shorter ones are copied.
    #[inline]
    pub fn get_bytes(&self, key: &[u8]) -> Option<Bytes> {
        self.inner
            .get_with(key, |k, ()| out_of(k))
            .map(Out::into_bytes)
    }

    /// Calls `f` with the entry of `key` (`None` when absent or expired) under the shard's write lock
    /// and applies the [`ByteChange`] it returns before the lock is released: an atomic
    /// read-modify-write of one key (see [`Cache::compute`] for the rules: keep `f` short, do not
    /// call the cache from it, a new key is subject to admission). A value too long to pack removes
    /// the key, as [`insert`](ByteCache::insert) does.
    ///
    /// ```
    /// use relaycache_engine::{ByteCache, ByteChange, Expiry};
    /// let cache = ByteCache::new(1 << 20, 1000).unwrap();
    /// let append = |suffix: &[u8]| {
    ///     cache.compute(b"log", |cur| {
    ///         let mut v = cur.map_or_else(Vec::new, |e| e.value().to_vec());
    ///         v.extend_from_slice(suffix);
    ///         let len = v.len();
    ///         (ByteChange::Put(v, Expiry::Keep), len)
    ///     })
    /// };
    /// assert_eq!(append(b"ab"), 2);
    /// assert_eq!(append(b"cd"), 4);
    /// assert_eq!(cache.get(b"log"), Some(b"abcd".to_vec()));
    /// ```
    pub fn compute<B: AsRef<[u8]>, R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<ByteEntry<'_>>) -> (ByteChange<B>, R),
    ) -> R {
        self.inner.compute(key, |cur| {
            let entry = cur.map(|c| ByteEntry {
                packed: c.key,
                ttl: c.ttl,
            });
            let (change, r) = f(entry);
            (packed_change(key, change), r)
        })
    }

    /// As [`compute`](ByteCache::compute) for several keys at once, atomically: see
    /// [`Cache::compute_many`]. `f` gets the entry of each key of `keys` in order and returns one change
    /// per key (missing ones are [`ByteChange::Keep`]).
    ///
    /// ```
    /// use relaycache_engine::{ByteCache, ByteChange, Expiry};
    /// let cache = ByteCache::new(1 << 20, 1000).unwrap();
    /// cache.insert(b"from", b"v");
    /// // Rename: the value and its deadline move, in one step no other write can come between.
    /// let moved = cache.compute_many(&[b"from", b"to"], |cur| match &cur[0] {
    ///     Some(e) => {
    ///         let expiry = e.ttl.map_or(Expiry::Never, Expiry::After);
    ///         (vec![ByteChange::Remove, ByteChange::Put(e.value().to_vec(), expiry)], true)
    ///     }
    ///     None => (Vec::new(), false),
    /// });
    /// assert!(moved);
    /// assert_eq!(cache.get(b"to"), Some(b"v".to_vec()));
    /// assert_eq!(cache.get(b"from"), None);
    /// ```
    pub fn compute_many<B: AsRef<[u8]>, R>(
        &self,
        keys: &[&[u8]],
        f: impl FnOnce(&[Option<ByteEntry<'_>>]) -> (Vec<ByteChange<B>>, R),
    ) -> R {
        self.inner.compute_many(keys, |cur| {
            let entries: Vec<Option<ByteEntry<'_>>> = cur
                .iter()
                .map(|c| {
                    c.as_ref().map(|c| ByteEntry {
                        packed: c.key,
                        ttl: c.ttl,
                    })
                })
                .collect();
            let (changes, r) = f(&entries);
            let changes = changes
                .into_iter()
                .zip(keys)
                .map(|(change, key)| packed_change(key, change))
                .collect();
            (changes, r)
        })
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
