//! [`MemoryCache`]: a mutex-protected map with TTLs, scan and stats. Simple and obviously correct,
//! not fast.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use relaycache::{Cache, Capabilities, Error, Result, ScanPage, Stats};

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
        let now = Instant::now();
        let expires = ttl.and_then(|t| now.checked_add(t));
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
