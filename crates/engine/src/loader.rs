//! Single-flight loading: [`Cache::get_or_load`] (blocking) and [`Cache::get_or_load_async`] (a future
//! built on std primitives, usable from any executor, no tokio needed).
//!
//! Concurrent misses on one key elect one **leader** that runs the loader; the others wait for its
//! result. If the leader's loader fails, the error goes to the leader's caller only and is not cached;
//! waiters then elect a new leader among themselves and run their own loader. If the leader panics (sync)
//! or its future is dropped (async cancellation), a guard hands the load over the same way, so no waiter
//! is stranded.

use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::cache::Cache;
use crate::sync::{Condvar, Mutex};

enum State<V> {
    Loading(Vec<Waker>),
    Done(V),
    Abandoned,
}

/// One in-flight load.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    cond: Condvar,
}

impl<V> Flight<V> {
    fn finish(&self, state: State<V>) {
        let old = std::mem::replace(&mut *self.state.lock(), state);
        self.cond.notify_all();
        if let State::Loading(wakers) = old {
            for w in wakers {
                w.wake();
            }
        }
    }
}

/// The in-flight loads of one shard.
pub(crate) struct Flights<K, V> {
    map: Mutex<hashbrown::HashMap<K, Arc<Flight<V>>, foldhash::fast::RandomState>>,
}

impl<K, V> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Flights {
            map: Mutex::new(hashbrown::HashMap::default()),
        }
    }
}

/// Ends a leader's flight: with the value on success, as abandoned otherwise (error, panic, drop).
struct Lead<'a, K: Hash + Eq, V> {
    cache: &'a Cache<K, V>,
    key: &'a K,
    flight: Arc<Flight<V>>,
    done: Option<V>,
}

impl<K: Hash + Eq, V> Drop for Lead<'_, K, V> {
    fn drop(&mut self) {
        let hash = self.cache.hash(self.key);
        self.cache.cell(hash).flights.map.lock().remove(self.key);
        let state = self.done.take().map_or(State::Abandoned, State::Done);
        self.flight.finish(state);
    }
}

enum Role<V> {
    Leader(Arc<Flight<V>>),
    Waiter(Arc<Flight<V>>),
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    fn join(&self, key: &K) -> Role<V> {
        let hash = self.hash(key);
        let mut map = self.cell(hash).flights.map.lock();
        if let Some(f) = map.get(key) {
            return Role::Waiter(Arc::clone(f));
        }
        let f = Arc::new(Flight {
            state: Mutex::new(State::Loading(Vec::new())),
            cond: Condvar::new(),
        });
        map.insert(key.clone(), Arc::clone(&f));
        Role::Leader(f)
    }

    /// Returns the value of `key`, running `load` to produce and insert it on a miss. Concurrent callers
    /// missing the same key wait for one load (see the [module docs](crate::loader) for failures and
    /// hand-over). Blocks the calling thread while another thread loads.
    ///
    /// ```
    /// use relaycache_engine::Cache;
    /// let cache = Cache::<u32, String>::builder().max_cost(100).build().unwrap();
    /// let v: Result<_, std::io::Error> = cache.get_or_load(7, |k| Ok(format!("value {k}")));
    /// assert_eq!(v.unwrap(), "value 7");
    /// assert_eq!(cache.get(&7).as_deref(), Some("value 7"));
    /// ```
    ///
    /// # Errors
    /// The error of this caller's own `load` run; it is not cached.
    pub fn get_or_load<E>(&self, key: K, load: impl FnOnce(&K) -> Result<V, E>) -> Result<V, E> {
        let mut load = Some(load);
        loop {
            if let Some(v) = self.get(&key) {
                return Ok(v);
            }
            match self.join(&key) {
                Role::Leader(flight) => {
                    let mut lead = Lead {
                        cache: self,
                        key: &key,
                        flight,
                        done: None,
                    };
                    if let Some(v) = self.get(&key) {
                        lead.done = Some(v.clone());
                        return Ok(v);
                    }
                    let Some(load) = load.take() else {
                        unreachable!("a caller leads at most once")
                    };
                    let v = load(&key)?;
                    self.insert(key.clone(), v.clone());
                    lead.done = Some(v.clone());
                    return Ok(v);
                }
                Role::Waiter(flight) => {
                    let mut state = flight.state.lock();
                    loop {
                        match &*state {
                            State::Loading(_) => state = flight.cond.wait(state),
                            State::Done(v) => return Ok(v.clone()),
                            State::Abandoned => break,
                        }
                    }
                }
            }
        }
    }

    /// The asynchronous form of [`get_or_load`](Cache::get_or_load): `load` returns a future, waiters
    /// wait without blocking a thread, and dropping the leader's future (cancellation) hands the load to
    /// a waiter. Works on any executor.
    ///
    /// # Errors
    /// The error of this caller's own `load` run; it is not cached.
    pub async fn get_or_load_async<E, F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce(&K) -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let mut load = Some(load);
        loop {
            if let Some(v) = self.get(&key) {
                return Ok(v);
            }
            match self.join(&key) {
                Role::Leader(flight) => {
                    let mut lead = Lead {
                        cache: self,
                        key: &key,
                        flight,
                        done: None,
                    };
                    if let Some(v) = self.get(&key) {
                        lead.done = Some(v.clone());
                        return Ok(v);
                    }
                    let Some(load) = load.take() else {
                        unreachable!("a caller leads at most once")
                    };
                    let v = load(&key).await?;
                    self.insert(key.clone(), v.clone());
                    lead.done = Some(v.clone());
                    return Ok(v);
                }
                Role::Waiter(flight) => {
                    if let Some(v) = (Wait { flight }).await {
                        return Ok(v);
                    }
                }
            }
        }
    }
}

/// Waits for a flight to end: `Some(value)`, or `None` when it was abandoned.
struct Wait<V> {
    flight: Arc<Flight<V>>,
}

impl<V: Clone> Future for Wait<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let mut state = self.flight.state.lock();
        match &mut *state {
            State::Loading(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Done(v) => Poll::Ready(Some(v.clone())),
            State::Abandoned => Poll::Ready(None),
        }
    }
}
