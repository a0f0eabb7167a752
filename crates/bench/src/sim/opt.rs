//! Belady's optimal policy (OPT / MIN) with bypass, computed from next-use indices.
//!
//! For unit weights, on a miss the optimal cache keeps the `capacity` items whose next use is soonest
//! among the cached items plus the requested one; if the requested item's next use is the furthest (or
//! never), it is not admitted. This is the upper bound for caches that may reject inserts (TinyLFU-style
//! admission does), and is never below demand-paging MIN.

use std::collections::{BinaryHeap, HashMap};

/// For every position `i`, the position of the next request of `keys[i]`, or `usize::MAX - i` if none
/// (distinct "never" values keep the heap entries unique and order later-never after earlier-never,
/// which does not matter for correctness).
pub(crate) fn next_uses(keys: &[u64]) -> Vec<usize> {
    let mut next = vec![0usize; keys.len()];
    let mut last_seen: HashMap<u64, usize> = HashMap::with_capacity(keys.len() / 4);
    for i in (0..keys.len()).rev() {
        next[i] = match last_seen.insert(keys[i], i) {
            Some(later) => later,
            None => usize::MAX - i,
        };
    }
    next
}

/// Number of hits OPT gets on `keys` with room for `capacity` unit-weight items.
pub(crate) fn hits(keys: &[u64], capacity: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    let next = next_uses(keys);
    // key -> its next use; the heap holds (next use, key) with stale entries skipped lazily.
    let mut cached: HashMap<u64, usize> = HashMap::with_capacity(capacity * 2);
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::with_capacity(capacity * 2);
    let mut hits = 0u64;
    for (i, &key) in keys.iter().enumerate() {
        if let Some(slot) = cached.get_mut(&key) {
            hits += 1;
            *slot = next[i];
            heap.push((next[i], key));
            continue;
        }
        if cached.len() < capacity {
            cached.insert(key, next[i]);
            heap.push((next[i], key));
            continue;
        }
        // Full: compare the furthest cached next use with the newcomer's.
        while let Some(&(when, victim)) = heap.peek() {
            if cached.get(&victim) == Some(&when) {
                break;
            }
            heap.pop();
        }
        if let Some(&(when, victim)) = heap.peek()
            && when > next[i]
        {
            heap.pop();
            cached.remove(&victim);
            cached.insert(key, next[i]);
            heap.push((next[i], key));
        }
        // Compact the heap when stale entries dominate, keeping memory O(capacity).
        if heap.len() > capacity * 4 + 64 {
            heap = cached.iter().map(|(&k, &w)| (w, k)).collect();
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_use_points_at_the_following_request() {
        let next = next_uses(&[1, 2, 1, 1]);
        assert_eq!(next[0], 2);
        assert_eq!(next[2], 3);
        assert!(next[1] > 4 && next[3] > 4);
    }

    #[test]
    fn hand_checked_trace() {
        // capacity 2: a b c a b c a b
        // 0 a miss {a}; 1 b miss {a,b}; 2 c miss: next uses a@3, b@4, c@5 -> bypass c;
        // 3 a hit; 4 b hit; 5 c miss: a@6, b@7, c@never -> bypass; 6 a hit; 7 b hit  => 4 hits.
        assert_eq!(hits(&[1, 2, 3, 1, 2, 3, 1, 2], 2), 4);
        // capacity 1: a a b a  => hit at 1; at 2 b (never again) is bypassed; 3 a hit => 2 hits.
        assert_eq!(hits(&[1, 1, 2, 1], 1), 2);
        assert_eq!(hits(&[1, 1, 2, 1], 0), 0);
    }

    #[test]
    fn opt_evicts_the_furthest_and_is_never_below_lru() {
        // capacity 2: a b c b a -> at c (next@never) bypass; b hit; a hit => 2 hits; LRU gets 1 (b).
        let trace = [1, 2, 3, 2, 1];
        assert_eq!(hits(&trace, 2), 2);
        assert!(hits(&trace, 2) >= super::super::lru::hits(&trace, 2));
        let zipf = crate::zipf::key_stream(500, 1.0, 20_000, 5);
        for cap in [1, 10, 50, 200, 500] {
            assert!(
                hits(&zipf, cap) >= super::super::lru::hits(&zipf, cap),
                "cap {cap}"
            );
        }
        // Enough room for everything: only compulsory misses remain.
        let unique = zipf.iter().collect::<std::collections::HashSet<_>>().len() as u64;
        assert_eq!(hits(&zipf, 500), zipf.len() as u64 - unique);
    }
}
