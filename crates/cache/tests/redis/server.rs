//! Real `redis-server` processes for the tests: one server, or a three-master Redis Cluster, each on
//! free loopback ports, killed when dropped.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer its first PING.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// Ports tried before giving up when another process takes the one we picked.
const START_ATTEMPTS: usize = 5;

const INSTALL_HINT: &str = "run scripts/test.sh, which installs redis-server and redis-tools \
                            (apt-get install -y redis-server redis-tools)";

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One `redis-server` process.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
    dir: TempDir,
}

impl RedisServer {
    /// A plain server (no persistence) on a free port.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra `redis-server` arguments (`["--requirepass", "secret"]`).
    pub(crate) fn start_with(args: &[&str]) -> Self {
        let mut dir = tempfile::tempdir().expect("temp dir");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut server = RedisServer {
                child: None,
                port,
                args: args.clone(),
                dir,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => {
                    last_error = e;
                    dir = server.take_dir();
                }
            }
        }
        panic!("could not start redis-server after {START_ATTEMPTS} attempts: {last_error}");
    }

    fn take_dir(mut self) -> TempDir {
        self.kill();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The process id, for signals.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process and starts a new, empty one on the same port with the same arguments.
    pub(crate) fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn() {
            panic!("restarting redis-server on port {}: {e}", self.port);
        }
    }

    /// Sends SIGSTOP (`stop`) or SIGCONT: a server that accepts nothing and answers nothing.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("redis-{}.log", self.port))
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.log_path()).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-server is not installed (not found on PATH): {INSTALL_HINT}")
            }
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited with {status}: {}",
                    self.port,
                    tail(&self.log_path())
                ));
            }
            if answers_ping(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {START_DEADLINE:?}: {}",
                    self.port,
                    tail(&self.log_path())
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True when something on `port` answers an inline `PING` with a RESP reply (`+PONG`, or an error such
/// as `-NOAUTH` from a server that requires a password: either way it is serving).
fn answers_ping(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut first = [0u8; 1];
    matches!(stream.read(&mut first), Ok(1) if first[0] == b'+' || first[0] == b'-')
}

/// The last lines of a log, for failure messages.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// A synchronous connection for checking what the server holds, outside the cache under test.
pub(crate) fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .expect("url")
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("raw connection")
}

/// Three masters, no replicas, slots spread by `redis-cli --cluster create`.
pub(crate) struct RedisCluster {
    /// The masters, in the order given to `redis-cli` (slots 0-5460, 5461-10922, 10923-16383).
    pub(crate) nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers (failure detection after 1 s) and joins them.
    pub(crate) fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let bus = free_port().to_string();
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    &bus,
                    "--cluster-node-timeout",
                    "1000",
                ])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port()));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let output = match create.output() {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-cli is not installed (not found on PATH): {INSTALL_HINT}")
            }
            Err(e) => panic!("cannot run redis-cli: {e}"),
        };
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// URLs of the nodes.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Waits until every node reports `cluster_state:ok` and knows every slot.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &self.nodes {
            let mut conn = raw(&node.url());
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut conn)
                    .expect("CLUSTER INFO");
                if info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "cluster not ok within 20 s; node {} says:\n{info}",
                    node.port()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The index in [`nodes`](Self::nodes) of the master serving `key`.
    pub(crate) fn owner_of(&self, key: &[u8]) -> usize {
        let mut conn = raw(&self.nodes[0].url());
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut conn)
            .expect("CLUSTER KEYSLOT");
        let ranges: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut conn)
            .map(|v: Vec<redis::Value>| {
                v.into_iter()
                    .map(|range| {
                        let redis::Value::Array(items) = range else {
                            panic!("CLUSTER SLOTS entry {range:?}");
                        };
                        let start: u16 = redis::from_redis_value(items[0].clone()).expect("start");
                        let end: u16 = redis::from_redis_value(items[1].clone()).expect("end");
                        let redis::Value::Array(master) = items[2].clone() else {
                            panic!("CLUSTER SLOTS master {:?}", items[2]);
                        };
                        let host: String =
                            redis::from_redis_value(master[0].clone()).expect("host");
                        let port: u16 = redis::from_redis_value(master[1].clone()).expect("port");
                        (start, end, (host, port))
                    })
                    .collect()
            })
            .expect("CLUSTER SLOTS");
        let (_, _, (_, port)) = ranges
            .iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .expect("slot is served");
        self.nodes
            .iter()
            .position(|n| n.port() == *port)
            .expect("owner is one of our nodes")
    }
}
