//! The node's local store: versioned entries (values and tombstones) in the relaycache engine, applied by
//! last-writer-wins. Each compare-and-store runs under its key's shard lock (`Cache::compute`), so it is
//! atomic against every other write of the key.
//!
//! A purge of a prefix is a versioned write too: the store keeps a *purge record* (prefix, version) for
//! `tombstone_ttl`, and refuses every entry under that prefix whose version is older, so that a copy
//! still in flight when the purge ran (a replication, a migration page, a read-repair) cannot bring a
//! purged key back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use relaycache_engine::{Cache, Change, ENTRY_OVERHEAD, Expiry};

use crate::error::{ClusterError, Result};
use crate::placement::partition_of;
use crate::rpc::message::{Entry, detached_parts};
use crate::version::{Hlc, Version, now_ms};

/// Bytes charged per entry beyond key, value and the engine's [`ENTRY_OVERHEAD`], so that `max_cost`
/// bounds the store's real memory: an entry here is the generic engine's slot holding the key's
/// `Bytes`, the version, the deadline and the value's `Bytes`, plus the one allocation key and value
/// share and its reference count (copied out of the connection's buffer, see [`Entry::detached`]).
/// Measured as the growth of the process's resident memory over 1M entries with 16-byte keys:
/// 155-169 bytes per entry beyond key and value for values of 10 to 1000 bytes (the admission
/// sketch left out, as for `ENTRY_OVERHEAD`).
const STORED_OVERHEAD: u64 = 110;

/// What the engine holds for a key.
#[derive(Debug, Clone)]
struct Stored {
    value: Option<Bytes>,
    version: Version,
    expires_at: u64,
}

/// A page of a partition pull.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) cursor: u64,
    pub(crate) entries: Vec<Entry>,
}

/// Purge records kept at most; past it the oldest is forgotten first (see [`Store::purge_prefix`]).
const MAX_PURGES: usize = 1024;

/// A purge of every key starting with `prefix` whose version is below `version`, kept until `until`.
#[derive(Debug, Clone)]
struct Purge {
    prefix: Bytes,
    version: Version,
    until: Instant,
}

/// The local store of a node.
pub(crate) struct Store {
    engine: Cache<Bytes, Stored>,
    tombstone_ttl: Duration,
    /// The purge records in force, oldest first.
    purges: parking_lot::RwLock<Vec<Purge>>,
    /// Whether `purges` may be non-empty (so that a store never purged reads no lock to apply).
    purged: AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store bounded by `max_cost` bytes.
    pub(crate) fn new(max_cost: u64, num_counters: u64, tombstone_ttl: Duration) -> Result<Store> {
        let engine = Cache::builder()
            .max_cost(max_cost)
            .num_counters(num_counters)
            .min_shard_cost(relaycache_engine::entry_room(max_cost))
            .weigher(|k: &Bytes, v: &Stored| {
                (k.len() + v.value.as_ref().map_or(0, Bytes::len)) as u64
                    + ENTRY_OVERHEAD
                    + STORED_OVERHEAD
            })
            .build()
            .map_err(|e| ClusterError::InvalidArgument(e.to_string()))?;
        Ok(Store {
            engine,
            tombstone_ttl,
            purges: parking_lot::RwLock::new(Vec::new()),
            purged: AtomicBool::new(false),
        })
    }

    /// The stored entry of `key` (a tombstone included, an expired value as a tombstone of its version).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Entry> {
        let now = now_ms();
        self.engine.get_with(key, |k, s| to_entry(k, s, now))
    }

    /// The version stored for `key`, if any.
    pub(crate) fn version(&self, key: &[u8]) -> Option<Version> {
        self.engine.get_with(key, |_, s| s.version)
    }

    /// Stores `entry` if its version is higher than the stored one (or nothing is stored). Returns true
    /// when it was stored.
    pub(crate) fn apply(&self, entry: &Entry) -> bool {
        if self.is_purged(&entry.key, entry.version) {
            return false;
        }
        let entry = entry.detached();
        self.engine.compute(&entry.key[..], |held| {
            if held.is_some_and(|held| held.value.version >= entry.version) {
                (Change::Keep, false)
            } else {
                (self.put(&entry), true)
            }
        })
    }

    /// Stores a new version of `key` (a value, or a tombstone when `value` is `None`) that `hlc` gives,
    /// higher than the version stored now, and returns it as it was stored.
    pub(crate) fn write(
        &self,
        hlc: &Hlc,
        key: Bytes,
        value: Option<Bytes>,
        expires_at: u64,
    ) -> Entry {
        let (key, value) = detached_parts(&key, value.as_deref());
        self.engine.compute(&key[..], |held| {
            if let Some(held) = held {
                hlc.observe(held.value.version);
            }
            let entry = Entry {
                key: key.clone(),
                value,
                version: hlc.next(),
                expires_at,
            };
            (self.put(&entry), entry)
        })
    }

    /// Stores a new version of `key` as [`write`](Store::write) does, but only if the version stored
    /// now is `expected` ([`Version::ZERO`]: nothing is stored); returns the entry as stored, or `None`
    /// when the version differs. The comparison and the write are one step under the key's lock.
    pub(crate) fn write_if(
        &self,
        hlc: &Hlc,
        key: Bytes,
        value: Option<Bytes>,
        expires_at: u64,
        expected: Version,
    ) -> Option<Entry> {
        let (key, value) = detached_parts(&key, value.as_deref());
        self.engine.compute(&key[..], |held| {
            let current = held.as_ref().map_or(Version::ZERO, |h| h.value.version);
            if current != expected {
                return (Change::Keep, None);
            }
            hlc.observe(current);
            let entry = Entry {
                key: key.clone(),
                value,
                version: hlc.next(),
                expires_at,
            };
            (self.put(&entry), Some(entry))
        })
    }

    /// The change that stores `entry`: a tombstone is kept for `tombstone_ttl`, a value until its
    /// deadline and a tombstone's time past it (so that its version still beats older copies arriving
    /// late; reads treat it as absent from the deadline on), a value without a deadline for ever.
    fn put(&self, entry: &Entry) -> Change<Bytes, Stored> {
        let keep = if entry.value.is_none() {
            self.tombstone_ttl
        } else if entry.expires_at == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(entry.expires_at.saturating_sub(now_ms())) + self.tombstone_ttl
        };
        Change::Put {
            key: entry.key.clone(),
            value: Stored {
                value: entry.value.clone(),
                version: entry.version,
                expires_at: entry.expires_at,
            },
            expiry: Expiry::After(keep),
        }
    }

    /// A page of the entries of `partitions` (of `partition_count`), from `cursor` (0 to start).
    pub(crate) fn pull(
        &self,
        partitions: &[u32],
        partition_count: u32,
        cursor: u64,
        count: usize,
    ) -> Page {
        let page = self.engine.scan(cursor, count, |k| {
            partitions.contains(&partition_of(k, partition_count))
        });
        let now = now_ms();
        let entries = page
            .keys
            .iter()
            .filter_map(|k| self.engine.get_with(k, |k, s| to_entry(k, s, now)))
            .collect();
        Page {
            cursor: page.cursor,
            entries,
        }
    }

    /// A page of the live keys (not tombstones) that satisfy `pred`.
    pub(crate) fn scan_keys(
        &self,
        cursor: u64,
        count: usize,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> (u64, Vec<Bytes>) {
        let now = now_ms();
        let page = self.engine.scan(cursor, count, |k| pred(k));
        let keys = page
            .keys
            .into_iter()
            .filter(|k| {
                self.engine
                    .get_with(k, |_, s| is_live(s, now))
                    .unwrap_or(false)
            })
            .collect();
        (page.cursor, keys)
    }

    /// Removes every entry (values and tombstones) whose key satisfies `pred`; returns how many.
    pub(crate) fn remove_if(&self, mut pred: impl FnMut(&[u8]) -> bool) -> u64 {
        self.engine.invalidate_if(|k| pred(k))
    }

    /// Purges `prefix` at `version`: removes every entry under it older than `version`, and refuses
    /// such entries from now on for `tombstone_ttl` (entries at or above `version` were written after
    /// the purge and stay). Returns how many of the removed entries were live values for which `count`
    /// holds.
    ///
    /// At most [`MAX_PURGES`] records are kept: a record whose prefix a newer purge covers is dropped,
    /// and past the bound the oldest goes first (its prefix is then only as safe as a plain removal).
    pub(crate) fn purge_prefix(
        &self,
        prefix: &[u8],
        version: Version,
        mut count: impl FnMut(&[u8]) -> bool,
    ) -> u64 {
        let now = Instant::now();
        {
            let mut purges = self.purges.write();
            purges.retain(|p| {
                p.until > now && !(p.prefix.starts_with(prefix) && p.version <= version)
            });
            if purges.len() >= MAX_PURGES {
                purges.remove(0);
            }
            purges.push(Purge {
                prefix: Bytes::copy_from_slice(prefix),
                version,
                until: now + self.tombstone_ttl,
            });
            self.purged.store(true, Ordering::Release);
        }
        let now_ms = now_ms();
        let mut live = 0;
        self.engine.invalidate_entries_if(|k, s| {
            let gone = k.starts_with(prefix) && s.version < version;
            if gone && is_live(s, now_ms) && count(k) {
                live += 1;
            }
            gone
        });
        live
    }

    /// Whether a purge record in force refuses `version` of `key`.
    fn is_purged(&self, key: &[u8], version: Version) -> bool {
        if !self.purged.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        let purges = self.purges.read();
        purges
            .iter()
            .any(|p| p.until > now && version < p.version && key.starts_with(&p.prefix))
    }

    /// The engine's counters.
    pub(crate) fn stats(&self) -> relaycache_engine::Stats {
        self.engine.stats()
    }

    /// Reclaims up to `max` expired entries (called periodically).
    pub(crate) fn reclaim_expired(&self, max: usize) -> usize {
        self.engine.reclaim_expired(max)
    }
}

fn is_live(s: &Stored, now: u64) -> bool {
    s.value.is_some() && (s.expires_at == 0 || s.expires_at > now)
}

fn to_entry(key: &Bytes, s: &Stored, now: u64) -> Entry {
    Entry {
        key: key.clone(),
        value: if is_live(s, now) {
            s.value.clone()
        } else {
            None
        },
        version: s.version,
        expires_at: s.expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(1 << 20, 1000, Duration::from_secs(60)).unwrap()
    }

    fn entry(key: &'static [u8], value: Option<&'static [u8]>, hlc: u64) -> Entry {
        Entry {
            key: Bytes::from_static(key),
            value: value.map(Bytes::from_static),
            version: Version { hlc, node: 1 },
            expires_at: 0,
        }
    }

    #[test]
    fn stored_keys_and_values_do_not_hold_the_buffer_they_arrived_in() {
        // As a decoder hands them over: slices of one connection buffer.
        let buffer: Bytes = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let inside = |b: &Bytes| buffer.as_ptr_range().contains(&b.as_ptr());
        let s = store();
        let hlc = Hlc::new(1);
        s.write(&hlc, buffer.slice(0..8), Some(buffer.slice(8..16)), 0);
        let applied = Entry {
            key: buffer.slice(16..24),
            value: Some(buffer.slice(24..32)),
            version: Version {
                hlc: 1 << 40,
                node: 2,
            },
            expires_at: 0,
        };
        assert!(s.apply(&applied));
        s.write_if(
            &hlc,
            buffer.slice(32..40),
            Some(buffer.slice(40..48)),
            0,
            Version::ZERO,
        )
        .expect("nothing was stored");
        for key in [&buffer[0..8], &buffer[16..24], &buffer[32..40]] {
            // `get` hands out clones of the stored `Bytes`, which point where the stored ones do.
            let stored = s.get(key).expect("stored");
            assert!(
                !inside(&stored.key),
                "the stored key points into the buffer"
            );
            let value = stored.value.expect("a value");
            assert!(!inside(&value), "the stored value points into the buffer");
        }
    }

    #[test]
    fn max_cost_bounds_the_memory_the_store_takes() {
        // Small entries, where bookkeeping is most of the cost, written as slices of connection-sized
        // buffers (as the decoders hand them over), three times as many as fit.
        const MAX_COST: u64 = 24 << 20;
        let before = crate::testing::resident_bytes();
        let s = Store::new(MAX_COST, 1000, Duration::from_secs(60)).unwrap();
        let hlc = Hlc::new(1);
        let mut buffer = Bytes::new();
        let mut at = 0;
        for i in 0..(3 * MAX_COST / 200) {
            if at + 32 > buffer.len() {
                buffer = Bytes::from(vec![0u8; 16 * 1024]);
                at = 0;
            }
            let key = Bytes::from(format!("key:{i:012}"));
            s.write(&hlc, key, Some(buffer.slice(at..at + 10)), 0);
            at += 32;
        }
        drop(buffer);
        let grown = crate::testing::resident_bytes().saturating_sub(before);
        let stats = s.stats();
        assert!(stats.bytes_used <= MAX_COST, "{} charged", stats.bytes_used);
        assert!(stats.evicted_size > 0, "the store never filled");
        // The charge per entry is what an entry costs, so the bound holds for memory too, give or
        // take allocator slack and the table's spare room (about 15% here; charging 24 bytes of
        // bookkeeping instead of what it costs took 46 MiB).
        assert!(
            grown <= MAX_COST + MAX_COST / 2,
            "{} MiB resident for a {} MiB bound ({} entries)",
            grown >> 20,
            MAX_COST >> 20,
            stats.key_count
        );
    }

    #[test]
    fn last_writer_wins_in_any_order() {
        let s = store();
        assert!(s.apply(&entry(b"k", Some(b"new"), 20)));
        assert!(!s.apply(&entry(b"k", Some(b"old"), 10)), "older loses");
        assert!(!s.apply(&entry(b"k", Some(b"same"), 20)), "equal loses");
        assert_eq!(s.get(b"k").unwrap().value.unwrap(), "new");
        assert!(s.apply(&entry(b"k", None, 30)), "a newer delete wins");
        let tomb = s.get(b"k").unwrap();
        assert!(tomb.value.is_none());
        assert!(
            !s.apply(&entry(b"k", Some(b"old"), 25)),
            "the tombstone keeps older values out"
        );
    }

    #[test]
    fn expired_values_read_as_tombstones_and_keep_their_version() {
        let s = store();
        let mut e = entry(b"k", Some(b"v"), 20);
        e.expires_at = now_ms() - 1;
        assert!(s.apply(&e));
        let got = s.get(b"k").unwrap();
        assert!(got.value.is_none(), "expired");
        assert!(!s.apply(&entry(b"k", Some(b"older"), 10)));
        let (_, keys) = s.scan_keys(0, 10, |_| true);
        assert!(keys.is_empty());
    }

    #[test]
    fn pull_pages_through_a_partition() {
        let s = store();
        let keys: Vec<Vec<u8>> = (0..300).map(|i| format!("key{i}").into_bytes()).collect();
        for (i, k) in keys.iter().enumerate() {
            s.apply(&Entry {
                key: Bytes::from(k.clone()),
                value: Some(Bytes::from_static(b"v")),
                version: Version {
                    hlc: i as u64 + 1,
                    node: 1,
                },
                expires_at: 0,
            });
        }
        let wanted = [3u32, 7];
        let mut cursor = 0;
        let mut got = Vec::new();
        for _ in 0..1000 {
            let page = s.pull(&wanted, 16, cursor, 5);
            got.extend(page.entries);
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        let expected = keys
            .iter()
            .filter(|k| wanted.contains(&partition_of(k, 16)))
            .count();
        assert_eq!(got.len(), expected);
        assert!(
            got.iter()
                .all(|e| wanted.contains(&partition_of(&e.key, 16)))
        );
    }

    #[test]
    fn a_purge_removes_and_refuses_older_copies_and_keeps_newer_ones() {
        let s = store();
        assert!(s.apply(&entry(b"a:1", Some(b"v"), 10)));
        assert!(s.apply(&entry(b"a:2", Some(b"v"), 30)));
        assert!(s.apply(&entry(b"b:1", Some(b"v"), 10)));
        let at = Version { hlc: 20, node: 0 };
        assert_eq!(s.purge_prefix(b"a:", at, |_| true), 1);
        assert!(s.get(b"a:1").is_none());
        assert!(s.get(b"a:2").is_some(), "written after the purge");
        assert!(
            !s.apply(&entry(b"a:3", Some(b"late"), 15)),
            "older: refused"
        );
        assert!(s.get(b"a:3").is_none());
        assert!(s.apply(&entry(b"a:4", Some(b"new"), 25)), "newer: stored");
        assert!(s.apply(&entry(b"b:2", Some(b"v"), 15)), "another prefix");
        // A wider, newer purge replaces the narrower record; the bound holds.
        for i in 0..(MAX_PURGES as u64 + 10) {
            let prefix = format!("a:{i}:");
            s.purge_prefix(
                prefix.as_bytes(),
                Version {
                    hlc: 40 + i,
                    node: 0,
                },
                |_| true,
            );
        }
        assert!(s.purges.read().len() <= MAX_PURGES);
        s.purge_prefix(b"a:", Version { hlc: 5000, node: 0 }, |_| true);
        assert_eq!(s.purges.read().len(), 1, "covered records are dropped");
        assert!(!s.apply(&entry(b"a:9:x", Some(b"late"), 4999)));
    }
}
