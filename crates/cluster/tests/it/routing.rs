//! Routing and replication on a stable cluster.

use std::time::Duration;

use relaycache_cluster::version::now_ms;

use crate::support::{key, kill_all, settle, start, value, wait_until, wait_until_async};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reach_every_primary_in_one_call_each_and_keep_order() {
    let nodes = start(3, |c| c.replica_count = 2).await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    let keys: Vec<Vec<u8>> = (0..200).map(key).collect();
    let values: Vec<Vec<u8>> = (0..200).map(value).collect();
    let items: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(&values)
        .step_by(2)
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    nodes[0].set_multi(&items, 0).await.expect("set_multi");
    let wanted: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let found = nodes[1].get_multi(&wanted).await.expect("get_multi");
    assert_eq!(found.len(), 200);
    for (i, entry) in found.iter().enumerate() {
        let got = entry.as_ref().and_then(|e| e.value.as_deref());
        if i % 2 == 0 {
            assert_eq!(got, Some(&values[i][..]), "key {i} written");
        } else {
            assert_eq!(got, None, "key {i} never written");
        }
    }
    let mut client = None;
    for n in &nodes {
        let cfg = relaycache_cluster::ClientConfig {
            addresses: vec![n.rpc_addr().to_string()],
            tag: relaycache_cluster::NodeConfig::new("127.0.0.1:1").tag,
            request_timeout: Duration::from_secs(2),
            secret: None,
        };
        client = Some(
            relaycache_cluster::Client::connect(cfg)
                .await
                .expect("client"),
        );
    }
    let client = client.expect("a client");
    assert_eq!(client.table().members().len(), 3);
    let through_client = client.get_multi(&wanted).await.expect("client get_multi");
    assert_eq!(through_client, found);
    client
        .set_multi(&[(b"c1".as_slice(), b"v1".as_slice())], 0)
        .await
        .expect("client set_multi");
    assert!(nodes[2].get(b"c1").await.expect("get").is_some());
    client.close();
    assert!(matches!(
        client.get(b"c1").await,
        Err(relaycache_cluster::ClusterError::Closed)
    ));
    kill_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_on_every_owner_once_acknowledged() {
    // Replication sends what is queued for an owner as one APPLY: the acknowledgement of each write
    // still waits until its own entry is stored there.
    let nodes = start(3, |c| {
        c.replica_count = 3;
        c.write_quorum = 3;
    })
    .await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    let nodes = &nodes;
    let writes = (0..2000).map(|i| async move {
        nodes[i % 3].set(&key(i), &value(i), 0).await?;
        // Looked at the moment the write returns, before any other write can finish.
        let missing = nodes
            .iter()
            .filter(|n| n.local_entry(&key(i)).and_then(|e| e.value) != Some(value(i).into()))
            .count();
        Ok::<_, relaycache_cluster::ClusterError>((i, missing))
    });
    for done in futures::future::join_all(writes).await {
        let (i, missing) = done.expect("every owner is up");
        assert_eq!(
            missing, 0,
            "key {i} acknowledged before every owner stored it"
        );
    }
    kill_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_beyond_the_quorum_still_reach_every_owner() {
    let nodes = start(3, |c| {
        c.replica_count = 3;
        c.write_quorum = 1;
    })
    .await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    let writes = (0..2000).map(|i| {
        let n = &nodes[i % 3];
        async move { n.set(&key(i), &value(i), 0).await }
    });
    for done in futures::future::join_all(writes).await {
        done.expect("set");
    }
    wait_until(
        "every owner to hold every key",
        Duration::from_secs(10),
        || (0..2000).all(|i| nodes.iter().all(|n| n.local_entry(&key(i)).is_some())),
    )
    .await;
    kill_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_an_owner_that_is_gone_fails_within_the_request_timeout() {
    // Before the failure is detected, the coordinator still sends to the dead owner: the writes that
    // need its acknowledgement fail with a quorum error in time, however many are queued for it.
    let nodes = start(3, |c| {
        c.replica_count = 3;
        c.write_quorum = 3;
    })
    .await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    nodes[2].kill().await;
    let started = std::time::Instant::now();
    let writes = (0..200).map(|i| {
        let n = &nodes[i % 2];
        async move { n.set(&key(i), &value(i), 0).await }
    });
    for done in futures::future::join_all(writes).await {
        // Detected meanwhile or not, two owners are left for three acknowledgements.
        match done {
            Err(relaycache_cluster::ClusterError::Quorum(q)) => {
                assert_eq!((q.needed, q.reached), (3, 2), "{q}");
            }
            other => panic!("expected a write quorum error, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2) + Duration::from_millis(500),
        "every write answered within request_timeout (took {:?})",
        started.elapsed()
    );
    kill_all(&nodes[..2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_prefix_refuses_copies_older_than_the_purge() {
    use bytes::Bytes;
    use relaycache_cluster::rpc::message::{Entry, Request, Response};
    use relaycache_cluster::rpc::{RpcClient, RpcSettings};
    use relaycache_cluster::{NodeConfig, Version};

    let nodes = start(3, |c| c.replica_count = 2).await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    for i in 0..20 {
        nodes[0]
            .set(format!("p:{i}").as_bytes(), b"v", 0)
            .await
            .expect("set");
    }
    nodes[0].set(b"q:0", b"v", 0).await.expect("set");
    // A copy written before the purge that is still on its way (a late replication or migration page).
    let before = Version {
        hlc: nodes[0].local_entry(b"q:0").map_or(0, |e| e.version.hlc),
        node: 1,
    };
    assert_eq!(
        nodes[1].purge_prefix(b"p:").await.expect("purge"),
        20,
        "each removed key is counted once"
    );
    let late = |key: &'static [u8], version: Version| Entry {
        key: Bytes::from_static(key),
        value: Some(Bytes::from_static(b"late")),
        version,
        expires_at: 0,
    };
    let tag = NodeConfig::new("127.0.0.1:1").tag;
    let rpc = RpcClient::new(RpcSettings::new(tag, None, Duration::from_secs(2)));
    let after = Version {
        hlc: now_ms() << 20,
        node: 1,
    };
    for n in &nodes {
        let entries = vec![late(b"p:3", before), late(b"p:4", after)];
        let (answer, _) = rpc
            .call(n.rpc_addr(), 0, Request::Apply { entries })
            .await
            .expect("apply");
        assert!(matches!(answer, Response::Ok), "{answer:?}");
    }
    for n in &nodes {
        for i in 0..20 {
            let k = format!("p:{i}");
            let held = n.local_entry(k.as_bytes());
            if i == 4 {
                assert_eq!(
                    held.and_then(|e| e.value).as_deref(),
                    Some(&b"late"[..]),
                    "a copy newer than the purge is stored"
                );
            } else {
                assert!(held.is_none(), "{k} is gone from {}", n.rpc_addr());
            }
        }
        assert!(n.get(b"p:3").await.expect("get").is_none());
    }
    assert!(
        nodes[2].get(b"q:0").await.expect("get").is_some(),
        "other prefixes stay"
    );
    rpc.close();
    kill_all(&nodes).await;
}

/// Whether `entry`'s key and value lie one after the other in one buffer: the layout of the copy the
/// node hands out. Key and value as they arrive in an answer never do (the answer's framing lies
/// between them).
fn is_own_copy(entry: &relaycache_cluster::rpc::message::Entry) -> bool {
    let value = entry.value.as_ref().expect("a value");
    entry.key.as_ptr().wrapping_add(entry.key.len()) == value.as_ptr()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_read_from_another_node_do_not_hold_the_connection_buffer() {
    // The answers of another node arrive in a connection's read buffer (tens of kilobytes each). A
    // caller that keeps the values it read must keep only their bytes, not those buffers.
    const KEYS: usize = 3000;
    let nodes = start(3, |_| {}).await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    let reader = &nodes[1];
    let table = reader.table();
    let remote: Vec<Vec<u8>> = (0..KEYS * 3)
        .map(key)
        .filter(|k| table.owners_of(k).next().map(|o| o.addr) != Some(reader.gossip_addr()))
        .take(KEYS)
        .collect();
    assert_eq!(remote.len(), KEYS);
    for k in &remote {
        nodes[0].set(k, b"12345678", 0).await.expect("set");
    }
    let before = relaycache_cluster::testing::resident_bytes();
    let mut kept = Vec::with_capacity(KEYS + 2);
    for k in &remote {
        kept.push(reader.get(k).await.expect("get").expect("present"));
    }
    let batch: Vec<&[u8]> = remote.iter().take(64).map(Vec::as_slice).collect();
    for found in reader.get_multi(&batch).await.expect("get_multi") {
        kept.push(found.expect("present"));
    }
    kept.push(
        reader
            .read_versioned(&remote[0])
            .await
            .expect("read_versioned")
            .expect("present"),
    );
    let grown = relaycache_cluster::testing::resident_bytes().saturating_sub(before);
    for entry in &kept {
        assert_eq!(entry.value.as_deref(), Some(&b"12345678"[..]));
        assert!(is_own_copy(entry), "an answer handed out as it arrived");
    }
    // 3,000 small copies take about 0.5 MiB; with the answers' buffers held, the process grew by
    // about 13 MiB.
    assert!(
        grown < 4 << 20,
        "keeping {} values read from other nodes grew the process by {} KiB",
        kept.len(),
        grown >> 10
    );
    kill_all(&nodes).await;
}
