//! The caches of the `facade` command, each seen through what a service calls: `get` of a key's bytes
//! returning an owned `Bytes`, and `set` / `set_with_ttl` of key and value bytes that the cache takes
//! a copy of.
//!
//! - [`Single`]: relaycache's `SingleCache` through the async [`relaycache::Cache`] trait. Each call's
//!   future is polled once with a no-op waker ([`poll_ready`]); the backend's futures never pend, and
//!   a `Pending` is reported as a [`Failure`], not waited for.
//! - [`Quick`] / [`QuickExpiring`]: quick_cache 0.7 `sync::Cache<Bytes, Bytes>`; quick_cache has no
//!   TTL, so TTL groups store `(Bytes, deadline)` and treat an expired value as a miss.
//! - [`Moka`]: moka 0.12 `sync::Cache<Bytes, Bytes>`, with the TTL as its cache-wide `time_to_live`.
//!
//! The peers copy key and value into two fresh `Bytes` on every set and hand out a clone of the stored
//! `Bytes` (a reference-count increment) on every get; `SingleCache` copies both into its entry on set
//! and returns the `Bytes` its `get` produces.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use relaycache::Cache as _;
use relaycache::backend::SingleCache;
use relaycache::config::SingleConfig;

/// Length of every key: a `u64` written as 16 lowercase hex digits.
pub(super) const KEY_LEN: usize = 16;

/// The key bytes a service would use for the stream key `key`: its 16 lowercase hex digits
/// (`format!("{key:016x}")`, without the allocation).
#[inline(always)]
pub(super) fn key_bytes(key: u64) -> [u8; KEY_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; KEY_LEN];
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = HEX[((key >> (60 - 4 * i)) & 0xF) as usize];
    }
    out
}

/// Why a call did not complete.
#[derive(Debug)]
pub(super) enum Failure {
    /// A facade future was not ready when first polled.
    Pending,
    /// The facade returned an error other than `NotFound`.
    Error(relaycache::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Pending => f.write_str("the future returned Pending"),
            Failure::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// Polls `future` once with a no-op waker: its output if it is ready, `None` if it pends.
#[inline(always)]
pub(super) fn poll_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// How a store is sized for one group of rows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizing {
    /// Capacity in entries.
    pub(super) capacity: u64,
    /// Bytes of every value.
    pub(super) value_size: usize,
    /// Set when the group's writes carry this TTL.
    pub(super) ttl: Option<Duration>,
}

/// A cache as a service calls it.
pub(super) trait Store: Send + Sync + Sized + 'static {
    /// An owned copy or handle of `key`'s value; `None` on a miss (or if it expired).
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Failure>;
    /// Stores a copy of `value` under a copy of `key`, with no expiry.
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Failure>;
    /// Stores a copy of `value` under a copy of `key` for `ttl`.
    fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<(), Failure>;
    /// Number of entries held (after [`Store::settle`]).
    fn len(&self) -> u64;
    /// Waits until buffered maintenance has been applied; a no-op for synchronous caches.
    fn settle(&self) {}
}

/// relaycache's `SingleCache`, driven through the async `Cache` trait.
pub(super) struct Single(SingleCache);

impl Single {
    /// A cache whose byte bound is the weight of exactly `sizing.capacity` entries of this benchmark's
    /// shape: each weighs key + value + [`relaycache_engine::ENTRY_OVERHEAD`] bytes. Admission counters
    /// are 10 per entry, as the configuration documents.
    pub(super) fn build(sizing: &Sizing) -> anyhow::Result<Self> {
        let weight = KEY_LEN as u64 + sizing.value_size as u64 + relaycache_engine::ENTRY_OVERHEAD;
        let mut config = SingleConfig::default();
        config.max_cost = sizing.capacity.saturating_mul(weight);
        config.num_counters = sizing.capacity.saturating_mul(10).max(100);
        Ok(Self(SingleCache::new(&config)?))
    }

    /// Maps a facade call's result: `None` if its future pended.
    #[inline(always)]
    fn done<T>(result: Option<relaycache::Result<T>>) -> Result<T, Failure> {
        match result {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(Failure::Error(e)),
            None => Err(Failure::Pending),
        }
    }
}

impl Store for Single {
    #[inline(always)]
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        match poll_ready(self.0.get(key)) {
            Some(Err(relaycache::Error::NotFound)) => Ok(None),
            other => Self::done(other).map(Some),
        }
    }

    #[inline(always)]
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        Self::done(poll_ready(self.0.set(key, value)))
    }

    #[inline(always)]
    fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<(), Failure> {
        Self::done(poll_ready(self.0.set_with_ttl(key, value, ttl)))
    }

    fn len(&self) -> u64 {
        self.0.engine().len() as u64
    }
}

/// quick_cache holding `Bytes` values, for groups without TTL.
pub(super) struct Quick(quick_cache::sync::Cache<Bytes, Bytes>);

impl Quick {
    /// A cache of `sizing.capacity` entries.
    pub(super) fn build(sizing: &Sizing) -> anyhow::Result<Self> {
        Ok(Self(quick_cache::sync::Cache::new(usize::try_from(
            sizing.capacity,
        )?)))
    }
}

impl Store for Quick {
    #[inline(always)]
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        Ok(self.0.get(key))
    }

    #[inline(always)]
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        self.0
            .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        Ok(())
    }

    /// Not reached: TTL groups build [`QuickExpiring`]. Stores without expiry.
    #[inline(always)]
    fn set_with_ttl(&self, key: &[u8], value: &[u8], _ttl: Duration) -> Result<(), Failure> {
        self.set(key, value)
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Far enough in the future to mean "no TTL".
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// quick_cache holding `(value, deadline)`, for groups with TTL: an expired value is a miss, which is
/// what a user of quick_cache writes (the same emulation as the `throughput` command's).
pub(super) struct QuickExpiring(quick_cache::sync::Cache<Bytes, (Bytes, Instant)>);

impl QuickExpiring {
    /// A cache of `sizing.capacity` entries.
    pub(super) fn build(sizing: &Sizing) -> anyhow::Result<Self> {
        Ok(Self(quick_cache::sync::Cache::new(usize::try_from(
            sizing.capacity,
        )?)))
    }
}

impl Store for QuickExpiring {
    #[inline(always)]
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        Ok(match self.0.get(key) {
            Some((value, deadline)) if Instant::now() < deadline => Some(value),
            _ => None,
        })
    }

    #[inline(always)]
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        self.set_with_ttl(key, value, NEVER)
    }

    #[inline(always)]
    fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<(), Failure> {
        self.0.insert(
            Bytes::copy_from_slice(key),
            (Bytes::copy_from_slice(value), Instant::now() + ttl),
        );
        Ok(())
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

/// moka's synchronous cache holding `Bytes` values.
pub(super) struct Moka(moka::sync::Cache<Bytes, Bytes>);

impl Moka {
    /// A cache of `sizing.capacity` entries, with `sizing.ttl` as its `time_to_live`.
    pub(super) fn build(sizing: &Sizing) -> anyhow::Result<Self> {
        let mut builder = moka::sync::Cache::builder().max_capacity(sizing.capacity);
        if let Some(ttl) = sizing.ttl {
            builder = builder.time_to_live(ttl);
        }
        Ok(Self(builder.build()))
    }
}

impl Store for Moka {
    #[inline(always)]
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Failure> {
        Ok(self.0.get(key))
    }

    #[inline(always)]
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        self.0
            .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        Ok(())
    }

    /// Every write of a TTL group uses the same TTL, configured cache-wide in [`Moka::build`].
    #[inline(always)]
    fn set_with_ttl(&self, key: &[u8], value: &[u8], _ttl: Duration) -> Result<(), Failure> {
        self.set(key, value)
    }

    fn len(&self) -> u64 {
        self.0.entry_count()
    }

    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_hex_digits() {
        for key in [0, 1, 0xdead_beef, u64::MAX, 0x9E37_79B9_7F4A_7C15] {
            assert_eq!(key_bytes(key).to_vec(), format!("{key:016x}").into_bytes());
        }
    }

    #[test]
    fn a_pending_future_is_not_ready() {
        assert_eq!(poll_ready(async { 7 }), Some(7));
        assert_eq!(poll_ready(std::future::pending::<u8>()), None);
        assert!(matches!(Single::done::<()>(None), Err(Failure::Pending)));
    }

    #[test]
    fn the_facade_holds_as_many_entries_as_its_peers() {
        const CAPACITY: u64 = 4000;
        let sizing = Sizing {
            capacity: CAPACITY,
            value_size: 64,
            ttl: None,
        };
        let single = Single::build(&sizing).expect("valid configuration");
        let value = [7u8; 64];
        // Shards fill unevenly, as quick_cache's do: allow 5% below the bound, never above it. A
        // weight off by the key or the overhead would miss the bound by far more.
        let full = CAPACITY * 95 / 100..=CAPACITY;
        for key in 0..CAPACITY {
            assert!(single.set(&key_bytes(key), &value).is_ok());
        }
        assert!(full.contains(&single.len()), "filled: {}", single.len());
        for key in CAPACITY..3 * CAPACITY {
            assert!(single.set(&key_bytes(key), &value).is_ok());
        }
        assert!(full.contains(&single.len()), "overfilled: {}", single.len());
        let stored = (0..3 * CAPACITY)
            .find_map(|k| single.get(&key_bytes(k)).ok().flatten())
            .expect("something is cached");
        assert_eq!(stored, Bytes::copy_from_slice(&value));
        assert!(matches!(single.get(b"absent"), Ok(None)));
    }

    #[test]
    fn every_store_returns_what_was_set_and_expires_what_should() {
        let sizing = |ttl| Sizing {
            capacity: 100,
            value_size: 8,
            ttl,
        };
        fn check<S: Store>(store: &S, ttl: bool) {
            assert!(store.set(b"plain", b"value-01").is_ok());
            assert!(
                store
                    .set_with_ttl(b"short", b"value-02", Duration::from_millis(30))
                    .is_ok()
            );
            store.settle();
            assert_eq!(store.len(), 2);
            assert_eq!(
                store.get(b"plain").ok().flatten().as_deref(),
                Some(&b"value-01"[..])
            );
            assert!(matches!(store.get(b"absent"), Ok(None)));
            if ttl {
                std::thread::sleep(Duration::from_millis(60));
                assert!(matches!(store.get(b"short"), Ok(None)), "expired");
            }
        }
        let (plain, with_ttl) = (sizing(None), sizing(Some(Duration::from_millis(30))));
        check(&Single::build(&plain).expect("builds"), true);
        check(&Quick::build(&plain).expect("builds"), false);
        check(&QuickExpiring::build(&with_ttl).expect("builds"), true);
        check(&Moka::build(&with_ttl).expect("builds"), true);
    }
}
