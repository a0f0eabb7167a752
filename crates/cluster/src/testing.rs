//! Helpers for tests of clusters on one machine: free port pairs for nodes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// Finds a port `p` on `ip` such that TCP `p` (RPC), UDP `p` (wrong-port listener) and UDP `p + 2`
/// (gossip) are free right now, by binding all three to check. Another process may still take them
/// before the node binds; tests bind at once.
///
/// # Panics
/// When no such port is found in 200 tries (the machine is out of ports).
#[must_use]
pub fn free_node_port(ip: IpAddr) -> u16 {
    for _ in 0..200 {
        let Ok(tcp) = TcpListener::bind(SocketAddr::new(ip, 0)) else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        let port = addr.port();
        if port > u16::MAX - 2 {
            continue;
        }
        let udp = UdpSocket::bind(SocketAddr::new(ip, port));
        let gossip = UdpSocket::bind(SocketAddr::new(ip, port + 2));
        let gossip_tcp = TcpListener::bind(SocketAddr::new(ip, port + 2));
        if udp.is_ok() && gossip.is_ok() && gossip_tcp.is_ok() {
            return port;
        }
    }
    panic!("no free port triple found on {ip}");
}

/// [`free_node_port`] on 127.0.0.1.
#[must_use]
pub fn free_loopback_port() -> u16 {
    free_node_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
