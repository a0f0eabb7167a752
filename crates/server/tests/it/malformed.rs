//! Malformed and hostile input: an error reply, a closed connection, other clients still served,
//! memory bounded.

use std::time::Duration;

use relaycache_resp::Frame;
use relaycache_server::ServerHandle;

use crate::support::{call, client, rss, start};

/// Sends `bytes` on a fresh connection; expects `error` as the reply and the connection closed; then
/// checks another client is still served.
async fn refused(server: &ServerHandle, bytes: &[u8], error: &str) {
    let mut c = client(server).await;
    c.send_raw(bytes).await.expect("sends");
    assert_eq!(
        c.read_reply().await.expect("an error reply"),
        Frame::error(error),
        "for {:?}",
        &bytes[..bytes.len().min(40)]
    );
    c.wait_closed()
        .await
        .expect("the server closes the connection");
    let mut other = client(server).await;
    assert_eq!(call(&mut other, &["PING"]).await, Frame::simple("PONG"));
}

#[tokio::test]
async fn garbage_and_bad_headers_close_the_connection() {
    let server = start("").await;
    refused(
        &server,
        b"*abc\r\n",
        "ERR Protocol error: invalid multibulk length",
    )
    .await;
    refused(
        &server,
        b"*1\r\n$-1\r\n",
        "ERR Protocol error: invalid bulk length",
    )
    .await;
    refused(
        &server,
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        "ERR Protocol error: expected '$', got ':'",
    )
    .await;
    refused(
        &server,
        b"*1\r\n$3\r\nabcde\r\n",
        "ERR Protocol error: expected CRLF after bulk data",
    )
    .await;
    refused(
        &server,
        b"SET \"unterminated\n",
        "ERR Protocol error: unbalanced quotes in request",
    )
    .await;
    // Binary noise without a newline grows into a too-long inline request.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..(70 << 10))
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let b = (seed >> 33) as u8;
            if b == b'\n' || b == b'*' { b'x' } else { b }
        })
        .collect();
    refused(
        &server,
        &noise,
        "ERR Protocol error: too big inline request",
    )
    .await;
}

#[tokio::test]
async fn negative_multibulk_counts_are_skipped_like_redis() {
    let server = start("").await;
    let mut c = client(&server).await;
    c.send_raw(b"*-1\r\n*0\r\n*-5\r\n*1\r\n$4\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(c.read_reply().await.unwrap(), Frame::simple("PONG"));
}

#[tokio::test]
async fn a_2gb_bulk_header_is_refused_without_allocating() {
    let server = start("").await;
    let before = rss();
    refused(
        &server,
        b"*2\r\n$3\r\nGET\r\n$2147483648\r\n",
        "ERR Protocol error: invalid bulk length",
    )
    .await;
    assert!(
        rss() < before + (64 << 20),
        "memory grew: {} -> {}",
        before,
        rss()
    );
}

#[tokio::test]
async fn a_large_bulk_that_never_arrives_costs_nothing_and_times_out() {
    let server = start("  limits:\n    partial_command_timeout: 300ms\n").await;
    let before = rss();
    let mut c = client(&server).await;
    // 500 MB is within max_bulk_len: accepted as a header, but nothing is reserved for it.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\nabc")
        .await
        .unwrap();
    c.wait_closed()
        .await
        .expect("closed by the partial-command timeout");
    assert!(
        rss() < before + (64 << 20),
        "memory grew: {} -> {}",
        before,
        rss()
    );
    let mut other = client(&server).await;
    assert_eq!(call(&mut other, &["PING"]).await, Frame::simple("PONG"));
}

#[tokio::test]
async fn hundred_thousand_nested_arrays_are_refused() {
    let server = start("").await;
    let deep = b"*1\r\n".repeat(100_000);
    refused(&server, &deep, "ERR Protocol error: expected '$', got '*'").await;
}

#[tokio::test]
async fn a_million_tiny_arguments() {
    let server = start("").await;
    let before = rss();
    // One more than max_args (1,048,576): refused at the header.
    refused(
        &server,
        b"*1048577\r\n$6\r\nEXISTS\r\n",
        "ERR Protocol error: invalid multibulk length",
    )
    .await;
    // A million arguments within the limit: served, in bounded memory.
    let n = 1_000_000;
    let mut bytes = format!("*{}\r\n$6\r\nEXISTS\r\n", n + 1).into_bytes();
    bytes.extend(b"$1\r\na\r\n".repeat(n));
    let mut c = client(&server).await;
    c.send_raw(&bytes).await.unwrap();
    assert_eq!(c.read_reply().await.unwrap(), Frame::Integer(0));
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 256 << 20,
        "memory grew by {grown} bytes for 7 MB of input"
    );
    drop(bytes);
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Every command with arguments at the edges (negative and extreme numbers, option words in odd places,
/// huge ranges) gets a reply, and the connection and server survive: no input panics a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_edge_arguments() {
    let server = start("").await;
    let mut c = client(&server).await;
    let arguments: [&[&str]; 10] = [
        &[],
        &["k"],
        &["k", "0"],
        &["k", "-1", "9223372036854775807"],
        &[
            "k",
            "1",
            "-9223372036854775808",
            "9223372036854775807",
            "bit",
        ],
        &["k", "k2", "idx", "minmatchlen", "-1", "withmatchlen"],
        &["k", "9223372036854775807", "x", "replace", "absttl"],
        &["encoding", "k"],
        &["usage", "k", "samples", "0"],
        &["n", "4294967295", "x", "y", "z", "w"],
    ];
    // QUIT closes and MULTI would queue the rest: both are covered elsewhere.
    let names = relaycache_resp::cmd::COMMANDS
        .iter()
        .map(|s| s.name)
        .filter(|n| !matches!(*n, "quit" | "multi" | "hello" | "auth" | "reset"));
    for name in names {
        for args in arguments {
            // Values to read (FLUSHALL, DEL, RESTORE ... may have changed them).
            call(&mut c, &["MSET", "k", "foobar", "k2", "fobar", "n", "123"]).await;
            let mut words = vec![name];
            words.extend_from_slice(args);
            let reply = c.call(&words).await;
            assert!(reply.is_ok(), "{words:?}: {reply:?}");
        }
    }
    assert_eq!(call(&mut c, &["PING"]).await, Frame::simple("PONG"));
}
