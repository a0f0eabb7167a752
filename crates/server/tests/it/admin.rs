//! The admin HTTP endpoint.

use relaycache_resp::Frame;

use crate::support::{call, client, http_get, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_stats() {
    let server = start("").await;
    let admin = server.admin_addr().expect("admin enabled by default");
    let mut c = client(&server).await;
    assert_eq!(call(&mut c, &["SET", "k", "v"]).await, Frame::ok());
    assert_eq!(call(&mut c, &["GET", "k"]).await, Frame::bulk("v"));
    assert_eq!(call(&mut c, &["GET", "nope"]).await, Frame::Null);
    let get = move |path: &'static str| tokio::task::spawn_blocking(move || http_get(admin, path));
    assert_eq!(get("/healthz").await.unwrap(), (200, "ok\n".to_owned()));
    assert_eq!(get("/readyz").await.unwrap().0, 200);
    let (status, metrics) = get("/metrics").await.unwrap();
    assert_eq!(status, 200);
    for line in [
        "relaycache_hits_total 1",
        "relaycache_misses_total 1",
        "relaycache_keys 1",
        "relaycache_evictions_total{cause=\"size\"} 0",
        "relaycache_commands_total{command=\"get\"} 2",
        "relaycache_commands_total{command=\"set\"} 1",
        "relaycache_connections 1",
        "relaycache_command_duration_seconds_count 3",
        "relaycache_command_duration_seconds_bucket{le=\"+Inf\"} 3",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let (status, stats) = get("/stats").await.unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&stats).expect("JSON");
    assert_eq!(json["mode"], "single");
    assert_eq!(json["cache"]["hits"], 1);
    assert_eq!(json["server"]["connected_clients"], 1);
    assert_eq!(get("/cluster").await.unwrap().0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_cache() {
    let config = crate::support::config("");
    let cache = relaycache_server::testing::MemoryCache::new();
    let switch = cache.close_switch();
    let server = relaycache_server::Server::bind(&config, cache)
        .await
        .unwrap();
    let admin = server.admin_addr().unwrap();
    let handle = server.spawn();
    let ready = tokio::task::spawn_blocking(move || http_get(admin, "/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.0, 200);
    switch.store(true, std::sync::atomic::Ordering::Release);
    let (status, body) = tokio::task::spawn_blocking(move || http_get(admin, "/readyz"))
        .await
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("closed"), "{body}");
    let (health, _) = tokio::task::spawn_blocking(move || http_get(admin, "/healthz"))
        .await
        .unwrap();
    assert_eq!(health, 200, "liveness does not depend on the cache");
    handle.shutdown().await.unwrap();
}
