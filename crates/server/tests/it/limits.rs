//! Max clients, timeouts, the output buffer cap, and slow clients not hurting others.

use std::time::{Duration, Instant};

use relaycache_resp::Frame;

use crate::support::{call, client, http_get, start, wait_until};

#[tokio::test]
async fn max_clients_refuses_extra_connections() {
    let server = start("  max_clients: 2\n").await;
    let mut a = client(&server).await;
    let mut b = client(&server).await;
    assert_eq!(call(&mut a, &["PING"]).await, Frame::simple("PONG"));
    assert_eq!(call(&mut b, &["PING"]).await, Frame::simple("PONG"));
    let mut c = client(&server).await;
    assert_eq!(
        c.read_reply().await.unwrap(),
        Frame::error("ERR max number of clients reached")
    );
    c.wait_closed().await.unwrap();
    drop(a);
    // Once a slot frees, a new client is served (the server notices the close asynchronously).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut d = client(&server).await;
        match d.call(&["PING"]).await {
            Ok(Frame::Simple(_)) => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("never served again: {other:?}"),
        }
    }
}

#[tokio::test]
async fn idle_clients_are_closed_active_ones_are_not() {
    let server = start("  idle_timeout: 1s\n").await;
    let mut idle = client(&server).await;
    let mut active = client(&server).await;
    let start = Instant::now();
    assert_eq!(call(&mut idle, &["PING"]).await, Frame::simple("PONG"));
    // The active client talks every 100 ms for twice the idle timeout.
    while start.elapsed() < Duration::from_secs(2) {
        assert_eq!(call(&mut active, &["PING"]).await, Frame::simple("PONG"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    idle.wait_closed()
        .await
        .expect("the idle client was closed");
    assert_eq!(call(&mut active, &["PING"]).await, Frame::simple("PONG"));
}

#[tokio::test]
async fn a_half_sent_command_times_out() {
    let server = start("  limits:\n    partial_command_timeout: 200ms\n").await;
    let mut slow = client(&server).await;
    slow.send_raw(b"*2\r\n$3\r\nGET\r\n$1").await.unwrap();
    let mut other = client(&server).await;
    assert_eq!(
        call(&mut other, &["PING"]).await,
        Frame::simple("PONG"),
        "others are not blocked"
    );
    slow.wait_closed()
        .await
        .expect("closed after the partial-command timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_cut_off_and_hurts_nobody() {
    let server = start("  limits:\n    max_output_buffer: 1MiB\n").await;
    let admin = server.admin_addr().expect("admin enabled");
    let mut setup = client(&server).await;
    let big = "x".repeat(600 << 10);
    assert_eq!(call(&mut setup, &["SET", "big", &big]).await, Frame::ok());
    // The slow client asks for ~60 MB of replies and reads none of them.
    let mut slow = client(&server).await;
    let mut pipeline = Vec::new();
    for _ in 0..100 {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    slow.send_raw(&pipeline).await.unwrap();
    // Meanwhile another client is served promptly.
    let mut fast = client(&server).await;
    let start = Instant::now();
    for i in 0..500 {
        let key = format!("k{i}");
        assert_eq!(call(&mut fast, &["SET", &key, "v"]).await, Frame::ok());
        assert_eq!(call(&mut fast, &["GET", &key]).await, Frame::bulk("v"));
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "served slowly: {:?}",
        start.elapsed()
    );
    let cut = wait_until(Duration::from_secs(10), || {
        let (_, metrics) = tokio::task::block_in_place(|| http_get(admin, "/metrics"));
        metrics.contains("relaycache_connections_closed_total{reason=\"output_buffer_limit\"} 1")
    })
    .await;
    assert!(cut, "the non-reading client was disconnected");
    slow.wait_closed().await.expect("its connection is closed");
}
