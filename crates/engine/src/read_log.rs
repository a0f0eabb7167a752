//! [`ReadLog`]: the hits on window entries since a shard's last write, in the order they happened.
//!
//! Reads run under the shard's read lock and must not move entries, so a hit only sets the entry's
//! reference bit (CLOCK). A CLOCK gives every hit entry one more lap, however long ago its hit was:
//! when the working set moves, keys hit before the move outlive new keys that LRU would keep. The log
//! keeps the order instead: a hit on a window entry appends the entry's slot, and the next write (under
//! the write lock) moves the logged entries to the window's tail in that order, so the window is in LRU
//! order. The log is lossy and bounded: once full, further hits are dropped and their entries fall back
//! on the reference bit. Only window hits are logged, so a shard whose window is small (frequency-heavy
//! traffic) logs little, and one whose window has grown (recency-heavy traffic) gets LRU's order where
//! it matters.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Hits logged between two writes at most (a read-mostly stretch longer than this falls back on CLOCK
/// for the rest).
const CAPACITY: usize = 128;

/// A bounded, lossy log of slot indices (see the module documentation).
pub(crate) struct ReadLog {
    /// Positions `0..len` hold the slots logged since the last drain (a position claimed by a reader is
    /// written before it releases the read lock, so a drain under the write lock sees every claim done).
    slots: Box<[AtomicU32]>,
    len: AtomicU32,
}

impl Default for ReadLog {
    fn default() -> Self {
        ReadLog {
            slots: (0..CAPACITY).map(|_| AtomicU32::new(0)).collect(),
            len: AtomicU32::new(0),
        }
    }
}

impl ReadLog {
    /// Logs a hit on `slot` (under the read lock); dropped when the log is full. Returns true for the
    /// hit that took the last place: its reader should replay the log if it can take the write lock
    /// without waiting, so that a long stretch of reads keeps its order too.
    #[inline]
    pub(crate) fn record(&self, slot: u32) -> bool {
        // A load first: a full log costs readers no write to the shared line.
        if self.len.load(Relaxed) as usize >= CAPACITY {
            return false;
        }
        let at = self.len.fetch_add(1, Relaxed) as usize;
        if let Some(s) = self.slots.get(at) {
            s.store(slot, Relaxed);
        }
        at + 1 == CAPACITY
    }

    /// Whether anything was logged since the last drain.
    #[inline]
    pub(crate) fn is_empty(&mut self) -> bool {
        *self.len.get_mut() == 0
    }

    /// Empties the log (under the write lock) and returns how many slots it held: read them with
    /// [`ReadLog::at`], oldest first, before the next [`ReadLog::record`].
    pub(crate) fn take(&mut self) -> usize {
        let len = (*self.len.get_mut() as usize).min(CAPACITY);
        *self.len.get_mut() = 0;
        len
    }

    /// The slot logged at position `at` (below what [`ReadLog::take`] returned).
    #[inline]
    pub(crate) fn at(&mut self, at: usize) -> u32 {
        self.slots.get_mut(at).map_or(u32::MAX, |s| *s.get_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_in_order_and_drops_what_overflows() {
        let mut log = ReadLog::default();
        assert!(log.is_empty());
        let filled: Vec<u32> = (0..(CAPACITY as u32 + 10))
            .filter(|&i| log.record(i))
            .collect();
        assert_eq!(filled, vec![CAPACITY as u32 - 1]);
        let n = log.take();
        let seen: Vec<u32> = (0..n).map(|k| log.at(k)).collect();
        assert_eq!(seen, (0..CAPACITY as u32).collect::<Vec<_>>());
        assert!(log.is_empty());
        assert!(!log.record(7));
        assert_eq!(log.take(), 1);
        assert_eq!(log.at(0), 7);
    }
}
