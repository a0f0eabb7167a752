//! `disabled` mode: conformance and factory.

use relaycache::testing::{Semantics, Suite};
use relaycache::{AnyCache, Cache, Config, DisabledCache, Stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_backend_passes_conformance() {
    let report = Suite::new(Semantics::Discards)
        .run(|| async { DisabledCache::new() })
        .await;
    report.assert_passed();
    assert!(report.passed() >= 20, "too few checks ran:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_builds_disabled_and_it_conforms() {
    let config = Config::from_yaml_str_with_env("cache:\n  mode: disabled\n", &[]).unwrap();
    let report = Suite::new(Semantics::Discards)
        .run(|| async { AnyCache::from_config(&config).await.unwrap() })
        .await;
    report.assert_passed();
}

#[tokio::test]
async fn disabled_stats_are_zero_and_close_works() {
    let cache = DisabledCache::new();
    cache.set(b"a", b"b").await.unwrap();
    assert!(cache.get(b"a").await.unwrap_err().is_not_found());
    assert_eq!(cache.stats().await.unwrap(), Stats::default());
    cache.close().await.unwrap();
    cache.close().await.unwrap();
    assert!(cache.get(b"a").await.unwrap_err().is_closed());
    assert!(cache.set(b"a", b"b").await.unwrap_err().is_closed());
}

#[tokio::test]
async fn factory_rejects_invalid_config_before_building() {
    let mut config = Config::default();
    config.cache.ristretto.max_cost = 0;
    let err = AnyCache::from_config(&config).await.unwrap_err();
    assert!(
        err.to_string().contains("cache.ristretto.max_cost"),
        "{err}"
    );
}
