//! One shard: a hash table of slab indices, the W-TinyLFU-style policy and the timer wheel, all behind
//! the shard's lock (taken by [`crate::Cache`]).
//!
//! Policy. New entries enter the **window**, a CLOCK queue (an entry hit while there goes round once
//! more) that starts at 1% of the capacity and is resized online by two ghosts (see [`Ghost`]): a miss
//! on a key the window just evicted grows it, a miss on a key main just evicted shrinks it, so the
//! split follows whether recency or frequency pays. When the window overflows, its oldest entry becomes
//! a candidate for the **main** space, a segmented CLOCK: a
//! probation segment (where admitted entries start) and a protected one (80% of main: entries hit in
//! probation; an entry hit since the policy last looked gets a second chance, protected overflow goes
//! back to probation). If the shard is over capacity, the candidate competes with probation's
//! victim: the one the [`Sketch`] has seen more often stays; ties keep the incumbent and near-ties go
//! by a fixed per-key priority (which protects the cache from scans and loops). Both counts come from
//! the entries, which keep their key's count while cached and write it back into the sketch when they
//! leave (see `slab::Meta`), so admission reads no sketch line. Reads only bump a per-entry saturating
//! hit counter under the read lock; those hits are folded into the entry's count when the policy next
//! looks at the entry, so reads never write shared policy state.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use hashbrown::HashTable;

use crate::ghost::{self, Ghost};
use crate::read_log::ReadLog;
use crate::sketch::{Count, Sketch};
use crate::slab::{Entry, Links, List, NIL, Queue, Slab, UNSCHEDULED};
use crate::stats::{Cause, Counts};
use crate::wheel::{CASCADE_BUDGET, Wheel};

/// Where removed entries go: to the listener (collected, handed over after the lock is released), or
/// dropped on the spot.
pub(crate) type Sink<'a, K, V> = Option<&'a mut Vec<(K, V, Cause)>>;

/// The window starts at 1/this of the capacity (1%); the ghosts move it from there (see [`Ghost`]).
const INITIAL_WINDOW_DIVISOR: u64 = 100;

/// The window grows at most to this share of the capacity (percent).
const MAX_WINDOW_PERCENT: u64 = 99;

/// Each ghost hit moves the window/main boundary by 1/this of the capacity (or by the entry's weight,
/// if larger): a shard of any size crosses its whole range in a few hundred telling misses.
const BOUNDARY_STEP_DIVISOR: u64 = 256;

/// Ghost hits per round of votes on the window/main boundary.
const GHOST_ROUND: u32 = 32;

/// A round's moves grow up to this many times the votes' sum (see [`Steer`]).
const MAX_GAIN: i64 = 16;

/// One round of ghost votes: how many went each way and the boundary move they add up to.
#[derive(Default)]
struct Votes {
    /// Net count (window votes minus main votes) and total.
    net: i32,
    total: u32,
    /// Sum of the votes' signed steps.
    shift: i64,
}

/// How a round of votes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The round is not over yet.
    Open,
    /// Neither side won beyond noise.
    Tie,
    /// One side won clearly: the votes' summed steps (positive: a larger window).
    Move(i64),
}

impl Votes {
    fn record(&mut self, side: i32, step: i64) {
        self.net += side;
        self.total += 1;
        self.shift = self.shift.saturating_add(step);
    }

    /// Mid-round `Open`; at the end of a round its verdict, and a new round begins.
    fn decide(&mut self) -> Verdict {
        if self.total < GHOST_ROUND {
            return Verdict::Open;
        }
        let round = std::mem::take(self);
        // |net| > 2 sqrt(total): a margin a fair coin reaches in under 5% of rounds.
        let net = i64::from(round.net);
        if net * net > 4 * i64::from(round.total) {
            Verdict::Move(round.shift)
        } else {
            Verdict::Tie
        }
    }
}

/// The boundary's momentum: rounds won by the same side in a row mean the best split is still some way
/// off, so each such round moves the boundary twice as far as the one before (up to [`MAX_GAIN`]
/// times its votes' sum); a tie or a round won by the other side starts again at one. A shift in the
/// workload is followed in a few rounds instead of dozens, and near the best split, where the rounds
/// alternate or tie, the moves stay small.
#[derive(Debug, Clone, Copy)]
struct Steer {
    gain: i64,
    /// The side that won the last round (+1 window, -1 main), 0 after a tie.
    last: i64,
}

impl Default for Steer {
    fn default() -> Self {
        Steer { gain: 1, last: 0 }
    }
}

impl Steer {
    /// The boundary move for a round's verdict (`None`: no move).
    fn follow(&mut self, verdict: Verdict) -> Option<i64> {
        match verdict {
            Verdict::Open => None,
            Verdict::Tie => {
                *self = Steer::default();
                None
            }
            Verdict::Move(shift) => {
                let side = shift.signum();
                self.gain = if side != 0 && side == self.last {
                    (self.gain * 2).min(MAX_GAIN)
                } else {
                    1
                };
                self.last = side;
                Some(shift.saturating_mul(self.gain))
            }
        }
    }
}

/// Share of main (percent) kept as the protected segment: entries hit since admission. Victims come
/// from the probation segment (the rest), so entries admitted but never hit again go first.
const PROTECTED_PERCENT: u64 = 80;

/// A candidate must be seen more than this many times more often than the victim to replace it. With 0,
/// each halving of the sketch briefly ranks keys just seen above incumbents of equal frequency, which
/// churned loop workloads (up to 3 points lost); 1 fixed them and changed Zipf cells by < 0.3 points.
/// A candidate exactly `ADMIT_MARGIN` ahead (and seen at least twice) is decided by a fixed per-key
/// priority (see [`tie_priority`]).
const ADMIT_MARGIN: u64 = 1;

/// Whether a candidate seen `candidate` times wins admission over a victim seen `victim` times on its
/// count alone (beyond [`ADMIT_MARGIN`]; a candidate exactly at the margin is a near-tie).
#[inline]
fn clearly_ahead(candidate: u64, victim: u64) -> bool {
    candidate > victim + ADMIT_MARGIN
}

/// A stable pseudo-random rank of a key, from its hash: breaks near-ties between candidate and victim.
/// Being fixed per key, it cannot churn a loop (the cache drifts towards one fixed subset of equally
/// frequent keys), while a key that is really more frequent wins half of its near-ties instead of none
/// (cpp at capacity 100: +1.2 points over always keeping the incumbent).
#[inline]
fn tie_priority(hash: u64) -> u64 {
    (hash ^ 0x5851_F42D_4C95_7F2D).wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
}

/// Indices of the window, probation (main) and protected lists in `Shard::lists`.
const W: usize = Queue::Window as usize;
const M: usize = Queue::Main as usize;
const P: usize = Queue::Protected as usize;

/// Saturation of the per-entry hit counter.
const FREQ_MAX: u8 = 15;

/// Slots the halving walk advances per sketch addition (see `Shard::aging`). After a halving, the next
/// one is at least `slots / 2` additions away (the sketch halves its addition count and waits for as
/// many as the shard has slots), so 4 per addition finishes the walk with half the period to spare.
const WALK_PACE: usize = 4;

pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    slab: Slab<K, V>,
    /// The policy lists, indexed by [`Queue`]: window, probation (main) and protected.
    lists: [List; 3],
    capacity: u64,
    used: u64,
    /// The window's share of the capacity: starts at 1% and follows the ghosts.
    window_target: u64,
    /// Keys just evicted from the window, and from main (see [`Ghost`]).
    window_ghost: Ghost,
    main_ghost: Ghost,
    /// The current round of ghost votes (see [`Shard::follow_ghosts`]).
    votes: Votes,
    /// The boundary's momentum across rounds.
    steer: Steer,
    sketch: Sketch,
    /// Hits on window entries since the last write, for the window's LRU order (see [`ReadLog`]).
    reads: ReadLog,
    wheel: Wheel,
    pub(crate) counts: Counts,
    due: Vec<u32>,
    /// The latest clock reading `due` was filled with: its entries had expired by then.
    due_at: u64,
    /// The cache's hasher: entries do not store their hash, it is recomputed from the key when the
    /// policy needs it (8 bytes less per entry).
    hasher: foldhash::fast::RandomState,
    /// Parity of the sketch halvings so far. An entry whose [`Entry::epoch`] differs holds a count from
    /// before the last halving, and [`Shard::count_of`] halves it when read.
    epoch: bool,
    /// The halving walk: slots below this have been brought to the current epoch. It advances
    /// [`WALK_PACE`] slots per sketch addition, so it is done well before the next halving (which
    /// comes after at least half as many additions as there are slots): the counts entries keep are
    /// halved a few at a time, not in one pause.
    aging: usize,
}

/// A hit found by [`Shard::hit`].
pub(crate) struct Hit<'a, K, V> {
    pub(crate) entry: &'a Entry<K, V>,
    /// The entry's deadline (0: none).
    pub(crate) deadline: u64,
    /// This hit filled the read log: call [`Shard::replay_reads`] if the write lock is free.
    pub(crate) log_full: bool,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// A new key is now present.
    New,
    /// A present key got the new value.
    Updated,
    /// The write was declined (admission or size); the key is absent.
    Rejected,
}

/// Bit of an entry's `freq` that every hit sets and the policy clears when it passes the entry (CLOCK's
/// reference bit). The low four bits count hits not yet folded into the entry's count of its key,
/// saturating at [`FREQ_MAX`]; they are folded when the entry leaves the window, moves from probation
/// to protected, is demoted to probation or is evicted (then into the sketch). A protected entry the
/// CLOCK passes only counts its hits towards the sketch's aging (see [`Shard::victim`]).
const REFERENCED: u8 = 0x80;

/// Records a hit on an entry: sets its reference bit and counts it (a plain load and store: hits
/// racing under the read lock may lose a count, which only makes the sketch a little less precise).
#[inline]
pub(crate) fn bump(freq: &AtomicU8) {
    let f = freq.load(Relaxed);
    let n = if f & FREQ_MAX < FREQ_MAX { f + 1 } else { f } | REFERENCED;
    if n != f {
        freq.store(n, Relaxed);
    }
}

impl<K, V> Shard<K, V> {
    pub(crate) fn new(
        capacity: u64,
        counters: u64,
        now: u64,
        hasher: foldhash::fast::RandomState,
    ) -> Self {
        Shard {
            table: HashTable::new(),
            slab: Slab::new(),
            lists: [List::default(); 3],
            capacity,
            used: 0,
            window_target: capacity / INITIAL_WINDOW_DIVISOR,
            window_ghost: Ghost::default(),
            main_ghost: Ghost::default(),
            votes: Votes::default(),
            steer: Steer::default(),
            sketch: Sketch::new(counters),
            reads: ReadLog::default(),
            wheel: Wheel::new(now),
            counts: Counts::default(),
            due: Vec::new(),
            due_at: 0,
            hasher,
            epoch: false,
            aging: 0,
        }
    }
}

impl<K: Hash, V> Shard<K, V> {
    #[inline]
    fn hash_of(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// True when some entry has a deadline (only then is the clock worth reading for maintenance).
    pub(crate) fn has_timers(&self) -> bool {
        self.wheel.len() > 0 || !self.due.is_empty()
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slab = &self.slab;
        self.table
            .find(hash, |&i| {
                slab.get(i).is_some_and(|e| e.key.borrow() == key)
            })
            .copied()
    }

    /// The live entry for `key`, if any; `now` is read only for entries with a deadline.
    #[inline]
    pub(crate) fn get<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: impl FnOnce() -> u64,
    ) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.get_timed(hash, key, now).map(|(e, _)| e)
    }

    /// The live entry for `key` and its deadline (0: none), if any.
    #[inline]
    pub(crate) fn get_timed<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: impl FnOnce() -> u64,
    ) -> Option<(&Entry<K, V>, u64)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.live(hash, key, now)
            .map(|(_, e, deadline)| (e, deadline))
    }

    /// The slot, entry and deadline (0: none) of `key`, if it is present and not expired.
    #[inline]
    fn live<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: impl FnOnce() -> u64,
    ) -> Option<(u32, &Entry<K, V>, u64)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        let e = self.slab.get(i)?;
        if !e.timed() {
            return Some((i, e, 0));
        }
        let deadline = self.unexpired_deadline(i, now)?;
        Some((i, e, deadline))
    }

    /// As [`Shard::get_timed`], counting a hit on the entry found: its reference bit and hit count, and
    /// for a window entry a place in the read log.
    #[inline]
    pub(crate) fn hit<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: impl FnOnce() -> u64,
    ) -> Option<Hit<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (i, entry, deadline) = self.live(hash, key, now)?;
        bump(&entry.freq);
        let log_full = entry.queue() == Queue::Window && self.reads.record(i);
        Some(Hit {
            entry,
            deadline,
            log_full,
        })
    }

    /// The deadline of timed entry `i` if it is still ahead of the clock. Out of line: only entries with
    /// a deadline read the clock, and keeping that call off the common path keeps lookups small enough
    /// to inline.
    #[inline(never)]
    fn unexpired_deadline(&self, i: u32, now: impl FnOnce() -> u64) -> Option<u64> {
        let deadline = self.slab.timer_deadline(i);
        (deadline > now()).then_some(deadline)
    }

    /// Whether entry `i` has a deadline at or before `now`.
    #[inline]
    fn expired(&self, i: u32, now: u64) -> bool {
        let d = self.slab.deadline(i);
        d != 0 && d <= now
    }

    /// Reclaims up to `budget` entries whose deadline is at or before `now` and returns how many
    /// (maintenance: [`Cache::reclaim_expired`](crate::Cache::reclaim_expired) and
    /// [`Cache::run_pending_tasks`](crate::Cache::run_pending_tasks); writes reclaim only as they need
    /// room, see [`Shard::reclaim_one_expired`]). Entries found due beyond the budget wait in `due`
    /// (out of the wheel, still expired, so never returned) for the next calls. With `exact`, entries
    /// due within the current clock tick are found too, and the wheel's cascade is not budgeted;
    /// otherwise the wheel moves about `budget` + [`CASCADE_BUDGET`] entries at most.
    pub(crate) fn expire(
        &mut self,
        now: u64,
        exact: bool,
        budget: usize,
        mut out: Sink<'_, K, V>,
    ) -> usize {
        if self.wheel.len() == 0 && self.due.is_empty() {
            return 0;
        }
        self.due_at = self.due_at.max(now);
        // Steps of the wheel's cascade: one for a write's small budget, about one per
        // `CASCADE_BUDGET` reclaims for a larger batch, so a batch is not cut short by the cascade.
        let mut steps = budget.div_ceil(CASCADE_BUDGET).max(1);
        let mut reclaimed = 0;
        loop {
            let want = budget - reclaimed;
            self.wheel
                .advance(&mut self.slab, now, exact, &mut self.due, want);
            steps -= 1;
            while reclaimed < budget && self.reclaim_one_due(out.as_deref_mut()) {
                reclaimed += 1;
            }
            if reclaimed == budget || steps == 0 || !self.wheel.draining() {
                return reclaimed;
            }
        }
    }

    /// Reclaims one entry found due, if any is waiting; false when none is left. A waiting index may
    /// have been removed (and its slot reused) or given a new deadline since it was found due: only an
    /// unscheduled entry expired by `due_at` is still ours to reclaim.
    fn reclaim_one_due(&mut self, mut out: Sink<'_, K, V>) -> bool {
        while let Some(i) = self.due.pop() {
            let still_due = self.slab.get(i).is_some_and(|e| e.bucket() == UNSCHEDULED)
                && self.expired(i, self.due_at);
            if still_due {
                self.evict(i, Cause::Expired, out.as_deref_mut());
                return true;
            }
        }
        false
    }

    /// Reclaims one entry expired by `due_at` (the latest clock reading a write brought), if one is
    /// waiting in `due` or the wheel finds one within a step of its cascade; false otherwise. What a
    /// write that needs room tries before evicting a live entry. This is the only reclaiming writes do:
    /// a write costs the same whether or not a backlog of expired entries waits (reclaiming more per
    /// write made the first writes after a mass expiry each free several entries: on the bench's
    /// 1M / 1 KiB TTL row, 0.73x-0.86x of quick_cache with 16 per write, 1.03x-1.09x with none). The
    /// backlog is left to maintenance ([`Shard::expire`]), which a [`Reaper`](crate::Reaper) runs.
    fn reclaim_one_expired(&mut self, mut out: Sink<'_, K, V>) -> bool {
        if self.reclaim_one_due(out.as_deref_mut()) {
            return true;
        }
        if self.wheel.len() == 0 {
            return false;
        }
        self.wheel
            .advance(&mut self.slab, self.due_at, false, &mut self.due, 1);
        self.reclaim_one_due(out)
    }

    /// Takes entry `i` out of every structure and hands it to `out` with `cause`.
    fn evict(&mut self, i: u32, cause: Cause, out: Sink<'_, K, V>) {
        let Some(e) = self.slab.get(i) else { return };
        let (hash, cost, queue, scheduled) =
            (self.hash_of(&e.key), e.cost, e.queue(), e.scheduled());
        let f = e.freq.load(Relaxed) & FREQ_MAX;
        // The entry's count goes back into the sketch, so the key's history outlives it (its pending
        // hits too, unless the caller removed it).
        let f = if cause == Cause::Explicit { 0 } else { f };
        let (count, ahead) = (self.count_of(e).plus(f), e.ahead() || f > 0);
        if scheduled {
            self.wheel.deschedule(&mut self.slab, i);
        }
        let list = &mut self.lists[queue as usize];
        self.slab.unlink(list, i, Links::Policy, cost);
        if let Ok(slot) = self.table.find_entry(hash, |&x| x == i) {
            slot.remove();
        }
        if ahead {
            self.sketch.raise(hash, count);
            self.count_towards_aging(f);
        }
        self.used -= u64::from(cost);
        self.counts.record(cause);
        if matches!(cause, Cause::Size | Cause::Rejected) {
            let limit = self.table.len() / ghost::SHARE_DIVISOR;
            if queue == Queue::Window {
                self.window_ghost.push(hash, limit);
            } else {
                self.main_ghost.push(hash, limit);
            }
        }
        if let Some(e) = self.slab.remove(i) {
            if let Some(out) = out {
                out.push((e.key, e.value, cause));
            }
        }
    }

    /// Moves entry `h` from its policy list to the tail of the list of queue `q`.
    fn move_to(&mut self, h: u32, q: Queue) {
        let Some(e) = self.slab.get_mut(h) else {
            return;
        };
        let (cost, old) = (e.cost, e.queue());
        e.set_queue(q);
        self.slab
            .unlink(&mut self.lists[old as usize], h, Links::Policy, cost);
        self.slab
            .push_back(&mut self.lists[q as usize], h, Links::Policy, cost);
    }

    /// Takes entry `h`'s pending hit count (its reference bit stays).
    fn take_pending(&mut self, h: u32) -> u8 {
        let Some(e) = self.slab.get_mut(h) else {
            return 0;
        };
        let f = e.freq.get_mut();
        let n = *f & FREQ_MAX;
        *f &= REFERENCED;
        n
    }

    /// The count entry `e` keeps of its key, as of now: halved once if the sketch was halved since it was
    /// set and the halving walk has not reached it yet.
    #[inline]
    fn count_of(&self, e: &Entry<K, V>) -> Count {
        e.count_at(self.epoch)
    }

    /// Counts `n` occurrences kept outside the sketch (in entries' counts) towards its aging period.
    fn count_towards_aging(&mut self, n: u8) {
        self.sketch.note(n);
        self.aged(n);
    }

    /// Bookkeeping after `n` additions to the sketch: moves the halving walk on, and once the aging
    /// period is over, halves the sketch and starts a new walk over the entries' counts.
    fn aged(&mut self, n: u8) {
        if self.aging < self.slab.slots() {
            self.walk(WALK_PACE * usize::from(n));
        }
        if self.sketch.due(self.slab.slots()) {
            // Reached only if additions outran the walk (it is normally long done): finish it, so no
            // count is two halvings behind.
            self.walk(usize::MAX);
            self.sketch.halve();
            self.epoch = !self.epoch;
            self.aging = 0;
        }
    }

    /// Brings the counts of up to `steps` slots from the walk's position to the current epoch.
    fn walk(&mut self, steps: usize) {
        let end = self.aging.saturating_add(steps).min(self.slab.slots());
        let epoch = self.epoch;
        for i in self.aging..end {
            if let Some(e) = self.slab.get_mut(i as u32) {
                if e.epoch() != epoch {
                    let (c, ahead) = (e.count_at(epoch), e.ahead());
                    e.set_count(c, ahead, epoch);
                }
            }
        }
        self.aging = end;
    }

    /// Folds entry `h`'s pending hits into its key's count (its reference bit stays). The sketch gets
    /// them when the entry leaves (see `slab::Meta`); they count towards its aging now.
    fn fold(&mut self, h: u32) {
        let n = self.take_pending(h);
        if n > 0 {
            let epoch = self.epoch;
            if let Some(e) = self.slab.get_mut(h) {
                let c = e.count_at(epoch).plus(n);
                e.set_count(c, true, epoch);
            }
            self.count_towards_aging(n);
        }
    }

    /// Drops entry `h`'s pending hits without writing them into the sketch, but lets them count towards
    /// its aging period.
    fn age(&mut self, h: u32) {
        let n = self.take_pending(h);
        self.count_towards_aging(n);
    }

    /// Clears entry `h`'s reference bit; returns whether it was set (a hit since last looked at).
    fn take_reference(&mut self, h: u32) -> bool {
        let Some(e) = self.slab.get_mut(h) else {
            return false;
        };
        let f = e.freq.get_mut();
        let was = *f & REFERENCED != 0;
        *f &= !REFERENCED;
        was
    }

    /// Main's victim, from its probation segment (`main`): the first entry from the head not hit since
    /// last looked at, other than the protected `keep` and the candidate `cand`. Hit probation entries
    /// fold their hits into their count and move to the protected segment; while that is over its share,
    /// its head is demoted to probation's tail (folding its hits), or, if hit since last looked at, goes
    /// round again (CLOCK; its hits then only count towards the sketch's aging: folding them there too
    /// moved no replayed cell beyond replay noise, leaving them out of the aging count cost cpp at 100
    /// entries 2 points). Reads never move entries: all moves happen here, under the write lock. Bounded: every
    /// step clears a hit counter or moves an unhit entry, so two laps clear them all. `NIL` if main
    /// holds nothing else.
    fn victim(&mut self, keep: u32, cand: u32) -> u32 {
        let limit = 4 * (self.lists[M].len + self.lists[P].len) + 8;
        let target = (self.capacity - self.window_target) * PROTECTED_PERCENT / 100;
        // Unhit probation entries passed over because they are `keep` or `cand`: once every probation
        // entry is one of them, the victim must come from the protected segment.
        let mut skipped = 0;
        for _ in 0..limit {
            if self.lists[P].cost > target || skipped >= self.lists[M].len {
                let h = self.lists[P].head;
                if h == NIL {
                    return NIL;
                }
                if self.take_reference(h) {
                    self.age(h);
                    self.move_to(h, Queue::Protected);
                } else {
                    self.fold(h);
                    self.move_to(h, Queue::Main);
                    skipped = 0;
                }
                continue;
            }
            let h = self.lists[M].head;
            if h == NIL {
                return NIL;
            }
            if self.take_reference(h) {
                self.fold(h);
                self.move_to(h, Queue::Protected);
            } else if h == keep || h == cand {
                self.move_to(h, Queue::Main);
                skipped += 1;
            } else {
                return h;
            }
        }
        NIL
    }

    /// The oldest window entry other than `keep`, or `NIL`.
    fn window_victim(&self, keep: u32) -> u32 {
        let w = &self.lists[W];
        if w.head != keep {
            w.head
        } else if w.len > 1 {
            self.slab.next(w.head, Links::Policy)
        } else {
            NIL
        }
    }

    /// The window's oldest entry, its hits folded into its count and its reference bit cleared, ready
    /// to compete for main (it stays in the window until it wins); `NIL` if the window is empty.
    /// The window is in LRU order (the read log's replays move hit entries to its tail); an entry whose
    /// hit the log dropped still has its reference bit and goes round to the tail here instead (CLOCK's
    /// second chance).
    fn window_candidate(&mut self) -> u32 {
        // Bounded: each round clears a reference bit, so after one lap the head has none.
        let mut c = self.lists[W].head;
        for _ in 0..self.lists[W].len {
            if !self.take_reference(c) || self.lists[W].len == 1 {
                break;
            }
            self.move_to(c, Queue::Window);
            c = self.lists[W].head;
        }
        if c != NIL {
            self.fold(c);
        }
        c
    }

    /// Moves the window's oldest entry to main's tail (see [`Shard::window_candidate`]).
    fn promote_window_head(&mut self) {
        let c = self.window_candidate();
        if c != NIL {
            self.move_to(c, Queue::Main);
        }
    }

    /// A miss on `hash` (weight `cost`, its count now `seen`): if the key was just evicted from the
    /// window, a larger window would have kept it (a vote to grow the window by a step), unless main
    /// would now admit it anyway; if from main, a larger main would have (a vote to shrink it). Votes
    /// are tallied over [`GHOST_ROUND`] ghost hits, and the boundary moves by the round's net only when
    /// one side won clearly (its margin beyond two standard deviations of a fair coin): on a workload
    /// where both sides pay alike the boundary stays put instead of wandering, and on one where a side
    /// pays it moves as fast as the votes say, faster with each round that side wins in a row
    /// ([`Steer`]).
    fn follow_ghosts(&mut self, hash: u64, cost: u64, seen: Count) {
        let step = (self.capacity / BOUNDARY_STEP_DIVISOR).max(cost).max(1);
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        // A returning key that main would now admit over its next victim was not lost for want of
        // window: main's filter takes it when it leaves the window, so it votes for neither side.
        if self.window_ghost.take(hash) && !self.main_would_admit(seen) {
            self.votes.record(1, step);
        }
        if self.main_ghost.take(hash) {
            self.votes.record(-1, -step);
        }
        if let Some(shift) = self.steer.follow(self.votes.decide()) {
            let max = self.capacity / 100 * MAX_WINDOW_PERCENT
                + self.capacity % 100 * MAX_WINDOW_PERCENT / 100;
            let target = if shift >= 0 {
                self.window_target.saturating_add(shift.unsigned_abs())
            } else {
                self.window_target.saturating_sub(shift.unsigned_abs())
            };
            self.window_target = target.min(max);
        }
    }

    /// Whether a key whose count is `seen` would clearly win admission ([`clearly_ahead`]) against
    /// main's next victim, probation's oldest entry.
    fn main_would_admit(&self, seen: Count) -> bool {
        let head = self.lists[M].head;
        head != NIL
            && self
                .slab
                .get(head)
                .is_some_and(|v| clearly_ahead(seen.estimate(), self.count_of(v).estimate()))
    }

    /// Evicts until the shard is within capacity. `new` is the entry just inserted (evicting it counts
    /// as a rejection); `keep` is an entry just updated, which is never evicted by its own write.
    /// Returns whether `new` was evicted.
    fn make_room(&mut self, new: u32, keep: u32, mut out: Sink<'_, K, V>) -> bool {
        let mut new_evicted = false;
        let cause_for = |i: u32| {
            if i == new {
                Cause::Rejected
            } else {
                Cause::Size
            }
        };
        while self.used > self.capacity {
            // Expired entries waiting to be reclaimed are the first to go.
            if self.reclaim_one_expired(out.as_deref_mut()) {
                continue;
            }
            let cand = if self.lists[W].cost > self.window_target && !self.lists[W].is_empty() {
                self.window_candidate()
            } else {
                NIL
            };
            let v = self.victim(keep, cand);
            let loser = match (cand != NIL, v != NIL) {
                (true, true) => {
                    // The victim's hits since its last fold count too.
                    self.fold(v);
                    let (Some(ce), Some(ve)) = (self.slab.get(cand), self.slab.get(v)) else {
                        break;
                    };
                    // The counts the entries keep: no sketch read (see `Meta`).
                    let (ec, ev) = (self.count_of(ce).estimate(), self.count_of(ve).estimate());
                    let near_tie = ec == ev + ADMIT_MARGIN && ec >= 2;
                    let by_priority = near_tie && {
                        let (hc, hv) = (self.hash_of(&ce.key), self.hash_of(&ve.key));
                        tie_priority(hc) > tie_priority(hv)
                    };
                    // A candidate seen only once (the doorkeeper's bit) never wins a near-tie.
                    let admit = cand == keep || clearly_ahead(ec, ev) || by_priority;
                    if admit { v } else { cand }
                }
                (false, true) => v,
                (true, false) if cand != keep => cand,
                _ => self.window_victim(keep),
            };
            // The candidate enters main only if it is not the one leaving: a losing candidate (most
            // new keys, seen once) is evicted straight from the window, never linked into main.
            if cand != NIL && loser != cand {
                self.move_to(cand, Queue::Main);
            }
            if loser == NIL {
                break;
            }
            new_evicted |= loser == new;
            self.evict(loser, cause_for(loser), out.as_deref_mut());
        }
        while self.lists[W].cost > self.window_target && !self.lists[W].is_empty() {
            self.promote_window_head();
        }
        new_evicted
    }

    /// Inserts or updates `key`. `deadline` 0 means no expiry; `now` is the clock (0 if the shard has
    /// no timed entries and the write none either). Without a sink, the key and value an update
    /// replaced are returned, for the caller to drop after releasing the lock.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        cost: u64,
        deadline: u64,
        now: u64,
        mut out: Sink<'_, K, V>,
    ) -> (Inserted, Option<(K, V)>)
    where
        K: Eq,
    {
        self.due_at = self.due_at.max(now);
        self.replay_reads();
        let fits = u32::try_from(cost)
            .ok()
            .filter(|&c| u64::from(c) <= self.capacity);
        if let Some(i) = self.find(hash, &key) {
            if self.expired(i, now) {
                self.evict(i, Cause::Expired, out.as_deref_mut());
            } else if fits.is_none() {
                // The new value cannot be held: the old one must not stay readable either.
                self.evict(i, Cause::Replaced, out.as_deref_mut());
            } else {
                let cost = fits.unwrap_or(0);
                let old = self.update(i, key, value, cost, deadline, out.as_deref_mut());
                // Most updates keep the size: then there is nothing for `make_room` to do.
                if self.used > self.capacity || self.lists[W].cost > self.window_target {
                    let _ = self.make_room(NIL, i, out);
                }
                let outcome = if self.slab.get(i).is_some() {
                    Inserted::Updated
                } else {
                    Inserted::Rejected
                };
                return (outcome, old);
            }
        }
        // A write of an absent key is an access the sketch must see (and the new entry starts from the
        // key's count there); a write of a present key is counted on the entry (`update` bumps its hit
        // counter) and folded in later, which spares the write path a random access into the sketch.
        let count = self.sketch.increment(hash);
        self.follow_ghosts(hash, cost, count);
        let Some(cost) = fits else {
            self.aged(1);
            self.counts.record(Cause::Rejected);
            if let Some(out) = out {
                out.push((key, value, Cause::Rejected));
                return (Inserted::Rejected, None);
            }
            return (Inserted::Rejected, Some((key, value)));
        };
        let i = self
            .slab
            .insert(Entry::new(key, value, cost, count, self.epoch));
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.table.insert_unique(hash, i, |&x| {
            slab.get(x).map_or(0, |e| hasher.hash_one(&e.key))
        });
        self.slab
            .push_back(&mut self.lists[W], i, Links::Policy, cost);
        self.aged(1);
        self.used += u64::from(cost);
        if deadline != 0 {
            self.slab.set_deadline(i, deadline);
            self.wheel.schedule(&mut self.slab, i);
        }
        if self.make_room(i, NIL, out) {
            (Inserted::Rejected, None)
        } else {
            self.counts.inserts += 1;
            (Inserted::New, None)
        }
    }

    /// Moves the window entries hit since the last write to the window's tail, in the order of their
    /// hits (see [`ReadLog`]); each move takes the place of the entry's reference bit. A logged slot
    /// whose entry has left the window since (or whose slot was reused) is skipped or, at worst, moves
    /// a window entry early: an ordering hint, never a change of what is stored.
    pub(crate) fn replay_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        for at in 0..self.reads.take() {
            let i = self.reads.at(at);
            if let Some(e) = self.slab.get_mut(i) {
                if e.queue() == Queue::Window {
                    *e.freq.get_mut() &= !REFERENCED;
                    self.move_to(i, Queue::Window);
                }
            }
        }
    }

    fn find_index_is(&self, hash: u64, i: u32) -> bool {
        self.table.find(hash, |&x| x == i).is_some()
    }

    /// Replaces entry `i`'s key, value, cost and deadline; the old key and value go to `out`, or are
    /// returned without one.
    fn update(
        &mut self,
        i: u32,
        key: K,
        value: V,
        cost: u32,
        deadline: u64,
        out: Sink<'_, K, V>,
    ) -> Option<(K, V)> {
        let Some(e) = self.slab.get_mut(i) else {
            return Some((key, value));
        };
        let old_cost = e.cost;
        let old = std::mem::replace(&mut e.value, value);
        // Replace the key too: equal keys may still differ in what they carry (a packed key+value).
        let key = std::mem::replace(&mut e.key, key);
        bump(&e.freq);
        e.cost = cost;
        let queue = e.queue();
        self.retime(i, deadline);
        let list = &mut self.lists[queue as usize];
        list.cost = list.cost - u64::from(old_cost) + u64::from(cost);
        self.used = self.used - u64::from(old_cost) + u64::from(cost);
        self.counts.updates += 1;
        self.counts.record(Cause::Replaced);
        match out {
            Some(out) => {
                out.push((key, old, Cause::Replaced));
                None
            }
            None => Some((key, old)),
        }
    }

    /// Removes `key`, reporting why: [`Cause::Explicit`] for a live entry, [`Cause::Expired`] for an
    /// entry whose deadline had passed (reclaimed, but not to be returned to the caller).
    pub(crate) fn remove<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: impl FnOnce() -> u64,
    ) -> Option<(K, V, Cause)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        let d = self.slab.deadline(i);
        let expired = d != 0 && d <= now();
        let mut taken = Vec::with_capacity(1);
        let cause = if expired {
            Cause::Expired
        } else {
            Cause::Explicit
        };
        self.evict(i, cause, Some(&mut taken));
        taken.pop()
    }

    /// Sets the deadline of a live `key` (0: never expires). False when absent or expired.
    pub(crate) fn set_deadline<Q>(&mut self, hash: u64, key: &Q, deadline: u64, now: u64) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(i) = self.find(hash, key) else {
            return false;
        };
        if self.slab.get(i).is_none() || self.expired(i, now) {
            return false;
        }
        self.retime(i, deadline);
        true
    }

    /// Gives live entry `i` a new deadline (0: none). A later deadline for an entry in the wheel only
    /// updates the deadline: the entry stays in its earlier bucket and is re-placed when that bucket is
    /// drained, so refreshing a TTL (the common case: the same key written again with the same TTL)
    /// does not relink wheel lists. An earlier deadline, or none, moves it at once.
    fn retime(&mut self, i: u32, deadline: u64) {
        let old = self.slab.deadline(i);
        if old == deadline {
            return;
        }
        let scheduled = self.slab.get(i).is_some_and(Entry::scheduled);
        if scheduled && old != 0 && deadline > old {
            self.slab.extend_deadline(i, deadline);
            return;
        }
        self.wheel.deschedule(&mut self.slab, i);
        self.slab.set_deadline(i, deadline);
        self.wheel.schedule(&mut self.slab, i);
    }

    /// Removes every entry for which `pred` is true (cause [`Cause::Explicit`]); returns how many.
    pub(crate) fn remove_if(
        &mut self,
        mut pred: impl FnMut(&K, &V) -> bool,
        mut out: Sink<'_, K, V>,
    ) -> u64 {
        let mut n = 0;
        for i in 0..self.slab.slots() {
            let i = i as u32;
            if self.slab.get(i).is_some_and(|e| pred(&e.key, &e.value)) {
                self.evict(i, Cause::Explicit, out.as_deref_mut());
                n += 1;
            }
        }
        self.slab.shrink();
        n
    }

    /// Removes everything (cause [`Cause::Explicit`]) and forgets the frequency history.
    pub(crate) fn clear(&mut self, out: Sink<'_, K, V>) -> u64 {
        let n = self.remove_if(|_, _| true, out);
        self.table = HashTable::new();
        self.slab.clear();
        self.wheel.clear();
        self.due.clear();
        self.sketch.clear();
        self.lists = [List::default(); 3];
        self.used = 0;
        self.aging = 0;
        n
    }

    /// Changes the capacity and evicts down to it.
    pub(crate) fn set_capacity(&mut self, capacity: u64, out: Sink<'_, K, V>) {
        let old = std::mem::replace(&mut self.capacity, capacity);
        // The window keeps its share of the capacity.
        self.window_target = if old == 0 {
            capacity / INITIAL_WINDOW_DIVISOR
        } else {
            (u128::from(self.window_target) * u128::from(capacity) / u128::from(old)) as u64
        };
        let _ = self.make_room(NIL, NIL, out);
    }

    /// Appends up to `limit` live keys from slot `from` on for which `pred` holds; returns the slot to
    /// continue from, or `None` when the shard is done.
    pub(crate) fn scan(
        &self,
        from: usize,
        limit: usize,
        now: u64,
        mut pred: impl FnMut(&K) -> bool,
        keys: &mut Vec<K>,
    ) -> Option<usize>
    where
        K: Clone,
    {
        let mut taken = 0;
        let mut i = from;
        while i < self.slab.slots() {
            if taken >= limit {
                return Some(i);
            }
            if let Some(e) = self.slab.get(i as u32) {
                let live = !self.expired(i as u32, now);
                if live && pred(&e.key) {
                    keys.push(e.key.clone());
                    taken += 1;
                }
            }
            i += 1;
        }
        None
    }

    /// Checks the internal invariants (tests).
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut seen = 0u64;
        let mut cost = 0u64;
        for (q, list) in [
            (Queue::Window, &self.lists[W]),
            (Queue::Main, &self.lists[M]),
            (Queue::Protected, &self.lists[P]),
        ] {
            // The tail's `next` is not maintained: walk `len` entries and check the last is the tail.
            let mut i = list.head;
            let mut n = 0u32;
            let mut c = 0u64;
            if list.len == 0 && (list.head != NIL || list.tail != NIL) {
                return Err(format!("empty {q:?} list has ends"));
            }
            while n < list.len {
                let e = self.slab.get(i).ok_or("list points at a free slot")?;
                if e.queue() != q {
                    return Err(format!("entry {i} in the {q:?} list says {:?}", e.queue()));
                }
                if !self.find_index_is(self.hash_of(&e.key), i) {
                    return Err(format!("entry {i} is listed but not in the table"));
                }
                n += 1;
                c += u64::from(e.cost);
                if n == list.len {
                    if i != list.tail {
                        return Err(format!("{q:?} list does not end at its tail"));
                    }
                } else {
                    i = e.links[1];
                }
            }
            if n != list.len || c != list.cost {
                return Err(format!("{q:?} list totals are off"));
            }
            seen += u64::from(n);
            cost += c;
        }
        if seen != self.table.len() as u64 {
            return Err(format!(
                "{seen} listed entries but {} in the table",
                self.table.len()
            ));
        }
        let mut scheduled = 0;
        for i in 0..self.slab.slots() {
            if let Some(e) = self.slab.get(i as u32) {
                if i < self.aging && e.epoch() != self.epoch {
                    return Err(format!("entry {i} is behind the halving walk"));
                }
                if e.timed() && self.slab.deadline(i as u32) == 0 {
                    return Err(format!("entry {i} is timed without a deadline"));
                }
                scheduled += usize::from(e.scheduled());
            }
        }
        if scheduled != self.wheel.len() {
            return Err(format!(
                "{scheduled} entries in wheel buckets but the wheel counts {}",
                self.wheel.len()
            ));
        }
        if cost != self.used {
            return Err(format!("listed cost {cost} but used {}", self.used));
        }
        if self.used > self.capacity {
            return Err(format!(
                "used {} over capacity {}",
                self.used, self.capacity
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> (Shard<u64, ()>, u64) {
        let s = Shard::new(4, 1000, 0, foldhash::fast::RandomState::default());
        let h = s.hash_of(&7);
        (s, h)
    }

    /// Replays `keys` (get, insert on a miss) through a shard of `capacity`; returns its window target.
    fn replay_window(capacity: u64, keys: impl Iterator<Item = u64>) -> u64 {
        let mut s: Shard<u64, ()> = Shard::new(
            capacity,
            capacity * 10,
            0,
            foldhash::fast::RandomState::default(),
        );
        for k in keys {
            let h = s.hash_of(&k);
            match s.find(h, &k) {
                Some(i) => bump(&s.slab.get(i).expect("live").freq),
                None => {
                    s.insert(h, k, (), 1, 0, 0, None);
                }
            }
        }
        s.window_target
    }

    #[test]
    fn a_large_window_evicts_in_the_order_of_last_access() {
        let mut s: Shard<u64, ()> =
            Shard::new(100, 1000, 0, foldhash::fast::RandomState::default());
        s.window_target = 99;
        let put = |s: &mut Shard<u64, ()>, k: u64| {
            let h = s.hash_of(&k);
            s.insert(h, k, (), 1, 0, 0, None);
        };
        for k in 0..100 {
            put(&mut s, k);
        }
        // Every key is hit, then 50 new keys arrive: LRU drops the 50 keys hit longest ago. A CLOCK
        // would give every old key a second lap (its reference bit) and drop new keys first.
        for k in 0..100 {
            let h = s.hash_of(&k);
            assert!(s.hit(h, &k, || 0).is_some());
        }
        for k in 1000..1050 {
            put(&mut s, k);
        }
        let present = |s: &Shard<u64, ()>, k: u64| s.find(s.hash_of(&k), &k).is_some();
        let new_kept = (1000..1050).filter(|&k| present(&s, k)).count();
        let late_kept = (50..100).filter(|&k| present(&s, k)).count();
        assert_eq!(new_kept, 50, "new keys kept");
        assert!(late_kept >= 49, "keys hit last kept: {late_kept} of 50");
        s.check().expect("invariants");
    }

    #[test]
    fn a_round_of_votes_moves_the_boundary_only_on_a_clear_margin() {
        let mut v = Votes::default();
        // 18 against 14 of 32: within two standard deviations of a fair coin (|4| <= 2 sqrt(32)).
        for i in 0..GHOST_ROUND {
            assert_eq!(v.decide(), Verdict::Open, "mid-round");
            if i < 18 {
                v.record(1, 3);
            } else {
                v.record(-1, -3);
            }
        }
        assert_eq!(v.decide(), Verdict::Tie, "a near tie moves nothing");
        assert_eq!((v.net, v.total, v.shift), (0, 0, 0), "a new round starts");
        // 28 against 4: a clear margin; the move is the votes' summed steps.
        for i in 0..GHOST_ROUND {
            if i < 28 {
                v.record(1, 2);
            } else {
                v.record(-1, -5);
            }
        }
        assert_eq!(v.decide(), Verdict::Move(28 * 2 - 4 * 5));
        for _ in 0..GHOST_ROUND {
            v.record(-1, -1);
        }
        assert_eq!(v.decide(), Verdict::Move(-i64::from(GHOST_ROUND)));
    }

    #[test]
    fn rounds_won_by_one_side_in_a_row_move_the_boundary_further_each_time() {
        let mut s = Steer::default();
        assert_eq!(s.follow(Verdict::Open), None);
        let grows: Vec<_> = (0..7).map(|_| s.follow(Verdict::Move(3))).collect();
        let want = [3, 6, 12, 24, 48, 48, 48].map(Some);
        assert_eq!(grows, want, "doubles up to {MAX_GAIN}x");
        assert_eq!(s.follow(Verdict::Open), None, "mid-round changes nothing");
        assert_eq!(s.follow(Verdict::Move(3)), Some(48), "still at full gain");
        // The other side wins: back to one, and it builds up again from there.
        assert_eq!(s.follow(Verdict::Move(-5)), Some(-5));
        assert_eq!(s.follow(Verdict::Move(-5)), Some(-10));
        // A tie starts again too.
        assert_eq!(s.follow(Verdict::Tie), None);
        assert_eq!(s.follow(Verdict::Move(-5)), Some(-5));
    }

    #[test]
    fn the_window_grows_when_recency_pays_and_stays_small_when_frequency_does() {
        let start = 1000 / INITIAL_WINDOW_DIVISOR;
        // Recency: a working set a little smaller than the cache that moves on every 20k requests.
        // Its new keys lose admission to main's stale favourites, then come back while still in the
        // window's ghost: the window grows, towards LRU.
        let mut x = 1u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let moving = (0..200_000u64).map(|i| (i / 20_000) * 1_000_000 + next() % 900);
        let grown = replay_window(1000, moving);
        assert!(grown > 5 * start, "window {grown} of 1000");
        // A loop over more keys than the cache holds: a key comes back only after a whole loop, long
        // after it left any ghost, so nothing moves the boundary much.
        let looping = (0..200_000u64).map(|i| i % 1200);
        let kept = replay_window(1000, looping);
        assert!(kept <= 2 * start, "window {kept} of 1000");
    }

    /// Key 7 inserted and hit `hits` times; returns its index.
    fn hit(s: &mut Shard<u64, ()>, h: u64, hits: usize) -> u32 {
        s.insert(h, 7, (), 1, 0, 0, None);
        let i = s.find(h, &7).expect("inserted");
        for _ in 0..hits {
            bump(&s.slab.get(i).expect("live").freq);
        }
        i
    }

    #[test]
    fn an_evicted_entrys_hits_reach_the_sketch() {
        let (mut s, h) = shard();
        let i = hit(&mut s, h, 6);
        assert_eq!(s.sketch.count(h).estimate(), 1, "inserting counts once");
        s.evict(i, Cause::Size, None);
        assert_eq!(
            s.sketch.count(h).estimate(),
            7,
            "its 6 hits are written back"
        );
    }

    #[test]
    fn folded_hits_stay_with_the_entry_until_it_leaves() {
        let (mut s, h) = shard();
        let i = hit(&mut s, h, 6);
        s.fold(i);
        let e = s.slab.get(i).expect("live");
        assert_eq!(e.count().estimate(), 7);
        assert!(e.ahead());
        assert_eq!(
            s.sketch.count(h).estimate(),
            1,
            "the sketch is not written by a fold"
        );
        // Explicit removal writes back what was folded, not hits still pending.
        bump(&s.slab.get(i).expect("live").freq);
        let _ = s.remove(h, &7, || 0);
        assert_eq!(s.sketch.count(h).estimate(), 7);
    }

    /// Adds to the sketch's aging count until it halves (the walk keeps pace meanwhile).
    fn halve_once(s: &mut Shard<u64, ()>) {
        let epoch = s.epoch;
        while s.epoch == epoch {
            s.count_towards_aging(1);
        }
    }

    #[test]
    fn halving_halves_entry_counts_too() {
        let (mut s, h) = shard();
        let i = hit(&mut s, h, 9);
        s.fold(i);
        let kept = |s: &Shard<u64, ()>| s.slab.get(i).map(|e| s.count_of(e));
        assert_eq!(kept(&s).map(Count::estimate), Some(10));
        halve_once(&mut s);
        assert_eq!(
            kept(&s),
            Some(Count {
                min: 4,
                door: false
            }),
            "9 halves to 4, doorkeeper cleared"
        );
        s.evict(i, Cause::Size, None);
        assert_eq!(s.sketch.count(h).estimate(), 4);
    }

    #[test]
    fn the_halving_walk_halves_each_count_once() {
        let mut s: Shard<u64, ()> =
            Shard::new(1000, 100, 0, foldhash::fast::RandomState::default());
        for k in 0..200u64 {
            let h = s.hash_of(&k);
            s.insert(h, k, (), 1, 0, 0, None);
            let i = s.find(h, &k).expect("inserted");
            for _ in 0..8 {
                bump(&s.slab.get(i).expect("live").freq);
            }
            s.fold(i);
        }
        let before: Vec<(u64, Count)> = (0..200u64)
            .filter_map(|k| {
                let i = s.find(s.hash_of(&k), &k)?;
                Some((k, s.count_of(s.slab.get(i)?)))
            })
            .collect();
        halve_once(&mut s);
        assert!(
            s.aging < s.slab.slots(),
            "the walk is spread over later additions"
        );
        // Read before and after the walk reaches them: halved exactly once either way.
        for step in 0..2 {
            for &(k, c) in &before {
                let i = s.find(s.hash_of(&k), &k).expect("still cached");
                let now = s.slab.get(i).map(|e| s.count_of(e));
                assert_eq!(
                    now,
                    Some(c.halved()),
                    "key {k}, {} walk",
                    ["during", "after"][step]
                );
            }
            while s.aging < s.slab.slots() {
                s.count_towards_aging(1);
            }
            s.check().expect("invariants");
        }
    }
}
