//! A small, correct in-memory backend with switchable faults, used to show that every conformance check can
//! fail. Without a fault it must pass the whole suite.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use relaycache::{
    Bytes, Cache, Capabilities, Error, ExpireCondition, ExpiryUpdate, KeyOps, Result, ScanPage,
    SetCondition, SetExpiry, SetOptions, SetOutcome, Stats,
};

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
    /// `append` replaces the value instead of extending it.
    AppendReplaces,
    /// Read-modify-writes read, yield, then write: concurrent updates get lost.
    LosesUpdates,
    /// `rename` writes the target, yields, then deletes the source: a value can be duplicated.
    RenameCopies,
    /// `set_multi_if_absent` checks, yields, then writes: two callers can both win.
    MsetnxRaces,
    /// `get_and_expire` reads, yields, then writes the value it read back with the new expiry.
    GetexRewrites,
    /// `copy` checks the target, yields, then writes: two callers can both win.
    CopyRaces,
    /// `rename` with `only_if_absent` checks the target, yields, then moves: two callers can win.
    RenameNxRaces,
    /// `expire_if` reads the expiry, yields, then sets it: two `NX` callers can both win.
    ExpireIfRaces,
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

/// How long the racy faults wait between their read and their write, so that callers running at the
/// same time overlap there.
const RACE_WINDOW: Duration = Duration::from_millis(2);

/// What a read-modify-write does to its key: `None` keeps it, `Some(None)` removes it.
type Write = Option<Option<Entry>>;

impl FaultyCache {
    /// Reads `key` (live entries only), lets `f` decide, and applies the decision: in one step under
    /// the lock, or (fault [`Fault::LosesUpdates`]) with a yield in between.
    async fn rmw<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&Entry>) -> Result<(Write, R)>,
    ) -> Result<R> {
        self.open()?;
        let apply = |map: &mut HashMap<Vec<u8>, Entry>, write: Write| match write {
            Some(Some(e)) => {
                map.insert(key.to_vec(), e);
            }
            Some(None) => {
                map.remove(key);
            }
            None => {}
        };
        if self.has(Fault::LosesUpdates) {
            let current = self.live(key);
            tokio::time::sleep(RACE_WINDOW).await;
            let (write, r) = f(current.as_ref())?;
            apply(&mut self.map(), write);
            return Ok(r);
        }
        let mut map = self.map();
        if map
            .get(key)
            .is_some_and(|e| e.expires.is_some_and(|t| t <= Instant::now()))
        {
            map.remove(key);
        }
        let (write, r) = f(map.get(key))?;
        apply(&mut map, write);
        Ok(r)
    }
}

/// `value` stored with `old`'s deadline.
fn keeping(old: Option<&Entry>, value: impl Into<Bytes>) -> Write {
    Some(Some(Entry {
        value: value.into(),
        expires: old.and_then(|e| e.expires),
    }))
}

impl KeyOps for FaultyCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        self.rmw(key, |cur| {
            let wanted = options.return_previous || options.condition != SetCondition::Always;
            let previous = cur.filter(|_| wanted).map(|e| e.value.clone());
            if !options.condition.allows(cur.is_some()) {
                return Ok((None, SetOutcome::new(false, previous)));
            }
            let expires = match options.expiry {
                SetExpiry::Keep => cur.and_then(|e| e.expires),
                SetExpiry::After(ttl) => Some(Instant::now() + ttl),
                _ => None,
            };
            let entry = Entry {
                value: Bytes::copy_from_slice(value),
                expires,
            };
            Ok((Some(Some(entry)), SetOutcome::new(true, previous)))
        })
        .await
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        self.rmw(key, |cur| match cur {
            Some(e) => Ok((Some(None), e.value.clone())),
            None => Err(Error::NotFound),
        })
        .await
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        self.rmw(key, |cur| Ok((Some(None), cur.is_some()))).await
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        self.rmw(key, |cur| {
            let n = relaycache::incremented(cur.map(|e| &e.value[..]), delta)?;
            Ok((keeping(cur, n.to_string()), n))
        })
        .await
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        self.rmw(key, |cur| {
            let next = Bytes::from(relaycache::increment_float(
                cur.map(|e| &e.value[..]),
                increment,
            )?);
            Ok((keeping(cur, next.clone()), next))
        })
        .await
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        let replaces = self.has(Fault::AppendReplaces);
        self.rmw(key, |cur| {
            let base = if replaces {
                None
            } else {
                cur.map(|e| &e.value[..])
            };
            let next = relaycache::appended(base, suffix)?;
            let len = next.len();
            Ok((keeping(cur, next), len))
        })
        .await
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        self.rmw(key, |cur| {
            let value = cur.map(|e| &e.value[..]);
            Ok(match relaycache::with_range(value, offset, bytes)? {
                Some(next) => {
                    let len = next.len();
                    (keeping(cur, next), len)
                }
                None => (None, value.map_or(0, <[u8]>::len)),
            })
        })
        .await
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        self.rmw(key, |cur| {
            let (next, previous) = relaycache::with_bit(cur.map(|e| &e.value[..]), offset, bit)?;
            Ok((keeping(cur, next), previous))
        })
        .await
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        if self.has(Fault::GetexRewrites) {
            self.open()?;
            let entry = self.live(key).ok_or(Error::NotFound)?;
            tokio::time::sleep(RACE_WINDOW).await;
            let expires = match expiry {
                ExpiryUpdate::After(ttl) => Some(Instant::now() + ttl),
                _ => None,
            };
            let value = entry.value.clone();
            self.map().insert(
                key.to_vec(),
                Entry {
                    value: value.clone(),
                    expires,
                },
            );
            return Ok(value);
        }
        self.rmw(key, |cur| {
            let e = cur.ok_or(Error::NotFound)?;
            let value = e.value.clone();
            let write = match expiry {
                ExpiryUpdate::Persist => Some(Some(Entry {
                    value: value.clone(),
                    expires: None,
                })),
                ExpiryUpdate::After(ttl) if ttl.is_zero() => Some(None),
                ExpiryUpdate::After(ttl) => Some(Some(Entry {
                    value: value.clone(),
                    expires: Some(Instant::now() + ttl),
                })),
                _ => None,
            };
            Ok((write, value))
        })
        .await
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        self.open()?;
        let allowed = |e: &Entry| {
            let left = e
                .expires
                .map(|at| at.saturating_duration_since(Instant::now()));
            condition.allows(left, ttl)
        };
        if self.has(Fault::ExpireIfRaces) {
            let Some(entry) = self.live(key) else {
                return Ok(false);
            };
            if !allowed(&entry) {
                return Ok(false);
            }
            tokio::time::sleep(RACE_WINDOW).await;
        }
        let mut map = self.map();
        let Some(entry) = map
            .get_mut(key)
            .filter(|e| e.expires.is_none_or(|t| t > Instant::now()))
        else {
            return Ok(false);
        };
        if !self.has(Fault::ExpireIfRaces) && !allowed(entry) {
            return Ok(false);
        }
        if ttl.is_zero() {
            map.remove(key);
        } else {
            entry.expires = Some(Instant::now() + ttl);
        }
        Ok(true)
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        self.open()?;
        if self.has(Fault::RenameCopies) {
            let source = self.live(from).ok_or(Error::NotFound)?;
            self.map().insert(to.to_vec(), source);
            tokio::time::sleep(RACE_WINDOW).await;
            self.map().remove(from);
            return Ok(true);
        }
        if only_if_absent && self.has(Fault::RenameNxRaces) {
            let source = self.live(from).ok_or(Error::NotFound)?;
            if self.live(to).is_some() {
                return Ok(false);
            }
            tokio::time::sleep(RACE_WINDOW).await;
            let mut map = self.map();
            map.remove(from);
            map.insert(to.to_vec(), source);
            return Ok(true);
        }
        let mut map = self.map();
        let source = map
            .get(from)
            .filter(|e| e.expires.is_none_or(|t| t > Instant::now()))
            .cloned()
            .ok_or(Error::NotFound)?;
        if from == to {
            return Ok(!only_if_absent);
        }
        if only_if_absent && map.contains_key(to) {
            return Ok(false);
        }
        map.remove(from);
        map.insert(to.to_vec(), source);
        Ok(true)
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        self.open()?;
        if self.has(Fault::CopyRaces) && !replace {
            let Some(source) = self.live(from) else {
                return Ok(false);
            };
            if self.live(to).is_some() {
                return Ok(false);
            }
            tokio::time::sleep(RACE_WINDOW).await;
            self.map().insert(to.to_vec(), source);
            return Ok(true);
        }
        let mut map = self.map();
        let Some(source) = map.get(from).cloned() else {
            return Ok(false);
        };
        if from == to || (!replace && map.contains_key(to)) {
            return Ok(false);
        }
        map.insert(to.to_vec(), source);
        Ok(true)
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        self.open()?;
        let present =
            |map: &HashMap<Vec<u8>, Entry>| items.iter().any(|(k, _)| map.contains_key(*k));
        if self.has(Fault::MsetnxRaces) {
            if present(&self.map()) {
                return Ok(false);
            }
            tokio::time::sleep(RACE_WINDOW).await;
        }
        let mut map = self.map();
        if !self.has(Fault::MsetnxRaces) && present(&map) {
            return Ok(false);
        }
        for (k, v) in items {
            map.insert(
                k.to_vec(),
                Entry {
                    value: Bytes::copy_from_slice(v),
                    expires: None,
                },
            );
        }
        Ok(true)
    }
}
