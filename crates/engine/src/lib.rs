//! # relaycache-engine
//!
//! The in-process cache engine behind relaycache's `single` mode: a concurrent, sharded cache bounded
//! by the total weight of its entries, with TinyLFU admission, a W-TinyLFU-style policy,
//! per-entry time to live, statistics, an eviction listener and single-flight loading. It is
//! synchronous and does not depend on tokio; it starts no thread unless asked for a [`Reaper`].
//!
//! ## Map
//! - [`Cache`] (module `cache`): the public front. A key's hash (foldhash, random seed per process)
//!   picks a shard; each shard is a `RwLock` around its table and policy. Reads take the read lock and
//!   touch only the entry; writes take the write lock and do the policy work and due expirations.
//! - [`Builder`] (module `builder`): `max_cost`, `num_counters`, `weigher`, `eviction_listener`,
//!   `clock`, `shards`.
//! - `shard`: hash table of slab indices + the policy: an admission **window** (LRU order kept through
//!   the read log, CLOCK's reference bit for the hits the log dropped; starting at 1% of the capacity)
//!   in front of a **main** space, a segmented CLOCK (probation + protected, 80% of
//!   main); a window candidate enters main only if the frequency sketch has seen it more often than
//!   probation's victim (near-ties go by a fixed per-key priority). Each entry keeps its key's count
//!   (`slab::Meta`): the sketch is read once when a key is inserted and written back when an entry
//!   that was hit leaves; admission and hit folding never touch it in between.
//! - `ghost`: the hashes of the keys each side (window, main) evicted last; a miss on one is a vote for
//!   the side that would have kept it, and a round of votes that one side wins clearly moves the
//!   window/main boundary its way (further with each round that side wins in a row), so the policy
//!   adapts online to recency- or frequency-heavy traffic with no per-workload setting.
//! - `read_log`: a bounded, lossy log of the hits on window entries, taken under the read lock and
//!   replayed in order by the next write (or by the reader that fills it, if the write lock is free),
//!   so reads never move entries and the window still evicts in LRU order.
//! - `sketch`: the TinyLFU count-min sketch (4-bit counters, conservative update, 2 bytes per unit
//!   of `num_counters`, halving every `num_counters` additions); a key's four counters and its two
//!   doorkeeper bits share one 64-byte block, so an update touches one cache line.
//! - `wheel`: a hierarchical timer wheel (6 x 64 buckets, ~1 ms ticks) that finds expired entries
//!   without reads, draining due buckets incrementally and only as far as its caller wants (at most
//!   128 entries per call).
//! - [`Reaper`] (module `reaper`): an optional background thread reclaiming expired entries of a
//!   cache in an `Arc`, in small batches ([`Cache::reclaim_expired`]).
//! - `slab`: entries in a slab with intrusive lists, so every policy and timer step is O(1).
//! - [`ByteCache`] (module `byte_cache`): the cache specialised for byte keys and values, each entry's
//!   key and value in one reference-counted allocation ([`Packed`], module `packed`, the engine's only
//!   `unsafe` code), so a hit can hand a long value out as a `Bytes` without copying it; the facade's
//!   `single` backend uses it.
//! - [`Cache::compute`] (module `compute`): read, decide and write one key under its shard's write
//!   lock ([`Change`], [`Expiry`]): the atomic read-modify-writes (set-if-absent, increment, take)
//!   that the facade's `single` backend is built on.
//! - [`loader`]: single-flight [`Cache::get_or_load`] and [`Cache::get_or_load_async`].
//! - [`Clock`], [`SystemClock`], [`ManualClock`] (module `clock`); [`Stats`], [`Cause`] (module `stats`).
//! - `sync`: the shim all locks come from; with the `shuttle` feature, `sync::shuttle_scope` swaps in
//!   shuttle's primitives for schedule-exploring tests.
//!
//! ## Guarantees
//! 1. **A write is visible to the next read on any thread**: `insert` applies under the shard's write
//!    lock before returning; nothing is buffered. The only exception is admission: a new key the policy
//!    declines is absent, and counted in [`Stats::rejections`] (and told to the listener as
//!    [`Cause::Rejected`]).
//! 2. **The bound holds at every moment**: each shard owns `max_cost / shards` and evicts down to it
//!    before its write lock is released, so the total weight never exceeds `max_cost`. An entry heavier
//!    than a shard's share is rejected.
//! 3. **An expired entry is never returned** (reads compare its deadline with the clock). Expired
//!    entries are reclaimed without reads: a write that needs room takes an expired entry's place
//!    before evicting a live one, and [`Cache::reclaim_expired`] (called by a [`Reaper`] thread, as the
//!    facade does) or [`Cache::run_pending_tasks`] reclaims them when no writes come.
//! 4. **O(1) amortised work per operation**: no step iterates the entries, except the explicitly
//!    O(n) `scan`, `invalidate_*` and `clear`.
//! 5. **User code cannot break the cache**: the weigher, listener and loaders run outside every lock and
//!    their panics are caught (weigher, listener) or handed over (loader).
//!
//! ## Weights
//! The default weigher gives every entry weight 1 (`max_cost` counts entries). To bound memory in
//! bytes, weigh `key bytes + value bytes + ENTRY_OVERHEAD` as the facade does.
//!
//! ## Features
//! - `shuttle`: builds the `sync::shuttle_scope` test hook (pulls in shuttle; tests only).
//!
//! ## Example
//! ```
//! use std::time::Duration;
//! use relaycache_engine::Cache;
//! let cache = Cache::<Vec<u8>, Vec<u8>>::builder()
//!     .max_cost(64 << 20)
//!     .num_counters(1_000_000)
//!     .weigher(|k, v| (k.len() + v.len()) as u64 + relaycache_engine::ENTRY_OVERHEAD)
//!     .build()
//!     .expect("valid settings");
//! cache.insert_with_ttl(b"session:1".to_vec(), b"alice".to_vec(), Duration::from_secs(30));
//! assert_eq!(cache.get(b"session:1".as_slice()), Some(b"alice".to_vec()));
//! assert_eq!(cache.invalidate_prefix(b"session:"), 1);
//! ```

mod builder;
mod byte_cache;
mod cache;
mod clock;
mod compute;
mod ghost;
pub mod loader;
mod packed;
mod read_log;
mod reaper;
mod shard;
mod sketch;
mod slab;
mod stats;
pub mod sync;
mod wheel;

pub use builder::{BuildError, Builder, DEFAULT_NUM_COUNTERS, entry_room};
pub use byte_cache::{ByteCache, ByteChange, ByteEntry, COPY_OUT_MAX};
pub use cache::{Cache, ScanPage};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compute::{Change, Current, Expiry};
pub use packed::Packed;
pub use reaper::{REAP_BATCH, Reaper, ReclaimExpired};
pub use stats::{Cause, Stats};

/// Bytes of bookkeeping the engine spends per entry beyond the key and value themselves, to add in a
/// byte-counting weigher (the facade and [`ByteCache`] do). Measured with the `entry_overhead` example
/// with a token sketch (`-- 1000000 1000`: 1M entries of 16-byte keys and 64-byte values in a
/// [`ByteCache`]): 59 bytes = the slab entry (32: the packed buffer's handle, one pair of policy-list
/// links, weight and flags; an entry with a TTL also has 16 bytes of deadline and timer links in a side
/// array), the slot vector's and the hash table's spare capacity, the table's index and control byte,
/// and the allocator's header and rounding plus the buffer's 4-byte reference count. The admission sketch is extra
/// and fixed by `num_counters`, not by the entries: 2 bytes per counter (20 bytes per entry at the
/// recommended 10 counters per entry). A [`ByteCache`] entry of more than 1 KiB keeps its value in an
/// allocation of its own (see [`Packed`]), which costs about 30 bytes more than this, under 3% of such
/// an entry.
pub const ENTRY_OVERHEAD: u64 = 59;
