//! The `ha` backend against the whole conformance suite: as an embedded node that joins a running
//! cluster for each check (and leaves it when the suite closes it), and as a client of external nodes.

use std::time::{Duration, Instant};

use relaycache::backend::HaCache;
use relaycache::config::{HaConfig, SingleConfig};
use relaycache::testing::{Semantics, Suite};
use relaycache::{AnyCache, Cache, Config};
use relaycache_cluster::testing::free_loopback_port;
use relaycache_cluster::{Node, NodeConfig};

/// Starts `n` nodes (replica_count 2) that know each other, and waits until they form one cluster.
async fn cluster(n: usize) -> (Vec<Node>, Vec<u16>) {
    let ports: Vec<u16> = (0..n).map(|_| free_loopback_port()).collect();
    let starts = ports.iter().map(|&p| {
        let mut cfg = NodeConfig::new(format!("127.0.0.1:{p}"));
        cfg.peers = ports
            .iter()
            .filter(|q| **q != p)
            .map(|q| format!("127.0.0.1:{}", q + 2))
            .collect();
        cfg.replica_count = 2;
        cfg.max_cost = 64 << 20;
        Node::start(cfg)
    });
    let nodes: Vec<Node> = futures::future::join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("node starts"))
        .collect();
    wait_members(&nodes, n).await;
    (nodes, ports)
}

async fn wait_members(nodes: &[Node], n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nodes.iter().all(|x| x.status().members.len() == n) {
        assert!(
            Instant::now() < deadline,
            "{n} nodes did not form one cluster"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ha_config(embedded: bool, ports: &[u16]) -> HaConfig {
    let mut ha = HaConfig::default();
    ha.embedded = embedded;
    ha.replica_count = 2;
    if embedded {
        ha.bind_addr = Some(format!("127.0.0.1:{}", free_loopback_port()));
        ha.peers = ports
            .iter()
            .map(|p| format!("127.0.0.1:{}", p + 2))
            .collect();
    } else {
        ha.addresses = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    }
    ha
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_node_passes_the_conformance_suite() {
    let (nodes, ports) = cluster(2).await;
    let store = SingleConfig::default();
    let report = Suite::new(Semantics::Stores)
        .run(|| {
            let ha = ha_config(true, &ports);
            let store = store.clone();
            let nodes = nodes.clone();
            async move {
                let cache = HaCache::from_config(&ha, &store)
                    .await
                    .expect("node starts");
                wait_members(&nodes, 3).await;
                // The counts of cluster-wide calls are exact once every member has the same table.
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let mine = cache.status().map(|s| s.fingerprint);
                    if nodes.iter().all(|n| Some(n.status().fingerprint) == mine) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the members never agreed on one table"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                cache
            }
        })
        .await;
    report.assert_passed();
    for n in &nodes {
        n.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_external_nodes_passes_the_conformance_suite() {
    let (nodes, ports) = cluster(3).await;
    let store = SingleConfig::default();
    let report = Suite::new(Semantics::Stores)
        .run(|| {
            let ha = ha_config(false, &ports);
            let store = store.clone();
            async move {
                HaCache::from_config(&ha, &store)
                    .await
                    .expect("client connects")
            }
        })
        .await;
    report.assert_passed();
    for n in &nodes {
        n.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_builds_ha_from_yaml_and_reports_the_cluster() {
    let (nodes, ports) = cluster(2).await;
    let yaml = format!(
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"127.0.0.1:{}\"\n    peers: [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]\n    replica_count: 2\n    member_count_quorum: 2\n",
        free_loopback_port(),
        ports[0] + 2,
        ports[1] + 2
    );
    let config = Config::from_yaml_str(&yaml).expect("valid");
    let cache = AnyCache::from_config(&config).await.expect("node starts");
    assert_eq!(cache.name(), "ha");
    wait_members(&nodes, 3).await;
    let info = cache.cluster_info().await.expect("cluster info");
    assert!(info.is_embedded);
    assert_eq!(info.cluster_members, 3);
    assert_eq!(info.members.len(), 3);
    assert_eq!(info.members.iter().filter(|m| m.is_self).count(), 1);
    assert_eq!(info.partitions.len(), 271);
    assert!(info.partitions.iter().all(|owners| owners.len() == 2));
    assert_eq!(info.state, "serving");
    cache.set(b"k", b"v").await.expect("set");
    assert_eq!(cache.get(b"k").await.expect("get"), "v");
    cache.ping().await.expect("ping with 3 of 2 members");
    let stats = cache.stats().await.expect("stats");
    assert_eq!(stats.hits, 1);
    cache.close().await.expect("graceful leave");
    cache.close().await.expect("idempotent");
    assert!(cache.get(b"k").await.unwrap_err().is_closed());
    wait_members(&nodes, 2).await;
    for n in &nodes {
        n.kill().await;
    }
}

/// Many callers incrementing one counter at once never fail and lose nothing: through one node (its
/// callers take turns) and through two (a compare-and-set that lost to the other node runs again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_of_one_key_are_exact_and_never_give_up() {
    use relaycache::KeyOps;
    const TASKS: usize = 200;
    const EACH: usize = 10;
    let (nodes, _) = cluster(2).await;
    let caches = [
        std::sync::Arc::new(HaCache::from_node(nodes[0].clone())),
        std::sync::Arc::new(HaCache::from_node(nodes[1].clone())),
    ];
    // A counter whose primary is the second node: the first node's increments each take two calls.
    let table = nodes[0].table();
    let counter = (0..1000)
        .map(|i| format!("counter-{i}"))
        .find(|k| {
            table.owners_of(k.as_bytes()).next().map(|o| o.addr) == Some(nodes[1].gossip_addr())
        })
        .expect("a key of the second node");
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            // Most callers on the first node, a few on the second.
            let cache = std::sync::Arc::clone(&caches[usize::from(t % 5 == 0)]);
            let counter = counter.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    cache.increment(counter.as_bytes(), 1).await?;
                }
                Ok::<(), relaycache::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("every increment succeeds");
    }
    let total = caches[0].get(counter.as_bytes()).await.expect("counter");
    assert_eq!(total, (TASKS * EACH).to_string());
    for n in &nodes {
        n.kill().await;
    }
}
