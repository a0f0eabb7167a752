//! Single-flight loading for every backend: [`Cache::get_or_load`](crate::Cache::get_or_load) and
//! [`Cache::try_get_or_load`](crate::Cache::try_get_or_load) run on a [`Flights`] table that each
//! backend holds.
//!
//! Callers that miss the same key at once elect one **leader**, which runs its loader, stores the
//! value and hands it to the others (the **waiters**) directly, so they get it even when the backend
//! declines or discards the write (admission, `disabled` mode). If the leader's loader fails, the
//! error goes to the leader's caller only and is not cached; if the leader's future is dropped
//! (cancelled, or its deadline passed), the flight is abandoned the same way. Either way the waiters
//! elect a new leader among themselves, which runs its own loader. The table is per cache instance and
//! per process: callers in other processes (other cluster nodes, other clients of one Redis) do not
//! share a flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use crate::api::Cache;

/// Where a flight is.
#[derive(Debug, Clone)]
enum State {
    Loading,
    Done(Bytes),
    Abandoned,
}

/// The in-flight loads of one cache, by key. Backends hold one and return it from
/// [`Cache::flights`](crate::Cache::flights); `Default` makes an empty table.
#[derive(Debug, Default)]
pub struct Flights {
    map: Mutex<HashMap<Bytes, Arc<watch::Sender<State>>>>,
}

/// What [`Flights::join`] made of a caller.
enum Role<'a> {
    /// Runs the loader; ends the flight when dropped.
    Leader(Lead<'a>),
    /// Waits for the flight.
    Waiter(watch::Receiver<State>),
}

impl Flights {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Flights::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, Arc<watch::Sender<State>>>> {
        // The map is only inserted into and removed from; a panic elsewhere cannot leave it torn.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the flight of `key`, or starts one.
    fn join(&self, key: &[u8]) -> Role<'_> {
        let mut map = self.map();
        if let Some(tx) = map.get(key) {
            return Role::Waiter(tx.subscribe());
        }
        let key = Bytes::copy_from_slice(key);
        let tx = Arc::new(watch::Sender::new(State::Loading));
        map.insert(key.clone(), Arc::clone(&tx));
        Role::Leader(Lead {
            flights: self,
            key,
            tx,
            done: false,
        })
    }

    /// How many callers wait on the flight of `key` (0 when none is in flight).
    #[doc(hidden)]
    pub fn waiters(&self, key: &[u8]) -> usize {
        self.map().get(key).map_or(0, |tx| tx.receiver_count())
    }

    /// Keys with a load in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.map().len()
    }

    /// A single-flight load of `key` through `cache` on this table: what
    /// [`Cache::try_get_or_load`] does by default, for an implementation that overrides it and
    /// still wants the shared behaviour in some cases.
    ///
    /// # Errors
    /// As [`Cache::try_get_or_load`].
    pub async fn try_get_or_load<C, F, Fut, E>(
        &self,
        cache: &C,
        key: &[u8],
        ttl: Duration,
        loader: F,
    ) -> Result<Bytes, LoadError<E>>
    where
        C: Cache + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let read = async || match cache.get(key).await {
            Ok(value) => Ok(Some(value)),
            Err(crate::Error::NotFound) => Ok(None),
            Err(e) => Err(LoadError::Cache(e)),
        };
        // Until this caller leads a flight: a hit, or the value of a flight that ended well.
        let lead = loop {
            if let Some(value) = read().await? {
                return Ok(value);
            }
            match self.join(key) {
                Role::Leader(lead) => break lead,
                Role::Waiter(flight) => {
                    if let Some(value) = wait(flight).await {
                        return Ok(value);
                    }
                }
            }
        };
        // Another leader may have stored the value between the miss and the join.
        if let Some(value) = read().await? {
            lead.finish(value.clone());
            return Ok(value);
        }
        let value = loader().await.map_err(LoadError::Load)?;
        if let Err(e) = cache.set_with_ttl(key, &value, ttl).await {
            tracing::warn!(component = "cache", backend = cache.name(), error = %e, "get_or_load could not store the loaded value; returning it anyway");
        }
        lead.finish(value.clone());
        Ok(value)
    }
}

/// A leader's hold on its flight: [`Lead::finish`] hands the value over; dropping it unfinished
/// abandons the flight, so the waiters elect a new leader.
struct Lead<'a> {
    flights: &'a Flights,
    key: Bytes,
    tx: Arc<watch::Sender<State>>,
    done: bool,
}

impl Lead<'_> {
    /// Ends the flight with `value`.
    fn finish(mut self, value: Bytes) {
        self.done = true;
        self.end(State::Done(value));
    }

    fn end(&self, state: State) {
        self.flights.map().remove(&self.key);
        self.tx.send_replace(state);
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.end(State::Abandoned);
        }
    }
}

/// Waits for a flight to end: its value, or `None` when it was abandoned.
async fn wait(mut rx: watch::Receiver<State>) -> Option<Bytes> {
    let state = rx
        .wait_for(|s| !matches!(s, State::Loading))
        .await
        .ok()?
        .clone();
    match state {
        State::Done(value) => Some(value),
        State::Loading | State::Abandoned => None,
    }
}

/// The error of [`Cache::try_get_or_load`](crate::Cache::try_get_or_load).
#[derive(Debug, thiserror::Error)]
pub enum LoadError<E> {
    /// The cache failed (closed, unreachable, a quorum not met); the loader did not run.
    #[error(transparent)]
    Cache(crate::Error),
    /// This caller's loader failed. Nothing was cached; the next caller runs its loader again.
    #[error("cache: loader failed: {0}")]
    Load(E),
}
