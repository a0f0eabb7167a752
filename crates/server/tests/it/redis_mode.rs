//! relaycache-server in `redis` mode: a RESP front for a real `redis-server`, with readiness that follows
//! Redis.

use std::time::Duration;

use relaycache::{AnyCache, Config};
use relaycache_server::Server;

use crate::differential::RedisServer;
use crate::support::{http_get, redis_cli, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_redis_mode_and_readiness_follows_redis() {
    let redis = RedisServer::start();
    let yaml = format!(
        "server:\n  port: 0\n  admin:\n    port: 0\ncache:\n  mode: redis\n  redis:\n    url: \"redis://{}\"\n    prefix: \"front:\"\n    response_timeout: 1s\n",
        redis.addr
    );
    let config = Config::from_yaml_str_with_env(&yaml, &[]).unwrap();
    let cache = AnyCache::from_config(&config).await.unwrap();
    let server = Server::bind(&config, cache).await.unwrap();
    let admin = server.admin_addr().unwrap();
    let handle = server.spawn();
    let ours = handle.addr();
    let redis_addr = redis.addr;

    let replies = tokio::task::spawn_blocking(move || {
        (
            redis_cli(ours, &["set", "k", "v", "EX", "100"]),
            redis_cli(ours, &["get", "k"]),
            redis_cli(ours, &["incrby", "n", "5"]),
            redis_cli(ours, &["set", "k", "w", "NX"]),
            redis_cli(redis_addr, &["get", "front:k"]),
            redis_cli(redis_addr, &["ttl", "front:k"]),
            http_get(admin, "/readyz").0,
        )
    })
    .await
    .unwrap();
    let (set, get, incr, nx, raw, ttl, ready) = replies;
    assert_eq!(set.0, "OK");
    assert_eq!(get.0, "v");
    assert_eq!(incr.0, "5");
    assert_eq!(nx.0, "", "SET NX on a present key is declined (nil)");
    assert_eq!(raw.0, "v", "the key lives in Redis under the prefix");
    let ttl: u64 = ttl.0.parse().unwrap();
    assert!((90..=100).contains(&ttl), "TTL in Redis: {ttl}");
    assert_eq!(ready, 200);

    drop(redis);
    let unready = wait_until(Duration::from_secs(10), || {
        http_get(admin, "/readyz").0 == 503
    })
    .await;
    assert!(unready, "/readyz must fail once Redis is gone");
    let (reply, _) = tokio::task::spawn_blocking(move || redis_cli(ours, &["get", "k"]))
        .await
        .unwrap();
    assert!(
        reply.contains("ERR") || reply.contains("redis"),
        "a GET with Redis gone is an explicit error, not a miss: {reply:?}"
    );
    handle.shutdown().await.unwrap();
}
