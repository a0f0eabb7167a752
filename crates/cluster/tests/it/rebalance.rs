//! Join, failure and leave: partitions move, copies are re-created, nothing acknowledged is lost, and
//! reads never miss during a migration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use relaycache_cluster::Node;

use crate::support::{config, key, kill_all, ports, settle, start_on, value, wait_until};

/// Reads every key of `0..n` through `node` until `stop`, counting misses (bounded by `rounds`).
fn reader(
    node: Node,
    n: usize,
    stop: Arc<AtomicBool>,
    misses: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut reads = 0;
        for round in 0..1000 {
            if round % 2 == 0 {
                // Batched reads too: the keys this node answers at once, and the rest through their
                // primaries.
                for chunk in (0..n).step_by(7).collect::<Vec<_>>().chunks(32) {
                    let keys: Vec<Vec<u8>> = chunk.iter().map(|&i| key(i)).collect();
                    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                    match node.get_multi(&refs).await {
                        Ok(found) => {
                            let missed = found.iter().filter(|e| e.is_none()).count();
                            misses.fetch_add(missed, Ordering::Relaxed);
                        }
                        Err(e) => panic!("batched read failed during the migration: {e}"),
                    }
                    reads += chunk.len();
                }
            } else {
                for i in (0..n).step_by(7) {
                    match node.get(&key(i)).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            misses.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("read of key {i} failed during the migration: {e}"),
                    }
                    reads += 1;
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        reads
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_pulls_its_partitions_and_reads_never_miss() {
    let ports = ports(3);
    let nodes = start_on(&ports[..2], |_| {}).await;
    settle(&[&nodes[0], &nodes[1]], 2).await;
    const N: usize = 2000;
    for i in 0..N {
        nodes[0].set(&key(i), &value(i), 0).await.expect("set");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let misses = Arc::new(AtomicUsize::new(0));
    let r = reader(nodes[1].clone(), N, Arc::clone(&stop), Arc::clone(&misses));
    let joiner = Node::start(config(ports[2], &ports[..2]))
        .await
        .expect("starts");
    // Reads through the new node while it is filling.
    let r2 = reader(joiner.clone(), N, Arc::clone(&stop), Arc::clone(&misses));
    settle(&[&nodes[0], &nodes[1], &joiner], 3).await;
    stop.store(true, Ordering::Relaxed);
    let reads = r.await.expect("reader") + r2.await.expect("reader");
    assert!(reads > 0);
    assert_eq!(
        misses.load(Ordering::Relaxed),
        0,
        "no miss during the join ({reads} reads)"
    );
    let table = joiner.table();
    let mut owned = 0;
    for i in 0..N {
        if table.owners_of(&key(i)).next().map(|o| o.addr) == Some(joiner.gossip_addr()) {
            owned += 1;
            let held = joiner.local_entry(&key(i)).expect("pulled");
            assert_eq!(held.value.as_deref(), Some(&value(i)[..]));
        }
    }
    assert!(owned > N / 6, "the new node owns about a third ({owned})");
    kill_all(&nodes).await;
    joiner.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_every_key_has_replica_count_copies_again() {
    let ports = ports(4);
    let nodes = start_on(&ports, |c| {
        c.replica_count = 2;
        c.write_quorum = 2;
    })
    .await;
    settle(&nodes.iter().collect::<Vec<_>>(), 4).await;
    const N: usize = 1000;
    for i in 0..N {
        nodes[i % 4].set(&key(i), &value(i), 0).await.expect("set");
    }
    nodes[3].kill().await;
    let live: Vec<&Node> = nodes[..3].iter().collect();
    settle(&live, 3).await;
    for i in 0..N {
        let copies = live
            .iter()
            .filter(|n| {
                n.local_entry(&key(i))
                    .and_then(|e| e.value)
                    .is_some_and(|v| v == value(i))
            })
            .count();
        assert!(
            copies >= 2,
            "key {i} has {copies} copies after re-replication"
        );
        assert!(live[i % 3].get(&key(i)).await.expect("get").is_some());
    }
    kill_all(&nodes[..3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_with_one_copy_loses_no_key() {
    let ports = ports(3);
    let nodes = start_on(&ports, |_| {}).await;
    settle(&nodes.iter().collect::<Vec<_>>(), 3).await;
    const N: usize = 2000;
    for i in 0..N {
        nodes[0].set(&key(i), &value(i), 0).await.expect("set");
    }
    nodes[2].leave().await;
    settle(&[&nodes[0], &nodes[1]], 2).await;
    for i in 0..N {
        let got = nodes[i % 2].get(&key(i)).await.expect("get");
        assert_eq!(
            got.and_then(|e| e.value).as_deref(),
            Some(&value(i)[..]),
            "key {i} survived the leave"
        );
    }
    kill_all(&nodes[..2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_refilled_and_reads_never_miss() {
    let ports = ports(3);
    let mut nodes = start_on(&ports, |c| c.replica_count = 2).await;
    settle(&nodes.iter().collect::<Vec<_>>(), 3).await;
    const N: usize = 1000;
    for i in 0..N {
        nodes[0].set(&key(i), &value(i), 0).await.expect("set");
    }
    // With write_quorum 1 a write returns once its primary stored it and the backup is written in the
    // background: the kill below must not race that copy (losing it is what write_quorum 1 allows).
    wait_until(
        "every key to have both its copies before the kill",
        Duration::from_secs(10),
        || {
            (0..N).all(|i| {
                nodes
                    .iter()
                    .filter(|n| n.local_entry(&key(i)).is_some())
                    .count()
                    >= 2
            })
        },
    )
    .await;
    let old = nodes.pop().expect("three nodes");
    let generation = old.status().local.generation;
    old.kill().await;
    // Back on the same address at once, before the others declared it down.
    let mut restarted = None;
    for _ in 0..50 {
        let mut cfg = config(ports[2], &ports);
        cfg.replica_count = 2;
        match Node::start(cfg).await {
            Ok(n) => {
                restarted = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let restarted = restarted.expect("restarts on its port");
    assert!(restarted.status().local.generation > generation);
    let mut misses = 0;
    for i in 0..N {
        if restarted.get(&key(i)).await.expect("get").is_none() {
            misses += 1;
        }
    }
    assert_eq!(
        misses, 0,
        "the restarted node reads through while it refills"
    );
    settle(&[&nodes[0], &nodes[1], &restarted], 3).await;
    wait_until(
        "the restarted node to be refilled",
        Duration::from_secs(10),
        || {
            let table = restarted.table();
            (0..N).all(|i| {
                !table
                    .owners_of(&key(i))
                    .any(|o| o.addr == restarted.gossip_addr())
                    || restarted.local_entry(&key(i)).is_some()
            })
        },
    )
    .await;
    kill_all(&nodes).await;
    restarted.kill().await;
}
