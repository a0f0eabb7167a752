//! Entry storage of a shard: a slab of entries addressed by `u32` index, with intrusive doubly linked
//! lists threaded through the entries (one for the policy queue an entry is in, one for its timer-wheel
//! bucket). Indices stay valid while an entry lives, so lists and the hash table refer to entries by index
//! and every unlink is O(1).

use std::sync::atomic::AtomicU8;

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
}

/// One cached entry and its bookkeeping. (Not `repr(C)`: that costs `Option<Entry>` its niche, 8
/// bytes per entry, measured.)
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    /// Expiry in clock nanoseconds; 0 means never.
    pub(crate) deadline: u64,
    /// Hits since the policy last looked at this entry (saturating); written under the read lock.
    pub(crate) freq: AtomicU8,
    pub(crate) queue: Queue,
    /// Timer-wheel bucket while `deadline != 0`.
    pub(crate) bucket: u16,
    pub(crate) cost: u32,
    pub(crate) value: V,
    /// `[list][prev, next]`.
    pub(crate) links: [[u32; 2]; 2],
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
}

impl<K, V> Slab<K, V> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
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
    }

    /// Frees the memory of empty slots at the end after a large shrink.
    pub(crate) fn shrink(&mut self) {
        if self.free.len() == self.slots.len() {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    #[inline]
    fn link(&mut self, i: u32, which: Links) -> &mut [u32; 2] {
        match self.slots.get_mut(i as usize) {
            Some(Some(e)) => &mut e.links[which as usize],
            _ => unreachable!("list refers to a free slot"),
        }
    }

    /// Appends entry `i` at the tail of `list`.
    pub(crate) fn push_back(&mut self, list: &mut List, i: u32, which: Links, cost: u32) {
        let tail = list.tail;
        *self.link(i, which) = [tail, NIL];
        if tail == NIL {
            list.head = i;
        } else {
            self.link(tail, which)[1] = i;
        }
        list.tail = i;
        list.cost += u64::from(cost);
        list.len += 1;
    }

    /// Removes entry `i` from `list`.
    pub(crate) fn unlink(&mut self, list: &mut List, i: u32, which: Links, cost: u32) {
        let [prev, next] = *self.link(i, which);
        if prev == NIL {
            list.head = next;
        } else {
            self.link(prev, which)[1] = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.link(next, which)[0] = prev;
        }
        *self.link(i, which) = [NIL, NIL];
        list.cost -= u64::from(cost);
        list.len -= 1;
    }

    /// Index after `i` in its `which` list.
    #[inline]
    pub(crate) fn next(&self, i: u32, which: Links) -> u32 {
        self.get(i).map_or(NIL, |e| e.links[which as usize][1])
    }
}
