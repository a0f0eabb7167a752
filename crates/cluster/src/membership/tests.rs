//! Membership over real UDP on 127.0.0.1 (ports picked by the kernel), with the `local` timings.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::*;
use crate::auth::{AuthKey, GOSSIP_LABEL};

const DEADLINE: Duration = Duration::from_secs(10);

fn tag() -> ClusterTag {
    ClusterTag {
        dmap_name: "cc-relay".to_owned(),
        partition_count: 271,
        environment: 0,
    }
}

fn settings(peers: &[SocketAddr], secret: Option<&str>) -> MembershipSettings {
    MembershipSettings {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise: None,
        wrong_port_bind: None,
        peers: peers.iter().map(ToString::to_string).collect(),
        tag: tag(),
        timings: Timings::local(),
        key: secret.map(|s| AuthKey::derive(s, GOSSIP_LABEL)),
    }
}

fn bind() -> (std::net::UdpSocket, SocketAddr) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
    let addr = socket.local_addr().expect("bound");
    (socket, addr)
}

async fn start(socket: std::net::UdpSocket, settings: MembershipSettings) -> Membership {
    Membership::start_with_socket(settings, socket)
        .await
        .expect("starts")
}

/// Polls `ready` every 20 ms until it holds; panics after [`DEADLINE`].
async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for an event matching `wanted`, skipping others; panics after [`DEADLINE`].
async fn wait_event(
    events: &mut broadcast::Receiver<MemberEvent>,
    what: &str,
    wanted: impl Fn(&MemberEvent) -> bool,
) -> MemberEvent {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) if wanted(&event) => return event,
            Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                panic!("events closed waiting for {what}")
            }
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn view_addrs(m: &Membership) -> Vec<SocketAddr> {
    m.view().borrow().iter().map(|id| id.addr).collect()
}

#[tokio::test]
async fn three_nodes_started_together_form_one_cluster_every_time() {
    for round in 0..10 {
        let sockets: Vec<_> = (0..3).map(|_| bind()).collect();
        let addrs: Vec<SocketAddr> = sockets.iter().map(|(_, a)| *a).collect();
        let starts = sockets.into_iter().enumerate().map(|(i, (socket, _))| {
            let peers: Vec<SocketAddr> = addrs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, a)| *a)
                .collect();
            start(socket, settings(&peers, Some("s3cret")))
        });
        let nodes = futures::future::join_all(starts).await;
        let mut expected = addrs.clone();
        expected.sort();
        wait_until(&format!("one cluster of 3 (round {round})"), || {
            nodes.iter().all(|n| view_addrs(n) == expected)
        })
        .await;
        for n in &nodes {
            let view = n.view().borrow().clone();
            assert!(view.contains(&n.local()), "the view includes self");
            assert_eq!(n.stats().dropped, 0, "nothing refused among equals");
        }
        for n in &nodes {
            n.kill().await;
        }
    }
}

#[tokio::test]
async fn nodes_of_another_cluster_or_secret_are_refused() {
    // Two seeds, one with a secret and one without; each odd node lists one of them as its peer.
    let (seed_socket, _) = bind();
    let seed = start(seed_socket, settings(&[], Some("s3cret"))).await;
    let (open_socket, open_seed) = bind();
    let open_seed_node = start(open_socket, settings(&[], None)).await;
    let seed_addr = seed.gossip_addr();
    assert_eq!(open_seed, open_seed_node.gossip_addr());

    let mut variants: Vec<(&str, MembershipSettings, &str, &str)> = Vec::new();
    let mut s = settings(&[seed_addr], Some("s3cret"));
    s.tag.dmap_name = "orders".to_owned();
    variants.push((
        "dmap_name",
        s,
        r#"dmap_name is "orders" there, "cc-relay" here"#,
        r#"dmap_name is "cc-relay" there, "orders" here"#,
    ));
    let mut s = settings(&[seed_addr], Some("s3cret"));
    s.tag.partition_count = 13;
    variants.push((
        "partition_count",
        s,
        "partition_count is 13 there, 271 here",
        "partition_count is 271 there, 13 here",
    ));
    let mut s = settings(&[seed_addr], Some("s3cret"));
    s.tag.environment = 1;
    variants.push((
        "environment",
        s,
        r#"environment is "lan" there, "local" here"#,
        r#"environment is "local" there, "lan" here"#,
    ));
    variants.push((
        "wrong secret",
        settings(&[seed_addr], Some("other")),
        "secret does not match",
        "secret does not match",
    ));
    variants.push((
        "missing secret",
        settings(&[seed_addr], None),
        "secret missing there",
        "secret set there, none here",
    ));
    variants.push((
        "unexpected secret",
        settings(&[open_seed], Some("s3cret")),
        "secret set there, none here",
        "secret missing there",
    ));

    let mut nodes = Vec::new();
    for (name, s, here, there) in variants {
        let (socket, _) = bind();
        nodes.push((name, start(socket, s).await, here, there));
    }
    for (name, node, _, there) in &nodes {
        wait_until(&format!("{name}: the refusal"), || {
            let stats = node.stats();
            assert_eq!(view_addrs(node).len(), 1, "{name}: never joins");
            assert_eq!(seed.view().borrow().len(), 1, "{name}: never admitted");
            assert_eq!(open_seed_node.view().borrow().len(), 1);
            stats.refusals_received >= 1
        })
        .await;
        assert_eq!(
            node.stats().last_refusal_received.as_deref(),
            Some(*there),
            "{name}: the refused node reads the mismatch from its side"
        );
    }
    let seed_stats = seed.stats();
    let open_stats = open_seed_node.stats();
    assert!(seed_stats.dropped >= 5, "{seed_stats:?}");
    assert!(seed_stats.refusals_sent >= 5, "{seed_stats:?}");
    assert!(open_stats.dropped >= 1 && open_stats.refusals_sent >= 1);
    assert_eq!(
        open_stats.last_drop_reason.as_deref(),
        Some("secret set there, none here")
    );
    // Every refusal is answered at most once per 5 s per sender, and refusals are never answered back.
    for (name, node, _, _) in &nodes {
        let stats = node.stats();
        assert!(
            stats.refusals_received <= 2,
            "{name}: rate-limited: {stats:?}"
        );
        assert_eq!(
            stats.refusals_sent, 0,
            "{name}: a refusal is never answered"
        );
    }
    for (_, node, _, _) in &nodes {
        node.kill().await;
    }
    // The seed's last drop reason is one of the texts from its side.
    let here_texts: Vec<&str> = nodes.iter().map(|(_, _, here, _)| *here).collect();
    let last = seed_stats.last_drop_reason.unwrap_or_default();
    assert!(here_texts.contains(&last.as_str()), "{last}");
    seed.kill().await;
    open_seed_node.kill().await;
}

#[tokio::test]
async fn leave_is_left_kill_is_failed_and_a_restart_joins_again() {
    let sockets: Vec<_> = (0..3).map(|_| bind()).collect();
    let addrs: Vec<SocketAddr> = sockets.iter().map(|(_, a)| *a).collect();
    let mut nodes = Vec::new();
    for (i, (socket, _)) in sockets.into_iter().enumerate() {
        let peers: Vec<SocketAddr> = addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| *a)
            .collect();
        nodes.push(start(socket, settings(&peers, Some("k"))).await);
    }
    let [a, b, c] = [&nodes[0], &nodes[1], &nodes[2]];
    let mut a_events = a.events();
    let mut b_events = b.events();
    wait_until("one cluster of 3", || {
        nodes.iter().all(|n| n.view().borrow().len() == 3)
    })
    .await;

    // A graceful leave is a leave everywhere.
    let c_id = c.local();
    let started = Instant::now();
    c.leave().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "leave is bounded"
    );
    c.leave().await; // idempotent
    for events in [&mut a_events, &mut b_events] {
        let event = wait_event(events, "C's departure", |e| match e {
            MemberEvent::Left(id) | MemberEvent::Failed(id) => *id == c_id,
            MemberEvent::Joined(_) => false,
        })
        .await;
        assert_eq!(event, MemberEvent::Left(c_id));
    }
    wait_until("C out of the views", || {
        a.view().borrow().len() == 2 && b.view().borrow().len() == 2
    })
    .await;
    assert!(a.stats().leave_notices_received >= 1);

    // A crash is a failure, detected after about the suspicion timeout.
    let b_id = b.local();
    let killed = Instant::now();
    b.kill().await;
    b.kill().await; // idempotent
    let event = wait_event(&mut a_events, "B's failure", |e| match e {
        MemberEvent::Left(id) | MemberEvent::Failed(id) => *id == b_id,
        MemberEvent::Joined(_) => false,
    })
    .await;
    assert_eq!(event, MemberEvent::Failed(b_id));
    let detected = killed.elapsed();
    assert!(
        detected >= Timings::local().suspect_timeout / 2,
        "failure detected too early: {detected:?}"
    );
    assert_eq!(view_addrs(a), vec![a.gossip_addr()]);

    // B restarts on the same address under a newer generation and is a member again at once.
    let mut s = settings(&[a.gossip_addr()], Some("k"));
    s.bind = b_id.addr;
    let b2 = Membership::start(s)
        .await
        .expect("restarts on the same port");
    assert!(b2.local().generation > b_id.generation);
    let restarted = Instant::now();
    let event = wait_event(
        &mut a_events,
        "B's return",
        |e| matches!(e, MemberEvent::Joined(id) if id.addr == b_id.addr),
    )
    .await;
    assert_eq!(event, MemberEvent::Joined(b2.local()));
    assert!(
        restarted.elapsed() < Duration::from_secs(3),
        "rejoin took {:?}",
        restarted.elapsed()
    );
    wait_until("A and B2 together", || {
        a.view().borrow().as_slice() == [a.local(), b2.local()].as_slice()
            || a.view().borrow().as_slice() == [b2.local(), a.local()].as_slice()
    })
    .await;
    wait_until("B2 sees A", || b2.view().borrow().len() == 2).await;
    b2.kill().await;
    a.kill().await;
}

#[tokio::test]
async fn a_restart_before_detection_replaces_the_old_generation() {
    let (a_socket, a_addr) = bind();
    let (b_socket, b_addr) = bind();
    let a = start(a_socket, settings(&[b_addr], None)).await;
    let b = start(b_socket, settings(&[a_addr], None)).await;
    wait_until("A and B together", || {
        a.view().borrow().len() == 2 && b.view().borrow().len() == 2
    })
    .await;
    let mut a_events = a.events();
    let b_old = b.local();
    b.kill().await;
    let mut s = settings(&[a_addr], None);
    s.bind = b_addr;
    let b_new = Membership::start(s)
        .await
        .expect("restarts on the same port");
    assert!(b_new.local().generation > b_old.generation);
    let restarted = Instant::now();
    // The new generation replaces the old one at once: the old incarnation's data is gone.
    let first = wait_event(&mut a_events, "the old generation's end", |_| true).await;
    assert_eq!(first, MemberEvent::Failed(b_old));
    let second = wait_event(&mut a_events, "the new generation", |_| true).await;
    assert_eq!(second, MemberEvent::Joined(b_new.local()));
    assert!(
        restarted.elapsed() < Timings::local().suspect_timeout,
        "replaced before the old one could be suspected: {:?}",
        restarted.elapsed()
    );
    assert_eq!(
        a.view()
            .borrow()
            .iter()
            .filter(|id| id.addr == b_addr)
            .count(),
        1,
        "one identity per address"
    );
    b_new.kill().await;
    a.kill().await;
}

#[tokio::test]
async fn a_peer_on_the_rpc_port_gets_a_wrong_port_notice() {
    let (socket, _) = bind();
    let mut s = settings(&[], None);
    s.wrong_port_bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let target = start(socket, s).await;
    let rpc_port = target.wrong_port_addr().expect("wrong-port socket bound");
    let (socket, _) = bind();
    let lost = start(socket, settings(&[rpc_port], None)).await;
    wait_until("the wrong-port notice", || {
        lost.stats().wrong_port_notices_received >= 1
    })
    .await;
    assert!(target.stats().wrong_port_notices_sent >= 1);
    assert_eq!(view_addrs(&lost), vec![lost.gossip_addr()]);
    assert_eq!(target.stats().dropped, 0);
    lost.kill().await;
    target.kill().await;
}

#[tokio::test]
async fn start_fails_on_a_taken_port_and_drop_stops_the_tasks() {
    let (socket, addr) = bind();
    let mut s = settings(&[], None);
    s.bind = addr;
    let err = Membership::start(s.clone()).await.expect_err("port taken");
    assert!(matches!(err, ClusterError::Start(_)), "{err}");
    drop(socket);
    let node = Membership::start(s.clone()).await.expect("port free again");
    assert_eq!(node.gossip_addr(), addr);
    assert_eq!(
        node.local().rpc_addr().port(),
        addr.port().saturating_sub(2)
    );
    drop(node);
    // The aborted driver releases the socket soon after.
    wait_until("the port to be released", || {
        std::net::UdpSocket::bind(addr).is_ok()
    })
    .await;
}

#[tokio::test]
async fn unspecified_bind_advertises_a_routable_address() {
    let (_peer_socket, peer) = bind();
    let mut s = settings(&[peer], None);
    s.bind = SocketAddr::from(([0, 0, 0, 0], 0));
    let node = Membership::start(s).await.expect("starts");
    let local = node.local();
    assert_eq!(local.addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_eq!(local.addr.port(), node.gossip_addr().port());
    node.kill().await;
}
