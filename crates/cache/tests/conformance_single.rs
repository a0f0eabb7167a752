//! The `single` backend against the whole conformance suite, plus its own size and admission checks.

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
