//! A small, correct in-memory backend with switchable faults, used to show that every conformance check can
//! fail. Without a fault it must pass the whole suite.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use relaycache::{Bytes, Cache, Capabilities, Error, Result, ScanPage, Stats};

/// A deliberate contract violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    MissReturnsEmpty,
    DropsWrites,
    KeepsFirstWrite,
    DeleteNoop,
    DeleteMissingErrs,
    ExistsAlwaysFalse,
    IgnoresTtl,
    TtlAlwaysNone,
    SetKeepsTtl,
    ZeroTtlExpiresNow,
    TruncatesAtNul,
    TruncatesLarge,
    RacyWrites,
    MultiIncludesMissing,
    SetMultiFirstOnly,
    MultiIgnoresTtl,
    TornWrites,
    WedgesOnCancel,
    IgnoresClose,
    StatsNoHits,
    PingFails,
    PersistNoop,
    ScanIgnoresPrefix,
    InvalidateAll,
    /// `get_or_load` without a flight: every caller that misses runs its loader.
    LoadsPerCaller,
    /// `try_get_or_load` stores an empty value when the loader fails.
    CachesLoadError,
}

#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires: Option<Instant>,
}

pub(crate) struct FaultyCache {
    fault: Fault,
    map: Arc<Mutex<HashMap<Vec<u8>, Entry>>>,
    closed: AtomicBool,
    busy: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    flights: relaycache::Flights,
}

impl FaultyCache {
    pub(crate) fn new(fault: Fault) -> Self {
        FaultyCache {
            fault,
            map: Arc::default(),
            closed: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            flights: relaycache::Flights::new(),
        }
    }

    fn has(&self, fault: Fault) -> bool {
        self.fault == fault
    }

    fn open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) && !self.has(Fault::IgnoresClose) {
            return Err(Error::Closed);
        }
        if self.busy.load(Ordering::Acquire) {
            return Err(Error::Backend {
                backend: "faulty",
                message: "wedged by a cancelled call".into(),
            });
        }
        Ok(())
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.map.lock().unwrap()
    }

    fn live(&self, key: &[u8]) -> Option<Entry> {
        let mut map = self.map();
        match map.get(key) {
            Some(e) if e.expires.is_some_and(|t| t <= Instant::now()) => {
                map.remove(key);
                None
            }
            other => other.cloned(),
        }
    }

    async fn store(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        self.open()?;
        if self.has(Fault::DropsWrites) {
            return Ok(());
        }
        let mut value = value.to_vec();
        if self.has(Fault::TruncatesAtNul) {
            if let Some(p) = value.iter().position(|b| *b == 0) {
                value.truncate(p);
            }
        }
        if self.has(Fault::TruncatesLarge) {
            value.truncate(1 << 20);
        }
        let expires = if ttl.is_zero() {
            self.has(Fault::ZeroTtlExpiresNow).then(Instant::now)
        } else if self.has(Fault::IgnoresTtl) {
            None
        } else {
            Some(Instant::now() + ttl)
        };
        if self.has(Fault::WedgesOnCancel) {
            self.busy.store(true, Ordering::Release);
            tokio::task::yield_now().await;
            self.busy.store(false, Ordering::Release);
        }
        if self.has(Fault::TornWrites) && value.len() > 1 {
            let half = Bytes::copy_from_slice(&value[..value.len() / 2]);
            self.map().insert(
                key.to_vec(),
                Entry {
                    value: half,
                    expires,
                },
            );
            tokio::task::yield_now().await;
        }
        if self.has(Fault::RacyWrites) {
            let mut snapshot = self.map().clone();
            tokio::task::yield_now().await;
            snapshot.insert(
                key.to_vec(),
                Entry {
                    value: Bytes::from(value),
                    expires,
                },
            );
            *self.map() = snapshot;
            return Ok(());
        }
        let mut map = self.map();
        if self.has(Fault::KeepsFirstWrite) && map.contains_key(key) {
            return Ok(());
        }
        let expires = match (self.has(Fault::SetKeepsTtl) && ttl.is_zero(), map.get(key)) {
            (true, Some(old)) => old.expires,
            _ => expires,
        };
        map.insert(
            key.to_vec(),
            Entry {
                value: Bytes::from(value),
                expires,
            },
        );
        Ok(())
    }
}

impl Cache for FaultyCache {
    fn name(&self) -> &'static str {
        "faulty"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::local()
    }

    fn flights(&self) -> &relaycache::Flights {
        &self.flights
    }

    async fn try_get_or_load<F, Fut, E>(
        &self,
        key: &[u8],
        ttl: Duration,
        loader: F,
    ) -> std::result::Result<Bytes, relaycache::LoadError<E>>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send,
        E: Send,
    {
        use relaycache::LoadError;
        if !self.has(Fault::LoadsPerCaller) && !self.has(Fault::CachesLoadError) {
            return self.flights.try_get_or_load(self, key, ttl, loader).await;
        }
        match self.get(key).await {
            Ok(v) => return Ok(v),
            Err(Error::NotFound) => {}
            Err(e) => return Err(LoadError::Cache(e)),
        }
        match loader().await {
            Ok(v) => {
                self.set_with_ttl(key, &v, ttl)
                    .await
                    .map_err(LoadError::Cache)?;
                Ok(v)
            }
            Err(e) => {
                if self.has(Fault::CachesLoadError) {
                    let _ = self.set_with_ttl(key, b"", ttl).await;
                }
                Err(LoadError::Load(e))
            }
        }
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        self.open()?;
        match self.live(key) {
            Some(e) => {
                if !self.has(Fault::StatsNoHits) {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
                Ok(e.value)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                if self.has(Fault::MissReturnsEmpty) {
                    Ok(Bytes::new())
                } else {
                    Err(Error::NotFound)
                }
            }
        }
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.store(key, value, Duration::ZERO).await
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        self.store(key, value, ttl).await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        self.open()?;
        if self.has(Fault::DeleteNoop) {
            return Ok(());
        }
        let removed = self.map().remove(key);
        if removed.is_none() && self.has(Fault::DeleteMissingErrs) {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        self.open()?;
        Ok(self.live(key).is_some() && !self.has(Fault::ExistsAlwaysFalse))
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        self.open()?;
        let entry = self.live(key).ok_or(Error::NotFound)?;
        if self.has(Fault::TtlAlwaysNone) {
            return Ok(None);
        }
        Ok(entry
            .expires
            .map(|t| t.saturating_duration_since(Instant::now())))
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    async fn get_multi(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        self.open()?;
        let mut found = HashMap::new();
        for key in keys {
            match self.live(key) {
                Some(e) => {
                    found.insert(Bytes::copy_from_slice(key), e.value);
                }
                None if self.has(Fault::MultiIncludesMissing) => {
                    found.insert(Bytes::copy_from_slice(key), Bytes::new());
                }
                None => {}
            }
        }
        Ok(found)
    }

    async fn set_multi_with_ttl(&self, items: &[(&[u8], &[u8])], ttl: Duration) -> Result<()> {
        self.open()?;
        let ttl = if self.has(Fault::MultiIgnoresTtl) {
            Duration::ZERO
        } else {
            ttl
        };
        let take = if self.has(Fault::SetMultiFirstOnly) {
            1
        } else {
            items.len()
        };
        for (key, value) in items.iter().take(take) {
            self.store(key, value, ttl).await?;
        }
        Ok(())
    }

    async fn stats(&self) -> Result<Stats> {
        self.open()?;
        let map = self.map();
        let bytes: usize = map.iter().map(|(k, e)| k.len() + e.value.len()).sum();
        Ok(Stats::new(
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            map.len() as u64,
            bytes as u64,
            0,
        ))
    }

    async fn ping(&self) -> Result<()> {
        self.open()?;
        if self.has(Fault::PingFails) {
            return Err(Error::Connection {
                endpoint: "nowhere".into(),
                reason: "deliberately broken".into(),
            });
        }
        Ok(())
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        self.open()?;
        if self.live(key).is_none() {
            return Ok(false);
        }
        let mut map = self.map();
        let Some(entry) = map.get_mut(key) else {
            return Ok(false);
        };
        match ttl {
            Some(ttl) => entry.expires = Some(Instant::now() + ttl),
            None if self.has(Fault::PersistNoop) => {}
            None => entry.expires = None,
        }
        Ok(true)
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        self.open()?;
        let now = Instant::now();
        let mut keys: Vec<Vec<u8>> = self
            .map()
            .iter()
            .filter(|(k, e)| {
                (self.has(Fault::ScanIgnoresPrefix) || k.starts_with(prefix))
                    && e.expires.is_none_or(|t| t > now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        let start = usize::try_from(cursor)
            .unwrap_or(usize::MAX)
            .min(keys.len());
        let end = (start + count.max(1)).min(keys.len());
        let next = if end == keys.len() { 0 } else { end as u64 };
        Ok(ScanPage {
            cursor: next,
            keys: keys[start..end].iter().cloned().map(Bytes::from).collect(),
        })
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.open()?;
        let mut map = self.map();
        let before = map.len();
        if self.has(Fault::InvalidateAll) {
            map.clear();
            return Ok(10);
        }
        map.retain(|k, _| !k.starts_with(prefix));
        Ok((before - map.len()) as u64)
    }
}
