//! Differential tests: the same raw RESP commands go to a real `redis-server` and to relaycache-server
//! (single mode), and the replies must be identical, byte for byte unless a case says otherwise (TTLs
//! within a second, key listings as sets, or a reply whose shape only is comparable). Where relaycache
//! differs from Redis by design, the case asserts our documented reply instead (see `docs/server.md`).
//!
//! Every test collects all its mismatches and fails once with the whole list, so one run shows every
//! difference.
//!
//! Families: `strings` (GET SET and its options, MGET MSET, INCR*, GETSET GETEX ...), `keys` (DEL EXISTS
//! KEYS SCAN DBSIZE FLUSHDB ...), `expire` (EXPIRE* TTL PERSIST), `connection` (PING ECHO SELECT CLIENT
//! HELLO, arity and unknown commands), `protocol` (RESP3, inline commands, pipelines, QUIT), `bits`
//! (GETBIT BITCOUNT BITPOS LCS), `object` (OBJECT MEMORY RANDOMKEY DUMP RESTORE), `info` (the
//! sections and fields of INFO), `transaction` (MULTI EXEC DISCARD WATCH UNWATCH), `admin` (MOVE SWAPDB
//! WAIT WAITAOF LASTSAVE SAVE BGSAVE ROLE READONLY READWRITE SLOWLOG LATENCY, CONFIG GET maxmemory).

mod admin;
mod bits;
mod connection;
mod expire;
mod info;
mod keys;
mod object;
mod protocol;
mod strings;
mod transaction;
mod update;

use std::fmt::Write as _;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use relaycache_resp::{Frame, FrameDecoder, Limits};
use relaycache_server::ServerHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ChildGuard, start};

/// How long one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `redis-server` may take to answer its first PING.
const REDIS_START: Duration = Duration::from_secs(10);

/// A `redis-server` on a free loopback port, without persistence, killed on drop.
pub(crate) struct RedisServer {
    _child: ChildGuard,
    _dir: tempfile::TempDir,
    pub(crate) addr: SocketAddr,
}

impl RedisServer {
    /// Starts one (a few ports are tried in case another process takes the one picked).
    pub(crate) fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Starts one with extra command-line settings (`--maxmemory-policy allkeys-lfu` ...).
    pub(crate) fn start_with(extra: &[&str]) -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let dir = tempfile::tempdir().expect("temp dir");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(extra)
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (scripts/test.sh installs it)");
            let mut child = ChildGuard { child };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + REDIS_START;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.child.try_wait() {
                    let mut log = String::new();
                    if let Some(mut out) = child.child.stdout.take() {
                        let _ = out.read_to_string(&mut log);
                    }
                    last = format!("exited with {status}: {log}");
                    break;
                }
                if answers_ping(addr) {
                    return RedisServer {
                        _child: child,
                        _dir: dir,
                        addr,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if last.is_empty() {
                last = format!("no PONG on {addr} within {REDIS_START:?}");
            }
        }
        panic!("could not start redis-server: {last}");
    }
}

fn answers_ping(addr: SocketAddr) -> bool {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// One raw RESP connection: writes bytes, reads replies as frames together with their exact bytes.
pub(crate) struct Peer {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Peer {
    async fn connect(addr: SocketAddr) -> Peer {
        Peer {
            stream: TcpStream::connect(addr).await.expect("connects"),
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(Limits::default()),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("writes");
    }

    /// The next reply and its bytes; `None` when the server closed the connection.
    async fn reply(&mut self) -> Option<(Frame, Vec<u8>)> {
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            let before = self.buf.clone();
            if let Some(frame) = self.decoder.decode(&mut self.buf).expect("valid reply") {
                let used = before.len() - self.buf.len();
                return Some((frame, before[..used].to_vec()));
            }
            // The decoder consumed a partial element; keep the raw bytes by re-decoding from scratch.
            self.buf = before;
            self.decoder = FrameDecoder::new(Limits::default());
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("reply within the timeout")
                .expect("reads");
            if read == 0 {
                return None;
            }
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits a command written as words (no quoting: use [`Pair::check_args`] for spaces or binary).
fn words(line: &str) -> Vec<&[u8]> {
    line.split_whitespace().map(str::as_bytes).collect()
}

/// How two replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// The same bytes.
    Exact,
    /// The same integer within this tolerance (TTL: 1, PTTL: 1000); anything else exactly.
    Near(i64),
    /// Arrays compared as multisets (nested `[cursor, keys]` of SCAN: keys as a set); else exactly.
    Unordered,
    /// The same frame kind and, for aggregates, the same length.
    Shape,
}

/// How to compare the reply to `line`: TTLs within a second (`TTL`, `EXPIRETIME`) or 1000 ms (`PTTL`,
/// `PEXPIRETIME`), since the two servers' clocks are read at slightly different times; anything else
/// exactly.
pub(crate) fn ttl_compare(line: &str) -> Compare {
    let name = line.split_whitespace().next().unwrap_or_default();
    match name.to_ascii_lowercase().as_str() {
        "ttl" | "expiretime" => Compare::Near(1),
        "pttl" | "pexpiretime" => Compare::Near(1000),
        _ => Compare::Exact,
    }
}

/// The two servers under test, a connection to each, and the mismatches found so far.
pub(crate) struct Pair {
    /// The real Redis (kept alive for the connections).
    redis_server: RedisServer,
    /// relaycache-server (kept alive for the connections).
    ours_server: ServerHandle,
    redis: Peer,
    ours: Peer,
    mismatches: Vec<String>,
    cases: usize,
}

impl Pair {
    /// Starts both servers and connects; both start empty.
    pub(crate) async fn start() -> Pair {
        Pair::start_with(&[]).await
    }

    /// Like [`Pair::start`], with extra settings for `redis-server`.
    pub(crate) async fn start_with(redis_args: &[&str]) -> Pair {
        let redis_server = RedisServer::start_with(redis_args);
        let ours_server = start("").await;
        let redis = Peer::connect(redis_server.addr).await;
        let ours = Peer::connect(ours_server.addr()).await;
        Pair {
            redis_server,
            ours_server,
            redis,
            ours,
            mismatches: Vec::new(),
            cases: 0,
        }
    }

    /// Replaces both connections with fresh ones (after `QUIT`, or for a new protocol version).
    pub(crate) async fn reconnect(&mut self) {
        self.redis = Peer::connect(self.redis_server.addr).await;
        self.ours = Peer::connect(self.ours_server.addr()).await;
    }

    /// Swaps both connections with fresh ones (to act as another client, then swap back).
    async fn swap_in_other_client(&mut self, other: &mut Option<(Peer, Peer)>) {
        let (mut redis, mut ours) = match other.take() {
            Some(peers) => peers,
            None => (
                Peer::connect(self.redis_server.addr).await,
                Peer::connect(self.ours_server.addr()).await,
            ),
        };
        std::mem::swap(&mut self.redis, &mut redis);
        std::mem::swap(&mut self.ours, &mut ours);
        *other = Some((redis, ours));
    }

    /// Sends `line` to both from a second, fresh connection to each (another client's command) and
    /// compares the replies exactly.
    pub(crate) async fn check_other_client(&mut self, line: &str) {
        let mut other = None;
        self.swap_in_other_client(&mut other).await;
        self.check(line).await;
        self.swap_in_other_client(&mut other).await;
    }

    /// Like [`Pair::both`], from a second, fresh connection to each.
    pub(crate) async fn other_client_both(
        &mut self,
        args: &[&[u8]],
    ) -> (Option<Frame>, Option<Frame>) {
        let mut other = None;
        self.swap_in_other_client(&mut other).await;
        let replies = self.both(args).await;
        self.swap_in_other_client(&mut other).await;
        replies
    }

    /// Sends `line` (split on whitespace) to both and compares the replies exactly.
    pub(crate) async fn check(&mut self, line: &str) {
        self.check_args(Compare::Exact, &words(line)).await;
    }

    /// Each line of `lines` (blank lines and `#` comments skipped), compared exactly.
    pub(crate) async fn check_all(&mut self, lines: &str) {
        for line in lines.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                self.check(line).await;
            }
        }
    }

    /// Sends `line` to both and compares with `how`.
    pub(crate) async fn check_with(&mut self, how: Compare, line: &str) {
        self.check_args(how, &words(line)).await;
    }

    /// Sends `args` as one command to both and compares with `how`.
    pub(crate) async fn check_args(&mut self, how: Compare, args: &[&[u8]]) {
        let label = label(args);
        self.check_raw(how, &label, &encode(args), 1).await;
    }

    /// Sends the same raw bytes to both (inline commands, pipelines), reads `replies` replies from each
    /// and compares them pairwise with `how`. A closed connection counts as a reply (`None`).
    pub(crate) async fn check_raw(
        &mut self,
        how: Compare,
        label: &str,
        bytes: &[u8],
        replies: usize,
    ) {
        self.redis.send(bytes).await;
        self.ours.send(bytes).await;
        for i in 0..replies {
            self.cases += 1;
            let redis = self.redis.reply().await;
            let ours = self.ours.reply().await;
            let same = match (&redis, &ours) {
                (Some((rf, rb)), Some((of, ob))) => same(how, rf, rb, of, ob),
                (None, None) => true,
                _ => false,
            };
            if !same {
                self.mismatch(&format!("{label} (reply {i})"), &redis, &ours);
            }
        }
    }

    /// Sends `args` to both and returns both replies (Redis's first), for a test that compares them its
    /// own way and reports with [`Pair::note`].
    pub(crate) async fn both(&mut self, args: &[&[u8]]) -> (Option<Frame>, Option<Frame>) {
        let bytes = encode(args);
        self.redis.send(&bytes).await;
        self.ours.send(&bytes).await;
        self.cases += 1;
        let redis = self.redis.reply().await.map(|(f, _)| f);
        let ours = self.ours.reply().await.map(|(f, _)| f);
        (redis, ours)
    }

    /// Sends `args` to Redis only and returns its reply.
    pub(crate) async fn redis_call(&mut self, args: &[&[u8]]) -> Option<Frame> {
        self.cases += 1;
        self.redis.send(&encode(args)).await;
        self.redis.reply().await.map(|(f, _)| f)
    }

    /// Sends `args` to relaycache only and returns its reply.
    pub(crate) async fn ours_call(&mut self, args: &[&[u8]]) -> Option<Frame> {
        self.cases += 1;
        self.ours.send(&encode(args)).await;
        self.ours.reply().await.map(|(f, _)| f)
    }

    /// Compares the first six fields of `COMMAND INFO name` (name, arity, flags, first key, last key,
    /// step) for each name; the ACL categories, tips and key specs that follow are not served.
    pub(crate) async fn check_command_info(&mut self, names: &[&str]) {
        let head = |f: &Option<Frame>| match f {
            Some(Frame::Array(specs)) => match specs.first() {
                Some(Frame::Array(spec)) => spec.iter().take(6).cloned().collect::<Vec<_>>(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        for name in names {
            let (redis, ours) = self.both(&[b"command", b"info", name.as_bytes()]).await;
            let (redis, ours) = (head(&redis), head(&ours));
            if redis.is_empty() || redis != ours {
                self.note(format!(
                    "command info {name}: redis {redis:?}, ours {ours:?}"
                ));
            }
        }
    }

    /// Records a mismatch found by the test itself.
    pub(crate) fn note(&mut self, mismatch: String) {
        self.mismatches.push(mismatch);
    }

    /// A deliberate difference: relaycache must reply `expected` (Redis's reply is recorded in the
    /// message only, so a change on either side shows up).
    pub(crate) async fn ours_only(&mut self, line: &str, expected: &Frame) {
        let args = words(line);
        let bytes = encode(&args);
        self.redis.send(&bytes).await;
        self.ours.send(&bytes).await;
        self.cases += 1;
        let redis = self.redis.reply().await;
        let ours = self.ours.reply().await;
        if ours.as_ref().map(|(f, _)| f) != Some(expected) {
            self.mismatch(
                &format!("{line} (expected ours: {expected:?})"),
                &redis,
                &ours,
            );
        }
    }

    fn mismatch(
        &mut self,
        label: &str,
        redis: &Option<(Frame, Vec<u8>)>,
        ours: &Option<(Frame, Vec<u8>)>,
    ) {
        let show = |r: &Option<(Frame, Vec<u8>)>| {
            r.as_ref()
                .map_or("<connection closed>".to_owned(), |(_, b)| {
                    String::from_utf8_lossy(b).escape_debug().to_string()
                })
        };
        self.mismatches.push(format!(
            "{label}\n    redis: {}\n    ours:  {}",
            show(redis),
            show(ours)
        ));
    }

    /// Fails with every mismatch found (or passes when there is none). Also fails when nothing was
    /// compared, so an empty test cannot pass.
    pub(crate) fn assert_same(self) {
        assert!(self.cases > 0, "no case was compared");
        if !self.mismatches.is_empty() {
            let mut report = format!(
                "{} of {} replies differ from redis-server:\n",
                self.mismatches.len(),
                self.cases
            );
            for m in &self.mismatches {
                let _ = writeln!(report, "  {m}");
            }
            panic!("{report}");
        }
    }
}

fn label(args: &[&[u8]]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).escape_debug().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn same(how: Compare, redis: &Frame, redis_bytes: &[u8], ours: &Frame, ours_bytes: &[u8]) -> bool {
    match how {
        Compare::Exact => redis_bytes == ours_bytes,
        Compare::Near(tolerance) => match (redis, ours) {
            (Frame::Integer(a), Frame::Integer(b)) => (a - b).abs() <= tolerance,
            _ => redis_bytes == ours_bytes,
        },
        Compare::Unordered => sorted(redis) == sorted(ours),
        Compare::Shape => shape(redis) == shape(ours),
    }
}

/// The frame with every array's items sorted (by their debug text), recursively.
fn sorted(frame: &Frame) -> Frame {
    match frame {
        Frame::Array(items) | Frame::Set(items) => {
            let mut items: Vec<Frame> = items.iter().map(sorted).collect();
            items.sort_by_key(|f| format!("{f:?}"));
            Frame::Array(items)
        }
        other => other.clone(),
    }
}

/// The kind of a frame and, for aggregates, their length.
fn shape(frame: &Frame) -> String {
    match frame {
        Frame::Array(items) => format!("array {}", items.len()),
        Frame::Map(items) => format!("map {}", items.len()),
        Frame::Set(items) => format!("set {}", items.len()),
        Frame::Push(items) => format!("push {}", items.len()),
        Frame::Verbatim { format, .. } => format!("verbatim {}", String::from_utf8_lossy(format)),
        other => format!("{other:?}")
            .split('(')
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}
