//! A three-master Redis Cluster: conformance, slot-grouped batches, scans over every master, and a
//! master killed mid-use.

use std::time::{Duration, Instant};

use relaycache::{Cache, Error};

use crate::server::RedisCluster;
use crate::{RESPONSE_TIMEOUT, assert_conformance, cluster_builder, tight_cluster_builder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_cluster() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    assert_conformance(|| cluster_builder(&urls).prefix("cc-relay:")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_scans_and_invalidation_span_every_master() {
    let cluster = RedisCluster::start();
    let cache = cluster_builder(&cluster.urls()[..1])
        .prefix("b:")
        .connect()
        .await
        .expect("connect (discovering the other masters)");
    assert!(cache.is_cluster());
    let keys: Vec<Vec<u8>> = (0..150)
        .map(|i| format!("plain:{i}").into_bytes())
        .chain((0..50).map(|i| format!("{{user7}}:{i}").into_bytes()))
        .collect();
    let owners: std::collections::BTreeSet<usize> = keys
        .iter()
        .map(|k| cluster.owner_of(&[b"b:", &k[..]].concat()))
        .collect();
    assert_eq!(owners.len(), 3, "the keys must span all three masters");
    let items: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (k.as_slice(), k.as_slice())).collect();
    cache
        .set_multi_with_ttl(&items, Duration::from_secs(600))
        .await
        .expect("set_multi");
    let refs: Vec<&[u8]> = keys
        .iter()
        .map(Vec::as_slice)
        .chain([&b"missing"[..]])
        .collect();
    let found = cache.get_multi(&refs).await.expect("get_multi");
    assert_eq!(found.len(), keys.len());
    assert!(found.iter().all(|(k, v)| k == v), "values crossed keys");

    let stats = cache.stats().await.expect("stats");
    assert_eq!(
        stats.key_count, 200,
        "DBSIZE summed over masters: {stats:?}"
    );

    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        let page = cache.scan(cursor, b"plain:", 10).await.expect("scan");
        seen.extend(page.keys);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(cursor, 0, "scan did not finish");
    assert_eq!(seen.len(), 150);
    assert!(seen.iter().all(|k| k.starts_with(b"plain:")));

    assert_eq!(
        cache
            .invalidate_prefix(b"plain:")
            .await
            .expect("invalidate"),
        150
    );
    assert_eq!(cache.get_multi(&refs).await.expect("get_multi").len(), 50);
    assert_eq!(
        cache.invalidate_prefix(b"").await.expect("invalidate all"),
        50
    );
    assert_eq!(cache.stats().await.expect("stats").key_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_master_gives_explicit_bounded_errors_then_recovers() {
    let mut cluster = RedisCluster::start();
    let cache = tight_cluster_builder(&cluster.urls())
        .prefix("k:")
        .connect()
        .await
        .expect("connect");
    let key = b"victim";
    cache.set(key, b"v").await.expect("set");
    let victim = cluster.owner_of(b"k:victim");
    cluster.nodes[victim].kill();

    let bound = 2 * RESPONSE_TIMEOUT + Duration::from_millis(500);
    // Every call on the dead master's key fails, explicitly and in bounded time, until the cluster
    // declares itself down; then the errors say so.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_cluster_down = false;
    let mut kinds = Vec::new();
    while !seen_cluster_down {
        for op in ["get", "set", "exists", "ping"] {
            let start = Instant::now();
            let result = match op {
                "get" => cache.get(key).await.map(drop),
                "set" => cache.set(key, b"w").await,
                "exists" => cache.exists(key).await.map(drop),
                _ => cache.ping().await,
            };
            let took = start.elapsed();
            assert!(took <= bound, "{op} took {took:?} with a master dead");
            match result {
                Ok(()) => panic!("{op} succeeded although the key's master is dead"),
                Err(Error::NotFound) => panic!("{op} reported NotFound for a key on a dead master"),
                Err(Error::Backend { message, .. }) if message.starts_with("cluster down") => {
                    kinds.push(format!("{op}: {message}"));
                    seen_cluster_down = true;
                }
                Err(e @ (Error::Connection { .. } | Error::Timeout { .. })) => {
                    kinds.push(format!("{op} ({took:?}): {e}"));
                }
                Err(other) => panic!("{op}: unexpected error {other:?}"),
            }
        }
        assert!(
            Instant::now() < deadline,
            "the cluster never reported itself down; errors seen: {kinds:?}"
        );
    }
    eprintln!("errors while the master was dead:\n{}", kinds.join("\n"));

    // The master comes back (same node id and slots, from its nodes.conf, but no data): the cluster
    // heals and the cache serves again with no action from the application.
    cluster.nodes[victim].restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let start = Instant::now();
        let result = cache.set(key, b"back").await;
        assert!(
            start.elapsed() <= bound,
            "set took {:?} while healing",
            start.elapsed()
        );
        match result {
            Ok(()) => break,
            Err(e @ (Error::Connection { .. } | Error::Timeout { .. } | Error::Backend { .. })) => {
                assert!(Instant::now() < deadline, "cluster not serving again: {e}");
            }
            Err(other) => panic!("while healing: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cache.get(key).await.expect("get").as_ref(), b"back");
    cache.ping().await.expect("ping with every master back");
}
