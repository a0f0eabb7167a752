//! The one place the engine gets its blocking primitives from.
//!
//! Normally these are `parking_lot`'s `RwLock` (shards) and `std`'s `Mutex`/`Condvar` (single-flight
//! loads). With the `shuttle` feature, a thread inside `shuttle_scope` builds the
//! [shuttle](https://docs.rs/shuttle) versions instead, so shuttle can explore the interleavings of the
//! shard locks and the loader hand-over; everything created outside the scope keeps the fast primitives,
//! so the rest of the test suite runs unchanged with `--all-features`.
//!
//! Atomics are plain `std` atomics: they only carry counters and policy hints, never a protocol.

use std::ops::{Deref, DerefMut};

#[cfg(feature = "shuttle")]
thread_local! {
    static SHUTTLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with shuttle primitives: every lock the engine creates on this thread during `f` (for example
/// by building a cache inside a `shuttle::check_random` closure) is a shuttle lock. Only with the `shuttle`
/// feature; test support, not a production knob.
#[cfg(feature = "shuttle")]
pub fn shuttle_scope<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SHUTTLE.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(SHUTTLE.with(|s| s.replace(true)));
    f()
}

#[cfg(feature = "shuttle")]
fn in_shuttle() -> bool {
    SHUTTLE.with(std::cell::Cell::get)
}

/// A reader-writer lock that never reports poisoning (the engine keeps its invariants across panics of
/// user callbacks by never calling them under a lock).
pub(crate) enum RwLock<T> {
    Fast(parking_lot::RwLock<T>),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::RwLock<T>),
}

pub(crate) enum ReadGuard<'a, T> {
    Fast(parking_lot::RwLockReadGuard<'a, T>),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::RwLockReadGuard<'a, T>),
}

pub(crate) enum WriteGuard<'a, T> {
    Fast(parking_lot::RwLockWriteGuard<'a, T>),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::RwLockWriteGuard<'a, T>),
}

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(feature = "shuttle")]
        if in_shuttle() {
            return RwLock::Shuttle(shuttle::sync::RwLock::new(value));
        }
        RwLock::Fast(parking_lot::RwLock::new(value))
    }

    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        match self {
            RwLock::Fast(l) => ReadGuard::Fast(l.read()),
            #[cfg(feature = "shuttle")]
            RwLock::Shuttle(l) => ReadGuard::Shuttle(l.read().unwrap_or_else(|e| e.into_inner())),
        }
    }

    #[inline]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        match self {
            RwLock::Fast(l) => WriteGuard::Fast(l.write()),
            #[cfg(feature = "shuttle")]
            RwLock::Shuttle(l) => WriteGuard::Shuttle(l.write().unwrap_or_else(|e| e.into_inner())),
        }
    }
}

impl<T> RwLock<T> {
    /// The write lock if no one holds the lock now.
    #[inline]
    pub(crate) fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        match self {
            RwLock::Fast(l) => l.try_write().map(WriteGuard::Fast),
            #[cfg(feature = "shuttle")]
            RwLock::Shuttle(l) => match l.try_write() {
                Ok(g) => Some(WriteGuard::Shuttle(g)),
                Err(shuttle::sync::TryLockError::Poisoned(e)) => {
                    Some(WriteGuard::Shuttle(e.into_inner()))
                }
                Err(shuttle::sync::TryLockError::WouldBlock) => None,
            },
        }
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match self {
            ReadGuard::Fast(g) => g,
            #[cfg(feature = "shuttle")]
            ReadGuard::Shuttle(g) => g,
        }
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match self {
            WriteGuard::Fast(g) => g,
            #[cfg(feature = "shuttle")]
            WriteGuard::Shuttle(g) => g,
        }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        match self {
            WriteGuard::Fast(g) => g,
            #[cfg(feature = "shuttle")]
            WriteGuard::Shuttle(g) => g,
        }
    }
}

/// A mutex paired with [`Condvar`], used by single-flight loads.
pub(crate) enum Mutex<T> {
    Std(std::sync::Mutex<T>),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::Mutex<T>),
}

pub(crate) enum MutexGuard<'a, T> {
    Std(std::sync::MutexGuard<'a, T>),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(feature = "shuttle")]
        if in_shuttle() {
            return Mutex::Shuttle(shuttle::sync::Mutex::new(value));
        }
        Mutex::Std(std::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        match self {
            Mutex::Std(m) => MutexGuard::Std(m.lock().unwrap_or_else(|e| e.into_inner())),
            #[cfg(feature = "shuttle")]
            Mutex::Shuttle(m) => MutexGuard::Shuttle(m.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            MutexGuard::Std(g) => g,
            #[cfg(feature = "shuttle")]
            MutexGuard::Shuttle(g) => g,
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            MutexGuard::Std(g) => g,
            #[cfg(feature = "shuttle")]
            MutexGuard::Shuttle(g) => g,
        }
    }
}

/// A condition variable for [`Mutex`].
pub(crate) enum Condvar {
    Std(std::sync::Condvar),
    #[cfg(feature = "shuttle")]
    Shuttle(shuttle::sync::Condvar),
}

impl Condvar {
    pub(crate) fn new() -> Self {
        #[cfg(feature = "shuttle")]
        if in_shuttle() {
            return Condvar::Shuttle(shuttle::sync::Condvar::new());
        }
        Condvar::Std(std::sync::Condvar::new())
    }

    /// Waits for a notification. Both sides are always built in the same mode, so the pairs match.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        match (self, guard) {
            (Condvar::Std(c), MutexGuard::Std(g)) => {
                MutexGuard::Std(c.wait(g).unwrap_or_else(|e| e.into_inner()))
            }
            #[cfg(feature = "shuttle")]
            (Condvar::Shuttle(c), MutexGuard::Shuttle(g)) => {
                MutexGuard::Shuttle(c.wait(g).unwrap_or_else(|e| e.into_inner()))
            }
            #[cfg(feature = "shuttle")]
            (_, g) => g,
        }
    }

    pub(crate) fn notify_all(&self) {
        match self {
            Condvar::Std(c) => c.notify_all(),
            #[cfg(feature = "shuttle")]
            Condvar::Shuttle(c) => c.notify_all(),
        }
    }
}
