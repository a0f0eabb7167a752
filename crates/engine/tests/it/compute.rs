//! `Cache::compute` and `ByteCache::compute`: what each change does, the exact kept deadline, the
//! listener, the bound, and atomicity against other writers of the key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use relaycache_engine::{ByteCache, ByteChange, Cache, Cause, Change, Expiry, ManualClock};

fn counter_cache(clock: &ManualClock) -> Cache<String, u64> {
    Cache::<String, u64>::builder()
        .max_cost(100)
        .clock(clock.clone())
        .build()
        .expect("valid")
}

fn put(key: &str, value: u64, expiry: Expiry) -> Change<String, u64> {
    Change::Put {
        key: key.to_owned(),
        value,
        expiry,
    }
}

#[test]
fn each_change_does_what_it_says_and_the_closure_sees_the_live_entry() {
    let clock = ManualClock::new();
    let c = counter_cache(&clock);
    let seen = c.compute("k", |cur| (put("k", 1, Expiry::Never), cur.is_some()));
    assert!(!seen, "absent at first");
    assert_eq!(c.get("k"), Some(1));
    let seen = c.compute("k", |cur| (Change::Keep, cur.map(|e| (*e.value, e.ttl))));
    assert_eq!(seen, Some((1, None)));
    assert_eq!(c.get("k"), Some(1), "Keep leaves the value");
    c.compute("k", |_| (Change::<String, u64>::Remove, ()));
    assert_eq!(c.get("k"), None, "Remove removes");
    assert!(!c.compute("k", |cur| (Change::Keep, cur.is_some())));
    // An expired entry is absent to the closure.
    c.compute("t", |_| {
        (put("t", 5, Expiry::After(Duration::from_millis(10))), ())
    });
    clock.advance(Duration::from_millis(11));
    assert!(!c.compute("t", |cur| (Change::Keep, cur.is_some())));
}

#[test]
fn keep_expiry_keeps_the_exact_deadline_and_after_sets_a_new_one() {
    let clock = ManualClock::new();
    let c = counter_cache(&clock);
    c.insert_with_ttl("k".to_owned(), 1, Duration::from_millis(100));
    clock.advance(Duration::from_millis(30));
    let ttl = c.compute("k", |cur| {
        let ttl = cur.as_ref().and_then(|e| e.ttl);
        (put("k", 2, Expiry::Keep), ttl)
    });
    assert_eq!(ttl, Some(Duration::from_millis(70)));
    assert_eq!(
        c.ttl("k"),
        Some(Some(Duration::from_millis(70))),
        "same deadline"
    );
    c.compute("k", |_| (put("k", 3, Expiry::Never), ()));
    assert_eq!(c.ttl("k"), Some(None));
    c.compute("k", |_| {
        (put("k", 4, Expiry::After(Duration::from_millis(5))), ())
    });
    assert_eq!(c.ttl("k"), Some(Some(Duration::from_millis(5))));
    // Keep on an absent key means no expiry.
    c.compute("new", |_| (put("new", 1, Expiry::Keep), ()));
    assert_eq!(c.ttl("new"), Some(None));
}

#[test]
fn removals_reach_the_listener_and_the_bound_holds() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let c = Cache::<u32, u64>::builder()
        .max_cost(10)
        .shards(1)
        .weigher(|_, v| *v)
        .eviction_listener(move |k, _, cause| sink.lock().expect("lock").push((*k, cause)))
        .build()
        .expect("valid");
    c.compute(&1, |_| {
        (
            Change::Put {
                key: 1,
                value: 4,
                expiry: Expiry::Never,
            },
            (),
        )
    });
    c.compute(&1, |_| (Change::Remove, ()));
    assert_eq!(
        heard.lock().expect("lock").as_slice(),
        &[(1, Cause::Explicit)]
    );
    for k in 0..20u32 {
        c.compute(&k, |_| {
            (
                Change::Put {
                    key: k,
                    value: 3,
                    expiry: Expiry::Never,
                },
                (),
            )
        });
        assert!(
            c.weighted_size() <= 10,
            "bound exceeded after computing {k}"
        );
    }
    c.check_invariants().expect("invariants");
}

#[test]
fn byte_compute_appends_atomically_from_several_threads() {
    let cache = ByteCache::new(1 << 20, 1000).expect("valid");
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let cache = &cache;
            s.spawn(move || {
                for _ in 0..250 {
                    cache.compute(b"log", |cur| {
                        let mut v = cur.map_or_else(Vec::new, |e| e.value().to_vec());
                        v.push(b'a' + t);
                        (ByteChange::Put(v, Expiry::Keep), ())
                    });
                }
            });
        }
    });
    let log = cache.get(b"log").expect("present");
    assert_eq!(log.len(), 1000, "no append lost");
    for t in 0..4u8 {
        assert_eq!(log.iter().filter(|&&b| b == b'a' + t).count(), 250);
    }
}

#[test]
fn byte_compute_hands_out_the_previous_value_and_removes() {
    let cache = ByteCache::new(1 << 20, 1000).expect("valid");
    let long = vec![9u8; 1000];
    cache.insert(b"k", &long);
    let taken = cache.compute(b"k", |cur| {
        (ByteChange::<&[u8]>::Remove, cur.map(|e| e.to_bytes()))
    });
    assert_eq!(taken.as_deref(), Some(&long[..]));
    assert_eq!(cache.get(b"k"), None);
    // A value handed out stays as it was when the key is rewritten.
    cache.insert(b"k", &long);
    let held = cache.get_bytes(b"k").expect("present");
    cache.insert(b"k", b"short");
    assert_eq!(&held[..], &long[..]);
    assert_eq!(cache.get(b"k"), Some(b"short".to_vec()));
}

#[test]
fn compute_many_reads_every_key_at_once_and_applies_each_change_to_its_key() {
    let clock = ManualClock::new();
    let c = Cache::<String, u64>::builder()
        .max_cost(1000)
        .shards(8)
        .min_shard_cost(1)
        .clock(clock.clone())
        .build()
        .expect("valid");
    c.insert_with_ttl("a".to_owned(), 1, Duration::from_secs(10));
    c.insert("b".to_owned(), 2);
    clock.advance(Duration::from_secs(3));
    // Move a's value and exact deadline to c, remove b, keep d absent.
    let seen = c.compute_many(&["a", "b", "c", "d"], |cur| {
        let a = cur[0].as_ref().expect("a is present");
        let seen: Vec<bool> = cur.iter().map(Option::is_some).collect();
        let ttl = a.ttl.expect("a has a deadline");
        (
            vec![
                Change::Remove,
                Change::Remove,
                put("c", *a.value, Expiry::After(ttl)),
            ],
            seen,
        )
    });
    assert_eq!(seen, [true, true, false, false]);
    assert_eq!(c.get("a"), None);
    assert_eq!(c.get("b"), None);
    assert_eq!(c.get("c"), Some(1));
    assert_eq!(c.get("d"), None, "a missing change keeps the key as it is");
    assert_eq!(
        c.ttl("c"),
        Some(Some(Duration::from_secs(7))),
        "a's deadline, exactly"
    );
    // A key listed twice: both listings see the state before the changes, which apply in order.
    c.compute_many(&["c", "c"], |cur| {
        let v = cur[0].as_ref().map_or(0, |e| *e.value);
        assert_eq!(cur[1].as_ref().map(|e| *e.value), Some(v));
        (
            vec![
                put("c", v + 10, Expiry::Keep),
                put("c", v + 20, Expiry::Keep),
            ],
            (),
        )
    });
    assert_eq!(c.get("c"), Some(21));
    c.check_invariants().expect("invariants");
}

#[test]
fn byte_compute_many_is_atomic_against_concurrent_transfers() {
    let cache = Arc::new(
        ByteCache::builder()
            .max_cost(1 << 20)
            .shards(8)
            .min_shard_cost(1)
            .build()
            .map(ByteCache::from_cache)
            .expect("valid"),
    );
    let keys: Vec<Vec<u8>> = (0..4).map(|i| format!("acct:{i}").into_bytes()).collect();
    for k in &keys {
        cache.insert(k, b"100");
    }
    let threads: Vec<_> = (0..4usize)
        .map(|t| {
            let cache = Arc::clone(&cache);
            let keys = keys.clone();
            std::thread::spawn(move || {
                for i in 0..2000usize {
                    let from = &keys[(t + i) % 4];
                    let to = &keys[(t + i + 1 + i % 3) % 4];
                    if from == to {
                        continue;
                    }
                    cache.compute_many(&[&from[..], &to[..]], |cur| {
                        let read = |e: &Option<relaycache_engine::ByteEntry<'_>>| -> u64 {
                            e.as_ref()
                                .and_then(|e| std::str::from_utf8(e.value()).ok()?.parse().ok())
                                .unwrap_or(0)
                        };
                        let (a, b) = (read(&cur[0]), read(&cur[1]));
                        let moved = a.min(3);
                        (
                            vec![
                                ByteChange::Put((a - moved).to_string(), Expiry::Keep),
                                ByteChange::Put((b + moved).to_string(), Expiry::Keep),
                            ],
                            (),
                        )
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let total: u64 = keys
        .iter()
        .map(|k| {
            String::from_utf8(cache.get(k).expect("present"))
                .expect("utf8")
                .parse::<u64>()
                .expect("number")
        })
        .sum();
    assert_eq!(total, 400, "a transfer was torn or lost");
}
