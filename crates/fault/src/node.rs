//! One `relaycache-server` process in `ha` mode on its own 127.0.0.x address.
//!
//! Node `i` listens on `127.0.0.(i+2)`: RPC on [`RPC_PORT`], gossip on `RPC_PORT + 2`, RESP on
//! [`RESP_PORT`], admin HTTP on [`ADMIN_PORT`]. The ports are fixed because the namespace is private and
//! every node has its own address. Its stdout and stderr go to one log file, appended across restarts.
//! A [`Node`] kills its process on drop (a stopped process too).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// RPC port of every node (`bind_addr`); gossip is this + 2.
pub const RPC_PORT: u16 = 7000;
/// Gossip (UDP) port of every node.
pub const GOSSIP_PORT: u16 = RPC_PORT + 2;
/// RESP port of every node.
pub const RESP_PORT: u16 = 6379;
/// Admin HTTP port of every node.
pub const ADMIN_PORT: u16 = 9000;

/// The cluster settings a scenario picks (`cache.olric`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `replica_count`.
    pub replica_count: u32,
    /// `read_quorum`.
    pub read_quorum: u32,
    /// `write_quorum`.
    pub write_quorum: u32,
    /// `member_count_quorum`.
    pub member_count_quorum: u32,
    /// `request_timeout`.
    pub request_timeout: Duration,
    /// `leave_timeout`.
    pub leave_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            replica_count: 2,
            read_quorum: 1,
            write_quorum: 1,
            member_count_quorum: 1,
            request_timeout: Duration::from_secs(1),
            leave_timeout: Duration::from_secs(3),
        }
    }
}

impl std::fmt::Display for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment local, replica_count {}, read_quorum {}, write_quorum {}, \
             member_count_quorum {}, request_timeout {:?}, leave_timeout {:?}",
            self.replica_count,
            self.read_quorum,
            self.write_quorum,
            self.member_count_quorum,
            self.request_timeout,
            self.leave_timeout
        )
    }
}

/// The address of node `index`.
#[must_use]
pub fn node_ip(index: usize) -> Ipv4Addr {
    // Scenarios run at most a handful of nodes.
    let last = u8::try_from(index + 2).unwrap_or(u8::MAX);
    Ipv4Addr::new(127, 0, 0, last)
}

/// A node's process and addresses.
#[derive(Debug)]
pub struct Node {
    /// Position in the cluster (0-based).
    pub index: usize,
    /// Its address.
    pub ip: Ipv4Addr,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Log length when the current process started (its banner is after this).
    log_start: u64,
    server: PathBuf,
}

impl Node {
    /// Writes node `index`'s configuration (peers: every other of `n` nodes) into `dir`; does not start it.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn new(
        server: &Path,
        dir: &Path,
        index: usize,
        n: usize,
        settings: &Settings,
    ) -> Result<Node> {
        let ip = node_ip(index);
        let peers: Vec<String> = (0..n)
            .filter(|j| *j != index)
            .map(|j| format!("\"{}:{GOSSIP_PORT}\"", node_ip(j)))
            .collect();
        let yaml = format!(
            "cache:\n  mode: ha\n  ristretto:\n    max_cost: 64MiB\n  olric:\n    embedded: true\n    \
             bind_addr: \"{ip}:{RPC_PORT}\"\n    environment: local\n    peers: [{peers}]\n    \
             replica_count: {rc}\n    read_quorum: {rq}\n    write_quorum: {wq}\n    \
             member_count_quorum: {mcq}\n    request_timeout: {rt}ms\n    leave_timeout: {lt}ms\n\
             server:\n  bind: \"{ip}\"\n  port: {RESP_PORT}\n  busy_poll: 0s\n  shutdown_timeout: 2s\n  \
             admin:\n    bind: \"{ip}\"\n    port: {ADMIN_PORT}\nlogging:\n  level: info\n",
            peers = peers.join(", "),
            rc = settings.replica_count,
            rq = settings.read_quorum,
            wq = settings.write_quorum,
            mcq = settings.member_count_quorum,
            rt = settings.request_timeout.as_millis(),
            lt = settings.leave_timeout.as_millis(),
        );
        let config = dir.join(format!("node-{index}.yaml"));
        std::fs::write(&config, yaml)
            .with_context(|| format!("cannot write {}", config.display()))?;
        Ok(Node {
            index,
            ip,
            config,
            log: dir.join(format!("node-{index}.log")),
            child: None,
            log_start: 0,
            server: server.to_path_buf(),
        })
    }

    /// The RESP address.
    #[must_use]
    pub fn resp(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, RESP_PORT))
    }

    /// The admin HTTP address.
    #[must_use]
    pub fn admin(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, ADMIN_PORT))
    }

    /// The RPC address (`bind_addr`), as the nodes name it in their tables.
    #[must_use]
    pub fn rpc(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, RPC_PORT))
    }

    /// A short name for reports: `n0@127.0.0.2`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("n{}@{}", self.index, self.ip)
    }

    /// Starts the process (returns at once; see [`Node::wait_serving`]).
    ///
    /// # Errors
    /// When it is already running or cannot be spawned.
    pub fn spawn(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.name());
        }
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        self.log_start = out.metadata().map(|m| m.len()).unwrap_or(0);
        writeln!(out, "===== fault harness: starting {} =====", self.name())?;
        self.log_start += 1;
        let err: File = out.try_clone()?;
        let child = Command::new(&self.server)
            .arg("--config")
            .arg(&self.config)
            .env_remove("RELAYCACHE_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", self.server.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits (bounded) until the current process prints its banner (`... listening on ...`).
    ///
    /// # Errors
    /// When it exits first or does not serve within `within`.
    pub async fn wait_serving(&mut self, within: Duration) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + within;
        loop {
            if self.log_since_start().contains(" listening on ") {
                return Ok(started.elapsed());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "{} exited with {status} before serving:\n{}",
                        self.name(),
                        self.log_tail(40)
                    );
                }
            } else {
                bail!("{} is not running", self.name());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not serve within {within:?}:\n{}",
                    self.name(),
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id of the running process.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while a process is running (or stopped).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn signal(&self, signal: libc::c_int) -> Result<()> {
        let Some(pid) = self.pid() else {
            bail!("{} is not running", self.name());
        };
        let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
        // SAFETY: kill(2) with the pid of our own child, which we have not reaped yet.
        let rc = unsafe { libc::kill(pid, signal) };
        if rc != 0 {
            bail!(
                "kill({pid}, {signal}) failed: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// SIGKILL, then reaps the process.
    ///
    /// # Errors
    /// When it is not running.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.name());
        };
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// SIGSTOP: the process freezes (sockets stay open, nothing is answered).
    ///
    /// # Errors
    /// When it is not running.
    pub fn pause(&self) -> Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// SIGCONT.
    ///
    /// # Errors
    /// When it is not running.
    pub fn resume(&self) -> Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// SIGTERM, then waits (bounded) for the exit; returns its status and how long it took.
    ///
    /// # Errors
    /// When it is not running or does not exit within `within` (it is killed then).
    pub async fn terminate(&mut self, within: Duration) -> Result<(ExitStatus, Duration)> {
        self.signal(libc::SIGTERM)?;
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Ok((status, started.elapsed()));
                }
            }
            if started.elapsed() > within {
                let _ = self.kill();
                bail!(
                    "{} did not exit within {within:?} of SIGTERM:\n{}",
                    self.name(),
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The whole log (every process this node ran).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_since_start(&self) -> String {
        let text = self.log();
        let start = usize::try_from(self.log_start).unwrap_or(0);
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// The last `n` lines of the log, headed by the node's name.
    #[must_use]
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!("--- {} ---\n{}\n", self.name(), lines[from..].join("\n"))
    }

    /// The log's length in bytes now (a mark for [`Node::count_since`]).
    #[must_use]
    pub fn log_len(&self) -> usize {
        std::fs::metadata(&self.log)
            .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
            .unwrap_or(0)
    }

    /// How many log lines after the mark `from` (up to the mark `to`, or the end) contain `needle`.
    #[must_use]
    pub fn count_since(&self, from: usize, to: Option<usize>, needle: &str) -> usize {
        self.lines_since(from, to, needle).len()
    }

    /// The log lines after the mark `from` (up to the mark `to`, or the end) that contain `needle`.
    #[must_use]
    pub fn lines_since(&self, from: usize, to: Option<usize>, needle: &str) -> Vec<String> {
        let text = self.log();
        let end = to.unwrap_or(text.len()).min(text.len());
        text.get(from.min(end)..end)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// The path of the log file.
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
