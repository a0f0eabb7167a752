//! Model test: random operation sequences against a reference map with a manual clock.
//!
//! The cache may evict or reject at any time, so the model checks what must always hold: a value the
//! cache returns is the last one written and not expired; an insert is readable at once unless counted as
//! a rejection; a removed or expired key is never returned; the weight never exceeds the bound; after
//! `run_pending_tasks` nothing expired is held and `bytes_used` is exactly the held weights.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use relaycache_engine::{Cache, Change, Clock, Expiry, ManualClock};

const MAX_COST: u64 = 200;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: u8,
        size: u8,
        ttl_ms: Option<u8>,
    },
    Get {
        key: u8,
    },
    Remove {
        key: u8,
    },
    /// `set_ttl`: `None` removes the expiry, `Some(0)` too.
    SetTtl {
        key: u8,
        ttl_ms: Option<u8>,
    },
    Advance {
        ms: u8,
    },
    RunPending,
    /// `compute`: a new value of this weight, keeping the expiry of the value it replaces.
    Rewrite {
        key: u8,
        size: u8,
    },
    /// `compute`: removes the key if present, handing its value out.
    Take {
        key: u8,
    },
    /// `reclaim_expired` with this batch size.
    Reclaim {
        max: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, 1u8..60, proptest::option::of(1u8..50))
            .prop_map(|(key, size, ttl_ms)| Op::Insert { key, size, ttl_ms }),
        4 => (0u8..24).prop_map(|key| Op::Get { key }),
        1 => (0u8..24).prop_map(|key| Op::Remove { key }),
        2 => (0u8..24, proptest::option::of(0u8..50))
            .prop_map(|(key, ttl_ms)| Op::SetTtl { key, ttl_ms }),
        2 => (0u8..40).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::RunPending),
        2 => (0u8..24, 1u8..60).prop_map(|(key, size)| Op::Rewrite { key, size }),
        1 => (0u8..24).prop_map(|key| Op::Take { key }),
        1 => (0u8..8).prop_map(|max| Op::Reclaim { max }),
    ]
}

/// What the model knows of a key: the value written (unique per write) and its deadline in ms.
struct Written {
    value: (u64, u8),
    deadline: Option<u64>,
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let cache = Cache::<u8, (u64, u8)>::builder()
        .max_cost(MAX_COST)
        .num_counters(100)
        .weigher(|_, v| u64::from(v.1))
        .clock(clock.clone())
        .build()
        .expect("valid");
    let mut model: HashMap<u8, Written> = HashMap::new();
    let mut serial = 0u64;
    let now_ms = |c: &ManualClock| c.now_nanos() / 1_000_000;
    let live = |w: &Written, now: u64| w.deadline.is_none_or(|d| d > now);
    for op in ops {
        let now = now_ms(&clock);
        match *op {
            Op::Insert { key, size, ttl_ms } => {
                serial += 1;
                let value = (serial, size);
                let rejected_before = cache.stats().rejections;
                match ttl_ms {
                    Some(ms) => {
                        cache.insert_with_ttl(key, value, Duration::from_millis(u64::from(ms)))
                    }
                    None => cache.insert(key, value),
                }
                let rejected = cache.stats().rejections > rejected_before;
                let got = cache.get(&key);
                if rejected {
                    prop_assert_eq!(got, None, "a rejected insert must leave the key absent");
                    model.remove(&key);
                } else {
                    prop_assert_eq!(got, Some(value), "an insert is visible at once");
                    let deadline = ttl_ms.map(|ms| now + u64::from(ms));
                    model.insert(key, Written { value, deadline });
                }
            }
            Op::Get { key } => {
                if let Some(v) = cache.get(&key) {
                    let w = model.get(&key);
                    prop_assert!(
                        w.is_some_and(|w| w.value == v && live(w, now)),
                        "get returned {v:?} for {key}, which is stale, expired or never written"
                    );
                    let remaining = cache.ttl(&key).map(|t| t.map(|d| d.as_millis() as u64));
                    let expected = w.map(|w| w.deadline.map(|d| d - now));
                    prop_assert_eq!(remaining, expected, "ttl of {}", key);
                }
            }
            Op::SetTtl { key, ttl_ms } => {
                let ttl = ttl_ms.map(|ms| Duration::from_millis(u64::from(ms)));
                if cache.set_ttl(&key, ttl) {
                    let w = model.get_mut(&key);
                    prop_assert!(
                        w.as_ref().is_some_and(|w| live(w, now)),
                        "set_ttl found {} live, the model does not",
                        key
                    );
                    if let Some(w) = w {
                        w.deadline = ttl_ms.filter(|&ms| ms > 0).map(|ms| now + u64::from(ms));
                    }
                } else {
                    prop_assert_eq!(cache.get(&key), None, "set_ttl missed a live key");
                }
            }
            Op::Remove { key } => {
                if let Some(v) = cache.remove(&key) {
                    let w = model.get(&key);
                    prop_assert!(w.is_some_and(|w| w.value == v && live(w, now)));
                }
                model.remove(&key);
                prop_assert_eq!(cache.get(&key), None);
            }
            Op::Rewrite { key, size } => {
                serial += 1;
                let value = (serial, size);
                let rejected_before = cache.stats().rejections;
                let saw = cache.compute(&key, |cur| {
                    let saw = cur.map(|e| (*e.value, e.ttl.map(|d| d.as_millis() as u64)));
                    let put = Change::Put {
                        key,
                        value,
                        expiry: Expiry::Keep,
                    };
                    (put, saw)
                });
                let w = model.get(&key);
                if let Some((v, ttl)) = saw {
                    prop_assert!(
                        w.is_some_and(|w| w.value == v && live(w, now)),
                        "compute saw {v:?} for {key}, which is stale, expired or never written"
                    );
                    prop_assert_eq!(ttl, w.and_then(|w| w.deadline.map(|d| d - now)));
                }
                let deadline = saw.and_then(|_| w.and_then(|w| w.deadline));
                let rejected = cache.stats().rejections > rejected_before;
                let got = cache.get(&key);
                if rejected {
                    prop_assert_eq!(got, None, "a rejected compute must leave the key absent");
                    model.remove(&key);
                } else {
                    prop_assert_eq!(got, Some(value), "a computed value is visible at once");
                    model.insert(key, Written { value, deadline });
                }
            }
            Op::Take { key } => {
                let taken = cache.compute(&key, |cur| match cur {
                    Some(e) => (Change::Remove, Some(*e.value)),
                    None => (Change::Keep, None),
                });
                if let Some(v) = taken {
                    let w = model.get(&key);
                    prop_assert!(w.is_some_and(|w| w.value == v && live(w, now)));
                }
                model.remove(&key);
                prop_assert_eq!(cache.get(&key), None);
            }
            Op::Advance { ms } => {
                clock.advance(Duration::from_millis(u64::from(ms)));
                let now = now_ms(&clock);
                for (key, w) in &model {
                    if !live(w, now) {
                        prop_assert_eq!(cache.get(key), None, "expired key {} returned", key);
                        prop_assert_eq!(cache.ttl(key), None);
                    }
                }
            }
            Op::Reclaim { max } => {
                // `scan` lists the live keys; `len` counts expired entries not yet reclaimed too.
                let live_keys = |c: &Cache<u8, (u64, u8)>| {
                    let mut keys = c.scan(0, 1000, |_| true).keys;
                    keys.sort_unstable();
                    keys
                };
                let (before, len) = (live_keys(&cache), cache.len());
                let expired = cache.stats().evicted_expired;
                let n = cache.reclaim_expired(usize::from(max));
                prop_assert!(n <= usize::from(max), "reclaimed {} of at most {}", n, max);
                prop_assert_eq!(cache.stats().evicted_expired, expired + n as u64);
                prop_assert_eq!(cache.len() + n, len, "n entries left");
                prop_assert_eq!(live_keys(&cache), before, "a live key was reclaimed");
            }
            Op::RunPending => {
                cache.run_pending_tasks();
                let keys = cache.scan(0, 1000, |_| true).keys;
                prop_assert_eq!(
                    keys.len(),
                    cache.len(),
                    "expired entries left after run_pending_tasks"
                );
                let mut weight = 0;
                for key in &keys {
                    let w = model.get(key);
                    prop_assert!(
                        w.is_some_and(|w| live(w, now)),
                        "held key {} unknown to the model",
                        key
                    );
                    weight += w.map_or(0, |w| u64::from(w.value.1));
                }
                prop_assert_eq!(cache.stats().bytes_used, weight);
            }
        }
        prop_assert!(cache.weighted_size() <= MAX_COST, "bound exceeded");
        prop_assert_eq!(cache.stats().key_count as usize, cache.len());
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn cache_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(&ops)?;
    }
}
