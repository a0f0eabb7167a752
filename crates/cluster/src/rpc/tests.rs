//! End-to-end tests of the RPC over loopback TCP (port 0 only; every wait bounded).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use relaycache_resp::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::codec::MAX_ITEMS;
use super::io::{FrameReader, handshake_limits};
use super::*;
use crate::auth::{AuthKey, RPC_LABEL};
use crate::error::{ClusterError, QuorumKind};
use crate::version::Version;

const SERVER_FP: u64 = 0xfeed_beef;

fn tag(dmap_name: &str, partition_count: u32) -> ClusterTag {
    ClusterTag {
        dmap_name: dmap_name.to_owned(),
        partition_count,
        environment: 0,
    }
}

fn settings(secret: Option<&str>, timeout: Duration) -> RpcSettings {
    RpcSettings::new(
        tag("cc-relay", 271),
        secret.map(|s| AuthKey::derive(s, RPC_LABEL)),
        timeout,
    )
}

fn entry(key: &str, value: Option<&str>, hlc: u64) -> Entry {
    Entry {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        version: Version { hlc, node: 7 },
        expires_at: hlc / 2,
    }
}

/// One of every response variant (a `Fetch` of `["respond", n]` gets number `n`).
fn sample_responses() -> Vec<Response> {
    vec![
        Response::Ok,
        Response::Entry(None),
        Response::Entry(Some(entry("k", Some("v\r\n\0binary"), 1 << 40))),
        Response::Entries(vec![entry("a", Some(""), 1), entry("b", None, u64::MAX)]),
        Response::Count(u64::MAX),
        Response::Table(TableInfo {
            members: vec![
                MemberInfo {
                    gossip_addr: "127.0.0.1:3322".into(),
                    generation: 17,
                },
                MemberInfo {
                    gossip_addr: "[::1]:3322".into(),
                    generation: 0,
                },
            ],
            partition_count: 271,
            replica_count: 2,
            epoch: 99,
        }),
        Response::Stats(NodeStats {
            hits: 1,
            misses: 2,
            keys: 3,
            bytes: 4,
            evictions: 5,
            expirations: 6,
            rejections: 7,
            max_cost: 8,
        }),
        Response::Scan {
            cursor: 12,
            keys: vec![Bytes::from_static(b"x"), Bytes::new()],
        },
        Response::Page {
            cursor: 0,
            entries: vec![entry("p", Some("q"), 3)],
        },
        Response::Error(RemoteError::Quorum {
            kind: QuorumKind::MemberCount,
            needed: 2,
            reached: 1,
        }),
        Response::Error(RemoteError::Closed),
        Response::Error(RemoteError::Other("boom ✓".into())),
    ]
}

fn sample_requests() -> Vec<Request> {
    let key = Bytes::from_static(b"key \r\n\0");
    vec![
        Request::Op {
            hops: 0,
            op: Op::Get { key: key.clone() },
        },
        Request::Op {
            hops: 2,
            op: Op::Meta { key: key.clone() },
        },
        Request::Op {
            hops: 1,
            op: Op::Set {
                key: key.clone(),
                value: Bytes::from(vec![0u8; 100_000]),
                expires_at: 1_700_000_000_000,
            },
        },
        Request::Op {
            hops: 255,
            op: Op::Delete { key: Bytes::new() },
        },
        Request::Op {
            hops: 0,
            op: Op::Expire { key, expires_at: 0 },
        },
        Request::Apply {
            entries: vec![entry("a", Some("1"), 5), entry("b", None, 6)],
        },
        Request::Apply { entries: vec![] },
        Request::Fetch {
            keys: vec![Bytes::from_static(b"a"), Bytes::new()],
        },
        Request::Pull {
            partitions: vec![0, 270, u32::MAX],
            cursor: 5,
            count: 512,
        },
        Request::Table,
        Request::Stats,
        Request::Scan {
            cursor: u64::MAX,
            prefix: Bytes::from_static(b"p:"),
            count: 100,
        },
        Request::Clock,
        Request::Purge {
            prefix: Bytes::new(),
            version: crate::version::Version { hlc: 7, node: 3 },
        },
        Request::Leaving,
    ]
}

#[derive(Default)]
struct TestHandler {
    /// While set, calls never answer.
    stall: AtomicBool,
    peers: parking_lot::Mutex<Vec<SocketAddr>>,
}

impl Handler for TestHandler {
    fn fingerprint(&self) -> u64 {
        SERVER_FP
    }

    async fn handle(&self, ctx: CallContext, req: Request) -> Response {
        if self.stall.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.peers.lock().push(ctx.peer);
        match &req {
            Request::Fetch { keys } if keys.len() == 2 && &keys[0][..] == b"respond" => {
                let n: usize = std::str::from_utf8(&keys[1]).unwrap().parse().unwrap();
                sample_responses().swap_remove(n)
            }
            Request::Op {
                op: Op::Get { key },
                ..
            } if key.starts_with(b"key-") => {
                // Answer after a little while, so that answers come back out of order.
                if key.len() % 3 == 0 {
                    tokio::task::yield_now().await;
                }
                let mut value = b"v:".to_vec();
                value.extend_from_slice(key);
                Response::Entry(Some(Entry {
                    key: key.clone(),
                    value: Some(Bytes::from(value)),
                    version: Version::ZERO,
                    expires_at: 0,
                }))
            }
            Request::Scan { count, .. } if *count == u32::MAX => Response::Scan {
                cursor: 0,
                keys: vec![Bytes::new(); MAX_ITEMS + 1],
            },
            _ => Response::Error(RemoteError::Other(format!("{} {req:?}", ctx.fingerprint))),
        }
    }
}

async fn server_with(settings: RpcSettings) -> (RpcServer, Arc<TestHandler>) {
    let handler = Arc::new(TestHandler::default());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = RpcServer::bind(addr, settings, Arc::clone(&handler))
        .await
        .unwrap();
    (server, handler)
}

/// Bounds a test step.
async fn bounded<F: std::future::Future>(what: &str, secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {secs} s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_and_response_round_trips() {
    let (server, _handler) = server_with(settings(None, Duration::from_secs(5))).await;
    let client = RpcClient::new(settings(None, Duration::from_secs(5)));
    let peer = server.local_addr();
    bounded("round trips", 10, async {
        for req in sample_requests() {
            let (resp, fp) = client.call(peer, 42, req.clone()).await.unwrap();
            assert_eq!(fp, SERVER_FP);
            assert_eq!(
                resp,
                Response::Error(RemoteError::Other(format!("42 {req:?}"))),
                "the server decoded the request sent"
            );
        }
        for (n, expected) in sample_responses().into_iter().enumerate() {
            let req = Request::Fetch {
                keys: vec![Bytes::from_static(b"respond"), Bytes::from(n.to_string())],
            };
            let (resp, _) = client.call(peer, 0, req).await.unwrap();
            assert_eq!(resp, expected);
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_calls_on_one_pool() {
    let (server, handler) = server_with(settings(None, Duration::from_secs(10))).await;
    let client = RpcClient::new(settings(None, Duration::from_secs(10)));
    let peer = server.local_addr();
    let started = Instant::now();
    let calls = (0..2000).map(|i| {
        let client = client.clone();
        async move {
            let key = Bytes::from(format!("key-{i}-{}", "x".repeat(i % 7)));
            let req = Request::Op {
                hops: 0,
                op: Op::Get { key: key.clone() },
            };
            let (resp, fp) = client.call(peer, i as u64, req).await.unwrap();
            assert_eq!(fp, SERVER_FP);
            let Response::Entry(Some(entry)) = resp else {
                panic!("unexpected {resp:?}")
            };
            assert_eq!(entry.key, key, "answers matched to their calls");
            assert_eq!(&entry.value.unwrap()[2..], &key[..]);
        }
    });
    bounded("2000 calls", 20, futures::future::join_all(calls)).await;
    let elapsed = started.elapsed();
    let connections: std::collections::HashSet<_> = handler.peers.lock().iter().copied().collect();
    // Calls prefer a slot that is already connected, so a fast first connection may carry them all;
    // never more than `connections_per_peer` (2) are opened.
    assert!(
        (1..=2).contains(&connections.len()),
        "{} connections for connections_per_peer 2",
        connections.len()
    );
    eprintln!("2000 concurrent calls in {elapsed:?}");
    server.shutdown().await;
}

async fn refusal(server: RpcSettings, client: RpcSettings) -> String {
    let (server, _handler) = server_with(server).await;
    let client = RpcClient::new(client);
    let result = bounded(
        "refused handshake",
        5,
        client.call(server.local_addr(), 0, Request::Stats),
    )
    .await;
    server.shutdown().await;
    match result {
        Err(ClusterError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_checks_tag_and_secret() {
    let t = Duration::from_secs(2);
    // The same secret on both sides works.
    let (server, _handler) = server_with(settings(Some("s3cret"), t)).await;
    let client = RpcClient::new(settings(Some("s3cret"), t));
    let (resp, _) = bounded(
        "authenticated call",
        5,
        client.call(server.local_addr(), 0, Request::Stats),
    )
    .await
    .unwrap();
    assert!(matches!(resp, Response::Error(RemoteError::Other(_))));
    server.shutdown().await;

    let reason = refusal(settings(Some("a"), t), settings(Some("b"), t)).await;
    assert_eq!(reason, "secret does not match");
    let reason = refusal(settings(Some("a"), t), settings(None, t)).await;
    assert!(reason.contains("secret required"), "{reason}");
    assert!(reason.contains("none is set here"), "{reason}");
    let reason = refusal(settings(None, t), settings(Some("a"), t)).await;
    assert!(reason.contains("secret missing"), "{reason}");
    assert!(reason.contains("the peer has no secret"), "{reason}");

    let mut other = settings(None, t);
    other.tag = tag("other", 271);
    let reason = refusal(settings(None, t), other).await;
    assert_eq!(reason, r#"dmap_name is "cc-relay" there, "other" here"#);
    let mut other = settings(Some("x"), t);
    other.tag = tag("cc-relay", 13);
    let reason = refusal(settings(Some("x"), t), other).await;
    assert_eq!(reason, "partition_count is 271 there, 13 here");
}

#[tokio::test]
async fn black_holed_listener_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = listener.local_addr().unwrap();
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let timeout = Duration::from_millis(300);
    let client = RpcClient::new(settings(None, timeout));
    for _ in 0..2 {
        let started = Instant::now();
        let result = client.call(peer, 0, Request::Table).await;
        let elapsed = started.elapsed();
        match result {
            Err(ClusterError::Timeout { op, after, .. }) => {
                assert_eq!(op, "table");
                assert_eq!(after, timeout);
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(elapsed >= timeout, "{elapsed:?}");
        assert!(
            elapsed < timeout + Duration::from_millis(250),
            "{elapsed:?}"
        );
    }
    hole.abort();
}

#[tokio::test]
async fn stalled_peer_times_out_then_heals_on_a_new_connection() {
    let timeout = Duration::from_millis(300);
    let (server, handler) = server_with(settings(None, timeout)).await;
    let mut s = settings(None, timeout);
    s.connections_per_peer = 1;
    let client = RpcClient::new(s);
    let peer = server.local_addr();

    bounded("first call", 5, client.call(peer, 0, Request::Stats))
        .await
        .unwrap();
    let first_conn = handler.peers.lock()[0];

    handler.stall.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let result = client.call(peer, 0, Request::Stats).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(ClusterError::Timeout { op: "stats", .. })),
        "{result:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_millis(250),
        "{elapsed:?}"
    );

    handler.stall.store(false, Ordering::SeqCst);
    let started = Instant::now();
    bounded("healed call", 5, client.call(peer, 0, Request::Stats))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let second_conn = *handler.peers.lock().last().unwrap();
    assert_ne!(
        first_conn, second_conn,
        "the connection of the timed-out call was discarded"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn refused_port_fails_fast_as_not_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = listener.local_addr().unwrap();
    drop(listener);
    let client = RpcClient::new(settings(None, Duration::from_secs(5)));
    let started = Instant::now();
    let result = client.call(peer, 0, Request::Table).await;
    assert!(
        matches!(result, Err(ClusterError::Connection { not_sent: true, .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    bounded("reading to the end", 5, stream.read_to_end(&mut answer))
        .await
        .unwrap();
    answer
}

#[tokio::test]
async fn plain_resp_clients_get_a_readable_error() {
    let (server, _handler) = server_with(settings(None, Duration::from_secs(2))).await;
    let expected = format!("-{}\r\n", handshake::NOT_CLUSTER);
    for input in [
        &b"*1\r\n$4\r\nPING\r\n"[..],
        b"PING\r\n",
        b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n",
    ] {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream.write_all(input).await.unwrap();
        let answer = read_to_end(&mut stream).await;
        assert_eq!(String::from_utf8_lossy(&answer), expected, "for {input:?}");
    }
    server.shutdown().await;
}

/// A raw connection that has done the handshake.
async fn raw_connection(
    peer: SocketAddr,
) -> (
    FrameReader<tokio::net::tcp::OwnedReadHalf>,
    tokio::net::tcp::OwnedWriteHalf,
) {
    let stream = TcpStream::connect(peer).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut reader = FrameReader::new(r, handshake_limits());
    let s = settings(None, Duration::from_secs(2));
    handshake::client(&mut reader, &mut w, &s, peer)
        .await
        .unwrap();
    reader.set_limits(codec::frame_limits());
    (reader, w)
}

#[tokio::test]
async fn malformed_requests_are_answered_and_garbage_closes() {
    let (server, _handler) = server_with(settings(None, Duration::from_secs(2))).await;
    let peer = server.local_addr();

    // A readable id: an error answer, and the connection goes on.
    let (mut reader, mut w) = raw_connection(peer).await;
    w.write_all(b"*3\r\n$1\r\n7\r\n$4\r\nNOPE\r\n$1\r\n0\r\n")
        .await
        .unwrap();
    let mut out = BytesMut::new();
    encode_request(8, 0, &Request::Leaving, &mut out);
    w.write_all(&out).await.unwrap();
    for id in [7, 8] {
        let frame = bounded("answer", 5, reader.next()).await.unwrap().unwrap();
        let (got, fp, resp) = decode_response(frame).unwrap();
        assert_eq!((got, fp), (id, SERVER_FP));
        let Response::Error(RemoteError::Other(text)) = resp else {
            panic!("{resp:?}")
        };
        if id == 7 {
            assert!(text.starts_with("bad request: unknown verb"), "{text}");
        }
    }

    // Garbage: the connection is closed.
    w.write_all(b"?garbage\r\n").await.unwrap();
    let end = bounded("close", 5, reader.next()).await;
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    let mut raw = TcpStream::connect(peer).await.unwrap();
    raw.write_all(&[0xff; 64]).await.unwrap();
    let _ = read_to_end(&mut raw).await;

    // The server still serves.
    let client = RpcClient::new(settings(None, Duration::from_secs(2)));
    bounded("call", 5, client.call(peer, 0, Request::Leaving))
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn limits_are_checked_on_both_sides() {
    let (server, _handler) = server_with(settings(None, Duration::from_secs(5))).await;
    let client = RpcClient::new(settings(None, Duration::from_secs(5)));
    let peer = server.local_addr();
    let too_many = Request::Fetch {
        keys: vec![Bytes::new(); MAX_ITEMS + 1],
    };
    assert!(matches!(
        client.call(peer, 0, too_many).await,
        Err(ClusterError::InvalidArgument(_))
    ));
    let req = Request::Scan {
        cursor: 0,
        prefix: Bytes::new(),
        count: u32::MAX,
    };
    let (resp, _) = bounded("oversized answer", 5, client.call(peer, 0, req))
        .await
        .unwrap();
    let Response::Error(RemoteError::Other(text)) = resp else {
        panic!("{resp:?}")
    };
    assert!(text.contains("response too large"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn close_and_shutdown() {
    let (server, handler) = server_with(settings(None, Duration::from_secs(5))).await;
    let peer = server.local_addr();
    let client = RpcClient::new(settings(None, Duration::from_secs(5)));
    client.call(peer, 0, Request::Stats).await.unwrap();

    // A call in progress when the server shuts down fails at once, as possibly sent.
    handler.stall.store(true, Ordering::SeqCst);
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.call(peer, 0, Request::Stats).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    bounded("shutdown", 5, server.shutdown()).await;
    bounded("shutdown again", 5, server.shutdown()).await;
    let result = bounded("the pending call", 2, pending).await.unwrap();
    assert!(
        matches!(
            result,
            Err(ClusterError::Connection {
                not_sent: false,
                ..
            })
        ),
        "{result:?}"
    );
    // The port is closed now.
    let result = bounded(
        "call after shutdown",
        5,
        client.call(peer, 0, Request::Stats),
    )
    .await;
    assert!(
        matches!(result, Err(ClusterError::Connection { not_sent: true, .. })),
        "{result:?}"
    );

    client.close();
    assert!(matches!(
        client.call(peer, 0, Request::Stats).await,
        Err(ClusterError::Closed)
    ));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn outgoing_connections_bind_local_ip() {
    let (server, handler) = server_with(settings(None, Duration::from_secs(2))).await;
    let mut s = settings(None, Duration::from_secs(2));
    let local: std::net::IpAddr = "127.0.0.3".parse().unwrap();
    s.local_ip = Some(local);
    let client = RpcClient::new(s);
    bounded(
        "call",
        5,
        client.call(server.local_addr(), 0, Request::Stats),
    )
    .await
    .unwrap();
    assert_eq!(handler.peers.lock()[0].ip(), local);
    server.shutdown().await;
}

#[tokio::test]
async fn client_close_fails_calls_in_progress() {
    let (server, handler) = server_with(settings(None, Duration::from_secs(5))).await;
    let peer = server.local_addr();
    let client = RpcClient::new(settings(None, Duration::from_secs(5)));
    handler.stall.store(true, Ordering::SeqCst);
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.call(peer, 0, Request::Stats).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.close();
    let result = bounded("the pending call", 2, pending).await.unwrap();
    assert!(matches!(result, Err(ClusterError::Closed)), "{result:?}");
    server.shutdown().await;
}

#[test]
fn settings_defaults() {
    let s = settings(None, Duration::from_secs(1));
    assert_eq!(s.connections_per_peer, 2);
    assert_eq!(s.max_connections, 1024);
    assert!(s.local_ip.is_none());
    let _ = Frame::ok();
}
