//! Routing and replication on a stable cluster.

use std::time::Duration;

use relaycache_cluster::version::now_ms;

use crate::support::{key, kill_all, settle, start, value, wait_until_async};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_serves_any_key_and_each_key_lives_on_its_primary() {
    let nodes = start(3, |_| {}).await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    for i in 0..300 {
        nodes[0].set(&key(i), &value(i), 0).await.expect("set");
    }
    for i in 0..300 {
        for n in &nodes[1..] {
            let got = n.get(&key(i)).await.expect("get").expect("present");
            assert_eq!(got.value.as_deref(), Some(&value(i)[..]));
        }
        let table = nodes[0].table();
        let primary = table.owners_of(&key(i)).next().expect("an owner");
        for n in &nodes {
            let held = n.local_entry(&key(i)).is_some();
            assert_eq!(
                held,
                n.gossip_addr() == primary.addr,
                "replica_count 1: only the primary holds key {i}"
            );
        }
    }
    kill_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_every_owner_and_deletes_are_versioned() {
    let nodes = start(3, |c| {
        c.replica_count = 3;
        c.write_quorum = 3;
        c.read_quorum = 2;
    })
    .await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    nodes[1].set(b"k", b"v1", 0).await.expect("set");
    let versions: Vec<_> = nodes
        .iter()
        .map(|n| n.local_entry(b"k").expect("every owner has it").version)
        .collect();
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    nodes[2].set(b"k", b"v2", 0).await.expect("set");
    let after = nodes[0].local_entry(b"k").expect("held");
    assert!(
        after.version > versions[0],
        "a later write has a higher version"
    );
    assert_eq!(after.value.as_deref(), Some(&b"v2"[..]));
    nodes[0].delete(b"k").await.expect("delete");
    for n in &nodes {
        let tomb = n.local_entry(b"k").expect("a tombstone is kept");
        assert!(tomb.value.is_none());
        assert!(n.get(b"k").await.expect("get").is_none());
    }
    kill_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_travel_as_deadlines() {
    let nodes = start(2, |c| c.replica_count = 2).await;
    settle(&[&nodes[0], &nodes[1]], 2).await;
    let at = now_ms() + 400;
    nodes[0].set(b"t", b"v", at).await.expect("set");
    let meta = nodes[1].meta(b"t").await.expect("meta").expect("present");
    assert_eq!(meta.expires_at, at, "the same absolute deadline everywhere");
    wait_until_async("the key to expire", Duration::from_secs(5), || async {
        nodes[1].get(b"t").await.expect("get").is_none()
    })
    .await;
    assert!(nodes[0].get(b"t").await.expect("get").is_none());
    assert!(!nodes[0].expire(b"missing", 0).await.expect("expire"));
    nodes[0].set(b"p", b"v", 0).await.expect("set");
    assert!(
        nodes[1]
            .expire(b"p", now_ms() + 60_000)
            .await
            .expect("expire")
    );
    let meta = nodes[0].meta(b"p").await.expect("meta").expect("present");
    assert!(meta.expires_at > now_ms());
    kill_all(&nodes).await;
}
