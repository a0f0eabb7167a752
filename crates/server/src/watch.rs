//! `WATCH`: which clients watch which keys, and whether a watched key changed before the client's `EXEC`.
//!
//! Two checks, both needed:
//! - [`Watches`], one per server: key → the sessions watching it, each with a shared dirty flag. Every
//!   write command run by any client of this server marks the watchers of the keys it names dirty
//!   ([`Watches::touch_command`]); `FLUSHDB`/`FLUSHALL` mark every watcher. When nobody watches, a write
//!   pays one atomic load.
//! - a [`Fingerprint`] of each key taken at `WATCH` time (absent, or a hash of the value and whether it
//!   has a TTL) and taken again by `EXEC`, so a key that expired, was evicted or was written through
//!   another server or node since `WATCH` also aborts the transaction.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use relaycache::{Error, KeyOps};
use relaycache_resp::Args;
use relaycache_resp::cmd::Spec;

/// The state of a watched key as `EXEC` compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fingerprint {
    /// The key is absent (never set, deleted, expired or evicted).
    Absent,
    /// The key holds a value with this hash, with or without a TTL.
    Present {
        /// A hash of the value.
        hash: u64,
        /// The key has a TTL.
        expires: bool,
    },
    /// The backend failed to answer: never equal to anything, so `EXEC` aborts.
    Unknown,
}

impl Fingerprint {
    /// Reads the state of `key` in `cache`.
    pub(crate) async fn of<C: KeyOps>(cache: &C, key: &[u8], hasher: &impl BuildHasher) -> Self {
        let hash = match cache.get(key).await {
            Ok(value) => {
                let mut h = hasher.build_hasher();
                h.write(&value);
                h.finish()
            }
            Err(Error::NotFound) => return Fingerprint::Absent,
            Err(_) => return Fingerprint::Unknown,
        };
        match cache.ttl(key).await {
            Ok(ttl) => Fingerprint::Present {
                hash,
                expires: ttl.is_some(),
            },
            Err(Error::NotFound) => Fingerprint::Absent,
            Err(_) => Fingerprint::Unknown,
        }
    }

    /// True when both are known and equal.
    fn same(self, other: Fingerprint) -> bool {
        self != Fingerprint::Unknown && self == other
    }
}

/// What one session watches (kept in its [`Session`](crate::session::Session)).
#[derive(Debug, Default)]
pub(crate) struct Watching {
    /// Set by any write to a watched key; shared with the [`Watches`] registry.
    dirty: Arc<AtomicBool>,
    /// The watched keys and their state when watched.
    keys: HashMap<Vec<u8>, Fingerprint>,
}

impl Watching {
    /// True when the session watches no key.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One session watching a key.
#[derive(Debug)]
struct Watcher {
    session: u64,
    dirty: Arc<AtomicBool>,
}

/// The server's registry of watched keys.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    /// How many (session, key) watches exist: 0 lets writes skip the registry.
    count: AtomicUsize,
    keys: Mutex<HashMap<Vec<u8>, Vec<Watcher>>>,
    /// Hashes values into fingerprints (random keys per server).
    hasher: std::collections::hash_map::RandomState,
}

impl Watches {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Vec<Watcher>>> {
        // The map stays consistent even if a holder panicked: each operation is one insert or removal.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when some session watches some key.
    pub(crate) fn active(&self) -> bool {
        // SeqCst pairs with the increment in `watch`: a write that finds 0 here happened before the
        // watch was registered, so the fingerprint read after registering sees it.
        self.count.load(Ordering::SeqCst) != 0
    }

    /// `WATCH key`: registers session `id` as a watcher of `key` (once) and records the key's state.
    pub(crate) async fn watch<C: KeyOps>(
        &self,
        cache: &C,
        id: u64,
        watching: &mut Watching,
        key: &[u8],
    ) {
        if watching.keys.contains_key(key) {
            return;
        }
        {
            let mut keys = self.lock();
            keys.entry(key.to_vec()).or_default().push(Watcher {
                session: id,
                dirty: Arc::clone(&watching.dirty),
            });
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        // Registered first, read second: a write in between marks the watch dirty.
        let state = Fingerprint::of(cache, key, &self.hasher).await;
        watching.keys.insert(key.to_vec(), state);
    }

    /// `UNWATCH` (and `EXEC`, `DISCARD`, `RESET`, disconnection): forgets every key session `id` watches.
    pub(crate) fn unwatch(&self, id: u64, watching: &mut Watching) {
        if watching.keys.is_empty() {
            watching.dirty.store(false, Ordering::Relaxed);
            return;
        }
        let mut keys = self.lock();
        for (key, _) in watching.keys.drain() {
            if let Some(watchers) = keys.get_mut(&key) {
                let before = watchers.len();
                watchers.retain(|w| w.session != id);
                self.count
                    .fetch_sub(before - watchers.len(), Ordering::SeqCst);
                if watchers.is_empty() {
                    keys.remove(&key);
                }
            }
        }
        drop(keys);
        watching.dirty.store(false, Ordering::Relaxed);
    }

    /// True when a watched key was written or its state differs from when it was watched: `EXEC` must
    /// abort. Run under the exclusive guard, so no client of this server writes meanwhile.
    pub(crate) async fn changed<C: KeyOps>(&self, cache: &C, watching: &Watching) -> bool {
        if watching.dirty.load(Ordering::SeqCst) {
            return true;
        }
        for (key, then) in &watching.keys {
            if !Fingerprint::of(cache, key, &self.hasher).await.same(*then) {
                return true;
            }
        }
        false
    }

    /// Marks the watchers of `key` dirty.
    fn touch(keys: &HashMap<Vec<u8>, Vec<Watcher>>, key: &[u8]) {
        if let Some(watchers) = keys.get(key) {
            for w in watchers {
                w.dirty.store(true, Ordering::SeqCst);
            }
        }
    }

    /// After a command of `spec` with arguments `args` ran without error: if it can change keys
    /// ([`Spec::changes_keys`]), marks the watchers of every key it names (the spec's key positions;
    /// every watcher for `FLUSHDB` and `FLUSHALL`). Call only when [`active`](Watches::active).
    pub(crate) fn touch_command(&self, spec: &Spec, args: Args<'_>) {
        if !spec.changes_keys() {
            return;
        }
        let keys = self.lock();
        if spec.first_key == 0 {
            // A write without key positions empties the database.
            for w in keys.values().flatten() {
                w.dirty.store(true, Ordering::SeqCst);
            }
            return;
        }
        for i in spec.key_indexes(args.len()) {
            if let Some(key) = args.get(i) {
                Self::touch(&keys, key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relaycache_resp::cmd::lookup;

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn watcher(watches: &Watches, id: u64, key: &[u8]) -> Watching {
        let watching = Watching::default();
        watches
            .lock()
            .entry(key.to_vec())
            .or_default()
            .push(Watcher {
                session: id,
                dirty: Arc::clone(&watching.dirty),
            });
        watches.count.fetch_add(1, Ordering::SeqCst);
        let mut watching = watching;
        watching.keys.insert(key.to_vec(), Fingerprint::Absent);
        watching
    }

    fn run(watches: &Watches, words: &[&str]) {
        let raw = args(words);
        let spec = lookup(raw[0].as_slice()).expect("known command");
        watches.touch_command(spec, Args::from_owned(&raw));
    }

    #[test]
    fn writes_mark_the_keys_they_name() {
        let watches = Watches::default();
        let a = watcher(&watches, 1, b"a");
        let b = watcher(&watches, 2, b"b");
        assert!(watches.active());
        run(&watches, &["get", "a"]);
        run(&watches, &["mset", "x", "a", "y", "b"]);
        assert!(
            !a.dirty.load(Ordering::SeqCst),
            "MSET's values are not keys"
        );
        run(&watches, &["rename", "x", "b"]);
        assert!(b.dirty.load(Ordering::SeqCst));
        run(&watches, &["mset", "x", "1", "a", "2"]);
        assert!(a.dirty.load(Ordering::SeqCst));
    }

    #[test]
    fn flush_marks_everyone_and_unwatch_forgets() {
        let watches = Watches::default();
        let mut a = watcher(&watches, 1, b"a");
        let b = watcher(&watches, 2, b"a");
        run(&watches, &["flushall"]);
        assert!(a.dirty.load(Ordering::SeqCst) && b.dirty.load(Ordering::SeqCst));
        watches.unwatch(1, &mut a);
        assert!(!a.dirty.load(Ordering::SeqCst) && a.is_empty());
        assert_eq!(watches.count.load(Ordering::SeqCst), 1);
        assert_eq!(watches.lock().get(b"a".as_slice()).map(Vec::len), Some(1));
    }

    #[test]
    fn unknown_never_matches() {
        assert!(!Fingerprint::Unknown.same(Fingerprint::Unknown));
        assert!(Fingerprint::Absent.same(Fingerprint::Absent));
    }
}
