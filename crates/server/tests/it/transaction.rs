//! MULTI/EXEC and WATCH under concurrent clients: optimistic increments that must not lose an update,
//! an EXEC that no other client's command interleaves with, and WATCH in `redis` mode noticing a write
//! made directly to Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use relaycache::{AnyCache, Config};
use relaycache_resp::Frame;
use relaycache_server::Server;
use relaycache_server::client::Client;

use crate::differential::RedisServer;
use crate::support::{call, client, start, text};

/// Increments `key` `times` times with WATCH/GET/MULTI/SET/EXEC, retrying aborted transactions;
/// returns how many attempts were aborted.
async fn increment(mut c: Client, key: &str, times: u64) -> u64 {
    let mut aborted = 0;
    for _ in 0..times {
        let mut done = false;
        for _attempt in 0..10_000 {
            assert_eq!(call(&mut c, &["watch", key]).await, Frame::ok());
            let now = call(&mut c, &["get", key]).await;
            let value: u64 = if now == Frame::Null {
                0
            } else {
                text(&now).parse().unwrap()
            };
            assert_eq!(call(&mut c, &["multi"]).await, Frame::ok());
            let next = (value + 1).to_string();
            assert_eq!(text(&call(&mut c, &["set", key, &next]).await), "QUEUED");
            match call(&mut c, &["exec"]).await {
                Frame::NullArray | Frame::Null => aborted += 1,
                Frame::Array(replies) => {
                    assert_eq!(replies, vec![Frame::ok()]);
                    done = true;
                    break;
                }
                other => panic!("EXEC replied {other:?}"),
            }
        }
        assert!(done, "an increment kept aborting");
    }
    aborted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_makes_concurrent_increments_exact() {
    const N: u64 = 300;
    let server = start("").await;
    let a = tokio::spawn(increment(client(&server).await, "counter", N));
    let b = tokio::spawn(increment(client(&server).await, "counter", N));
    let aborted = a.await.unwrap() + b.await.unwrap();
    let mut c = client(&server).await;
    assert_eq!(
        text(&call(&mut c, &["get", "counter"]).await),
        (2 * N).to_string()
    );
    // Not required for correctness, but shows the race happened and WATCH resolved it.
    eprintln!("{aborted} aborted attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_of_another_client_runs_inside_exec() {
    const INSIDE: usize = 500;
    let server = start("").await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let hammer = {
        let mut b = client(&server).await;
        let (stop, writes) = (Arc::clone(&stop), Arc::clone(&writes));
        tokio::spawn(async move {
            // Bounded: stops when told, or after this many writes.
            for _ in 0..1_000_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                assert_eq!(call(&mut b, &["set", "k", "2"]).await, Frame::ok());
                writes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut a = client(&server).await;
    let mut seen_other = false;
    for round in 0..20 {
        // One pipeline: MULTI, SET k 1, many GET k, EXEC.
        a.send(&["multi"]).await.unwrap();
        a.send(&["set", "k", "1"]).await.unwrap();
        for _ in 0..INSIDE {
            a.send(&["get", "k"]).await.unwrap();
        }
        a.send(&["exec"]).await.unwrap();
        assert_eq!(a.read_reply().await.unwrap(), Frame::ok());
        for _ in 0..=INSIDE {
            assert_eq!(text(&a.read_reply().await.unwrap()), "QUEUED");
        }
        let Frame::Array(replies) = a.read_reply().await.unwrap() else {
            panic!("EXEC did not reply an array");
        };
        assert_eq!(replies.len(), INSIDE + 1);
        assert_eq!(replies[0], Frame::ok());
        for (i, reply) in replies[1..].iter().enumerate() {
            assert_eq!(
                text(reply),
                "1",
                "round {round}: GET {i} inside EXEC saw another write"
            );
        }
        // Between transactions the other client's writes do land.
        seen_other |= text(&call(&mut a, &["get", "k"]).await) == "2";
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    hammer.await.unwrap();
    assert!(
        writes.load(Ordering::Relaxed) > 0,
        "the other client never wrote"
    );
    assert!(
        seen_other,
        "the other client's writes never showed between transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_mode_watch_sees_a_write_made_directly_to_redis() {
    let redis = RedisServer::start();
    let yaml = format!(
        "server:\n  port: 0\n  admin:\n    port: 0\ncache:\n  mode: redis\n  redis:\n    url: \"redis://{}\"\n    prefix: \"front:\"\n    response_timeout: 2s\n",
        redis.addr
    );
    let config = Config::from_yaml_str_with_env(&yaml, &[]).unwrap();
    let cache = AnyCache::from_config(&config).await.unwrap();
    let server = Server::bind(&config, cache).await.unwrap().spawn();
    let mut ours = client(&server).await;
    let mut direct = Client::connect(&redis.addr.to_string(), Duration::from_secs(10))
        .await
        .unwrap();

    assert_eq!(call(&mut ours, &["set", "k", "1"]).await, Frame::ok());
    // Unchanged: EXEC runs.
    call(&mut ours, &["watch", "k"]).await;
    call(&mut ours, &["multi"]).await;
    call(&mut ours, &["incr", "k"]).await;
    assert_eq!(
        call(&mut ours, &["exec"]).await,
        Frame::Array(vec![Frame::Integer(2)])
    );
    // Written behind the server's back: EXEC aborts.
    call(&mut ours, &["watch", "k"]).await;
    assert_eq!(
        call(&mut direct, &["set", "front:k", "10"]).await,
        Frame::ok()
    );
    call(&mut ours, &["multi"]).await;
    call(&mut ours, &["incr", "k"]).await;
    assert_eq!(call(&mut ours, &["exec"]).await, Frame::NullArray);
    assert_eq!(text(&call(&mut ours, &["get", "k"]).await), "10");
    // A TTL set behind its back too.
    call(&mut ours, &["watch", "k"]).await;
    call(&mut direct, &["expire", "front:k", "100"]).await;
    call(&mut ours, &["multi"]).await;
    call(&mut ours, &["incr", "k"]).await;
    assert_eq!(call(&mut ours, &["exec"]).await, Frame::NullArray);
}
