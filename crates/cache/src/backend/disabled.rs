//! `disabled` mode: a cache that stores nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::api::{Cache, Capabilities, ScanPage, Stats};
use crate::error::{Error, Result};
use crate::keyops::{
    ExpireCondition, ExpiryUpdate, KeyOps, SetOptions, SetOutcome, appended, incremented, with_bit,
    with_range,
};
use crate::load::Flights;

/// A cache that stores nothing: every read misses, every write succeeds and is forgotten. Useful to run
/// an application without caching, or to rule the cache out while debugging. After
/// [`close`](Cache::close) it returns [`Error::Closed`] like every backend.
///
/// ```
/// use relaycache::{Cache, DisabledCache};
/// # tokio_test_block_on(async {
/// let cache = DisabledCache::new();
/// cache.set(b"k", b"v").await?;
/// assert!(cache.get(b"k").await.unwrap_err().is_not_found());
/// # Ok::<(), relaycache::Error>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct DisabledCache {
    closed: AtomicBool,
    flights: Flights,
}

impl DisabledCache {
    /// A new, open, empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}

impl Cache for DisabledCache {
    fn name(&self) -> &'static str {
        "disabled"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::local()
    }

    fn flights(&self) -> &Flights {
        &self.flights
    }

    async fn get(&self, _key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        Err(Error::NotFound)
    }

    async fn set(&self, _key: &[u8], _value: &[u8]) -> Result<()> {
        self.check_open()
    }

    async fn set_with_ttl(&self, _key: &[u8], _value: &[u8], _ttl: Duration) -> Result<()> {
        self.check_open()
    }

    async fn delete(&self, _key: &[u8]) -> Result<()> {
        self.check_open()
    }

    async fn exists(&self, _key: &[u8]) -> Result<bool> {
        self.check_open()?;
        Ok(false)
    }

    async fn ttl(&self, _key: &[u8]) -> Result<Option<Duration>> {
        self.check_open()?;
        Err(Error::NotFound)
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        self.check_open()
    }

    async fn stats(&self) -> Result<Stats> {
        self.check_open()?;
        Ok(Stats::default())
    }

    async fn expire(&self, _key: &[u8], _ttl: Option<Duration>) -> Result<bool> {
        self.check_open()?;
        Ok(false)
    }

    async fn scan(&self, _cursor: u64, _prefix: &[u8], _count: usize) -> Result<ScanPage> {
        self.check_open()?;
        Ok(ScanPage::default())
    }

    async fn invalidate_prefix(&self, _prefix: &[u8]) -> Result<u64> {
        self.check_open()?;
        Ok(0)
    }
}

/// Every operation behaves as on a key that is absent, and forgets what it would write.
impl KeyOps for DisabledCache {
    async fn set_with_options(
        &self,
        _key: &[u8],
        _value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        self.check_open()?;
        Ok(SetOutcome::new(options.condition.allows(false), None))
    }

    async fn take(&self, _key: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        Err(Error::NotFound)
    }

    async fn remove(&self, _key: &[u8]) -> Result<bool> {
        self.check_open()?;
        Ok(false)
    }

    async fn increment(&self, _key: &[u8], delta: i64) -> Result<i64> {
        self.check_open()?;
        incremented(None, delta)
    }

    async fn increment_float(&self, _key: &[u8], increment: &[u8]) -> Result<Bytes> {
        self.check_open()?;
        crate::increment_float(None, increment).map(Bytes::from)
    }

    async fn append(&self, _key: &[u8], suffix: &[u8]) -> Result<usize> {
        self.check_open()?;
        appended(None, suffix).map(|v| v.len())
    }

    async fn set_range(&self, _key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        self.check_open()?;
        Ok(with_range(None, offset, bytes)?.map_or(0, |v| v.len()))
    }

    async fn set_bit(&self, _key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        self.check_open()?;
        with_bit(None, offset, bit).map(|(_, previous)| previous)
    }

    async fn get_and_expire(&self, _key: &[u8], _expiry: ExpiryUpdate) -> Result<Bytes> {
        self.check_open()?;
        Err(Error::NotFound)
    }

    async fn expire_if(
        &self,
        _key: &[u8],
        _ttl: Duration,
        _condition: ExpireCondition,
    ) -> Result<bool> {
        self.check_open()?;
        Ok(false)
    }

    async fn rename(&self, _from: &[u8], _to: &[u8], _only_if_absent: bool) -> Result<bool> {
        self.check_open()?;
        Err(Error::NotFound)
    }

    async fn copy(&self, _from: &[u8], _to: &[u8], _replace: bool) -> Result<bool> {
        self.check_open()?;
        Ok(false)
    }

    async fn set_multi_if_absent(&self, _items: &[(&[u8], &[u8])]) -> Result<bool> {
        self.check_open()?;
        Ok(true)
    }
}
