//! The timer wheel that finds expired entries without reads: six levels of 64 buckets of intrusive
//! lists. Level 0 buckets are one tick (2^20 ns, about 1 ms) wide, each level 64 times wider than the one
//! below (level 5 spans about 2.2 years; later deadlines wait in the top level and are re-placed).
//!
//! An entry sits in the level of the highest 6-bit digit in which its deadline differs from the wheel's
//! time. Advancing drains only the buckets whose time has come, top level first: entries already due are
//! reported, the rest are re-placed lower. An entry moves down at most six times in its life, so the work
//! is O(1) amortised per scheduled entry, independent of the number of entries.

use crate::slab::{Links, List, NIL, Slab, UNSCHEDULED};

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
/// Nanoseconds to ticks.
const TICK_SHIFT: u32 = 20;

/// The timer wheel of one shard.
pub(crate) struct Wheel {
    buckets: Box<[List]>,
    now: u64,
    len: usize,
}

impl Wheel {
    pub(crate) fn new(now_nanos: u64) -> Self {
        Wheel {
            buckets: vec![List::default(); SLOTS * LEVELS].into_boxed_slice(),
            now: now_nanos >> TICK_SHIFT,
            len: 0,
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
            e.bucket = u16::try_from(b).unwrap_or(UNSCHEDULED);
        }
        self.len += 1;
    }

    /// Takes entry `i` out of the wheel, if it is in it.
    pub(crate) fn deschedule<K, V>(&mut self, slab: &mut Slab<K, V>, i: u32) {
        let Some(e) = slab.get_mut(i) else { return };
        if !e.scheduled() {
            return;
        }
        let b = usize::from(e.bucket);
        e.bucket = UNSCHEDULED;
        let mut list = self.buckets[b];
        slab.unlink(&mut list, i, Links::Timer, 0);
        self.buckets[b] = list;
        self.len -= 1;
    }

    /// Moves the wheel to `now_nanos` and appends to `due` every entry whose deadline has passed (those
    /// entries are out of the wheel afterwards). Cheap when no tick boundary was crossed. Entries due
    /// within the current tick are found on the next tick, or at once when `exact`.
    pub(crate) fn advance<K, V>(
        &mut self,
        slab: &mut Slab<K, V>,
        now_nanos: u64,
        exact: bool,
        due: &mut Vec<u32>,
    ) {
        let new = now_nanos >> TICK_SHIFT;
        let old = self.now;
        if new <= old {
            if exact {
                self.drain(slab, (old as usize) & (SLOTS - 1), now_nanos, due);
                self.drain(slab, (old as usize + 1) & (SLOTS - 1), now_nanos, due);
            }
            return;
        }
        self.now = new;
        for level in (0..LEVELS).rev() {
            let shift = BITS * level as u32;
            let (from, to) = (old >> shift, new >> shift);
            if from == to {
                continue;
            }
            let steps = (to - from).min(SLOTS as u64);
            for k in 1..=steps {
                let b = level * SLOTS + ((from + k) as usize & (SLOTS - 1));
                self.drain(slab, b, now_nanos, due);
            }
        }
        if exact {
            self.drain(slab, (new as usize + 1) & (SLOTS - 1), now_nanos, due);
        }
    }

    fn drain<K, V>(&mut self, slab: &mut Slab<K, V>, b: usize, now_nanos: u64, due: &mut Vec<u32>) {
        let mut cur = self.buckets[b].head;
        self.len -= self.buckets[b].len as usize;
        self.buckets[b] = List::default();
        while cur != NIL {
            let next = slab.next(cur, Links::Timer);
            if slab.get(cur).is_none() {
                break;
            }
            slab.leave_wheel(cur);
            if slab.deadline(cur) <= now_nanos {
                due.push(cur);
            } else {
                self.schedule(slab, cur);
            }
            cur = next;
        }
    }

    /// Forgets every entry (the slab is being cleared too).
    pub(crate) fn clear(&mut self) {
        self.buckets.fill(List::default());
        self.len = 0;
    }
}
