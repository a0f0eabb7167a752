//! The `single` backend against the whole conformance suite, plus its own size and admission checks.

use relaycache::KeyOps;
use relaycache::backend::SingleCache;
use relaycache::config::SingleConfig;
use relaycache::testing::{Semantics, Suite};
use relaycache::{AnyCache, Cache, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_passes_the_conformance_suite() {
    Suite::new(Semantics::Stores)
        .run(|| async { SingleCache::new(&SingleConfig::default()).expect("valid config") })
        .await
        .assert_passed();
}

#[tokio::test]
async fn factory_builds_single_by_default() {
    let config =
        Config::from_yaml_str("cache:\n  ristretto:\n    max_cost: 1MiB\n").expect("valid");
    let cache = AnyCache::from_config(&config).await.expect("built");
    assert_eq!(cache.name(), "single");
    cache.set(b"k", b"v").await.expect("set");
    assert_eq!(cache.get(b"k").await.expect("hit"), "v");
    let stats = cache.stats().await.expect("stats");
    assert_eq!(stats.max_cost, 1 << 20);
    assert_eq!(stats.key_count, 1);
}

#[tokio::test]
async fn bytes_used_never_exceeds_max_cost() {
    let config = Config::from_yaml_str("cache:\n  single:\n    max_cost: 64KiB\n").expect("valid");
    let cache = AnyCache::from_config(&config).await.expect("built");
    let value = vec![7u8; 1000];
    for i in 0..2000u32 {
        cache
            .set(format!("key:{i}").as_bytes(), &value)
            .await
            .expect("set");
        let s = cache.stats().await.expect("stats");
        assert!(
            s.bytes_used <= 64 << 10,
            "bytes_used {} over the bound",
            s.bytes_used
        );
    }
    let s = cache.stats().await.expect("stats");
    assert!(
        s.evictions + s.rejections > 0,
        "a full cache must evict or reject: {s:?}"
    );
    assert!(
        s.key_count > 30,
        "a 64 KiB cache of 1 KB values holds dozens: {s:?}"
    );
}

/// Read-modify-write calls are atomic: concurrent increments are never lost, and of many concurrent
/// `SET NX` writers exactly one wins, even with plain writers of other keys racing beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_modify_write_calls_are_atomic() {
    use relaycache::{SetCondition, SetOptions};
    let cache = std::sync::Arc::new(
        relaycache::SingleCache::new(&relaycache::config::SingleConfig::default()).unwrap(),
    );
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let cache = std::sync::Arc::clone(&cache);
            tokio::spawn(async move {
                let mut won = 0;
                for i in 0..500 {
                    cache.increment(b"counter", 1).await.unwrap();
                    let nx = SetOptions::new().condition(SetCondition::IfAbsent);
                    let key = format!("nx-{i}");
                    if cache
                        .set_with_options(key.as_bytes(), &[t], nx)
                        .await
                        .unwrap()
                        .written
                    {
                        won += 1;
                    }
                    cache
                        .set(format!("plain-{t}-{i}").as_bytes(), b"x")
                        .await
                        .unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                won
            })
        })
        .collect();
    let mut total_won = 0;
    for t in tasks {
        total_won += t.await.unwrap();
    }
    assert_eq!(cache.get(b"counter").await.unwrap(), "4000");
    assert_eq!(total_won, 500, "each NX key must be won exactly once");
    for i in 0..500 {
        let owner = cache.get(format!("nx-{i}").as_bytes()).await.unwrap();
        assert_eq!(owner.len(), 1);
    }
}
