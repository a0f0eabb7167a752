//! [`Cache::compute`]: read, decide and write one key under its shard's write lock, so that a
//! read-modify-write (set-if-absent, increment, append, take) is atomic against every other write of
//! that key without a second layer of locks.

use std::borrow::Borrow;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::cache::{Cache, deadline_after};
use crate::shard::Hit;

/// The entry [`Cache::compute`] found: present and not expired.
#[derive(Debug)]
pub struct Current<'a, K, V> {
    /// The stored key.
    pub key: &'a K,
    /// The stored value.
    pub value: &'a V,
    /// Time left before it expires; `None` when it never does.
    pub ttl: Option<Duration>,
}

/// The expiry of a value that [`Change::Put`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry.
    Never,
    /// Expires this long from now (zero: no expiry, as [`Cache::insert_with_ttl`]).
    After(Duration),
    /// The same absolute deadline as the entry it replaces (none when there was no entry), exactly:
    /// not recomputed from the time left.
    Keep,
}

impl Expiry {
    /// The deadline (engine nanoseconds; 0 none) this expiry gives an entry written at `now` in place
    /// of one whose deadline was `kept`.
    fn deadline(self, now: u64, kept: u64) -> u64 {
        match self {
            Expiry::Never => 0,
            Expiry::After(ttl) => deadline_after(now, ttl),
            Expiry::Keep => kept,
        }
    }
}

/// What [`Cache::compute`] does with its key once the closure has decided.
#[derive(Debug)]
pub enum Change<K, V> {
    /// Leaves the entry (or its absence) as it is.
    Keep,
    /// Removes the entry.
    Remove,
    /// Stores `value` under `key`, replacing the entry. `key` must equal the key computed on; a
    /// different key is a contract violation: the change is then not applied (and debug builds panic).
    Put {
        /// The key, equal to the one computed on.
        key: K,
        /// The new value.
        value: V,
        /// Its expiry.
        expiry: Expiry,
    },
}

impl<K: Hash + Eq, V> Cache<K, V> {
    /// Calls `f` with the entry of `key` (`None` when absent or expired) under the shard's write lock
    /// and applies the [`Change`] it returns before the lock is released; returns `f`'s second result.
    /// No other write of the key can come between the read and the change, so this is how
    /// read-modify-write operations stay atomic.
    ///
    /// The lock is held while `f` and the weigher run: keep `f` short and do not call the cache from
    /// it (that would deadlock on the shard). A [`Change::Put`] of a new key is subject to admission
    /// like [`insert`](Cache::insert) (it may be declined and counted in
    /// [`Stats::rejections`](crate::Stats::rejections)); an update of a present key is always kept.
    /// Reading through `compute` counts neither a hit nor a miss, but a present entry counts as used
    /// for the policy. Listener calls for removed entries happen after the lock is released.
    ///
    /// ```
    /// use relaycache_engine::{Cache, Change, Expiry};
    /// let cache = Cache::<String, u64>::builder().max_cost(100).build().unwrap();
    /// let incr = |c: &Cache<String, u64>| {
    ///     c.compute("hits", |cur| {
    ///         let next = cur.map_or(0, |e| *e.value) + 1;
    ///         (Change::Put { key: "hits".to_owned(), value: next, expiry: Expiry::Keep }, next)
    ///     })
    /// };
    /// assert_eq!(incr(&cache), 1);
    /// assert_eq!(incr(&cache), 2);
    /// ```
    pub fn compute<Q, R>(
        &self,
        key: &Q,
        f: impl FnOnce(Option<Current<'_, K, V>>) -> (Change<K, V>, R),
    ) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let cell = self.cell(hash);
        let now = self.now();
        let mut removed = self.sink();
        // What the change displaced: dropped, and a removal announced, after the lock is released.
        let mut replaced = None;
        let mut gone = None;
        let r = {
            let mut shard = cell.lock.write();
            let (change, r, kept_deadline) = match shard.hit(hash, key, || now) {
                Some(Hit {
                    entry: e, deadline, ..
                }) => {
                    let ttl = (deadline != 0).then(|| Duration::from_nanos(deadline - now));
                    let current = Current {
                        key: &e.key,
                        value: &e.value,
                        ttl,
                    };
                    let (change, r) = f(Some(current));
                    (change, r, deadline)
                }
                None => {
                    let (change, r) = f(None);
                    (change, r, 0)
                }
            };
            match change {
                Change::Keep => {}
                Change::Remove => gone = shard.remove(hash, key, || now),
                Change::Put { key: k, value, .. } if k.borrow() != key => {
                    debug_assert!(false, "Change::Put with a key other than the computed one");
                    replaced = Some((k, value));
                }
                Change::Put {
                    key: k,
                    value,
                    expiry,
                } => {
                    let deadline = expiry.deadline(now, kept_deadline);
                    let cost = self.weigh(&k, &value);
                    replaced = shard
                        .insert(hash, k, value, cost, deadline, now, removed.as_mut())
                        .1;
                }
            }
            r
        };
        drop(replaced);
        if let (Some(listener), Some((k, v, cause))) = (self.listener(), gone) {
            let _ = catch_unwind(AssertUnwindSafe(|| listener(&k, &v, cause)));
        }
        self.announce(removed);
        r
    }

    /// As [`compute`](Cache::compute) for several keys at once: calls `f` with the entry of each key of
    /// `keys` (in order; `None` when absent or expired) while holding the write locks of all their
    /// shards, and applies the changes `f` returns (the i-th to the i-th key; missing ones are
    /// [`Change::Keep`], extra ones are ignored) before any lock is released. No other write of any of
    /// the keys can come between the reads and the changes, so this is how multi-key operations
    /// (rename, copy, set-if-all-absent) stay atomic. Shard locks are taken in one global order, so
    /// concurrent calls never deadlock. A key listed twice is read once per listing, from the state
    /// before any change, and its changes apply in order.
    ///
    /// All the entries are read at one instant: an entry's [`Current::ttl`] given back as
    /// [`Expiry::After`] reproduces its deadline exactly, on another key too.
    ///
    /// The same cautions as for `compute` apply: keep `f` short and do not call the cache from it.
    pub fn compute_many<Q, R>(
        &self,
        keys: &[&Q],
        f: impl FnOnce(&[Option<Current<'_, K, V>>]) -> (Vec<Change<K, V>>, R),
    ) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(*k)).collect();
        let cells: Vec<usize> = hashes.iter().map(|&h| self.cell_index(h)).collect();
        let mut order = cells.clone();
        order.sort_unstable();
        order.dedup();
        // Each key's guard: its cell's place in `order`.
        let place: Vec<usize> = cells
            .iter()
            .map(|c| order.partition_point(|o| o < c))
            .collect();
        let mut removed = self.sink();
        let mut replaced = Vec::new();
        let mut gone = Vec::new();
        let r = {
            let mut guards: Vec<_> = order
                .iter()
                .map(|&c| self.cell_at(c).lock.write())
                .collect();
            let now = self.now();
            let mut deadlines = Vec::with_capacity(keys.len());
            let (changes, r) = {
                let mut currents = Vec::with_capacity(keys.len());
                for (i, key) in keys.iter().enumerate() {
                    match guards[place[i]].hit(hashes[i], *key, || now) {
                        Some(Hit {
                            entry: e, deadline, ..
                        }) => {
                            currents.push(Some(Current {
                                key: &e.key,
                                value: &e.value,
                                ttl: (deadline != 0).then(|| Duration::from_nanos(deadline - now)),
                            }));
                            deadlines.push(deadline);
                        }
                        None => {
                            currents.push(None);
                            deadlines.push(0);
                        }
                    }
                }
                f(&currents)
            };
            for (i, change) in changes.into_iter().enumerate().take(keys.len()) {
                let (hash, key, shard) = (hashes[i], keys[i], &mut guards[place[i]]);
                match change {
                    Change::Keep => {}
                    Change::Remove => gone.extend(shard.remove(hash, key, || now)),
                    Change::Put { key: k, value, .. } if k.borrow() != key => {
                        debug_assert!(false, "Change::Put with a key other than the computed one");
                        replaced.push((k, value));
                    }
                    Change::Put {
                        key: k,
                        value,
                        expiry,
                    } => {
                        let deadline = expiry.deadline(now, deadlines[i]);
                        let cost = self.weigh(&k, &value);
                        replaced.extend(
                            shard
                                .insert(hash, k, value, cost, deadline, now, removed.as_mut())
                                .1,
                        );
                    }
                }
            }
            r
        };
        drop(replaced);
        if let Some(listener) = self.listener() {
            for (k, v, cause) in gone {
                let _ = catch_unwind(AssertUnwindSafe(|| listener(&k, &v, cause)));
            }
        }
        self.announce(removed);
        r
    }
}
