//! Graceful shutdown: SIGTERM to the real binary, and the handle of an in-process server.

use std::io::Read as _;
use std::process::Command;
use std::time::{Duration, Instant};

use relaycache_resp::Frame;
use relaycache_server::client::Client;

use crate::support::{call, client, spawn_binary, start};

#[tokio::test]
async fn sigterm_finishes_clients_and_exits_zero() {
    sigterm_exits_cleanly(&[]).await;
}

/// One worker thread is the current-thread scheduler: it serves and shuts down the same way.
#[tokio::test]
async fn sigterm_finishes_clients_and_exits_zero_on_one_thread() {
    sigterm_exits_cleanly(&["--threads", "1"]).await;
}

async fn sigterm_exits_cleanly(args: &[&str]) {
    let (mut server, addr) = spawn_binary(args, &[("RUST_LOG", "info")]);
    let mut c = Client::connect(&addr.to_string(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(call(&mut c, &["SET", "k", "v"]).await, Frame::ok());
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    // The connected client sees a clean close (EOF), not a reset.
    c.wait_closed().await.expect("closed cleanly");
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    let mut log = String::new();
    if let Some(mut stderr) = server.child.stderr.take() {
        stderr.read_to_string(&mut log).unwrap();
    }
    assert!(
        log.contains("SIGTERM received") && log.contains("shutdown complete"),
        "{log}"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn replies_already_due_are_delivered_before_closing() {
    let server = start("").await;
    let mut c = client(&server).await;
    for i in 0..200 {
        c.send(&["SET", &format!("k{i}"), "v"]).await.unwrap();
    }
    // Wait for the first reply so the pipeline is known to be in the server's hands.
    assert_eq!(c.read_reply().await.unwrap(), Frame::ok());
    let addr = server.addr();
    server.shutdown().await.expect("shuts down");
    let mut replies = 1;
    while let Ok(reply) = c.read_reply().await {
        assert_eq!(reply, Frame::ok());
        replies += 1;
    }
    assert_eq!(
        replies, 200,
        "every command received before shutdown got its reply"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
