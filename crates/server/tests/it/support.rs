//! Fixtures: in-process servers on free ports, the real binaries as child processes (killed on drop),
//! and small helpers to talk to them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relaycache::{AnyCache, Config};
use relaycache_resp::Frame;
use relaycache_server::client::Client;
use relaycache_server::testing::MemoryCache;
use relaycache_server::{Server, ServerHandle};

/// A configuration on free loopback ports (RESP and admin), single mode, from YAML snippets for the
/// `server:` section (indented two spaces) or the whole file.
pub(crate) fn config(server_yaml: &str) -> Config {
    let text = format!("server:\n  port: 0\n  admin:\n    port: 0\n{server_yaml}");
    Config::from_yaml_str_with_env(&text, &[]).expect("test config is valid")
}

/// Starts an in-process server over the real `single` backend.
pub(crate) async fn start(server_yaml: &str) -> ServerHandle {
    let config = config(server_yaml);
    let cache = AnyCache::from_config(&config)
        .await
        .expect("backend starts");
    Server::bind(&config, cache).await.expect("binds").spawn()
}

/// Starts an in-process server over [`MemoryCache`] (exact TTLs and scans for the command tests).
pub(crate) async fn start_memory(server_yaml: &str) -> ServerHandle {
    let config = config(server_yaml);
    Server::bind(&config, MemoryCache::new())
        .await
        .expect("binds")
        .spawn()
}

/// Connects our client to `handle`.
pub(crate) async fn client(handle: &ServerHandle) -> Client {
    Client::connect(&handle.addr().to_string(), Duration::from_secs(10))
        .await
        .expect("connects")
}

/// Sends a command given as words and returns the reply.
pub(crate) async fn call(client: &mut Client, words: &[&str]) -> Frame {
    client.call(words).await.expect("reply")
}

/// The text of a simple, bulk, verbatim or error reply.
pub(crate) fn text(frame: &Frame) -> String {
    let bytes = frame
        .as_bytes()
        .or_else(|| frame.as_error())
        .unwrap_or_default();
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `redis://` URL for the redis crate.
pub(crate) fn url(addr: SocketAddr) -> String {
    format!("redis://{addr}/")
}

/// Runs `redis-cli -p PORT args...` and returns (stdout, exit status success).
pub(crate) fn redis_cli(addr: SocketAddr, args: &[&str]) -> (String, bool) {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed (apt-get install redis-tools)");
    (
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
        out.status.success(),
    )
}

/// A child process killed (and reaped) on drop.
pub(crate) struct ChildGuard {
    pub(crate) child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real `relaycache-server` binary on free ports; returns it with its RESP address (parsed from the
/// line it prints).
pub(crate) fn spawn_binary(extra_args: &[&str], env: &[(&str, &str)]) -> (ChildGuard, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relaycache-server"));
    command
        .args(["--port", "0", "--admin-port", "0"])
        .args(extra_args)
        .env_remove("RELAYCACHE_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let guard = ChildGuard { child };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the banner");
    let addr = line
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (guard, addr)
}

/// A blocking HTTP GET on the admin endpoint: (status code, body).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("admin connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Resident memory of this process in bytes.
pub(crate) fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Waits until `check` holds, polling every 10 ms, for at most `limit`.
pub(crate) async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}
