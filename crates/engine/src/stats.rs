//! What the cache reports: [`Stats`] counters and the [`Cause`] of every removal.

/// Why an entry left the cache, as told to the eviction listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// Evicted by the policy to keep the cache within `max_cost`.
    Size,
    /// A new entry the admission policy declined (it was never visible to readers after its insert
    /// returned), or an entry heavier than a shard's share of `max_cost`.
    Rejected,
    /// Its time to live passed.
    Expired,
    /// Removed by `remove`, `invalidate_*` or `clear`.
    Explicit,
    /// Its value was replaced by a new insert of the same key (the listener receives the old value).
    Replaced,
}

/// Counters and sizes of a cache, summed over its shards at the moment of the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Reads that found a live value.
    pub hits: u64,
    /// Reads that found nothing (or an expired value).
    pub misses: u64,
    /// Inserts that added a key.
    pub inserts: u64,
    /// Inserts that replaced the value of a present key.
    pub updates: u64,
    /// Inserts of new keys that the admission policy (or the size limit) declined.
    pub rejections: u64,
    /// Entries evicted to stay within `max_cost`.
    pub evicted_size: u64,
    /// Entries removed because their TTL passed.
    pub evicted_expired: u64,
    /// Entries removed explicitly (`remove`, `invalidate_*`, `clear`).
    pub evicted_explicit: u64,
    /// Values replaced by an update.
    pub replaced: u64,
    /// Keys held now (entries expired but not yet reclaimed included; see
    /// [`Cache::run_pending_tasks`](crate::Cache::run_pending_tasks)).
    pub key_count: u64,
    /// Weight held now (sum of the weigher's results).
    pub bytes_used: u64,
    /// The bound (`max_cost`).
    pub max_cost: u64,
}

/// The per-shard counters updated under the shard's write lock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) inserts: u64,
    pub(crate) updates: u64,
    pub(crate) rejections: u64,
    pub(crate) evicted_size: u64,
    pub(crate) evicted_expired: u64,
    pub(crate) evicted_explicit: u64,
    pub(crate) replaced: u64,
}

impl Counts {
    pub(crate) fn record(&mut self, cause: Cause) {
        match cause {
            Cause::Size => self.evicted_size += 1,
            Cause::Rejected => self.rejections += 1,
            Cause::Expired => self.evicted_expired += 1,
            Cause::Explicit => self.evicted_explicit += 1,
            Cause::Replaced => self.replaced += 1,
        }
    }

    pub(crate) fn add_to(&self, s: &mut Stats) {
        s.inserts += self.inserts;
        s.updates += self.updates;
        s.rejections += self.rejections;
        s.evicted_size += self.evicted_size;
        s.evicted_expired += self.evicted_expired;
        s.evicted_explicit += self.evicted_explicit;
        s.replaced += self.replaced;
    }
}
