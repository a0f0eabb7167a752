//! Exact LRU with unit weights: a hash map into an intrusive doubly linked list kept in a `Vec`.

use std::collections::HashMap;

const NIL: usize = usize::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    key: u64,
    prev: usize,
    next: usize,
}

/// An exact LRU cache of `capacity` unit-weight keys (values are irrelevant to the hit ratio).
#[derive(Debug)]
pub(crate) struct Lru {
    capacity: usize,
    index: HashMap<u64, usize>,
    nodes: Vec<Node>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
}

impl Lru {
    /// An empty cache.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            index: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
        }
    }

    /// Requests `key`: returns whether it was a hit; on a miss inserts it, evicting the LRU key if full.
    pub(crate) fn access(&mut self, key: u64) -> bool {
        if let Some(&slot) = self.index.get(&key) {
            self.unlink(slot);
            self.push_front(slot);
            return true;
        }
        if self.capacity == 0 {
            return false;
        }
        let slot = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                key,
                prev: NIL,
                next: NIL,
            });
            self.nodes.len() - 1
        } else {
            let victim = self.tail;
            self.unlink(victim);
            self.index.remove(&self.nodes[victim].key);
            self.nodes[victim].key = key;
            victim
        };
        self.index.insert(key, slot);
        self.push_front(slot);
        false
    }

    fn unlink(&mut self, slot: usize) {
        let Node { prev, next, .. } = self.nodes[slot];
        if prev == NIL {
            self.head = next
        } else {
            self.nodes[prev].next = next
        }
        if next == NIL {
            self.tail = prev
        } else {
            self.nodes[next].prev = prev
        }
    }

    fn push_front(&mut self, slot: usize) {
        self.nodes[slot].prev = NIL;
        self.nodes[slot].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = slot;
        }
        self.head = slot;
        if self.tail == NIL {
            self.tail = slot;
        }
    }
}

/// Number of hits exact LRU gets on `keys` with room for `capacity` keys.
pub(crate) fn hits(keys: &[u64], capacity: usize) -> u64 {
    let mut lru = Lru::new(capacity);
    keys.iter().filter(|&&k| lru.access(k)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_trace() {
        // capacity 2: a b a c b a
        // a miss [a]; b miss [b a]; a hit [a b]; c miss evicts b [c a]; b miss evicts a [b c]; a miss.
        assert_eq!(hits(&[1, 2, 1, 3, 2, 1], 2), 1);
        // capacity 3 holds all three keys: hits at positions 2, 4, 5.
        assert_eq!(hits(&[1, 2, 1, 3, 2, 1], 3), 3);
        assert_eq!(hits(&[1, 1, 1], 0), 0);
    }

    #[test]
    fn a_loop_one_larger_than_the_cache_never_hits() {
        let trace: Vec<u64> = (0..10).cycle().take(1000).collect();
        assert_eq!(hits(&trace, 9), 0);
        assert_eq!(hits(&trace, 10), 990);
    }

    #[test]
    fn agrees_with_the_lru_crate() {
        let trace = crate::zipf::key_stream(300, 0.9, 5_000, 11);
        for cap in [1usize, 7, 64] {
            let mut reference = lru::LruCache::new(
                std::num::NonZeroUsize::new(cap).unwrap_or(std::num::NonZeroUsize::MIN),
            );
            let mut expected = 0u64;
            for &k in &trace {
                if reference.get(&k).is_some() {
                    expected += 1;
                } else {
                    reference.put(k, ());
                }
            }
            assert_eq!(hits(&trace, cap), expected, "cap {cap}");
        }
    }
}
