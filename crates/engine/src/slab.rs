//! Entry storage of a shard: a slab of entries addressed by `u32` index, with intrusive doubly linked
//! lists threaded through the entries (one for the policy queue an entry is in, one for its timer-wheel
//! bucket). Indices stay valid while an entry lives, so lists and the hash table refer to entries by index
//! and every unlink is O(1).
//!
//! An entry's deadline and timer-wheel links live in a side array indexed like the slots, touched only
//! for entries that have a deadline: an entry without one is 16 bytes smaller (56 instead of 72 for a
//! `u64` key and a `Bytes` value), so more of the hot entries stay in the CPU caches, and a lookup of an
//! entry without a deadline reads nothing else.

use std::num::NonZeroU8;
use std::sync::atomic::AtomicU8;

use crate::sketch::Count;

/// The "no entry" index.
pub(crate) const NIL: u32 = u32::MAX;

/// Which intrusive list a link pair belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Links {
    /// The policy queue (window or main).
    Policy = 0,
    /// The timer-wheel bucket.
    Timer = 1,
}

/// Which policy queue an entry is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Queue {
    /// The admission window (new entries).
    Window,
    /// The main space (entries that won admission).
    Main,
    /// The protected segment of main (entries hit since admission).
    Protected,
}

/// An entry's policy state in one byte: its queue (bits 0-1, stored as 1..=3 so the byte is never zero
/// and `Option<Entry>` keeps a niche), the frequency count of its key (bits 2-5: the smallest counter;
/// bit 6: the doorkeeper) and whether that count is ahead of the sketch (bit 7).
///
/// While a key is cached, the entry's count stands in for the sketch's: it is read from the sketch
/// when the key is inserted, the entry's hits are added to it when they are folded, it is halved with
/// the sketch (lazily: see [`Entry::count_at`]), and it is written back into the sketch (if ahead of
/// it) when the entry leaves. So the policy compares a candidate with a victim, and folds hits, without
/// touching the sketch, whose line for a key is usually a cache miss: the sketch is read once per inserted key and written once per
/// evicted entry that was hit. What the entry's count leaves out is other keys' collisions in the
/// sketch, which only ever inflate a count.
#[derive(Clone, Copy)]
pub(crate) struct Meta(NonZeroU8);

impl Meta {
    const QUEUE: u8 = 0b11;
    const MIN_SHIFT: u32 = 2;
    const DOOR: u8 = 0x40;
    const AHEAD: u8 = 0x80;

    /// Queue `q` with count `c`, `ahead` of the sketch or not.
    #[inline]
    pub(crate) fn new(q: Queue, c: Count, ahead: bool) -> Self {
        let bits = (q as u8 + 1)
            | ((c.min & 15) << Self::MIN_SHIFT)
            | if c.door { Self::DOOR } else { 0 }
            | if ahead { Self::AHEAD } else { 0 };
        Meta(NonZeroU8::new(bits).unwrap_or(NonZeroU8::MIN))
    }

    /// Whether the count holds occurrences the sketch has not been given yet.
    #[inline]
    pub(crate) fn ahead(self) -> bool {
        self.0.get() & Self::AHEAD != 0
    }

    /// The queue the entry is in.
    #[inline]
    pub(crate) fn queue(self) -> Queue {
        match self.0.get() & Self::QUEUE {
            1 => Queue::Window,
            2 => Queue::Main,
            _ => Queue::Protected,
        }
    }

    /// The sketch's count for the entry's key.
    #[inline]
    pub(crate) fn count(self) -> Count {
        let b = self.0.get();
        Count {
            min: (b >> Self::MIN_SHIFT) & 15,
            door: b & Self::DOOR != 0,
        }
    }
}

/// [`Entry::bucket`] of an entry without a deadline.
pub(crate) const NO_DEADLINE: u16 = 0x7FFF;
/// [`Entry::bucket`] of an entry with a deadline that is not in the timer wheel (found due, waiting to
/// be reclaimed). Buckets below this are wheel buckets.
pub(crate) const UNSCHEDULED: u16 = 0x7FFE;
/// The bits of `Entry::timer` that hold the bucket; the top bit is the entry's aging epoch.
const BUCKET_BITS: u16 = 0x7FFF;
const EPOCH_BIT: u16 = 0x8000;

/// One cached entry and its bookkeeping. `repr(C)` keeps what a lookup reads (key, hit counter, timer
/// bucket, then the value) together at the start and the policy links at the end: left to the compiler,
/// the value came first and the key last, so a lookup read the whole entry, and with entries 56 bytes
/// apart more of them crossed a cache line (callgrind, 1M keys, reads: 3.92 L1 misses per hit, 3.72 with
/// this order; 10M-key writes 6.33 per write, 6.06). `Option<Entry>` still needs no tag: `meta` is never
/// zero.
#[repr(C)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    /// Hits since the policy last looked at this entry (saturating); written under the read lock.
    pub(crate) freq: AtomicU8,
    /// Queue and sketch count.
    pub(crate) meta: Meta,
    /// Timer-wheel bucket, or [`UNSCHEDULED`] / [`NO_DEADLINE`] (low 15 bits; [`Entry::bucket`]), and
    /// the parity of the sketch halvings the entry's count has been brought up to (top bit;
    /// [`Entry::epoch`]).
    timer: u16,
    pub(crate) cost: u32,
    pub(crate) value: V,
    /// Policy list `[prev, next]`.
    pub(crate) links: [u32; 2],
}

impl<K, V> Entry<K, V> {
    /// A new entry without a deadline, in no list (its queue says window), whose key the sketch counts
    /// `count` in aging epoch `epoch`.
    pub(crate) fn new(key: K, value: V, cost: u32, count: Count, epoch: bool) -> Self {
        Entry {
            key,
            freq: AtomicU8::new(0),
            meta: Meta::new(Queue::Window, count, false),
            timer: NO_DEADLINE | if epoch { EPOCH_BIT } else { 0 },
            cost,
            value,
            links: [NIL; 2],
        }
    }

    /// The queue the entry is in.
    #[inline]
    pub(crate) fn queue(&self) -> Queue {
        self.meta.queue()
    }

    /// Moves the entry to queue `q` (its lists are the caller's business).
    #[inline]
    pub(crate) fn set_queue(&mut self, q: Queue) {
        self.meta = Meta::new(q, self.meta.count(), self.meta.ahead());
    }

    /// The count of the entry's key as last set, in epoch [`Entry::epoch`] (the shard halves it once if
    /// the sketch has been halved since).
    #[inline]
    pub(crate) fn count(&self) -> Count {
        self.meta.count()
    }

    /// The count of the entry's key as of aging epoch `epoch`: halved once if it was set in the other
    /// epoch (the sketch has been halved since, and a count is never two halvings behind).
    #[inline]
    pub(crate) fn count_at(&self, epoch: bool) -> Count {
        if self.epoch() == epoch {
            self.count()
        } else {
            self.count().halved()
        }
    }

    /// Sets the count of the entry's key as of aging epoch `epoch`; `ahead` when it now holds
    /// occurrences the sketch lacks.
    #[inline]
    pub(crate) fn set_count(&mut self, c: Count, ahead: bool, epoch: bool) {
        self.meta = Meta::new(self.meta.queue(), c, ahead);
        self.timer = (self.timer & BUCKET_BITS) | if epoch { EPOCH_BIT } else { 0 };
    }

    /// The parity of the sketch halvings the entry's count reflects.
    #[inline]
    pub(crate) fn epoch(&self) -> bool {
        self.timer & EPOCH_BIT != 0
    }

    /// The timer-wheel bucket, or [`UNSCHEDULED`] / [`NO_DEADLINE`].
    #[inline]
    pub(crate) fn bucket(&self) -> u16 {
        self.timer & BUCKET_BITS
    }

    /// Sets the timer-wheel bucket (or [`UNSCHEDULED`] / [`NO_DEADLINE`]); the epoch stays.
    #[inline]
    pub(crate) fn set_bucket(&mut self, b: u16) {
        self.timer = (self.timer & EPOCH_BIT) | (b & BUCKET_BITS);
    }

    /// Whether the entry's count holds occurrences the sketch lacks.
    #[inline]
    pub(crate) fn ahead(&self) -> bool {
        self.meta.ahead()
    }

    /// Whether the entry has a deadline.
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        self.bucket() != NO_DEADLINE
    }

    /// Whether the entry is in a timer-wheel bucket.
    #[inline]
    pub(crate) fn scheduled(&self) -> bool {
        self.bucket() < UNSCHEDULED
    }
}

/// The deadline and timer-wheel links of a slot whose entry has a deadline.
#[derive(Clone, Copy)]
struct Timer {
    /// Expiry in clock nanoseconds.
    deadline: u64,
    /// `[prev, next]` in the wheel bucket.
    links: [u32; 2],
}

/// A list's ends and its total cost.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) cost: u64,
    pub(crate) len: u32,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            cost: 0,
            len: 0,
        }
    }
}

impl List {
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }
}

/// The entries of a shard.
pub(crate) struct Slab<K, V> {
    slots: Vec<Option<Entry<K, V>>>,
    free: Vec<u32>,
    /// Indexed like `slots`; grown on the first deadline at or beyond its end, meaningful only for
    /// entries with a deadline.
    timers: Vec<Timer>,
}

impl<K, V> Slab<K, V> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Stores `entry` and returns its index.
    pub(crate) fn insert(&mut self, entry: Entry<K, V>) -> u32 {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(entry);
            i
        } else {
            let i = u32::try_from(self.slots.len()).unwrap_or(NIL - 1);
            self.slots.push(Some(entry));
            i
        }
    }

    /// Takes the entry out; its index becomes free. The entry must not be in any list.
    pub(crate) fn remove(&mut self, i: u32) -> Option<Entry<K, V>> {
        let e = self.slots.get_mut(i as usize)?.take()?;
        self.free.push(i);
        Some(e)
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> Option<&Entry<K, V>> {
        self.slots.get(i as usize)?.as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut Entry<K, V>> {
        self.slots.get_mut(i as usize)?.as_mut()
    }

    /// Number of slots (live or free): the range of valid indices.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.timers.clear();
    }

    /// Frees the memory of empty slots at the end after a large shrink.
    pub(crate) fn shrink(&mut self) {
        if self.free.len() == self.slots.len() {
            self.slots = Vec::new();
            self.free = Vec::new();
            self.timers = Vec::new();
        }
    }

    /// The deadline of entry `i` in clock nanoseconds; 0 when it has none (or `i` is free).
    #[inline]
    pub(crate) fn deadline(&self, i: u32) -> u64 {
        match self.get(i) {
            Some(e) if e.timed() => self.timer_deadline(i),
            _ => 0,
        }
    }

    /// The deadline stored for slot `i`, for a caller that already knows its entry is timed.
    #[inline]
    pub(crate) fn timer_deadline(&self, i: u32) -> u64 {
        self.timers.get(i as usize).map_or(0, |t| t.deadline)
    }

    /// Moves the deadline of entry `i`, which has one, later, leaving its wheel links as they are (see
    /// `Shard::retime`).
    pub(crate) fn extend_deadline(&mut self, i: u32, deadline: u64) {
        if let Some(t) = self.timers.get_mut(i as usize) {
            t.deadline = deadline;
        }
    }

    /// Sets the deadline of entry `i` (0: none). The entry must not be in a wheel bucket.
    pub(crate) fn set_deadline(&mut self, i: u32, deadline: u64) {
        let Some(Some(e)) = self.slots.get_mut(i as usize) else {
            return;
        };
        debug_assert!(!e.scheduled(), "deadline changed while in the wheel");
        if deadline == 0 {
            e.set_bucket(NO_DEADLINE);
            return;
        }
        e.set_bucket(UNSCHEDULED);
        let at = i as usize;
        if self.timers.len() <= at {
            let len = self.slots.len().max(at + 1);
            self.timers.resize(
                len,
                Timer {
                    deadline: 0,
                    links: [NIL; 2],
                },
            );
        }
        self.timers[at] = Timer {
            deadline,
            links: [NIL; 2],
        };
    }

    #[inline]
    fn link(&mut self, i: u32, which: Links) -> &mut [u32; 2] {
        match which {
            Links::Policy => match self.slots.get_mut(i as usize) {
                Some(Some(e)) => &mut e.links,
                _ => unreachable!("list refers to a free slot"),
            },
            Links::Timer => match self.timers.get_mut(i as usize) {
                Some(t) => &mut t.links,
                None => unreachable!("timer list refers to a slot without a timer"),
            },
        }
    }

    /// Appends entry `i` at the tail of `list`.
    pub(crate) fn push_back(&mut self, list: &mut List, i: u32, which: Links, cost: u32) {
        let tail = list.tail;
        if list.len == 0 {
            list.head = i;
        } else {
            self.link(tail, which)[1] = i;
        }
        self.link(i, which)[0] = tail;
        list.tail = i;
        list.cost += u64::from(cost);
        list.len += 1;
    }

    /// Removes entry `i` from `list`. The head's `prev` and the tail's `next` are never read (ends are
    /// recognised by the list's `head` and `tail`), so they are not kept up to date: taking the head or
    /// the tail off a list touches no other entry, the common case for a queue and a CLOCK hand.
    pub(crate) fn unlink(&mut self, list: &mut List, i: u32, which: Links, cost: u32) {
        let [prev, next] = *self.link(i, which);
        let (is_head, is_tail) = (list.head == i, list.tail == i);
        if is_head {
            list.head = if is_tail { NIL } else { next };
        } else if !is_tail {
            self.link(prev, which)[1] = next;
        }
        if is_tail {
            list.tail = if is_head { NIL } else { prev };
        } else if !is_head {
            self.link(next, which)[0] = prev;
        }
        list.cost -= u64::from(cost);
        list.len -= 1;
    }

    /// Index after `i` in its `which` list; meaningless for the list's tail.
    #[inline]
    pub(crate) fn next(&self, i: u32, which: Links) -> u32 {
        match which {
            Links::Policy => self.get(i).map_or(NIL, |e| e.links[1]),
            Links::Timer => self.timers.get(i as usize).map_or(NIL, |t| t.links[1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Entry;

    /// Stand-in for `bytes::Bytes` (the engine does not depend on it): four words, one a reference.
    #[allow(dead_code)]
    struct BytesLike {
        ptr: *const u8,
        len: usize,
        data: std::sync::atomic::AtomicPtr<()>,
        vtable: &'static u8,
    }

    #[test]
    fn an_entry_keeps_its_size_and_a_lookup_reads_one_span() {
        type E = Entry<u64, BytesLike>;
        // `Option<Entry>` uses the queue byte's niche: no tag word.
        assert_eq!(std::mem::size_of::<Option<E>>(), 56);
        assert_eq!(std::mem::size_of::<Option<Entry<[u8; 16], ()>>>(), 32);
        // What a lookup reads (key, hit counter, timer bucket, value) lies in the first 48 bytes, the
        // policy links after them.
        assert_eq!(std::mem::offset_of!(E, key), 0);
        assert!(std::mem::offset_of!(E, freq) < 16 && std::mem::offset_of!(E, timer) < 16);
        assert_eq!(std::mem::offset_of!(E, value), 16);
        assert_eq!(std::mem::offset_of!(E, links), 48);
    }
}
