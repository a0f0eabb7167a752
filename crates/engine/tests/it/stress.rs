//! The bound under concurrent writes of random sizes, and resistance to hash flooding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use relaycache_engine::Cache;

#[test]
fn bound_holds_after_writing_20x_max_cost_from_two_threads() {
    const MAX: u64 = 1 << 20;
    let cache = Arc::new(
        Cache::<u64, Vec<u8>>::builder()
            .max_cost(MAX)
            .weigher(|_, v| v.len() as u64 + 8)
            .build()
            .expect("valid"),
    );
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                let mut written = 0u64;
                let mut worst = 0u64;
                while written < MAX * 10 {
                    let size = rng.random_range(1..4096usize);
                    cache.insert(rng.random_range(0..100_000u64), vec![0u8; size]);
                    written += size as u64;
                    worst = worst.max(cache.weighted_size());
                }
                worst
            })
        })
        .collect();
    for w in writers {
        let worst = w.join().expect("writer");
        assert!(worst <= MAX, "weight reached {worst} > {MAX} while writing");
    }
    assert!(cache.weighted_size() <= MAX);
    assert!(
        cache.weighted_size() > MAX / 2,
        "the cache should be mostly full"
    );
    let stats = cache.stats();
    assert_eq!(stats.bytes_used, cache.weighted_size());
    assert!(stats.evicted_size + stats.rejections > 0);
    cache.check_invariants().expect("invariants");
}

/// Inserts then reads every key; the best of three rounds.
fn time_keys(keys: &[u64]) -> Duration {
    (0..3)
        .map(|_| {
            let cache = Cache::<u64, u32>::builder()
                .max_cost(keys.len() as u64 * 2)
                .build()
                .expect("valid");
            let start = Instant::now();
            for &k in keys {
                cache.insert(k, 1);
            }
            for &k in keys {
                assert_eq!(cache.get(&k), Some(1));
            }
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn colliding_looking_keys_are_no_slower_than_random_ones() {
    const N: usize = 200_000;
    let mut rng = StdRng::seed_from_u64(7);
    let random: Vec<u64> = (0..N).map(|_| rng.random()).collect();
    // Identical low 40 bits: a table indexed by low bits of a weak hash (identity, FNV of the low
    // bytes) would put them all in one bucket.
    let colliding: Vec<u64> = (0..N as u64).map(|i| (i + 1) << 40).collect();
    let t_random = time_keys(&random);
    let t_colliding = time_keys(&colliding);
    assert!(
        t_colliding < t_random * 3,
        "colliding-looking keys took {t_colliding:?}, random keys {t_random:?}"
    );
}
