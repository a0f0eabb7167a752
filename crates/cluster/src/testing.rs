//! Helpers for tests of clusters on one machine: free port pairs for nodes, and the process's resident
//! memory.
//!
//! A node needs a port `p` for RPC and `p + 2` for gossip, so a port handed out by the kernel for
//! `bind(0)` is not enough: `p + 2` may be anyone's next ephemeral port. Ports are therefore picked
//! below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), where no
//! `bind(0)` or outgoing connection lands, and reserved for the life of the test process by a lock
//! file, so that two tests running in parallel never pick the same one.

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Mutex;

/// Lowest port handed out: above the registered services most machines run.
const LOWEST: u16 = 10_000;
/// Tries before giving up.
const TRIES: usize = 2_000;

/// The lock files of the ports handed out; kept open (and so locked) until the process exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// Finds a port `p` on `ip` such that TCP `p` (RPC), UDP `p` (wrong-port listener) and UDP and TCP
/// `p + 2` (gossip) are free right now, by binding all four to check. The port lies below the
/// ephemeral range and is reserved for this process (see the module docs), so only a process that
/// binds fixed ports of its own can still take it.
///
/// # Panics
/// When no such port is found in 2,000 tries (the machine is out of ports).
#[must_use]
pub fn free_node_port(ip: IpAddr) -> u16 {
    let (low, high) = candidate_range();
    let span = u64::from(high - low);
    let mut seed = RandomState::new().build_hasher();
    seed.write_u32(std::process::id());
    let mut next = seed.finish();
    for _ in 0..TRIES {
        // A 64-bit LCG step; the high bits pick the candidate.
        next = next
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let offset = u16::try_from((next >> 33) % span).unwrap_or(0);
        let port = low + offset;
        // A node on `port - 2` would gossip on `port`, one on `port + 2` would serve RPC on this
        // node's gossip port: reserving both ports keeps such neighbours out.
        let Some(held) = reserve(port).zip(reserve(port + 2)) else {
            continue;
        };
        if bindable(ip, port) {
            if let Ok(mut all) = HELD.lock() {
                all.extend([held.0, held.1]);
            }
            return port;
        }
    }
    panic!(
        "no free node port found on {ip} in {TRIES} tries (ports {low}..{high}, lock files in {})",
        std::env::temp_dir().join("relaycache-test-ports").display()
    );
}

/// [`free_node_port`] on 127.0.0.1.
#[must_use]
pub fn free_loopback_port() -> u16 {
    free_node_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The ports candidates come from: `[LOWEST, start of the ephemeral range - 2)`, or the 10,000
/// ports from `LOWEST` when the range cannot be read or leaves too little room below it.
fn candidate_range() -> (u16, u16) {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok());
    match ephemeral_low {
        Some(start) if start >= LOWEST + 2_002 => (LOWEST, start - 2),
        _ => (LOWEST, LOWEST + 10_000),
    }
}

/// Takes the cross-process reservation of `port`: an exclusive lock on a file named after it,
/// held while the returned file is open. `None` when another live process (or another call in this
/// one) holds it, or when the lock directory cannot be used.
fn reserve(port: u16) -> Option<File> {
    let dir: PathBuf = std::env::temp_dir().join("relaycache-test-ports");
    fs::create_dir_all(&dir).ok()?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{port}.lock")))
        .ok()?;
    lock(&file).then_some(file)
}

/// Takes an exclusive advisory lock on `file` without waiting (released when it is closed).
#[cfg(unix)]
fn lock(file: &File) -> bool {
    rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Without advisory locks, only the bind checks guard a port.
#[cfg(not(unix))]
fn lock(_file: &File) -> bool {
    true
}

/// Whether the four sockets of a node on `port` can be bound now.
fn bindable(ip: IpAddr, port: u16) -> bool {
    let Some(gossip) = port.checked_add(2) else {
        return false;
    };
    TcpListener::bind(SocketAddr::new(ip, port)).is_ok()
        && UdpSocket::bind(SocketAddr::new(ip, port)).is_ok()
        && UdpSocket::bind(SocketAddr::new(ip, gossip)).is_ok()
        && TcpListener::bind(SocketAddr::new(ip, gossip)).is_ok()
}

/// The process's resident memory in bytes, from `/proc/self/statm` (Linux; 4 KiB pages).
///
/// # Panics
/// When `/proc/self/statm` cannot be read or parsed.
#[must_use]
pub fn resident_bytes() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in /proc/self/statm");
    pages * 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_repeat() {
        let (low, high) = candidate_range();
        let picked: Vec<u16> = (0..20).map(|_| free_loopback_port()).collect();
        let mut distinct = picked.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), picked.len(), "a port was handed out twice");
        assert!(picked.iter().all(|p| (low..high).contains(p)), "{picked:?}");
    }
}
