//! The `single` backend reclaims expired entries in the background, with no reads or writes, and its
//! reaper thread ends with the cache. A test binary of its own: it counts the process's reaper threads,
//! which other tests' caches would disturb.

use std::time::{Duration, Instant};

use relaycache::Cache;
use relaycache::backend::SingleCache;
use relaycache::config::SingleConfig;

/// Threads of this process named like the reaper (the kernel keeps 15 bytes of a thread's name).
fn reaper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "relaycache-reap")
        .count()
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done().await
}

#[tokio::test]
async fn expired_entries_are_reclaimed_in_the_background_and_the_reaper_ends_with_the_cache() {
    let cache = SingleCache::new(&SingleConfig::default()).expect("valid config");
    // The thread names itself once it runs, which may be a moment after `new` returns.
    assert!(
        within(Duration::from_secs(5), async || reaper_threads() == 1).await,
        "one reaper per cache"
    );
    for i in 0..1000u32 {
        let ttl = Duration::from_millis(50);
        cache
            .set_with_ttl(&i.to_be_bytes(), b"value", ttl)
            .await
            .expect("set");
    }
    cache.set(b"stays", b"value").await.expect("set");
    assert_eq!(cache.stats().await.expect("stats").key_count, 1001);
    // No reads or writes from here: only the reaper can reclaim. It wakes every second.
    let reclaimed = within(Duration::from_secs(10), async || {
        cache.stats().await.expect("stats").expirations == 1000
    })
    .await;
    let stats = cache.stats().await.expect("stats");
    assert!(reclaimed, "expired entries still held: {stats:?}");
    assert_eq!(stats.key_count, 1, "the untimed key stays");
    assert_eq!(cache.get(b"stays").await.expect("live"), "value");

    cache.close().await.expect("close");
    assert!(
        within(Duration::from_secs(5), async || reaper_threads() == 0).await,
        "the reaper outlived close"
    );
    let dropped = SingleCache::new(&SingleConfig::default()).expect("valid config");
    assert!(within(Duration::from_secs(5), async || reaper_threads() == 1).await);
    drop(dropped);
    assert!(
        within(Duration::from_secs(5), async || reaper_threads() == 0).await,
        "the reaper outlived its cache"
    );
}
