//! Time as the engine sees it: a monotonic count of nanoseconds behind the [`Clock`] trait, so tests can
//! drive expiry with a [`ManualClock`] instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source. `now_nanos` never goes backwards; its origin is arbitrary but fixed for the
/// clock's life. The engine reads it only when an entry or shard has a deadline, so a slow clock costs
/// nothing on caches without TTLs.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the clock's origin.
    fn now_nanos(&self) -> u64;
}

/// The real clock: [`Instant`] since the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // Seconds and nanoseconds rather than `as_nanos` (a u128): this runs on every read of an entry
        // with a deadline. Overflows after 584 years of uptime.
        let d = Instant::now().saturating_duration_since(self.origin);
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
    }
}

/// A clock that moves only when told to. Clones share the same time, so a test keeps one clone and gives
/// the other to the cache.
///
/// ```
/// use std::time::Duration;
/// use relaycache_engine::{Cache, ManualClock};
/// let clock = ManualClock::new();
/// let cache = Cache::<u32, u32>::builder().max_cost(100).clock(clock.clone()).build().unwrap();
/// cache.insert_with_ttl(1, 10, Duration::from_secs(5));
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(cache.get(&1), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }
}
