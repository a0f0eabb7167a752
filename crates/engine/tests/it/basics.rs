//! The public API on small, deterministic cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use relaycache_engine::{Cache, Cause, ManualClock};

fn cache(max: u64) -> Cache<u64, u64> {
    Cache::builder().max_cost(max).build().expect("valid")
}

/// A cache of `shards` shards whose time moves only when the returned clock is advanced.
fn on_a_manual_clock(max: u64, shards: usize) -> (Cache<u64, u64>, ManualClock) {
    let clock = ManualClock::new();
    let c = Cache::builder()
        .max_cost(max)
        .shards(shards)
        .clock(clock.clone())
        .build()
        .expect("valid");
    (c, clock)
}

/// A one-shard cache whose time moves only when the returned clock is advanced.
fn one_shard_on_a_manual_clock(max: u64) -> (Cache<u64, u64>, ManualClock) {
    on_a_manual_clock(max, 1)
}

#[test]
fn insert_get_remove() {
    let c = cache(100);
    assert_eq!(c.get(&1), None);
    c.insert(1, 10);
    assert_eq!(c.get(&1), Some(10));
    c.insert(1, 11);
    assert_eq!(c.get(&1), Some(11));
    assert!(c.contains_key(&1));
    assert_eq!(c.len(), 1);
    assert_eq!(c.remove(&1), Some(11));
    assert_eq!(c.remove(&1), None);
    assert_eq!(c.get(&1), None);
    let s = c.stats();
    assert_eq!((s.inserts, s.updates, s.evicted_explicit), (1, 1, 1));
    assert_eq!((s.hits, s.misses), (2, 2));
}

#[test]
fn bound_holds_with_unit_weights() {
    let c = cache(100);
    for i in 0..10_000u64 {
        c.insert(i % 777, i);
        assert!(c.len() <= 100);
    }
    assert!(c.weighted_size() <= 100);
    c.check_invariants().expect("invariants");
}

#[test]
fn ttl_expires_and_is_reclaimed_without_reads() {
    let clock = ManualClock::new();
    let expired = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&expired);
    let c = Cache::<u64, u64>::builder()
        .max_cost(1000)
        .clock(clock.clone())
        .eviction_listener(move |_, _, cause| {
            if cause == Cause::Expired {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .expect("valid");
    for i in 0..100 {
        c.insert_with_ttl(i, i, Duration::from_millis(10 + i));
    }
    c.insert(1000, 0);
    assert_eq!(c.ttl(&1000), Some(None));
    assert_eq!(c.ttl(&5), Some(Some(Duration::from_millis(15))));
    clock.advance(Duration::from_millis(50));
    assert_eq!(c.get(&5), None, "expired entries are never returned");
    assert_eq!(c.get(&60), Some(60));
    c.run_pending_tasks();
    assert_eq!(c.len(), 60, "41 expired entries reclaimed without reads");
    assert_eq!(expired.load(Ordering::Relaxed), 41);
    clock.advance(Duration::from_secs(3600));
    c.run_pending_tasks();
    assert_eq!(c.len(), 1);
    assert_eq!(c.stats().evicted_expired, 100);
}

/// Many entries expiring at once cost a write no more than the room it needs: a new key takes one
/// expired entry's place (never a live one's), an update takes none, nothing expired is returned
/// meanwhile, and maintenance reclaims the rest.
#[test]
fn mass_expiry_costs_writes_only_the_room_they_need() {
    let (c, clock) = one_shard_on_a_manual_clock(10_100);
    for i in 0..10_000 {
        c.insert_with_ttl(i, i, Duration::from_secs(1));
    }
    for i in 20_000..20_100 {
        c.insert(i, i);
    }
    assert_eq!(c.len(), 10_100, "full");
    clock.advance(Duration::from_secs(2));
    c.insert(20_000, 1);
    assert_eq!(c.stats().evicted_expired, 0, "an update needs no room");
    for (n, key) in (1_000_000..1_000_100).enumerate() {
        c.insert(key, 0);
        assert_eq!(
            c.stats().evicted_expired,
            n as u64 + 1,
            "each new key took one expired entry's place"
        );
    }
    assert_eq!(c.stats().evicted_size, 0, "no live entry was evicted");
    assert!(
        (0..10_000).all(|i| c.get(&i).is_none()),
        "expired entries are never returned"
    );
    assert!((1_000_000..1_000_100).all(|k| c.get(&k) == Some(0)));
    c.run_pending_tasks();
    assert_eq!(c.stats().evicted_expired, 10_000);
    assert_eq!(c.len(), 200);
    c.check_invariants().expect("invariants");
}

/// `reclaim_expired` reclaims expired entries in batches of at most the asked size, across every shard,
/// without any reads or writes, and leaves live entries alone.
#[test]
fn reclaim_expired_works_in_bounded_batches() {
    let (c, clock) = on_a_manual_clock(100_000, 4);
    assert_eq!(c.reclaim_expired(100), 0, "nothing has a deadline");
    for i in 0..10_000 {
        c.insert_with_ttl(i, i, Duration::from_secs(1));
    }
    for i in 10_000..10_500 {
        c.insert_with_ttl(i, i, Duration::from_secs(60));
    }
    for i in 20_000..20_100 {
        c.insert(i, i);
    }
    assert_eq!(c.reclaim_expired(100), 0, "nothing is due yet");
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        c.reclaim_expired(100),
        100,
        "a full batch while a backlog waits"
    );
    assert_eq!(c.stats().evicted_expired, 100);
    assert_eq!(c.len(), 10_500);
    let mut calls = 1;
    while c.reclaim_expired(1000) > 0 {
        calls += 1;
        assert!(calls <= 100, "the backlog never drained");
    }
    assert!(calls >= 10, "batches of at most 1000: {calls} calls");
    assert_eq!(c.stats().evicted_expired, 10_000);
    assert_eq!(c.len(), 600, "the unexpired and the untimed entries stay");
    assert!(
        (10_000..10_500)
            .chain(20_000..20_100)
            .all(|i| c.get(&i) == Some(i))
    );
    c.check_invariants().expect("invariants");
    clock.advance(Duration::from_secs(120));
    assert_eq!(c.reclaim_expired(usize::MAX), 500);
    assert_eq!(c.len(), 100);
}

/// A write that needs more room than one entry's takes it from expired entries, not from live ones.
#[test]
fn room_comes_from_expired_entries_before_live_ones() {
    let clock = ManualClock::new();
    let c = Cache::<u64, u64>::builder()
        .max_cost(100)
        .shards(1)
        .weigher(|k: &u64, _: &u64| if *k == 999 { 50 } else { 1 })
        .clock(clock.clone())
        .build()
        .expect("valid");
    for i in 0..60 {
        c.insert_with_ttl(i, i, Duration::from_secs(1));
    }
    for i in 100..140 {
        c.insert(i, i);
        // Hits, so the live entries win every admission contest on frequency.
        for _ in 0..3 {
            assert_eq!(c.get(&i), Some(i));
        }
    }
    assert_eq!(c.len(), 100);
    clock.advance(Duration::from_secs(2));
    c.insert(999, 0);
    assert_eq!(c.get(&999), Some(0), "the heavy entry was admitted");
    assert!(
        (100..140).all(|i| c.get(&i) == Some(i)),
        "no live entry was evicted while expired ones waited"
    );
    let s = c.stats();
    assert_eq!(s.evicted_size, 0);
    assert!(
        s.evicted_expired >= 50,
        "{} expired reclaimed",
        s.evicted_expired
    );
    c.check_invariants().expect("invariants");
}

/// Writing a key again with a TTL (a refresh) moves its deadline later; the entry lives until the new
/// deadline and is reclaimed after it, though it stayed in its earlier wheel bucket.
#[test]
fn refreshed_ttl_moves_the_deadline_later() {
    let (c, clock) = one_shard_on_a_manual_clock(1000);
    c.insert_with_ttl(1, 1, Duration::from_secs(1));
    c.insert_with_ttl(2, 2, Duration::from_secs(1));
    for _ in 0..5 {
        clock.advance(Duration::from_millis(600));
        c.insert_with_ttl(1, 1, Duration::from_secs(1));
        c.check_invariants().expect("invariants");
    }
    c.run_pending_tasks();
    assert_eq!(c.get(&1), Some(1), "refreshed every 600 ms, never expired");
    assert_eq!(c.get(&2), None, "never refreshed, expired after 1 s");
    assert_eq!(c.ttl(&1), Some(Some(Duration::from_secs(1))));
    // A shorter TTL moves the deadline earlier, at once.
    c.set_ttl(&1, Some(Duration::from_millis(100)));
    clock.advance(Duration::from_millis(150));
    c.run_pending_tasks();
    assert_eq!(c.len(), 0, "both reclaimed without reads");
    assert_eq!(c.stats().evicted_expired, 2);
}

#[test]
fn long_ttls_cascade_through_the_wheel() {
    let clock = ManualClock::new();
    let c = Cache::<u64, u64>::builder()
        .max_cost(10_000)
        .clock(clock.clone())
        .build()
        .expect("valid");
    let ttls = [
        1u64,
        70,
        4_000,
        300_000,
        20_000_000,
        1_300_000_000,
        100_000_000_000,
    ];
    for (i, ms) in ttls.iter().enumerate() {
        c.insert_with_ttl(i as u64, 0, Duration::from_millis(*ms));
    }
    for (i, ms) in ttls.iter().enumerate() {
        // Just before the deadline everything from here on is alive; just after, this one is gone.
        clock.advance(
            Duration::from_millis(*ms)
                - Duration::from_nanos(clock_now(&clock))
                - Duration::from_nanos(1),
        );
        c.run_pending_tasks();
        assert_eq!(c.len(), ttls.len() - i, "before deadline {i}");
        clock.advance(Duration::from_nanos(1));
        c.run_pending_tasks();
        assert_eq!(c.len(), ttls.len() - i - 1, "after deadline {i}");
    }
}

fn clock_now(clock: &ManualClock) -> u64 {
    use relaycache_engine::Clock;
    clock.now_nanos()
}

#[test]
fn scan_and_prefix_invalidation() {
    let c = Cache::<String, u32>::builder()
        .max_cost(10_000)
        .build()
        .expect("valid");
    for i in 0..500 {
        c.insert(format!("a:{i}"), i);
        c.insert(format!("b:{i}"), i);
    }
    let mut cursor = 0;
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = c.scan(cursor, 37, |k| k.starts_with("a:"));
        seen.extend(page.keys);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 500);
    assert_eq!(c.invalidate_prefix(b"a:"), 500);
    assert_eq!(c.len(), 500);
    c.clear();
    assert!(c.is_empty());
}

#[test]
fn listener_panics_are_contained() {
    let c = Cache::<u64, u64>::builder()
        .max_cost(10)
        .eviction_listener(|_, _, _| panic!("listener bug"))
        .build()
        .expect("valid");
    for i in 0..100 {
        c.insert(i, i);
    }
    assert!(c.len() <= 10);
    c.check_invariants().expect("invariants");
}

#[test]
fn update_max_cost_shrinks_at_once() {
    let c = cache(1000);
    for i in 0..1000 {
        c.insert(i, i);
    }
    c.update_max_cost(100);
    assert!(c.weighted_size() <= 100);
    c.check_invariants().expect("invariants");
}

#[test]
fn frequent_keys_survive_a_scan() {
    let c = cache(100);
    let mut next = 1000;
    for _ in 0..200 {
        for k in 0..50 {
            if c.get(&k).is_none() {
                c.insert(k, k);
            }
        }
        for _ in 0..100 {
            next += 1;
            if c.get(&next).is_none() {
                c.insert(next, next);
            }
        }
    }
    let kept = (0..50).filter(|k| c.contains_key(k)).count();
    assert!(
        kept >= 45,
        "only {kept} of 50 hot keys survived a one-hit scan"
    );
}

#[test]
fn byte_cache_replaces_values_in_place() {
    let c = relaycache_engine::ByteCache::new(1 << 20, 1000).expect("valid");
    c.insert(b"k", b"first");
    c.insert(b"k", b"second, longer");
    assert_eq!(c.get(b"k"), Some(b"second, longer".to_vec()));
    assert_eq!(c.len(), 1);
    assert_eq!(c.stats().updates, 1);
    c.inner().check_invariants().expect("invariants");
    assert!(c.remove(b"k"));
    assert_eq!(c.get(b"k"), None);
}

#[test]
fn hit_and_miss_counts_are_exact_with_many_threads() {
    let c = Arc::new(cache(100));
    c.insert(1, 1);
    let threads: Vec<_> = (0..40)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    assert_eq!(c.get(&1), Some(1));
                    assert_eq!(c.get(&2), None);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let s = c.stats();
    assert_eq!((s.hits, s.misses), (40_000, 40_000));
}

/// A `Reaper` reclaims expired entries of a cache that receives no calls at all.
#[test]
fn a_reaper_reclaims_without_any_calls() {
    let clock = ManualClock::new();
    let c = Arc::new(
        Cache::<u64, u64>::builder()
            .max_cost(100_000)
            .clock(clock.clone())
            .build()
            .expect("valid"),
    );
    for i in 0..5_000 {
        c.insert_with_ttl(i, i, Duration::from_secs(1));
    }
    c.insert(99_999, 0);
    let reaper = relaycache_engine::Reaper::start(&c, Duration::from_millis(5)).expect("thread");
    clock.advance(Duration::from_secs(2));
    let start = std::time::Instant::now();
    while c.stats().evicted_expired < 5_000 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "reaped {} of 5000",
            c.stats().evicted_expired
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.len(), 1, "the untimed entry stays");
    reaper.stop();
    reaper.stop();
}
