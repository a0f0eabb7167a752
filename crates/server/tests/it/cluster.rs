//! `ha` mode end to end: real `relaycache-server` processes forming a cluster on 127.0.0.1, driven over
//! RESP (the `redis` crate, `redis-cli`, the `relaycache` tool) and the admin endpoint.
//!
//! Each node's `bind_addr` port comes from `free_loopback_port` (its +2 is the gossip port); RESP and
//! admin listen on port 0 and are read from the banner the server prints. Every wait has a deadline.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use relaycache_cluster::testing::free_loopback_port;

use crate::support::{ChildGuard, http_get, redis_cli};

/// How long a cluster may take to form, or to notice a member gone (the `local` preset detects a
/// crash in about 1 s; this leaves room for a loaded machine).
const SETTLE: Duration = Duration::from_secs(30);

/// One `relaycache-server` process in `ha` mode.
struct Node {
    guard: ChildGuard,
    /// RESP address.
    resp: SocketAddr,
    /// Admin HTTP address.
    admin: SocketAddr,
    /// `bind_addr` port (RPC); gossip is this + 2.
    port: u16,
    /// stdout + stderr of the process.
    log: PathBuf,
}

/// Why a node did not start.
enum StartError {
    /// A port was taken between choosing it and binding it: try other ports.
    PortTaken,
}

impl Node {
    /// Writes the configuration and starts the process; returns at once (see [`Node::ready`]). With
    /// `one_thread`, it runs on one worker thread (the current-thread scheduler).
    fn spawn(dir: &Path, port: u16, peers: &[u16], olric_extra: &str, one_thread: bool) -> Spawned {
        let peers: Vec<String> = peers
            .iter()
            .map(|p| format!("\"127.0.0.1:{}\"", p + 2))
            .collect();
        let extra: String = olric_extra
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("    {}\n", l.trim()))
            .collect();
        let yaml = format!(
            "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"127.0.0.1:{port}\"\n    \
             environment: local\n    peers: [{}]\n{extra}server:\n  port: 0\n  shutdown_timeout: 2s\n  \
             admin:\n    port: 0\n",
            peers.join(", ")
        );
        let config = dir.join(format!("node-{port}.yaml"));
        std::fs::write(&config, yaml).expect("writes the config");
        let log = dir.join(format!("node-{port}.log"));
        let out = File::create(&log).expect("creates the log");
        let err = out.try_clone().expect("log handle");
        let mut command = Command::new(env!("CARGO_BIN_EXE_relaycache-server"));
        if one_thread {
            command.args(["--threads", "1"]);
        }
        let child = command
            .arg("--config")
            .arg(&config)
            .env_remove("RELAYCACHE_CONFIG")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("server binary starts");
        Spawned {
            guard: ChildGuard { child },
            port,
            log,
        }
    }
}

/// A started process that has not printed its banner yet.
struct Spawned {
    guard: ChildGuard,
    port: u16,
    log: PathBuf,
}

impl Spawned {
    /// Waits for the banner (`listening on ADDR (mode ha, admin http://ADDR)`).
    fn ready(mut self, within: Duration) -> Result<Node, StartError> {
        let deadline = Instant::now() + within;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(" listening on ")) {
                let resp = line
                    .split_whitespace()
                    .skip_while(|w| *w != "on")
                    .nth(1)
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| panic!("no RESP address in {line:?}"));
                let admin = line
                    .split("http://")
                    .nth(1)
                    .and_then(|r| r.trim_end_matches(')').parse().ok())
                    .unwrap_or_else(|| panic!("no admin address in {line:?}"));
                return Ok(Node {
                    guard: self.guard,
                    resp,
                    admin,
                    port: self.port,
                    log: self.log,
                });
            }
            if let Ok(Some(status)) = self.guard.child.try_wait() {
                if text.contains("Address already in use") {
                    return Err(StartError::PortTaken);
                }
                panic!("node exited with {status} before serving:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "node did not start within {within:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Nodes that each list every other as a peer.
struct Cluster {
    nodes: Vec<Node>,
    /// Configurations and logs; removed on drop.
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` nodes at once with `olric_extra` (YAML lines of `cache.olric`) and waits until each
    /// serves; the first runs on one worker thread, the others on the default runtime. Retries with
    /// other ports if one was taken meanwhile.
    fn start(n: usize, olric_extra: &str) -> Cluster {
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let ports: Vec<u16> = (0..n).map(|_| free_loopback_port()).collect();
            let spawned: Vec<Spawned> = ports
                .iter()
                .enumerate()
                .map(|(i, &p)| {
                    let peers: Vec<u16> = ports.iter().copied().filter(|q| *q != p).collect();
                    Node::spawn(dir.path(), p, &peers, olric_extra, i == 0)
                })
                .collect();
            let started: Result<Vec<Node>, StartError> =
                spawned.into_iter().map(|s| s.ready(SETTLE)).collect();
            match started {
                Ok(nodes) => return Cluster { nodes, _dir: dir },
                Err(StartError::PortTaken) => continue,
            }
        }
        panic!("could not find free ports for {n} nodes in 3 tries");
    }

    /// Waits until every node sees exactly the running nodes, with the same table fingerprint.
    fn wait_formed(&self) {
        let n = self.nodes.len();
        let formed = wait_for(SETTLE, || {
            let infos: Vec<serde_json::Value> =
                self.nodes.iter().filter_map(cluster_info).collect();
            infos.len() == n
                && infos.iter().all(|i| i["cluster_members"] == n)
                && infos
                    .iter()
                    .all(|i| i["fingerprint"] == infos[0]["fingerprint"])
        });
        assert!(formed, "the cluster did not form:\n{}", self.logs());
    }

    /// Every node's log, for failure messages.
    fn logs(&self) -> String {
        self.nodes.iter().map(Node::log_text).collect()
    }
}

impl Node {
    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The end is what matters; keep messages readable.
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- node {} ---\n{}\n", self.port, tail.join("\n"))
    }

    fn connect(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.resp)).expect("url");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("connects");
        con.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        con.set_write_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        con
    }

    /// `cluster_members` from `CLUSTER.MEMBERS` (`None` when the node does not answer).
    fn members_via_resp(&self) -> Option<i64> {
        let mut con = redis::Client::open(format!("redis://{}/", self.resp))
            .ok()?
            .get_connection_with_timeout(Duration::from_secs(2))
            .ok()?;
        con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let reply: Vec<redis::Value> = redis::cmd("CLUSTER.MEMBERS").query(&mut con).ok()?;
        let at = reply.iter().position(
            |v| matches!(v, redis::Value::BulkString(b) if b.as_slice() == b"cluster_members"),
        )?;
        match reply.get(at + 1)? {
            redis::Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the status and how long it took.
    fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        signal_and_wait(&mut self.guard, "-TERM", within, &self.log)
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to the process and waits (bounded) for it to exit.
fn signal_and_wait(
    guard: &mut ChildGuard,
    signal: &str,
    within: Duration,
    log: &Path,
) -> (ExitStatus, Duration) {
    let pid = guard.child.id().to_string();
    let sent = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let start = Instant::now();
    loop {
        if let Some(status) = guard.child.try_wait().expect("try_wait") {
            return (status, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "no exit within {within:?} of {signal}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts one node on a free port with these peers, trying other ports if one is taken meanwhile.
fn start_one(dir: &Path, peers: &[u16], olric_extra: &str) -> Node {
    for _ in 0..3 {
        let port = free_loopback_port();
        if let Ok(node) = Node::spawn(dir, port, peers, olric_extra, false).ready(SETTLE) {
            return node;
        }
    }
    panic!("could not find a free port for a node in 3 tries");
}

/// The node's `/cluster` JSON, when it answers.
fn cluster_info(node: &Node) -> Option<serde_json::Value> {
    let (status, body) = try_http_get(node.admin, "/cluster")?;
    (status == 200).then(|| serde_json::from_str(&body).ok())?
}

/// [`http_get`] that returns `None` instead of panicking when the node does not answer.
fn try_http_get(addr: SocketAddr, path: &'static str) -> Option<(u16, String)> {
    std::panic::catch_unwind(|| http_get(addr, path)).ok()
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns whether it held.
fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn key(i: usize) -> String {
    format!("key:{i}")
}

fn value(i: usize) -> String {
    format!("value-{i}-{}", "x".repeat(i % 37))
}

/// Writes keys `0..n` through `node` in one pipeline.
fn write_keys(node: &Node, n: usize) {
    let mut con = node.connect();
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.set(key(i), value(i)).ignore();
    }
    let () = pipe.query(&mut con).expect("every SET succeeds");
}

/// Reads keys `0..n` through `node` (MGET in chunks); returns the keys missing or wrong.
fn missing_keys(node: &Node, n: usize) -> Vec<usize> {
    let mut con = node.connect();
    let mut missing = Vec::new();
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|i| key(*i)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("MGET via {} failed: {e}", node.resp));
        for (i, v) in chunk.iter().zip(values) {
            if v.as_deref() != Some(value(*i).as_str()) {
                missing.push(*i);
            }
        }
    }
    missing
}

fn assert_all_readable(cluster: &Cluster, via: &[usize], n: usize) {
    for &at in via {
        let node = &cluster.nodes[at];
        let missing = missing_keys(node, n);
        assert!(
            missing.is_empty(),
            "{} of {n} keys not readable via node {}: first {:?}\n{}",
            missing.len(),
            node.port,
            &missing[..missing.len().min(10)],
            cluster.logs()
        );
    }
}

#[test]
fn cluster_keys_written_on_one_node_are_read_on_the_others() {
    let started = Instant::now();
    let cluster = Cluster::start(3, "");
    cluster.wait_formed();
    write_keys(&cluster.nodes[0], 10_000);
    assert_all_readable(&cluster, &[1, 2], 10_000);
    eprintln!("10,000 keys across 3 nodes in {:?}", started.elapsed());
}

#[test]
fn cluster_survives_a_killed_node_with_two_replicas() {
    let started = Instant::now();
    // write_quorum 2: a write is acknowledged once both owners have it (promise 2 of docs/cluster.md).
    let mut cluster = Cluster::start(3, "replica_count: 2\nwrite_quorum: 2");
    cluster.wait_formed();
    write_keys(&cluster.nodes[0], 5_000);
    let mut dead = cluster.nodes.remove(2);
    dead.guard.child.kill().expect("SIGKILL");
    dead.guard.child.wait().expect("reaped");
    let killed = Instant::now();
    let detected = wait_for(SETTLE, || {
        cluster
            .nodes
            .iter()
            .all(|n| n.members_via_resp() == Some(2))
    });
    assert!(
        detected,
        "the survivors did not notice the crash:\n{}",
        cluster.logs()
    );
    eprintln!("crash detected after {:?}", killed.elapsed());
    assert_all_readable(&cluster, &[0, 1], 5_000);
    eprintln!("kill test in {:?}", started.elapsed());
}

#[test]
fn cluster_graceful_leave_hands_every_key_over() {
    let started = Instant::now();
    let leave_timeout = Duration::from_secs(3);
    let mut cluster = Cluster::start(3, "replica_count: 1\nleave_timeout: 3s");
    cluster.wait_formed();
    write_keys(&cluster.nodes[0], 5_000);
    let mut leaving = cluster.nodes.remove(2);
    // shutdown_timeout (2 s) + leave_timeout + request_timeout (2 s) + slack.
    let bound =
        Duration::from_secs(2) + leave_timeout + Duration::from_secs(2) + Duration::from_secs(5);
    let (status, took) = leaving.terminate(bound);
    assert!(status.success(), "exit {status:?}:\n{}", leaving.log_text());
    let log = std::fs::read_to_string(&leaving.log).unwrap_or_default();
    assert!(
        log.contains("handed partitions over before leaving") && log.contains("shutdown complete"),
        "{log}"
    );
    eprintln!("SIGTERM to exit: {took:?}");
    let noticed = wait_for(SETTLE, || {
        cluster
            .nodes
            .iter()
            .all(|n| n.members_via_resp() == Some(2))
    });
    assert!(
        noticed,
        "the others did not see the leave:\n{}",
        cluster.logs()
    );
    assert_all_readable(&cluster, &[0, 1], 5_000);
    eprintln!("leave test in {:?}", started.elapsed());
}

#[test]
fn cluster_readiness_admin_and_introspection() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = "replica_count: 2\nmember_count_quorum: 2";
    let b = free_loopback_port();
    let first = start_one(dir.path(), &[b], extra);
    let a = first.port;
    // Alone, below member_count_quorum: not ready, and calls are refused with the quorum error.
    let (status, body) = http_get(first.admin, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("member count quorum not reached: 2 needed, 1 live"),
        "{body}"
    );
    let (out, _) = redis_cli(first.resp, &["GET", "k"]);
    assert!(out.contains("member count quorum not reached"), "{out}");
    let (out, ok) = redis_cli(first.resp, &["CLUSTER.MEMBERS"]);
    assert!(ok && out.contains("below member_count_quorum"), "{out}");
    let (status, body) = http_get(first.admin, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("relaycache_cluster_has_member_quorum 0"),
        "{body}"
    );

    // The first node announces itself to `b`; if `b` was taken meanwhile, the second node joins
    // through its own announcements to the first just as well.
    let second = match Node::spawn(dir.path(), b, &[a], extra, false).ready(SETTLE) {
        Ok(node) => node,
        Err(StartError::PortTaken) => start_one(dir.path(), &[a], extra),
    };
    let b = second.port;
    let cluster = Cluster {
        nodes: vec![first, second],
        _dir: dir,
    };
    let ready = wait_for(SETTLE, || {
        try_http_get(cluster.nodes[0].admin, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    assert!(ready, "not ready with 2 members:\n{}", cluster.logs());
    cluster.wait_formed();
    let node = &cluster.nodes[0];

    // /cluster: the whole view.
    let info = cluster_info(node).expect("/cluster answers");
    assert_eq!(info["state"], "serving");
    assert_eq!(info["is_embedded"], true);
    assert_eq!(info["cluster_members"], 2);
    assert_eq!(info["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(info["memberlist_addr"], format!("127.0.0.1:{}", a + 2));
    let partitions = info["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 271);
    let rpc = [format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}")];
    for owners in partitions {
        let owners: Vec<&str> = owners
            .as_array()
            .expect("owner list")
            .iter()
            .filter_map(|o| o.as_str())
            .collect();
        assert_eq!(owners.len(), 2, "replica_count owners: {owners:?}");
        assert!(
            owners.iter().all(|o| rpc.iter().any(|r| r == o)),
            "{owners:?}"
        );
    }
    let owned =
        info["primary_partitions"].as_u64().unwrap() + info["backup_partitions"].as_u64().unwrap();
    assert_eq!(
        owned, 271,
        "with 2 members and 2 replicas, each owns all: {info}"
    );
    assert!(info["incoming_partitions"].is_u64());
    assert!(info["epoch"].as_u64().unwrap() >= 2, "{info}");

    // /metrics: the server's cluster gauges and the cluster crate's own series, no name twice.
    let (status, metrics) = http_get(node.admin, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "relaycache_cluster_members 2",
        "relaycache_cluster_has_member_quorum 1",
        "relaycache_cluster_partitions{role=\"incoming\"}",
        "relaycache_cluster_epoch ",
        "relaycache_cluster_member_events_total{event=\"join\"}",
        "relaycache_cluster_partitions{role=\"primary\"}",
        "relaycache_cluster_rpc_seconds_bucket",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let mut names: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "a metric name appears twice:\n{metrics}");

    // CLUSTER.MEMBERS and CLUSTER.PARTITIONS through redis-cli (RESP2 and RESP3).
    let (out, ok) = redis_cli(node.resp, &["CLUSTER.MEMBERS"]);
    assert!(ok, "{out}");
    for word in [
        "memberlist_addr",
        "cluster_members",
        "is_embedded",
        "state",
        "serving",
        "epoch",
        "members",
        "gossip_addr",
        "rpc_addr",
        "generation",
        "is_self",
        &format!("127.0.0.1:{}", b + 2),
        &rpc[1],
    ] {
        assert!(out.lines().any(|l| l == word), "no {word:?} in\n{out}");
    }
    let (out3, ok) = redis_cli(node.resp, &["-3", "CLUSTER.MEMBERS"]);
    assert!(ok && out3.contains("serving"), "{out3}");
    let (out, ok) = redis_cli(node.resp, &["CLUSTER.PARTITIONS"]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        271 * 3,
        "id and two owners per partition:\n{out}"
    );
    assert_eq!(lines[0], "0");
    assert!(rpc.iter().any(|r| r == lines[1]), "{out}");
    let (out, _) = redis_cli(node.resp, &["CLUSTER.PARTITIONS", "x"]);
    assert!(out.contains("wrong number of arguments"), "{out}");

    // The relaycache tool.
    let tool = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_relaycache"))
            .args(["-p", &node.resp.port().to_string()])
            .args(args)
            .output()
            .expect("relaycache runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let table = tool(&["cluster", "members"]);
    assert!(table.contains("state     serving"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("127.0.0.1:{}", a + 2)) && l.ends_with('*')),
        "this node is marked:\n{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&tool(&["cluster", "members", "--json"])).expect("JSON");
    assert_eq!(json["members"].as_array().map(Vec::len), Some(2), "{json}");
    let table = tool(&["cluster", "partitions"]);
    assert_eq!(
        table.lines().count(),
        272,
        "header and one row per partition:\n{table}"
    );
    assert!(table.starts_with("PARTITION"), "{table}");
    eprintln!("readiness and introspection in {:?}", started.elapsed());
}

#[test]
fn cluster_a_signal_while_joining_still_ends_in_a_graceful_leave() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The peer never answers, so the node waits (up to 2 s in `local`) for it before it serves.
    let nobody = free_loopback_port();
    let mut spawned = Node::spawn(dir.path(), free_loopback_port(), &[nobody], "", false);
    // "gossip started" is logged while the node starts, after the signal handlers are installed.
    let starting = wait_for(SETTLE, || {
        std::fs::read_to_string(&spawned.log).is_ok_and(|l| l.contains("gossip started"))
    });
    assert!(
        starting,
        "{}",
        std::fs::read_to_string(&spawned.log).unwrap_or_default()
    );
    let (status, took) = signal_and_wait(
        &mut spawned.guard,
        "-INT",
        Duration::from_secs(20),
        &spawned.log,
    );
    let log = std::fs::read_to_string(&spawned.log).unwrap_or_default();
    assert!(status.success(), "exit {status:?}:\n{log}");
    assert!(
        log.contains("SIGINT received") && log.contains("shutdown complete"),
        "{log}"
    );
    eprintln!("SIGINT while joining to exit: {took:?}");
}

/// Pipelined runs of GETs and SETs go to the cluster as batches; the replies must be those of running
/// the commands one after the other (repeated keys, misses, a run broken by another command).
#[test]
fn cluster_pipelined_runs_answer_as_if_run_one_by_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start_one(dir.path(), &[], "replica_count: 2");
    let second = start_one(dir.path(), &[first.port], "replica_count: 2");
    assert!(
        wait_for(SETTLE, || cluster_info(&first)
            .is_some_and(|i| i["cluster_members"] == 2)),
        "two nodes form a cluster"
    );
    let mut con = second.connect();
    let mut pipe = redis::pipe();
    pipe.set("p:a", "1")
        .set("p:b", "2")
        .set("p:a", "3") // the same key twice: the run stops before it
        .get("p:a")
        .get("p:b")
        .get("p:missing")
        .get("p:a")
        .del("p:b")
        .get("p:b")
        .set("p:c", "4")
        .set("p:d", "5")
        .get("p:c")
        .get("p:d");
    let replies: Vec<redis::Value> = pipe.query(&mut con).expect("pipeline");
    let bulk = |s: &str| redis::Value::BulkString(s.as_bytes().to_vec());
    use redis::Value::{Int, Nil, Okay};
    assert_eq!(
        replies,
        vec![
            Okay,
            Okay,
            Okay,
            bulk("3"),
            bulk("2"),
            Nil,
            bulk("3"),
            Int(1),
            Nil,
            Okay,
            Okay,
            bulk("4"),
            bulk("5"),
        ]
    );
    // Many keys in one pipeline: all written, all read back in order, through either node.
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.set(format!("q:{i}"), format!("v{i}")).ignore();
    }
    let () = pipe.query(&mut con).expect("SETs");
    let mut con = first.connect();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.get(format!("q:{i}"));
    }
    let values: Vec<String> = pipe.query(&mut con).expect("GETs");
    let want: Vec<String> = (0..500).map(|i| format!("v{i}")).collect();
    assert_eq!(values, want);
}
