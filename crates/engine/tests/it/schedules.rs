//! Schedule exploration with shuttle (feature `shuttle`): the single-flight hand-over, insert/evict
//! races, the read log's replays and `compute`'s atomicity under many interleavings of the shard and loader locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use relaycache_engine::sync::shuttle_scope;
use relaycache_engine::{Cache, Change, Expiry};
use shuttle::thread;

const ITERATIONS: usize = 300;

/// Runs `test` under `ITERATIONS` random shuttle schedules.
fn explore(test: impl Fn() + Send + Sync + 'static) {
    shuttle_scope(|| shuttle::check_random(test, ITERATIONS));
}

/// A shared cache of 100 unit-weight entries.
fn small_cache() -> Arc<Cache<u32, u32>> {
    Arc::new(
        Cache::<u32, u32>::builder()
            .max_cost(100)
            .build()
            .expect("valid"),
    )
}

#[test]
fn single_flight_runs_one_loader_per_key() {
    explore(|| {
        let cache = small_cache();
        let runs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (cache, runs) = (Arc::clone(&cache), Arc::clone(&runs));
                thread::spawn(move || {
                    cache.get_or_load(7, |_| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        thread::yield_now();
                        Ok::<_, ()>(70)
                    })
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread"), Ok(70));
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "one loader run for concurrent misses"
        );
    });
}

#[test]
fn failing_leader_hands_over_without_stranding_waiters() {
    explore(|| {
        let cache = small_cache();
        let failing = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                cache.get_or_load(7, |_| {
                    thread::yield_now();
                    Err::<u32, _>("boom")
                })
            })
        };
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || cache.get_or_load(7, |_| Ok::<_, &str>(70)))
            })
            .collect();
        let first = failing.join().expect("thread");
        assert!(first == Err("boom") || first == Ok(70));
        for w in waiters {
            assert_eq!(w.join().expect("thread"), Ok(70));
        }
    });
}

#[test]
fn racing_inserts_and_evictions_keep_the_shard_consistent() {
    explore(|| {
        let cache = Arc::new(
            Cache::<u32, u32>::builder()
                .max_cost(6)
                .weigher(|_, v| u64::from(*v))
                .build()
                .expect("valid"),
        );
        let handles: Vec<_> = (0..2u32)
            .map(|t| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || {
                    for i in 0..6 {
                        cache.insert(t * 10 + i % 4, 1 + i % 3);
                        let _ = cache.get(&(i % 4));
                        if i == 3 {
                            cache.remove(&(t * 10));
                        }
                        assert!(cache.weighted_size() <= 6);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert!(cache.weighted_size() <= 6);
        cache.check_invariants().expect("invariants");
    });
}

#[test]
fn read_log_replays_racing_writes_keep_the_shard_consistent() {
    explore(|| {
        // 1,000 entries, so the window holds the 10 written last: hits on them go to the read log,
        // and the reader whose hit fills it replays it under the write lock.
        let cache = Arc::new(
            Cache::<u32, u32>::builder()
                .max_cost(1_000)
                .shards(1)
                .build()
                .expect("valid"),
        );
        for k in 0..1_000 {
            cache.insert(k, k);
        }
        let reader = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for i in 0..300u32 {
                    if let Some(v) = cache.get(&(990 + i % 10)) {
                        assert_eq!(v, 990 + i % 10);
                    }
                }
            })
        };
        let writer = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for k in 1_000..1_012 {
                    cache.insert(k, k);
                    if k % 3 == 0 {
                        cache.remove(&(k - 20));
                    }
                    assert!(cache.weighted_size() <= 1_000);
                }
            })
        };
        reader.join().expect("reader");
        writer.join().expect("writer");
        assert!(cache.weighted_size() <= 1_000);
        cache.check_invariants().expect("invariants");
    });
}

#[test]
fn computed_increments_are_never_lost_beside_plain_writers() {
    explore(|| {
        let cache = small_cache();
        let handles: Vec<_> = (0..3u32)
            .map(|t| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || {
                    for i in 0..3 {
                        cache.compute(&0, |cur| {
                            let next = cur.map_or(0, |e| *e.value) + 1;
                            let put = Change::Put {
                                key: 0,
                                value: next,
                                expiry: Expiry::Keep,
                            };
                            (put, ())
                        });
                        // Writers and removers of other keys of the same shard lock.
                        cache.insert(1 + t * 10 + i, i);
                        if i == 1 {
                            cache.compute(&(1 + t * 10), |_| (Change::Remove, ()));
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(cache.get(&0), Some(9), "an increment was lost");
        assert_eq!(cache.get(&1), None, "thread 0 removed its first key");
        cache.check_invariants().expect("invariants");
    });
}

#[test]
fn multi_key_transfers_keep_the_total_and_never_deadlock() {
    explore(|| {
        // Four shards, so the two keys are (for most seeds of the hasher) under different locks;
        // the threads name them in opposite orders.
        let cache = Arc::new(
            Cache::<u32, u32>::builder()
                .max_cost(400)
                .shards(4)
                .min_shard_cost(1)
                .build()
                .expect("valid"),
        );
        cache.insert(1, 6);
        cache.insert(2, 6);
        let handles: Vec<_> = (0..3u32)
            .map(|t| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || {
                    let (from, to) = if t % 2 == 0 { (1, 2) } else { (2, 1) };
                    for _ in 0..2 {
                        cache.compute_many(&[&from, &to], |cur| {
                            let a = cur[0].as_ref().map_or(0, |e| *e.value);
                            let b = cur[1].as_ref().map_or(0, |e| *e.value);
                            let moved = a.min(1);
                            let put = |key, value| Change::Put {
                                key,
                                value,
                                expiry: Expiry::Keep,
                            };
                            (vec![put(from, a - moved), put(to, b + moved)], ())
                        });
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let total = cache.get(&1).unwrap_or(0) + cache.get(&2).unwrap_or(0);
        assert_eq!(total, 12, "a transfer was torn");
        cache.check_invariants().expect("invariants");
    });
}
