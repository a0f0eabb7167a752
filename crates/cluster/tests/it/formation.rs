//! Cluster formation: nodes started together form one cluster; nodes of another cluster are refused.

use std::time::Duration;

use crate::support::{kill_all, ports, settle, start, start_on, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_started_at_once_form_one_cluster_ten_times_in_a_row() {
    for round in 0..10 {
        let nodes = start(3, |_| {}).await;
        let refs: Vec<_> = nodes.iter().collect();
        wait_until(
            &format!("round {round}: every node to see 3 members"),
            Duration::from_secs(10),
            || refs.iter().all(|n| n.status().members.len() == 3),
        )
        .await;
        let fingerprints: Vec<u64> = nodes.iter().map(|n| n.status().fingerprint).collect();
        assert!(
            fingerprints.windows(2).all(|w| w[0] == w[1]),
            "round {round}: one table on every node: {fingerprints:?}"
        );
        kill_all(&nodes).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_another_secret_name_or_partition_count_are_refused() {
    let ports = ports(2);
    let good = start_on(&ports, |c| c.secret = Some("s3cret".to_owned())).await;
    settle(&[&good[0], &good[1]], 2).await;
    type Tweak = Box<dyn Fn(&mut relaycache_cluster::NodeConfig)>;
    let tweaks: Vec<Tweak> = vec![
        Box::new(|c| c.secret = Some("wrong".to_owned())),
        Box::new(|c| c.secret = None),
        Box::new(|c| {
            c.secret = Some("s3cret".to_owned());
            c.tag.dmap_name = "other".to_owned();
        }),
        Box::new(|c| {
            c.secret = Some("s3cret".to_owned());
            c.tag.partition_count = 7;
        }),
        Box::new(|c| {
            c.secret = Some("s3cret".to_owned());
            c.tag.environment = 1;
        }),
    ];
    for (i, tweak) in tweaks.iter().enumerate() {
        let port = crate::support::ports(1)[0];
        let mut cfg = crate::support::config(port, &ports);
        tweak(&mut cfg);
        let stranger = relaycache_cluster::Node::start(cfg).await.expect("starts");
        // Give it several gossip rounds to get in; it must stay alone and the others must stay two.
        for _ in 0..15 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(stranger.status().members.len(), 1, "case {i}: refused");
            assert!(
                good.iter().all(|n| n.status().members.len() == 2),
                "case {i}: the cluster did not take it in"
            );
        }
        stranger.kill().await;
    }
    kill_all(&good).await;
}
