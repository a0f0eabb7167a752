//! Synthetic workloads for `hitratio`, made to test how a policy copes with recency, scans and change,
//! beside the recorded traces (which are mostly frequency-skewed). Every stream is fixed by its seed.
//!
//! - `shift`: a working set of Zipf-distributed keys that moves to new keys every so often. After each
//!   move, the keys that were hot are never asked again: a policy has to let go of their counts.
//! - `loop-plus`: one loop over a few more keys than the cache holds. LRU gets nothing; a policy that
//!   keeps a fixed part of the loop gets close to OPT.
//! - `scan-hot`: a Zipf hot set with bursts of keys that are asked once (a scan) between its requests.
//! - `stack`: each request is for the key at a random depth of the LRU stack (log-uniform), or for a new
//!   key. Exact LRU is the policy this stream rewards; a frequency filter only gets in its way.
//! - `phases`: `stack` and a Zipf stream over other keys, taking turns.

use crate::rng::SplitMix64;
use crate::trace::Trace;
use crate::zipf::{Zipf, rank_to_key as scatter};

/// Seed of every synthetic stream.
const SEED: u64 = 0x5EED_5EC5;

/// The synthetic traces, `scale` times their full length (a quick run uses a fraction).
pub(crate) fn all(scale: f64) -> Vec<Trace> {
    let len = |n: usize| ((n as f64 * scale) as usize).max(1000);
    vec![
        named("shift", shift(4000, 0.8, 100_000, len(600_000), SEED)),
        named("loop-plus", looping(5000, len(250_000))),
        named(
            "scan-hot",
            scan_hot(5000, 0.9, 10_000, 3000, len(500_000), SEED),
        ),
        named("stack", stack(50_000, 0.1, len(500_000), SEED).0),
        named("phases", phases(125_000, len(500_000), SEED)),
    ]
}

/// Names of the traces [`all`] makes.
pub(crate) const NAMES: [&str; 5] = ["shift", "loop-plus", "scan-hot", "stack", "phases"];

fn named(name: &str, keys: Vec<u64>) -> Trace {
    Trace {
        name: name.to_owned(),
        keys,
    }
}

/// Zipf(`s`) over a working set of `size` keys that moves to `size` new keys every `every` requests.
pub(crate) fn shift(size: u64, s: f64, every: usize, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(size, s);
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|i| {
            let base = (i / every.max(1)) as u64 * size;
            scatter(base + zipf.sample(&mut rng))
        })
        .collect()
}

/// `len` requests looping over `keys` keys in the same order.
pub(crate) fn looping(keys: u64, len: usize) -> Vec<u64> {
    (0..len as u64).map(|i| scatter(i % keys.max(1))).collect()
}

/// Zipf(`s`) over `hot` keys; every `every` requests, a scan of `scan` keys never asked before.
pub(crate) fn scan_hot(
    hot: u64,
    s: f64,
    every: usize,
    scan: usize,
    len: usize,
    seed: u64,
) -> Vec<u64> {
    let zipf = Zipf::new(hot, s);
    let mut rng = SplitMix64::new(seed);
    let mut fresh = hot;
    let mut keys = Vec::with_capacity(len);
    while keys.len() < len {
        for _ in 0..every.min(len - keys.len()) {
            keys.push(scatter(zipf.sample(&mut rng)));
        }
        for _ in 0..scan.min(len - keys.len()) {
            fresh += 1;
            keys.push(scatter(fresh));
        }
    }
    keys
}

/// Requests by LRU stack depth: with probability `new`, a key never asked before; otherwise the key at
/// a depth drawn log-uniformly from `0..min(max_depth, keys so far)` (depth 0 = the last key asked).
/// Returns the keys and each request's depth (`None` for a new key): exact LRU with capacity `c` hits
/// exactly the requests of depth below `c`.
pub(crate) fn stack(
    max_depth: usize,
    new: f64,
    len: usize,
    seed: u64,
) -> (Vec<u64>, Vec<Option<usize>>) {
    let mut rng = SplitMix64::new(seed);
    let mut stream = StackStream::new(len);
    let mut keys = Vec::with_capacity(len);
    let mut depths = Vec::with_capacity(len);
    let mut fresh = 0u64;
    for _ in 0..len {
        let distinct = stream.distinct();
        let depth = (distinct > 0 && rng.next_f64() >= new).then(|| {
            let span = distinct.min(max_depth) as f64;
            // Log-uniform over [1, span + 1), minus one: depth 0 is the most likely.
            ((span + 1.0).powf(rng.next_f64()) - 1.0).floor() as usize
        });
        let key = match depth {
            Some(d) => stream.at_depth(d.min(distinct - 1)),
            None => {
                fresh += 1;
                scatter(1 << 40 | fresh)
            }
        };
        stream.push(key);
        keys.push(key);
        depths.push(depth.map(|d| d.min(distinct - 1)));
    }
    (keys, depths)
}

/// `stack` and Zipf(1.0) over 50k other keys, `phase` requests each, in turns.
pub(crate) fn phases(phase: usize, len: usize, seed: u64) -> Vec<u64> {
    let (recency, _) = stack(50_000, 0.1, len, seed);
    let zipf = Zipf::new(50_000, 1.0);
    let mut rng = SplitMix64::new(seed ^ 0xF00D);
    (0..len)
        .map(|i| {
            if (i / phase.max(1)) % 2 == 0 {
                recency[i]
            } else {
                scatter(2 << 40 | zipf.sample(&mut rng))
            }
        })
        .collect()
}

/// An LRU stack over request times: a Fenwick tree marks, for each key, the time of its last request,
/// so the key at depth `d` is the one whose mark is the `d`-th from the latest (O(log n) per step).
struct StackStream {
    tree: Vec<u32>,
    key_at: Vec<u64>,
    last: std::collections::HashMap<u64, usize>,
    marks: usize,
}

impl StackStream {
    fn new(len: usize) -> Self {
        StackStream {
            tree: vec![0; len + 1],
            key_at: Vec::with_capacity(len),
            last: std::collections::HashMap::new(),
            marks: 0,
        }
    }

    fn distinct(&self) -> usize {
        self.marks
    }

    fn add(&mut self, pos: usize, delta: i32) {
        let mut i = pos + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// The position of the `k`-th mark (1-based) from the oldest.
    fn kth(&self, mut k: u32) -> usize {
        let mut pos = 0;
        let mut step = self.tree.len().next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] < k {
                pos = next;
                k -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }

    /// The key `d` places below the top (`d < distinct()`).
    fn at_depth(&self, d: usize) -> u64 {
        let k = (self.marks - d) as u32;
        self.key_at[self.kth(k)]
    }

    /// Requests `key` now: its mark moves to the current time.
    fn push(&mut self, key: u64) {
        let now = self.key_at.len();
        if let Some(old) = self.last.insert(key, now) {
            self.add(old, -1);
        } else {
            self.marks += 1;
        }
        self.key_at.push(key);
        self.add(now, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim;

    #[test]
    fn lru_hits_exactly_the_requests_shallower_than_its_capacity() {
        let (keys, depths) = stack(3000, 0.1, 40_000, 9);
        for capacity in [1usize, 10, 100, 700, 2500] {
            let expected = depths
                .iter()
                .filter(|d| d.is_some_and(|d| d < capacity))
                .count();
            assert_eq!(
                sim::lru::hits(&keys, capacity) as usize,
                expected,
                "capacity {capacity}"
            );
        }
        let new = depths.iter().filter(|d| d.is_none()).count() as f64 / depths.len() as f64;
        assert!((0.08..0.12).contains(&new), "share of new keys {new}");
    }

    #[test]
    fn a_shift_leaves_the_old_working_set_behind() {
        let keys = shift(100, 0.8, 1000, 3000, 1);
        let set = |r: std::ops::Range<usize>| -> std::collections::HashSet<u64> {
            keys[r].iter().copied().collect()
        };
        let (a, b) = (set(0..1000), set(1000..2000));
        assert!(a.is_disjoint(&b));
        assert!(a.len() > 50 && a.len() <= 100, "{}", a.len());
    }

    #[test]
    fn scans_are_keys_never_asked_again() {
        let keys = scan_hot(50, 1.0, 100, 30, 1300, 2);
        assert_eq!(keys.len(), 1300);
        let scanned: Vec<u64> = keys[100..130].to_vec();
        for k in &scanned {
            assert_eq!(keys.iter().filter(|x| *x == k).count(), 1);
        }
    }

    #[test]
    fn streams_are_fixed_by_their_seed() {
        assert_eq!(phases(100, 1000, 3), phases(100, 1000, 3));
        assert_ne!(phases(100, 1000, 3), phases(100, 1000, 4));
        assert_eq!(looping(10, 25)[..10], looping(10, 25)[10..20]);
        assert_eq!(all(0.001).len(), NAMES.len());
    }
}
