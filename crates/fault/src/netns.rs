//! The private network namespace every scenario runs in, and the faults injected into it.
//!
//! The runner re-executes itself under `unshare --net` ([`reexec_in_namespace`]); inside, [`enter`]
//! checks that the namespace really is a fresh one (only `lo`, not the namespace of PID 1), so no node
//! and no fault can touch any other network, and brings `lo` up. [`Firewall`] adds and removes
//! iptables rules on the `INPUT` chain: every packet between two nodes crosses `lo`, so a rule that
//! matches the source and destination address of a pair cuts exactly that pair (nodes bind their
//! outgoing sockets to their own 127.0.0.x address). Clients of the harness talk from 127.0.0.1, which
//! no rule names, so they always reach every node.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The environment variable the runner sets on itself when it re-executes under `unshare`.
pub const IN_NAMESPACE_ENV: &str = "RELAYCACHE_FAULT_IN_NETNS";

/// Re-executes the current binary with `args` inside a new network namespace (`unshare --net`) and
/// returns its exit code. Used when the runner is started outside one.
///
/// # Errors
/// When `unshare` is missing or cannot create the namespace (not root, no user namespaces).
pub fn reexec_in_namespace(args: &[String]) -> Result<i32> {
    let me = std::env::current_exe().context("cannot find the runner's own executable")?;
    which("unshare").context(
        "`unshare` is missing: install util-linux (scripts/test.sh does: apt-get install util-linux)",
    )?;
    let status = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(&me)
        .args(args)
        .env(IN_NAMESPACE_ENV, "1")
        .status()
        .context("cannot run unshare")?;
    match status.code() {
        Some(code) => Ok(code),
        None => bail!("the runner under unshare was killed by a signal ({status})"),
    }
}

/// Checks that this process runs in a private network namespace with nothing but `lo`, brings `lo` up
/// and checks that `iptables` works.
///
/// # Errors
/// When the namespace is the machine's own, has other interfaces, or a tool (`ip`, `iptables`) is
/// missing or fails.
pub fn enter() -> Result<()> {
    let ours = std::fs::read_link("/proc/self/ns/net").context("cannot read /proc/self/ns/net")?;
    if let Ok(init) = std::fs::read_link("/proc/1/ns/net") {
        if init == ours {
            bail!(
                "refusing to run: this is the network namespace of PID 1, not a private one \
                 (run under `unshare --net`)"
            );
        }
    }
    let devices = std::fs::read_to_string("/proc/self/net/dev").context("cannot read net/dev")?;
    let names: Vec<&str> = devices
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    if names.iter().any(|n| *n != "lo") {
        bail!("refusing to run: the namespace has interfaces other than lo: {names:?}");
    }
    which("ip").context("`ip` is missing: install iproute2 (scripts/test.sh does)")?;
    run("ip", &["link", "set", "lo", "up"])?;
    which("iptables").context("`iptables` is missing: install iptables (scripts/test.sh does)")?;
    run("iptables", &["-w", "-F", "INPUT"])?;
    Ok(())
}

fn which(tool: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        bail!("{tool} not found on PATH")
    }
}

fn run(tool: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {tool}"))?;
    if !out.status.success() {
        bail!(
            "{tool} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// What a rule does to the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Drop silently: the sender sees nothing (a black hole; TCP waits for its timeouts).
    Drop,
    /// Answer at once: a TCP reset for TCP, ICMP port unreachable for UDP.
    Reject,
    /// Drop each packet with this probability (`-m statistic --mode random`).
    Loss(f64),
}

/// Which packets between two addresses a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// Everything.
    All,
    /// UDP to this destination port (gossip).
    UdpTo(u16),
    /// TCP to this destination port (requests on RPC connections to the port).
    TcpTo(u16),
    /// TCP from this source port (answers on RPC connections from the port).
    TcpFrom(u16),
}

/// One iptables rule: packets from `src` to `dst` of `traffic` get `action`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Which packets.
    pub traffic: Traffic,
    /// What happens to them.
    pub action: Action,
}

impl Rule {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "-s".to_owned(),
            self.src.to_string(),
            "-d".to_owned(),
            self.dst.to_string(),
        ];
        let tcp = match self.traffic {
            Traffic::All => false,
            Traffic::UdpTo(port) => {
                args.extend(["-p", "udp", "--dport"].map(str::to_owned));
                args.push(port.to_string());
                false
            }
            Traffic::TcpTo(port) => {
                args.extend(["-p", "tcp", "--dport"].map(str::to_owned));
                args.push(port.to_string());
                true
            }
            Traffic::TcpFrom(port) => {
                args.extend(["-p", "tcp", "--sport"].map(str::to_owned));
                args.push(port.to_string());
                true
            }
        };
        match self.action {
            Action::Drop => args.extend(["-j", "DROP"].map(str::to_owned)),
            Action::Reject if tcp => {
                args.extend(["-j", "REJECT", "--reject-with", "tcp-reset"].map(str::to_owned));
            }
            Action::Reject => args.extend(["-j", "REJECT"].map(str::to_owned)),
            Action::Loss(p) => {
                args.extend(
                    ["-m", "statistic", "--mode", "random", "--probability"].map(str::to_owned),
                );
                args.push(format!("{p}"));
                args.extend(["-j", "DROP"].map(str::to_owned));
            }
        }
        args
    }
}

/// The iptables rules in force; [`Firewall::heal`] removes them all (and so does dropping it).
#[derive(Debug, Default)]
pub struct Firewall {
    rules: Vec<Rule>,
}

impl Firewall {
    /// No rules.
    #[must_use]
    pub fn new() -> Self {
        Firewall::default()
    }

    /// Adds `rule`.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn add(&mut self, rule: Rule) -> Result<()> {
        let mut args = vec!["-w".to_owned(), "-A".to_owned(), "INPUT".to_owned()];
        args.extend(rule.args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("iptables", &args)?;
        self.rules.push(rule);
        Ok(())
    }

    /// Adds `rule` and the same rule in the other direction.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn add_both_ways(&mut self, rule: Rule) -> Result<()> {
        self.add(rule)?;
        self.add(Rule {
            src: rule.dst,
            dst: rule.src,
            ..rule
        })
    }

    /// Cuts every packet between `a` and `b`, both ways.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn cut(&mut self, a: Ipv4Addr, b: Ipv4Addr, action: Action) -> Result<()> {
        self.add_both_ways(Rule {
            src: a,
            dst: b,
            traffic: Traffic::All,
            action,
        })
    }

    /// Cuts every pair with one address in `left` and one in `right`.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn split(&mut self, left: &[Ipv4Addr], right: &[Ipv4Addr], action: Action) -> Result<()> {
        for a in left {
            for b in right {
                self.cut(*a, *b, action)?;
            }
        }
        Ok(())
    }

    /// The rules in force.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Removes every rule (flushes the chain).
    ///
    /// # Errors
    /// When iptables fails.
    pub fn heal(&mut self) -> Result<()> {
        run("iptables", &["-w", "-F", "INPUT"])?;
        self.rules.clear();
        Ok(())
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        if !self.rules.is_empty() {
            if let Err(e) = self.heal() {
                eprintln!("fault: cannot flush iptables at teardown: {e:#}");
            }
        }
    }
}
