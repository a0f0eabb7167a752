//! [`Ghost`]: the hashes of the keys a shard evicted last from one side of its policy, so that a miss on
//! one of them tells which side, had it been a little larger, would have kept the key.
//!
//! The shard keeps two: one for keys leaving the window (candidates that lost admission, and window
//! victims), one for keys leaving main. A miss on a key in the window's ghost is a hit a slightly larger
//! window would have had (recency paid), unless main would now admit the key over its next victim
//! (then main's filter takes it on its way out of the window, and it votes for neither side); a miss
//! on a key in main's ghost is one a slightly larger main would have had (frequency paid). The shard
//! tallies these votes in rounds and moves the window/main boundary towards the side that won a round
//! clearly, so the split follows the workload (the marginal-utility rule of ARC, applied to
//! W-TinyLFU's window, with a significance test so that a workload that pays both sides alike does
//! not make the boundary wander). Each ghost holds about [`SHARE_DIVISOR`]-th of the entries the
//! shard holds: only keys evicted just now count, so a key that returns only after a long loop (which
//! no small move of the boundary would have kept) moves nothing.

use std::collections::VecDeque;

/// A ghost remembers about 1/this of the entries the shard holds (5%).
pub(crate) const SHARE_DIVISOR: usize = 20;

/// The fewest hashes a ghost may remember.
const MIN_LEN: usize = 8;

/// Recently evicted key hashes, oldest first.
#[derive(Default)]
pub(crate) struct Ghost {
    order: VecDeque<u64>,
    /// Hash → how many times it is in `order` and not taken yet.
    live: hashbrown::HashMap<u64, u32, foldhash::fast::FixedState>,
}

impl Ghost {
    /// Remembers `hash`, forgetting the oldest beyond `max(limit, MIN_LEN)`.
    pub(crate) fn push(&mut self, hash: u64, limit: usize) {
        let limit = limit.max(MIN_LEN);
        while self.order.len() >= limit {
            match self.order.pop_front() {
                Some(old) => self.forget(old),
                None => break,
            }
        }
        self.order.push_back(hash);
        *self.live.entry(hash).or_insert(0) += 1;
    }

    /// Whether `hash` was evicted recently; it is not reported again until evicted again.
    pub(crate) fn take(&mut self, hash: u64) -> bool {
        self.live.remove(&hash).is_some()
    }

    fn forget(&mut self, hash: u64) {
        if let hashbrown::hash_map::Entry::Occupied(mut e) = self.live.entry(hash) {
            if *e.get() > 1 {
                *e.get_mut() -= 1;
            } else {
                e.remove();
            }
        }
    }

    /// Hashes remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_ones_and_reports_each_once() {
        let mut g = Ghost::default();
        for h in 0..20u64 {
            g.push(h, 10);
        }
        assert_eq!(g.len(), 10);
        assert!(!g.take(9), "the oldest were forgotten");
        assert!(g.take(10));
        assert!(!g.take(10), "reported once");
        assert!(g.take(19));
    }

    #[test]
    fn a_hash_pushed_twice_stays_until_its_last_copy_leaves() {
        let mut g = Ghost::default();
        g.push(1, 8);
        for h in 2..8u64 {
            g.push(h, 8);
        }
        g.push(1, 8);
        g.push(100, 8); // pushes the first 1 out
        assert!(g.take(1));
    }

    #[test]
    fn never_shorter_than_the_minimum() {
        let mut g = Ghost::default();
        for h in 0..100u64 {
            g.push(h, 0);
        }
        assert_eq!(g.len(), MIN_LEN);
    }
}
