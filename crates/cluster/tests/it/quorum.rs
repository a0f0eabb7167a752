//! Each quorum error: which quorum, needed and reached.

use relaycache_cluster::{ClusterError, QuorumError, QuorumKind};

use crate::support::{kill_all, settle, start, wait_until};

fn quorum_of(e: ClusterError) -> QuorumError {
    match e {
        ClusterError::Quorum(q) => q,
        other => panic!("expected a quorum error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_below_member_count_quorum_refuses_everything() {
    let nodes = start(1, |c| c.member_count_quorum = 2).await;
    let e = quorum_of(nodes[0].get(b"k").await.expect_err("refused"));
    assert_eq!(
        (e.kind, e.needed, e.reached),
        (QuorumKind::MemberCount, 2, 1)
    );
    assert_eq!(
        ClusterError::Quorum(e).to_string(),
        "member count quorum not reached: 2 needed, 1 live"
    );
    let e = quorum_of(nodes[0].set(b"k", b"v", 0).await.expect_err("refused"));
    assert_eq!(e.kind, QuorumKind::MemberCount);
    assert!(!nodes[0].status().has_member_quorum);
    kill_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_and_read_quorums_name_what_they_missed() {
    let nodes = start(2, |c| {
        c.replica_count = 2;
        c.write_quorum = 2;
        c.read_quorum = 2;
    })
    .await;
    settle(&[&nodes[0], &nodes[1]], 2).await;
    nodes[0].set(b"k", b"v", 0).await.expect("both owners up");
    assert!(nodes[1].get(b"k").await.expect("read").is_some());
    nodes[1].kill().await;
    wait_until(
        "the failure to be detected",
        std::time::Duration::from_secs(10),
        || nodes[0].status().members.len() == 1,
    )
    .await;
    let e = quorum_of(
        nodes[0]
            .set(b"k", b"w", 0)
            .await
            .expect_err("one owner left"),
    );
    assert_eq!((e.kind, e.needed, e.reached), (QuorumKind::Write, 2, 1));
    assert_eq!(
        ClusterError::Quorum(e).to_string(),
        "write quorum not reached: 2 needed, 1 acknowledged"
    );
    let e = quorum_of(nodes[0].get(b"k").await.expect_err("one owner left"));
    assert_eq!((e.kind, e.needed, e.reached), (QuorumKind::Read, 2, 1));
    nodes[0].kill().await;
}
