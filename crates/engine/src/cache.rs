//! [`Cache`]: the sharded, concurrent front of the engine.

use std::borrow::Borrow;
use std::cell::Cell as ThreadCell;
use std::hash::{BuildHasher, Hash};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::builder::Builder;
use crate::clock::Clock;
use crate::loader::Flights;
use crate::shard::{Inserted, Shard};
use crate::stats::{Cause, Stats};
use crate::sync::RwLock;

pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &V, Cause) + Send + Sync>;

/// A shard, padded to its own cache lines.
#[repr(align(128))]
pub(crate) struct Cell<K, V> {
    pub(crate) lock: RwLock<Shard<K, V>>,
    pub(crate) flights: Flights<K, V>,
}

/// Stripes of the hit and miss counters. Each of the first `STRIPES - 1` stripes is owned by at most
/// one live thread at a time (slots are handed out and returned when the thread exits), so its owner
/// counts with a plain load and store, no locked read-modify-write and no shared cache line. Threads
/// beyond that share the last stripe and count with `fetch_add`. Counts are exact either way.
const STRIPES: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    /// `[misses, hits]`, indexed by whether the lookup hit.
    lookups: [AtomicU64; 2],
}

/// Free exclusive stripe slots (`None` until first use).
static FREE_SLOTS: std::sync::Mutex<Option<Vec<usize>>> = std::sync::Mutex::new(None);

/// A thread's stripe slot, returned to the pool when the thread exits.
struct Slot(usize);

impl Slot {
    fn acquire() -> Slot {
        let mut free = FREE_SLOTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let free = free.get_or_insert_with(|| (0..STRIPES - 1).rev().collect());
        Slot(free.pop().unwrap_or(STRIPES - 1))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Counts made after this (by other thread-local destructors) go to the shared stripe, since
        // the slot may be handed to another thread.
        let _ = STRIPE.try_with(|s| s.set(STRIPES - 1));
        if self.0 < STRIPES - 1 {
            let mut free = FREE_SLOTS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(free) = free.as_mut() {
                free.push(self.0);
            }
        }
    }
}

thread_local! {
    /// This thread's stripe, `usize::MAX` until its first count. Const-initialised and without a
    /// destructor, so reading it costs no lazy-initialisation check on the hot path.
    static STRIPE: ThreadCell<usize> = const { ThreadCell::new(usize::MAX) };
    /// Owns the slot and gives it back when the thread exits (touched once per thread).
    static SLOT: Slot = Slot::acquire();
}

/// This thread's stripe index.
#[inline]
fn stripe() -> usize {
    let s = STRIPE.get();
    if s != usize::MAX {
        return s;
    }
    claim_stripe()
}

/// First count on this thread: takes a stripe slot (kept out of line, so the hot path stays small
/// enough to inline).
#[cold]
#[inline(never)]
fn claim_stripe() -> usize {
    let s = SLOT.try_with(|s| s.0).unwrap_or(STRIPES - 1);
    STRIPE.set(s);
    s
}

/// Replays the read log of the shard of `cell` (see `read_log`) if its write lock is free: called by
/// the reader whose hit filled the log. Out of line, off the common path of a hit.
#[inline(never)]
fn replay_reads<K: Hash, V>(cell: &Cell<K, V>) {
    if let Some(mut shard) = cell.lock.try_write() {
        shard.replay_reads();
    }
}

/// Counts a lookup (a hit or a miss) on this thread's stripe.
#[inline]
fn count(stripes: &[Stripe; STRIPES], hit: bool) {
    let slot = stripe() & (STRIPES - 1);
    let counter = &stripes[slot].lookups[usize::from(hit)];
    if slot < STRIPES - 1 {
        // This thread is the stripe's only writer.
        counter.store(counter.load(Relaxed) + 1, Relaxed);
    } else {
        counter.fetch_add(1, Relaxed);
    }
}

/// The deadline `ttl` after `now` in clock nanoseconds; 0 (none) for a zero `ttl`, never 0 otherwise.
pub(crate) fn deadline_after(now: u64, ttl: Duration) -> u64 {
    if ttl.is_zero() {
        return 0;
    }
    let ttl = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
    now.saturating_add(ttl).max(1)
}

/// One page of [`Cache::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage<K> {
    /// Where to continue; 0 when the scan is complete.
    pub cursor: u64,
    /// Keys of this page.
    pub keys: Vec<K>,
}

/// A concurrent cache bounded by the total weight of its entries, with TinyLFU admission and per-entry
/// time to live. See the [crate documentation](crate) for the guarantees.
///
/// ```
/// use relaycache_engine::Cache;
/// let cache = Cache::<String, u64>::builder().max_cost(1000).build().unwrap();
/// cache.insert("a".to_owned(), 1);
/// assert_eq!(cache.get("a"), Some(1));
/// assert_eq!(cache.remove("a"), Some(1));
/// assert!(!cache.contains_key("a"));
/// ```
pub struct Cache<K, V> {
    cells: Box<[Cell<K, V>]>,
    /// A key's shard is `(hash >> shard_shift) & shard_mask`: bits just below the 7 the shard's table
    /// takes as tags, above the ones it takes for buckets.
    shard_shift: u32,
    shard_mask: u64,
    hasher: foldhash::fast::RandomState,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
    max_cost: AtomicU64,
    stripes: Box<[Stripe; STRIPES]>,
}

impl<K, V> std::fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("shards", &self.cells.len())
            .field("max_cost", &self.max_cost.load(Relaxed))
            .finish_non_exhaustive()
    }
}

/// Removed entries waiting for the listener: collected under the lock, announced after it.
pub(crate) type Removed<K, V> = Option<Vec<(K, V, Cause)>>;

impl<K, V> Cache<K, V> {
    /// Starts building a cache.
    pub fn builder() -> Builder<K, V> {
        Builder::default()
    }

    pub(crate) fn from_parts(
        max_cost: u64,
        counters: u64,
        shards: usize,
        weigher: Option<Weigher<K, V>>,
        listener: Option<Listener<K, V>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let n = shards as u64;
        let now = clock.now_nanos();
        let hasher = foldhash::fast::RandomState::default();
        let cells = (0..n)
            .map(|i| Cell {
                lock: RwLock::new(Shard::new(
                    share(max_cost, n, i),
                    counters / n,
                    now,
                    hasher.clone(),
                )),
                flights: Flights::new(),
            })
            .collect();
        Cache {
            cells,
            shard_shift: 57 - shards.trailing_zeros(),
            shard_mask: n - 1,
            hasher,
            weigher,
            listener,
            clock,
            max_cost: AtomicU64::new(max_cost),
            stripes: Box::default(),
        }
    }
}

impl<K: Hash, V> Cache<K, V> {
    #[inline]
    pub(crate) fn cell(&self, hash: u64) -> &Cell<K, V> {
        &self.cells[self.cell_index(hash)]
    }

    /// The shard at `index` (from [`Cache::cell_index`]).
    #[inline]
    pub(crate) fn cell_at(&self, index: usize) -> &Cell<K, V> {
        &self.cells[index]
    }

    /// The index of the shard of `hash` in `cells`.
    #[inline]
    pub(crate) fn cell_index(&self, hash: u64) -> usize {
        ((hash >> self.shard_shift) & self.shard_mask) as usize
    }

    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    fn deadline(&self, ttl: Duration) -> u64 {
        deadline_after(self.now(), ttl)
    }

    pub(crate) fn listener(&self) -> Option<&Listener<K, V>> {
        self.listener.as_ref()
    }

    pub(crate) fn sink(&self) -> Removed<K, V> {
        self.listener.as_ref().map(|_| Vec::new())
    }

    pub(crate) fn announce(&self, removed: Removed<K, V>) {
        if let (Some(listener), Some(removed)) = (&self.listener, removed) {
            for (k, v, cause) in removed {
                let _ = catch_unwind(AssertUnwindSafe(|| listener(&k, &v, cause)));
            }
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.cells.len()
    }

    /// Keys held, including entries expired but not reclaimed yet (see
    /// [`run_pending_tasks`](Cache::run_pending_tasks)).
    pub fn len(&self) -> usize {
        self.cells.iter().map(|c| c.lock.read().len()).sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight held now.
    pub fn weighted_size(&self) -> u64 {
        self.cells.iter().map(|c| c.lock.read().used()).sum()
    }

    /// The current bound.
    pub fn max_cost(&self) -> u64 {
        self.max_cost.load(Relaxed)
    }

    /// Counters and sizes, summed over the shards.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            max_cost: self.max_cost(),
            ..Stats::default()
        };
        for st in self.stripes.iter() {
            s.misses += st.lookups[0].load(Relaxed);
            s.hits += st.lookups[1].load(Relaxed);
        }
        for c in self.cells.iter() {
            let shard = c.lock.read();
            shard.counts.add_to(&mut s);
            s.key_count += shard.len() as u64;
            s.bytes_used += shard.used();
        }
        s
    }

    /// Reclaims every expired entry now, each shard in one go (see
    /// [`reclaim_expired`](Cache::reclaim_expired) for bounded batches). Tests call it to observe
    /// reclamation deterministically.
    pub fn run_pending_tasks(&self) {
        let now = self.now();
        for c in self.cells.iter() {
            self.expire_in(c, now, true, usize::MAX);
        }
    }

    /// Reclaims up to `budget` expired entries of shard `c` as of `now` (see `Shard::expire`); the
    /// listener hears of them after the lock is released. Returns how many.
    fn expire_in(&self, c: &Cell<K, V>, now: u64, exact: bool, budget: usize) -> usize {
        let mut removed = self.sink();
        let n = c.lock.write().expire(now, exact, budget, removed.as_mut());
        self.announce(removed);
        n
    }

    /// Reclaims at most `max` expired entries and returns how many it reclaimed. Fewer than `max` means
    /// each shard was visited and had none left waiting, or was still sorting timers that are not due
    /// yet (bounded work per call; the next call goes on). Writes reclaim an expired entry only when
    /// they need its room (a new key in a full shard takes an expired entry's place before a live
    /// one's), so a cache that receives no new keys keeps its expired entries' memory (never returned,
    /// always within `max_cost`) until this is called; a [`Reaper`](crate::Reaper) calls it for you.
    /// Meant for a background task that calls it now and then in small batches: each shard's lock is
    /// held for at most `max` reclaims plus a bounded step of the timer wheel, never for the whole
    /// backlog (unlike [`run_pending_tasks`](Cache::run_pending_tasks)).
    pub fn reclaim_expired(&self, max: usize) -> usize {
        let now = self.now();
        let mut total = 0;
        for c in self.cells.iter() {
            if total >= max {
                break;
            }
            // A shard without timers costs a read lock, so a reaper does not contend with writers.
            if !c.lock.read().has_timers() {
                continue;
            }
            total += self.expire_in(c, now, false, max - total);
        }
        total
    }

    /// Removes every entry (cause [`Cause::Explicit`]) and forgets the admission history.
    pub fn clear(&self) {
        for c in self.cells.iter() {
            let mut removed = self.sink();
            c.lock.write().clear(removed.as_mut());
            self.announce(removed);
        }
    }

    /// Removes every entry whose key satisfies `pred`; returns how many. O(entries).
    pub fn invalidate_if(&self, mut pred: impl FnMut(&K) -> bool) -> u64 {
        self.invalidate_entries_if(|k, _| pred(k))
    }

    /// Removes every entry for which `pred(key, value)` holds, each shard under its write lock (so no
    /// write of a key can interleave with its test); returns how many. O(entries).
    pub fn invalidate_entries_if(&self, mut pred: impl FnMut(&K, &V) -> bool) -> u64 {
        let mut n = 0;
        for c in self.cells.iter() {
            let mut removed = self.sink();
            n += c.lock.write().remove_if(&mut pred, removed.as_mut());
            self.announce(removed);
        }
        n
    }

    /// Removes every entry whose key starts with `prefix` (an empty prefix clears everything); returns
    /// how many.
    pub fn invalidate_prefix(&self, prefix: &[u8]) -> u64
    where
        K: AsRef<[u8]>,
    {
        self.invalidate_if(|k| k.as_ref().starts_with(prefix))
    }

    /// Changes the bound at run time, evicting down to it at once.
    pub fn update_max_cost(&self, max_cost: u64) {
        let max_cost = max_cost.max(1);
        self.max_cost.store(max_cost, Relaxed);
        let n = self.cells.len() as u64;
        for (i, c) in self.cells.iter().enumerate() {
            let mut removed = self.sink();
            c.lock
                .write()
                .set_capacity(share(max_cost, n, i as u64), removed.as_mut());
            self.announce(removed);
        }
    }

    /// Lists up to `count` live keys satisfying `pred`, a page at a time: start with cursor 0; the scan
    /// is complete when the returned cursor is 0. Keys present for the whole scan are returned exactly
    /// once; keys added or removed meanwhile may or may not be.
    pub fn scan(&self, cursor: u64, count: usize, mut pred: impl FnMut(&K) -> bool) -> ScanPage<K>
    where
        K: Clone,
    {
        let count = count.max(1);
        let now = self.now();
        let mut shard = (cursor >> 40) as usize;
        let mut from = (cursor & ((1 << 40) - 1)) as usize;
        let mut keys = Vec::new();
        while shard < self.cells.len() {
            let left = count - keys.len();
            let next = self.cells[shard]
                .lock
                .read()
                .scan(from, left, now, &mut pred, &mut keys);
            match next {
                Some(slot) => {
                    return ScanPage {
                        cursor: ((shard as u64) << 40) | slot as u64,
                        keys,
                    };
                }
                None => {
                    shard += 1;
                    from = 0;
                }
            }
            if keys.len() >= count && shard < self.cells.len() {
                return ScanPage {
                    cursor: (shard as u64) << 40,
                    keys,
                };
            }
        }
        ScanPage { cursor: 0, keys }
    }

    /// Checks every shard's internal invariants (tests).
    ///
    /// # Errors
    /// A description of the first broken invariant.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for c in self.cells.iter() {
            c.lock.read().check()?;
        }
        Ok(())
    }
}

impl<K: Hash + Eq, V> Cache<K, V> {
    /// Returns a clone of the value of `key` if it is present and not expired.
    #[inline(always)]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with(key, |_, v| v.clone())
    }

    /// Calls `f` with the stored key and value of `key` if present and not expired (a hit), under the
    /// shard's read lock: keep `f` short and do not call the cache from it.
    ///
    /// Always inlined, as are the lookup steps under it: the whole hit path is a few dozen
    /// instructions, and a call frame around them costs a measurable share of a lookup.
    #[inline(always)]
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&K, &V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let cell = self.cell(hash);
        let shard = cell.lock.read();
        let mut log_full = false;
        let r = shard.hit(hash, key, || self.now()).map(|h| {
            log_full = h.log_full;
            f(&h.entry.key, &h.entry.value)
        });
        drop(shard);
        count(&self.stripes, r.is_some());
        if log_full {
            replay_reads(cell);
        }
        r
    }

    /// Tells whether `key` is present and not expired (does not count as a hit or miss).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash)
            .lock
            .read()
            .get(hash, key, || self.now())
            .is_some()
    }

    /// The remaining time to live of `key`: `None` when absent or expired, `Some(None)` when it never
    /// expires, `Some(Some(remaining))` otherwise.
    pub fn ttl<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let now = self.now();
        let shard = self.cell(hash).lock.read();
        let (_, deadline) = shard.get_timed(hash, key, || now)?;
        Some((deadline != 0).then(|| Duration::from_nanos(deadline - now)))
    }

    /// Stores `value` under `key` with no expiry, replacing any previous value and TTL. The write is
    /// visible to the next `get` on any thread, unless the admission policy declines a new key (counted
    /// in [`Stats::rejections`], the key is then absent).
    pub fn insert(&self, key: K, value: V) {
        self.insert_at(key, value, 0, 0);
    }

    /// As [`insert`](Cache::insert), expiring after `ttl`. A zero `ttl` means no expiry.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            // As `insert`: the clock is read only if the shard holds timed entries.
            self.insert_at(key, value, 0, 0);
            return;
        }
        let now = self.now();
        self.insert_at(key, value, deadline_after(now, ttl), now);
    }

    pub(crate) fn weigh(&self, key: &K, value: &V) -> u64 {
        match &self.weigher {
            None => 1,
            Some(w) => catch_unwind(AssertUnwindSafe(|| w(key, value))).unwrap_or(u64::MAX),
        }
    }

    /// Inserts with an absolute deadline (0: none); reports what happened. `now` is the clock read
    /// that computed the deadline (read outside the shard lock, so the lock is held for less time);
    /// with no deadline it is ignored and the clock is read only if the shard has timers.
    pub(crate) fn insert_at(&self, key: K, value: V, deadline: u64, now: u64) -> bool {
        let cost = self.weigh(&key, &value);
        let hash = self.hash(&key);
        let cell = self.cell(hash);
        let mut removed = self.sink();
        let (outcome, _replaced) = {
            let mut shard = cell.lock.write();
            // The clock matters to a write only if the shard holds timed entries (an expired one may
            // be replaced, or give its room).
            let now = match (deadline, shard.has_timers()) {
                (0, true) => self.now(),
                (0, false) => 0,
                _ => now,
            };
            shard.insert(hash, key, value, cost, deadline, now, removed.as_mut())
        };
        // `_replaced`, the value an update displaced, is dropped here, after the lock is released.
        self.announce(removed);
        outcome != Inserted::Rejected
    }

    /// Removes `key` and returns its value if it was present and not expired.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let (k, v, cause) = self
            .cell(hash)
            .lock
            .write()
            .remove(hash, key, || self.now())?;
        if let Some(listener) = &self.listener {
            let _ = catch_unwind(AssertUnwindSafe(|| listener(&k, &v, cause)));
        }
        (cause == Cause::Explicit).then_some(v)
    }

    /// Sets (`Some`) or removes (`None`) the time to live of a present key without touching its value;
    /// false when the key is absent or expired. `Some(Duration::ZERO)` removes the expiry too.
    pub fn set_ttl<Q>(&self, key: &Q, ttl: Option<Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let deadline = ttl.map_or(0, |t| self.deadline(t));
        let now = self.now();
        self.cell(hash)
            .lock
            .write()
            .set_deadline(hash, key, deadline, now)
    }
}

/// Shard `i`'s share of `total` split `n` ways (the shares sum to `total`).
fn share(total: u64, n: u64, i: u64) -> u64 {
    total / n + u64::from(i < total % n)
}
