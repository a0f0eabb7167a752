//! [`MemoryCache`]: a mutex-protected map with TTLs, scan and stats. Simple and obviously correct,
//! not fast.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use relaycache::{
    Cache, Capabilities, Error, ExpireCondition, ExpiryUpdate, KeyOps, Result, ScanPage,
    SetCondition, SetExpiry, SetOptions, SetOutcome, Stats,
};

/// A storing cache for tests: every key kept until deleted or expired (no size bound).
#[derive(Debug, Default)]
pub struct MemoryCache {
    inner: Mutex<Inner>,
    closed: Arc<AtomicBool>,
    hits: AtomicU64,
    misses: AtomicU64,
    flights: relaycache::Flights,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Bytes, Entry>,
    /// Keys in insertion order; the scan cursor is a position in this order.
    order: BTreeMap<u64, Bytes>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry {
    value: Bytes,
    expires: Option<Instant>,
    seq: u64,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl Inner {
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        let expired = self.entries.get(key).is_some_and(|e| !e.live(now));
        if expired {
            self.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.order.remove(&e.seq);
                e.live(Instant::now())
            }
            None => false,
        }
    }

    fn insert(&mut self, key: &[u8], value: &[u8], ttl: Option<Duration>) {
        let expires = ttl.and_then(|t| Instant::now().checked_add(t));
        self.insert_until(key, value, expires);
    }

    /// The live value of `key` and its deadline.
    fn current(&mut self, key: &[u8]) -> Option<(Bytes, Option<Instant>)> {
        self.live(key, Instant::now())
            .map(|e| (e.value.clone(), e.expires))
    }

    fn insert_until(&mut self, key: &[u8], value: &[u8], expires: Option<Instant>) {
        let now = Instant::now();
        let value = Bytes::copy_from_slice(value);
        if let Some(e) = self.live(key, now) {
            e.value = value;
            e.expires = expires;
            return;
        }
        let key = Bytes::copy_from_slice(key);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key.clone());
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
    }
}

impl MemoryCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A switch that closes the cache from outside (set it to true), as if `close` had been called:
    /// lets tests see how a server reacts to a backend that stops serving.
    #[must_use]
    pub fn close_switch(&self) -> Arc<AtomicBool> {
        self.closed.clone()
    }

    fn open(&self) -> Result<parking_lot::MutexGuard<'_, Inner>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(self.inner.lock())
    }
}

impl Cache for MemoryCache {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::local()
    }

    fn flights(&self) -> &relaycache::Flights {
        &self.flights
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        let mut inner = self.open()?;
        match inner.live(key, Instant::now()) {
            Some(e) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(e.value.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(Error::NotFound)
            }
        }
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.open()?.insert(key, value, None);
        Ok(())
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let ttl = (!ttl.is_zero()).then_some(ttl);
        self.open()?.insert(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        self.open()?.remove(key);
        Ok(())
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.open()?.live(key, Instant::now()).is_some())
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        let now = Instant::now();
        let mut inner = self.open()?;
        let entry = inner.live(key, now).ok_or(Error::NotFound)?;
        Ok(entry.expires.map(|at| at.saturating_duration_since(now)))
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    async fn stats(&self) -> Result<Stats> {
        let inner = self.open()?;
        let now = Instant::now();
        let keys = inner.entries.values().filter(|e| e.live(now)).count() as u64;
        let bytes = inner
            .entries
            .iter()
            .map(|(k, e)| (k.len() + e.value.len()) as u64)
            .sum();
        Ok(Stats::new(
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            keys,
            bytes,
            0,
        ))
    }

    async fn ping(&self) -> Result<()> {
        self.open().map(drop)
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        let now = Instant::now();
        let mut inner = self.open()?;
        match inner.live(key, now) {
            Some(e) => {
                e.expires = ttl.and_then(|t| now.checked_add(t));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        let inner = self.open()?;
        let now = Instant::now();
        let mut keys = Vec::new();
        let mut next = 0;
        for (examined, (&seq, key)) in inner.order.range(cursor..).enumerate() {
            if examined >= count.max(1) {
                next = seq;
                break;
            }
            let live = inner.entries.get(key).is_some_and(|e| e.live(now));
            if live && key.starts_with(prefix) {
                keys.push(key.clone());
            }
        }
        Ok(ScanPage { cursor: next, keys })
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        let mut inner = self.open()?;
        let doomed: Vec<Bytes> = inner
            .entries
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        let mut removed = 0;
        for key in doomed {
            if inner.remove(&key) {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Every operation runs under the one mutex: atomic against every other call.
impl KeyOps for MemoryCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let wanted = options.return_previous || options.condition != SetCondition::Always;
        let previous = current.as_ref().filter(|_| wanted).map(|(v, _)| v.clone());
        if !options.condition.allows(current.is_some()) {
            return Ok(SetOutcome::new(false, previous));
        }
        let expires = match options.expiry {
            SetExpiry::Never => None,
            SetExpiry::Keep => current.and_then(|(_, at)| at),
            SetExpiry::After(ttl) => Instant::now().checked_add(ttl),
            _ => None,
        };
        inner.insert_until(key, value, expires);
        Ok(SetOutcome::new(true, previous))
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        let mut inner = self.open()?;
        let (value, _) = inner.current(key).ok_or(Error::NotFound)?;
        inner.remove(key);
        Ok(value)
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        let mut inner = self.open()?;
        let present = inner.current(key).is_some();
        inner.remove(key);
        Ok(present)
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let n = relaycache::incremented(current.as_ref().map(|(v, _)| &v[..]), delta)?;
        inner.insert_until(
            key,
            n.to_string().as_bytes(),
            current.and_then(|(_, at)| at),
        );
        Ok(n)
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let next = relaycache::increment_float(current.as_ref().map(|(v, _)| &v[..]), increment)?;
        inner.insert_until(key, &next, current.and_then(|(_, at)| at));
        Ok(Bytes::from(next))
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let next = relaycache::appended(current.as_ref().map(|(v, _)| &v[..]), suffix)?;
        inner.insert_until(key, &next, current.and_then(|(_, at)| at));
        Ok(next.len())
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let value = current.as_ref().map(|(v, _)| &v[..]);
        match relaycache::with_range(value, offset, bytes)? {
            Some(next) => {
                inner.insert_until(key, &next, current.and_then(|(_, at)| at));
                Ok(next.len())
            }
            None => Ok(value.map_or(0, <[u8]>::len)),
        }
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        let mut inner = self.open()?;
        let current = inner.current(key);
        let (next, previous) =
            relaycache::with_bit(current.as_ref().map(|(v, _)| &v[..]), offset, bit)?;
        inner.insert_until(key, &next, current.and_then(|(_, at)| at));
        Ok(previous)
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        let mut inner = self.open()?;
        let (value, _) = inner.current(key).ok_or(Error::NotFound)?;
        match expiry {
            ExpiryUpdate::Persist => inner.insert_until(key, &value, None),
            ExpiryUpdate::After(ttl) if ttl.is_zero() => {
                inner.remove(key);
            }
            ExpiryUpdate::After(ttl) => {
                inner.insert_until(key, &value, Instant::now().checked_add(ttl));
            }
            _ => {}
        }
        Ok(value)
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        let mut inner = self.open()?;
        let Some((value, expires)) = inner.current(key) else {
            return Ok(false);
        };
        let left = expires.map(|at| at.saturating_duration_since(Instant::now()));
        if !condition.allows(left, ttl) {
            return Ok(false);
        }
        if ttl.is_zero() {
            inner.remove(key);
        } else {
            inner.insert_until(key, &value, Instant::now().checked_add(ttl));
        }
        Ok(true)
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        let mut inner = self.open()?;
        let (value, expires) = inner.current(from).ok_or(Error::NotFound)?;
        if from == to {
            return Ok(!only_if_absent);
        }
        if only_if_absent && inner.current(to).is_some() {
            return Ok(false);
        }
        inner.remove(from);
        inner.insert_until(to, &value, expires);
        Ok(true)
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        let mut inner = self.open()?;
        let Some((value, expires)) = inner.current(from) else {
            return Ok(false);
        };
        if from == to || (!replace && inner.current(to).is_some()) {
            return Ok(false);
        }
        inner.insert_until(to, &value, expires);
        Ok(true)
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        let mut inner = self.open()?;
        if items.iter().any(|(k, _)| inner.current(k).is_some()) {
            return Ok(false);
        }
        for (k, v) in items {
            inner.insert_until(k, v, None);
        }
        Ok(true)
    }
}
