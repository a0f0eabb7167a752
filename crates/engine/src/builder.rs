//! [`Builder`]: validated construction of a [`Cache`].

use std::marker::PhantomData;
use std::sync::Arc;

use crate::cache::{Cache, Listener, Weigher};
use crate::clock::{Clock, SystemClock};
use crate::stats::Cause;

/// Why a [`Builder`] refused to build. Nothing was created; fix the setting and build again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_cost` was 0 (or never set).
    #[error("max_cost must be greater than 0")]
    ZeroMaxCost,
    /// `num_counters` was set to 0.
    #[error("num_counters must be greater than 0")]
    ZeroCounters,
    /// `shards` was 0 or not a power of two.
    #[error("shards must be a power of two between 1 and 1024, got {0}")]
    BadShards(usize),
}

/// Default number of admission counters when `num_counters` is not set: ten per unit of `max_cost`,
/// capped at this (the reference system's default).
pub const DEFAULT_NUM_COUNTERS: u64 = 1_000_000;

/// A shard is not split further below this share of `max_cost` (small caches stay in one shard so the
/// policy sees the whole key space).
const MIN_SHARD_COST: u64 = 4096;

/// Settings of a [`Cache`]; see [`Cache::builder`].
#[must_use]
pub struct Builder<K, V> {
    max_cost: u64,
    num_counters: Option<u64>,
    shards: Option<usize>,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
    _types: PhantomData<fn(K, V)>,
}

impl<K, V> Default for Builder<K, V> {
    fn default() -> Self {
        Builder {
            max_cost: 0,
            num_counters: None,
            shards: None,
            weigher: None,
            listener: None,
            clock: Arc::new(SystemClock::new()),
            _types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for Builder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("max_cost", &self.max_cost)
            .field("num_counters", &self.num_counters)
            .field("shards", &self.shards)
            .field("weigher", &self.weigher.is_some())
            .field("listener", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl<K, V> Builder<K, V> {
    /// The bound: the sum of the weights of the entries held never exceeds it. Required.
    pub fn max_cost(mut self, max_cost: u64) -> Self {
        self.max_cost = max_cost;
        self
    }

    /// Number of 4-bit admission counters (TinyLFU sketch), about ten times the number of entries you
    /// expect. Default: `min(10 * max_cost, 1_000_000)`. Memory: half a byte per counter plus an eighth
    /// of a byte of doorkeeper.
    pub fn num_counters(mut self, num_counters: u64) -> Self {
        self.num_counters = Some(num_counters);
        self
    }

    /// The weight of an entry, in the unit of `max_cost`. **Default: every entry weighs 1**, so
    /// `max_cost` counts entries. To bound bytes, return key bytes + value bytes +
    /// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD). Weights above `u32::MAX` or above a shard's share of
    /// `max_cost` are rejected. If the weigher panics the entry is rejected and the panic is contained.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Called after every removal with the key, value and [`Cause`], outside any lock and on the thread
    /// whose operation caused it. Panics in it are caught and ignored; it may call the cache.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, Cause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The time source (default: [`SystemClock`]); tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Number of shards, a power of two. Default: the largest power of two up to eight per CPU (at
    /// most 64) that leaves each shard at least 4096 units of `max_cost` (eight rather than four: with
    /// two threads writing, 2-thread write rows of the bench went from ~0.8x to ~0.95x of quick_cache,
    /// fewer writers meeting on one shard lock). Each shard holds
    /// `max_cost / shards`, so a single entry heavier than that is rejected.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Caps the shard count so that every shard holds at least `bytes` of `max_cost` (entries up to
    /// that weight are always admissible), keeping the default's per-CPU count otherwise. Call after
    /// [`max_cost`](Builder::max_cost).
    pub fn min_shard_cost(self, bytes: u64) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u64;
        let by_size = (self.max_cost / bytes.max(1)).max(1);
        let shards = (cpus * 4).min(by_size).clamp(1, 64);
        self.shards(1usize << (63 - shards.leading_zeros()))
    }

    /// Builds the cache.
    ///
    /// # Errors
    /// A [`BuildError`] naming the invalid setting.
    pub fn build(self) -> Result<Cache<K, V>, BuildError> {
        if self.max_cost == 0 {
            return Err(BuildError::ZeroMaxCost);
        }
        let counters = match self.num_counters {
            Some(0) => return Err(BuildError::ZeroCounters),
            Some(n) => n,
            None => self.max_cost.saturating_mul(10).min(DEFAULT_NUM_COUNTERS),
        };
        let shards = match self.shards {
            Some(n) if n == 0 || !n.is_power_of_two() || n > 1024 => {
                return Err(BuildError::BadShards(n));
            }
            Some(n) => n,
            None => default_shards(self.max_cost),
        };
        Ok(Cache::from_parts(
            self.max_cost,
            counters,
            shards,
            self.weigher,
            self.listener,
            self.clock,
        ))
    }
}

/// The weight up to which a byte-bounded cache of `max_cost` should always admit an entry: 16 MiB, or
/// a quarter of `max_cost` when that is smaller. Pass it to [`min_shard_cost`](Builder::min_shard_cost):
/// a large cache keeps room for large values in every shard, and a small one still gets up to four
/// shards, so that threads writing at once rarely meet on one shard lock. (The facade's `single`
/// backend and the cluster's store do this.)
#[must_use]
pub const fn entry_room(max_cost: u64) -> u64 {
    let quarter = max_cost / 4;
    let room = if quarter < ENTRY_ROOM_MAX {
        quarter
    } else {
        ENTRY_ROOM_MAX
    };
    if room == 0 { 1 } else { room }
}

/// The largest [`entry_room`]: 16 MiB.
const ENTRY_ROOM_MAX: u64 = 16 << 20;

fn default_shards(max_cost: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut n = (cpus * 8).clamp(1, 64).next_power_of_two();
    if n > 64 {
        n = 64;
    }
    while n > 1 && max_cost / (n as u64) < MIN_SHARD_COST {
        n /= 2;
    }
    n
}
