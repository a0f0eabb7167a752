//! Fixtures: nodes on free loopback ports, clusters started at once, and bounded waits.

use std::future::Future;
use std::time::{Duration, Instant};

use relaycache_cluster::testing::free_loopback_port;
use relaycache_cluster::{Node, NodeConfig};

/// The configuration of a node on `port` that joins the nodes on `peers` (their RPC ports).
pub(crate) fn config(port: u16, peers: &[u16]) -> NodeConfig {
    let mut cfg = NodeConfig::new(format!("127.0.0.1:{port}"));
    cfg.peers = peers
        .iter()
        .filter(|p| **p != port)
        .map(|p| format!("127.0.0.1:{}", p + 2))
        .collect();
    cfg.request_timeout = Duration::from_secs(2);
    cfg.max_cost = 64 << 20;
    cfg.num_counters = 100_000;
    cfg
}

/// Free ports for `n` nodes.
pub(crate) fn ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| free_loopback_port()).collect()
}

/// Starts `n` nodes at the same moment, each listing all the others as peers; `tweak` adjusts each
/// configuration. Panics if one fails to start.
pub(crate) async fn start(n: usize, tweak: impl Fn(&mut NodeConfig)) -> Vec<Node> {
    let ports = ports(n);
    start_on(&ports, tweak).await
}

/// As [`start`], on given ports.
pub(crate) async fn start_on(ports: &[u16], tweak: impl Fn(&mut NodeConfig)) -> Vec<Node> {
    let starts = ports.iter().map(|&p| {
        let mut cfg = config(p, ports);
        tweak(&mut cfg);
        Node::start(cfg)
    });
    futures::future::join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("node starts"))
        .collect()
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `limit`.
pub(crate) async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cond(), "timed out after {limit:?} waiting for {what}");
}

/// Polls the async `cond` every 20 ms until it holds; panics naming `what` after `limit`.
pub(crate) async fn wait_until_async<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Waits until every node sees `members` members and has no partition still incoming.
pub(crate) async fn settle(nodes: &[&Node], members: usize) {
    let limit = Duration::from_secs(20);
    let deadline = Instant::now() + limit;
    let settled = || {
        nodes.iter().all(|n| {
            let s = n.status();
            s.members.len() == members && s.incoming_partitions == 0
        })
    };
    while Instant::now() < deadline && !settled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !settled() {
        let states: Vec<String> = nodes
            .iter()
            .map(|n| {
                let s = n.status();
                format!(
                    "{}: {} members, {} incoming",
                    s.local.addr,
                    s.members.len(),
                    s.incoming_partitions
                )
            })
            .collect();
        panic!("timed out after {limit:?} waiting for {members} members and no pull: {states:?}");
    }
}

/// Stops every node abruptly.
pub(crate) async fn kill_all(nodes: &[Node]) {
    for n in nodes {
        n.kill().await;
    }
}

/// The key used for index `i`.
pub(crate) fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

/// The value written for index `i`.
pub(crate) fn value(i: usize) -> Vec<u8> {
    format!("value:{i}:{}", "x".repeat(i % 50)).into_bytes()
}
