//! The timer wheel that finds expired entries without reads: six levels of 64 buckets of intrusive
//! lists. Level 0 buckets are one tick (2^20 ns, about 1 ms) wide, each level 64 times wider than the one
//! below (level 5 spans about 2.2 years; later deadlines wait in the top level and are re-placed).
//!
//! An entry sits in the level of the highest 6-bit digit in which its deadline differs from the wheel's
//! time. Advancing drains only the buckets whose time has come, top level first: entries already due are
//! reported, the rest are re-placed lower. An entry moves down at most six times in its life, so the work
//! is O(1) amortised per scheduled entry, independent of the number of entries.
//!
//! Draining is incremental: buckets whose time has come are queued, and one call moves at most
//! [`CASCADE_BUDGET`] entries out of them, so a bucket holding many entries (say, a million inserted
//! within a second with the same TTL) is worked off over many calls instead of stalling one of them;
//! a caller that wants only a few due entries (a write that needs one entry's room) stops there.
//! Entries waiting in a queued bucket are never returned once expired: lookups compare the deadline
//! itself, the wheel only finds entries to reclaim.

use std::collections::VecDeque;

use crate::slab::{Links, List, NIL, Slab, UNSCHEDULED};

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
/// Nanoseconds to ticks.
const TICK_SHIFT: u32 = 20;
/// Entries one (non-exact) advance moves out of queued buckets at most: far more than the six moves an
/// entry makes per deadline, so a backlog shrinks quickly, while one write does a bounded amount of work.
pub(crate) const CASCADE_BUDGET: usize = 128;

/// The timer wheel of one shard.
pub(crate) struct Wheel {
    buckets: Box<[List]>,
    now: u64,
    len: usize,
    /// Buckets whose time has come and that may still hold entries, in drain order (top level first).
    queued: VecDeque<u16>,
    /// Which buckets are in `queued` (one bit per bucket), so each is queued at most once.
    is_queued: [u64; LEVELS],
}

impl Wheel {
    pub(crate) fn new(now_nanos: u64) -> Self {
        Wheel {
            buckets: vec![List::default(); SLOTS * LEVELS].into_boxed_slice(),
            now: now_nanos >> TICK_SHIFT,
            len: 0,
            queued: VecDeque::new(),
            is_queued: [0; LEVELS],
        }
    }

    fn queue(&mut self, b: usize) {
        let (word, bit) = (b / 64, 1u64 << (b % 64));
        if self.is_queued[word] & bit == 0 && self.buckets[b].len > 0 {
            self.is_queued[word] |= bit;
            self.queued.push_back(b as u16);
        }
    }

    /// Number of scheduled entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn bucket_for(&self, deadline_nanos: u64) -> usize {
        let d = deadline_nanos >> TICK_SHIFT;
        if d <= self.now {
            // Due already: the next tick's bucket (the current one has been drained).
            return ((self.now + 1) as usize) & (SLOTS - 1);
        }
        let level = ((63 - (d ^ self.now).leading_zeros()) / BITS) as usize;
        if level >= LEVELS {
            // Further than the wheel spans: park in the top level's furthest bucket and re-place later.
            let top = LEVELS - 1;
            let slot = ((self.now >> (BITS * top as u32)) as usize + SLOTS - 1) & (SLOTS - 1);
            return top * SLOTS + slot;
        }
        let slot = ((d >> (BITS * level as u32)) as usize) & (SLOTS - 1);
        level * SLOTS + slot
    }

    /// Puts entry `i` (whose deadline is set, and which is not in the wheel) in its bucket.
    pub(crate) fn schedule<K, V>(&mut self, slab: &mut Slab<K, V>, i: u32) {
        let deadline = slab.deadline(i);
        if deadline == 0 {
            return;
        }
        let b = self.bucket_for(deadline);
        let mut list = self.buckets[b];
        slab.push_back(&mut list, i, Links::Timer, 0);
        self.buckets[b] = list;
        if let Some(e) = slab.get_mut(i) {
            e.set_bucket(u16::try_from(b).unwrap_or(UNSCHEDULED));
        }
        self.len += 1;
    }

    /// Takes entry `i` out of the wheel, if it is in it.
    pub(crate) fn deschedule<K, V>(&mut self, slab: &mut Slab<K, V>, i: u32) {
        let Some(e) = slab.get_mut(i) else { return };
        if !e.scheduled() {
            return;
        }
        let b = usize::from(e.bucket());
        e.set_bucket(UNSCHEDULED);
        let mut list = self.buckets[b];
        slab.unlink(&mut list, i, Links::Timer, 0);
        self.buckets[b] = list;
        self.len -= 1;
    }

    /// Moves the wheel to `now_nanos` and appends to `due` entries whose deadline has passed (those
    /// entries are out of the wheel afterwards), until `due` holds `want` entries. Buckets whose time
    /// has come are queued and drained at most [`CASCADE_BUDGET`] entries per call; with `exact`,
    /// everything is drained, including entries due within the current tick. Stopping at `want` keeps a
    /// backlog of expired entries (a cache left idle past its entries' TTL) from costing a caller more
    /// than the few it will reclaim: draining reads every entry it moves, a cache miss each. Cheap when
    /// no tick boundary was crossed and nothing is queued.
    pub(crate) fn advance<K, V>(
        &mut self,
        slab: &mut Slab<K, V>,
        now_nanos: u64,
        exact: bool,
        due: &mut Vec<u32>,
        want: usize,
    ) {
        let new = now_nanos >> TICK_SHIFT;
        let old = self.now;
        if new > old {
            self.now = new;
            for level in (0..LEVELS).rev() {
                let shift = BITS * level as u32;
                let (from, to) = (old >> shift, new >> shift);
                let steps = to.saturating_sub(from).min(SLOTS as u64);
                for k in 1..=steps {
                    self.queue(level * SLOTS + ((from + k) as usize & (SLOTS - 1)));
                }
            }
        }
        if exact {
            self.queue(new as usize & (SLOTS - 1));
            self.queue((new as usize + 1) & (SLOTS - 1));
        }
        let (mut budget, want) = if exact {
            (usize::MAX, usize::MAX)
        } else {
            (CASCADE_BUDGET, want)
        };
        while due.len() < want && budget > 0 {
            let Some(&b) = self.queued.front() else {
                break;
            };
            let b = usize::from(b);
            // Entries re-placed into the bucket being drained (not due yet, within the current tick) go
            // to its tail: taking only the entries present now visits each of them once.
            let present = self.buckets[b].len as usize;
            let moved = self.drain(slab, b, now_nanos, present.min(budget), due, want);
            budget -= moved;
            if moved < present {
                break;
            }
            self.queued.pop_front();
            self.is_queued[b / 64] &= !(1u64 << (b % 64));
        }
    }

    /// Whether buckets whose time has come still hold entries not yet sorted out (more
    /// [`advance`](Wheel::advance) calls would move them).
    pub(crate) fn draining(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Takes up to `n` entries from the front of bucket `b`, stopping once `due` holds `want`: due ones
    /// go to `due`, the others are re-placed by their deadline. Returns how many it took.
    fn drain<K, V>(
        &mut self,
        slab: &mut Slab<K, V>,
        b: usize,
        now_nanos: u64,
        n: usize,
        due: &mut Vec<u32>,
        want: usize,
    ) -> usize {
        let mut moved = 0;
        while moved < n && due.len() < want {
            let cur = self.buckets[b].head;
            if cur == NIL || slab.get(cur).is_none() {
                break;
            }
            self.deschedule(slab, cur);
            if slab.deadline(cur) <= now_nanos {
                due.push(cur);
            } else {
                self.schedule(slab, cur);
            }
            moved += 1;
        }
        moved
    }

    /// Forgets every entry (the slab is being cleared too).
    pub(crate) fn clear(&mut self) {
        self.buckets.fill(List::default());
        self.len = 0;
        self.queued.clear();
        self.is_queued = [0; LEVELS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::Count;
    use crate::slab::Entry;

    /// A slab of `n` entries with deadlines `deadline(i)`, all scheduled in a wheel created at time 0.
    fn scheduled(n: u32, deadline: impl Fn(u32) -> u64) -> (Slab<u32, ()>, Wheel) {
        let mut slab = Slab::new();
        let mut wheel = Wheel::new(0);
        for k in 0..n {
            let i = slab.insert(Entry::new(k, (), 1, Count::default(), false));
            slab.set_deadline(i, deadline(k));
            wheel.schedule(&mut slab, i);
        }
        (slab, wheel)
    }

    #[test]
    fn a_full_bucket_is_drained_a_budget_at_a_time() {
        let n = 10 * CASCADE_BUDGET as u32;
        // Deadlines spread over one second: they share upper-level buckets.
        let (mut slab, mut wheel) = scheduled(n, |k| 1_000_000_000 + u64::from(k) * 100_000);
        assert_eq!(wheel.len(), n as usize);
        let later = 3_000_000_000;
        let mut due = Vec::new();
        let mut calls = 0;
        while due.len() < n as usize {
            let before = due.len();
            wheel.advance(&mut slab, later, false, &mut due, usize::MAX);
            assert!(
                due.len() - before <= CASCADE_BUDGET,
                "one call reported {} entries",
                due.len() - before
            );
            calls += 1;
            assert!(calls <= 4 * n as usize, "advance made no progress");
        }
        due.sort_unstable();
        due.dedup();
        assert_eq!(due.len(), n as usize, "every entry reported exactly once");
        assert_eq!(wheel.len(), 0);
    }

    /// A caller that wants a few due entries gets them without the wheel reading a whole budget of
    /// entries, and the rest are found by later calls.
    #[test]
    fn a_backlog_is_drained_only_as_far_as_wanted() {
        let n = 10 * CASCADE_BUDGET as u32;
        let (mut slab, mut wheel) = scheduled(n, |k| 1_000_000 + u64::from(k));
        let mut due = Vec::new();
        wheel.advance(&mut slab, 5_000_000_000, false, &mut due, 3);
        assert_eq!(due.len(), 3, "stops at what was wanted");
        assert_eq!(wheel.len(), n as usize - 3, "and moves nothing more");
        assert!(wheel.draining());
        wheel.advance(&mut slab, 5_000_000_000, false, &mut due, 4);
        assert_eq!(due.len(), 4, "a later call goes on");
        let mut calls = 0;
        while wheel.draining() {
            wheel.advance(&mut slab, 5_000_000_000, false, &mut due, usize::MAX);
            calls += 1;
            assert!(calls <= 20, "no progress");
        }
        due.sort_unstable();
        due.dedup();
        assert_eq!(due.len(), n as usize, "every entry reported exactly once");
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn exact_drains_everything_due_including_the_current_tick() {
        // Half due at `now` (some within the current tick), half due later.
        let now = 5_000_000_000u64;
        let (mut slab, mut wheel) = scheduled(4000, |k| {
            if k % 2 == 0 {
                now - u64::from(k) * 10
            } else {
                now + 1_000_000_000 + u64::from(k)
            }
        });
        let mut due = Vec::new();
        wheel.advance(&mut slab, now, true, &mut due, usize::MAX);
        assert_eq!(due.len(), 2000);
        assert!(due.iter().all(|&i| slab.deadline(i) <= now));
        assert_eq!(wheel.len(), 2000, "entries not due stay scheduled");
        wheel.advance(&mut slab, now + 2_000_000_000, true, &mut due, usize::MAX);
        assert_eq!(due.len(), 4000);
        assert_eq!(wheel.len(), 0);
    }
}
