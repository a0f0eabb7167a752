//! One `redis-server`: conformance, the factory, namespaces, auth, refusal, restarts and stalls.

use std::time::{Duration, Instant};

use relaycache::KeyOps;
use relaycache::{AnyCache, Cache, Config, Error};

use crate::server::{RedisServer, free_port, raw};
use crate::{RESPONSE_TIMEOUT, assert_conformance, builder, tight_builder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_prefix() {
    let server = RedisServer::start();
    let url = server.url();
    assert_conformance(|| builder(&url).prefix("conformance-prefixed:")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_without_prefix() {
    let server = RedisServer::start();
    let url = server.url();
    assert_conformance(|| builder(&url).prefix("")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_builds_redis_mode_with_the_dmap_name_as_default_prefix() {
    let server = RedisServer::start();
    let yaml = format!(
        "cache:\n  mode: redis\n  olric:\n    dmap_name: orders\n  redis:\n    url: \"{}\"\n    response_timeout: 1s\n",
        server.url()
    );
    let config = Config::from_yaml_str(&yaml).expect("config");
    let cache = AnyCache::from_config(&config).await.expect("factory");
    assert_eq!(cache.name(), "redis");
    cache.set(b"k", b"v").await.expect("set");
    let mut conn = raw(&server.url());
    let stored: Option<Vec<u8>> = redis::cmd("GET")
        .arg("orders:k")
        .query(&mut conn)
        .expect("GET");
    assert_eq!(
        stored.as_deref(),
        Some(&b"v"[..]),
        "key not stored under orders:"
    );
    let bare: Option<Vec<u8>> = redis::cmd("GET").arg("k").query(&mut conn).expect("GET");
    assert_eq!(bare, None);
    cache.close().await.expect("close");
    assert!(cache.ping().await.unwrap_err().is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_isolate_namespaces_even_with_glob_characters() {
    let server = RedisServer::start();
    let a = builder(&server.url())
        .prefix("app*[1]?:")
        .connect()
        .await
        .expect("a");
    let b = builder(&server.url())
        .prefix("app-1-:")
        .connect()
        .await
        .expect("b");
    for i in 0..20 {
        a.set(format!("k{i}").as_bytes(), b"a")
            .await
            .expect("set a");
        b.set(format!("k{i}").as_bytes(), b"b")
            .await
            .expect("set b");
    }
    // "app*[1]?:" as a glob would match "app-1-:..." too; escaped it must not.
    let mut seen = Vec::new();
    let mut cursor = 0;
    for _ in 0..1000 {
        let page = a.scan(cursor, b"", 5).await.expect("scan");
        seen.extend(page.keys);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(cursor, 0, "scan did not finish");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20, "scan saw {seen:?}");
    assert!(
        seen.iter().all(|k| k.starts_with(b"k")),
        "prefix not stripped: {seen:?}"
    );
    assert_eq!(a.invalidate_prefix(b"").await.expect("invalidate"), 20);
    assert_eq!(b.get(b"k7").await.expect("b untouched").as_ref(), b"b");
    assert!(a.get(b"k7").await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_keys_memory_and_our_hits() {
    let server = RedisServer::start();
    let cache = builder(&server.url())
        .prefix("s:")
        .connect()
        .await
        .expect("connect");
    cache
        .set_multi(&[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        .await
        .expect("set_multi");
    let found = cache
        .get_multi(&[b"a", b"b", b"zz"])
        .await
        .expect("get_multi");
    assert_eq!(found.len(), 2);
    let stats = cache.stats().await.expect("stats");
    assert_eq!(stats.key_count, 3, "{stats:?}");
    assert_eq!((stats.hits, stats.misses), (2, 1), "{stats:?}");
    assert!(stats.bytes_used > 100_000, "used_memory {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_password_is_an_auth_error() {
    let server = RedisServer::start_with(&["--requirepass", "right-secret"]);
    match builder(&server.url())
        .password("not-the-secret-42")
        .connect()
        .await
    {
        Err(Error::Auth(message)) => {
            assert!(
                !message.contains("not-the-secret-42"),
                "leaks password: {message}"
            )
        }
        other => panic!("wrong password: want Error::Auth, got {other:?}"),
    }
    match builder(&server.url()).connect().await {
        Err(Error::Auth(_)) => {}
        other => panic!("no password: want Error::Auth, got {other:?}"),
    }
    let url = format!("redis://:right-secret@127.0.0.1:{}", server.port());
    let cache = builder(&url)
        .connect()
        .await
        .expect("right password in the URL");
    cache.set(b"k", b"v").await.expect("set");
    let cache = builder(&server.url())
        .password("right-secret")
        .connect()
        .await
        .expect("right password");
    assert_eq!(cache.get(b"k").await.expect("get").as_ref(), b"v");
    // An ACL user: right and wrong credentials.
    let mut admin = raw(&format!(
        "redis://:right-secret@127.0.0.1:{}",
        server.port()
    ));
    redis::cmd("ACL")
        .arg(&["SETUSER", "app", "on", ">app-pass", "~*", "+@all"])
        .query::<()>(&mut admin)
        .expect("ACL SETUSER");
    let app = builder(&server.url())
        .username("app")
        .password("app-pass")
        .connect()
        .await
        .expect("ACL user");
    assert_eq!(app.get(b"k").await.expect("get").as_ref(), b"v");
    let bad = builder(&server.url())
        .username("app")
        .password("nope")
        .connect()
        .await;
    assert!(
        matches!(bad, Err(Error::Auth(_))),
        "ACL user, wrong password: {bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_quick_connection_error() {
    let port = free_port();
    let start = Instant::now();
    let result = tight_builder(&format!("redis://127.0.0.1:{port}"))
        .connect()
        .await;
    let took = start.elapsed();
    match result {
        Err(Error::Connection { endpoint, .. }) => {
            assert_eq!(endpoint, format!("127.0.0.1:{port}"));
        }
        other => panic!("want Error::Connection, got {other:?}"),
    }
    assert!(took < Duration::from_secs(1), "refusal took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_server_is_reconnected_without_application_action() {
    let mut server = RedisServer::start();
    let cache = tight_builder(&server.url())
        .prefix("r:")
        .connect()
        .await
        .expect("connect");
    cache
        .set(b"before", b"1")
        .await
        .expect("set before restart");
    server.restart();
    // The application just keeps calling; each call fails explicitly and in bounded time until the
    // backend has reconnected on its own.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut failures = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let start = Instant::now();
        let result = async {
            cache.set(b"after", b"2").await?;
            cache.get(b"after").await
        }
        .await;
        let took = start.elapsed();
        assert!(
            took <= 2 * RESPONSE_TIMEOUT + Duration::from_millis(500),
            "a call took {took:?} while reconnecting"
        );
        match result {
            Ok(value) => {
                assert_eq!(value.as_ref(), b"2");
                break;
            }
            Err(e @ (Error::Connection { .. } | Error::Timeout { .. })) => failures.push(e),
            Err(other) => panic!("while reconnecting: want Connection or Timeout, got {other:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "not recovered after {attempts} attempts: {failures:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new server started empty (no persistence): the old key is a plain miss.
    assert!(cache.get(b"before").await.unwrap_err().is_not_found());
    cache.ping().await.expect("ping after recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_server_gives_timeouts_not_hangs() {
    let server = RedisServer::start();
    let cache = tight_builder(&server.url())
        .connect()
        .await
        .expect("connect");
    cache.set(b"k", b"v").await.expect("set");
    server.signal("STOP");
    let start = Instant::now();
    let get = cache.get(b"k").await;
    let ping = cache.ping().await;
    let took = start.elapsed();
    server.signal("CONT");
    assert!(
        matches!(get, Err(Error::Timeout { op: "get", .. })),
        "get on a stalled server: {get:?}"
    );
    assert!(
        matches!(ping, Err(Error::Timeout { op: "ping", .. })),
        "ping on a stalled server: {ping:?}"
    );
    assert!(
        took < 2 * RESPONSE_TIMEOUT + Duration::from_millis(500),
        "took {took:?}"
    );
    // Once the server runs again the cache serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match cache.get(b"k").await {
            Ok(v) => {
                assert_eq!(v.as_ref(), b"v");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not serving after SIGCONT: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_longer_than_the_reconnect_budget_still_recovers() {
    let mut server = RedisServer::start();
    // Two quick retries: the budget runs out long before the server comes back.
    let cache = tight_builder(&server.url())
        .reconnect(2, Duration::from_millis(50))
        .connect()
        .await
        .expect("connect");
    cache.set(b"k", b"v").await.expect("set");
    server.kill();
    let down = Instant::now();
    let mut failures = 0;
    while down.elapsed() < Duration::from_millis(800) {
        let start = Instant::now();
        // Not a bare timeout: the error says the connection is what failed.
        match cache.get(b"k").await {
            Err(Error::Connection { endpoint, .. }) => {
                assert_eq!(endpoint, format!("127.0.0.1:{}", server.port()));
                failures += 1;
            }
            other => panic!("with the server down: want Connection, got {other:?}"),
        }
        assert!(start.elapsed() <= RESPONSE_TIMEOUT + Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failures >= 3,
        "only {failures} calls while the server was down"
    );
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match cache.set(b"k2", b"v2").await {
            Ok(()) => break,
            Err(e @ (Error::Connection { .. } | Error::Timeout { .. })) => {
                assert!(Instant::now() < deadline, "not recovered: {e}");
            }
            Err(other) => panic!("while recovering: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.get(b"k2").await.expect("get").as_ref(), b"v2");
}

/// `SET NX`, `GETDEL`, `DEL`'s count and `INCRBY` are single Redis commands: concurrent increments are never
/// lost and each NX key is won once, as with Redis itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_modify_write_calls_are_atomic() {
    use relaycache::{SetCondition, SetOptions};
    let server = RedisServer::start();
    let cache = std::sync::Arc::new(
        builder(&server.url())
            .prefix("rmw:")
            .connect()
            .await
            .expect("connect"),
    );
    let tasks: Vec<_> = (0..8u8)
        .map(|t| {
            let cache = std::sync::Arc::clone(&cache);
            tokio::spawn(async move {
                let mut won = 0;
                for i in 0..100 {
                    cache.increment(b"counter", 1).await.expect("incr");
                    let nx = SetOptions::new().condition(SetCondition::IfAbsent);
                    let key = format!("nx-{i}");
                    if cache
                        .set_with_options(key.as_bytes(), &[t], nx)
                        .await
                        .expect("set nx")
                        .written
                    {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let mut total_won = 0;
    for t in tasks {
        total_won += t.await.expect("task");
    }
    assert_eq!(cache.get(b"counter").await.expect("counter"), "800");
    assert_eq!(total_won, 100, "each NX key must be won exactly once");
    cache.set(b"word", b"abc").await.expect("set");
    let err = cache.increment(b"word", 1).await.expect_err("not a number");
    assert!(err.to_string().contains("not an integer"), "{err}");
    let swapped = cache
        .set_with_options(b"word", b"new", SetOptions::new().return_previous(true))
        .await
        .expect("set get");
    assert_eq!(swapped.previous.as_deref(), Some(&b"abc"[..]));
    assert_eq!(cache.take(b"word").await.expect("getdel"), "new");
    assert!(cache.take(b"word").await.expect_err("gone").is_not_found());
    assert!(!cache.remove(b"word").await.expect("del"));
}
