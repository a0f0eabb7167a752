//! [`Session`]: what the server knows about one client connection.

use std::net::SocketAddr;
use std::time::Instant;

use relaycache_resp::Protocol;

/// The state of one client: identity, protocol version, authentication.
#[derive(Debug)]
pub(crate) struct Session {
    /// Unique per server, from 1 (`CLIENT ID`).
    pub(crate) id: u64,
    /// The peer address.
    pub(crate) peer: SocketAddr,
    /// The local address the client connected to.
    pub(crate) local: SocketAddr,
    /// `CLIENT SETNAME` / `HELLO ... SETNAME`.
    pub(crate) name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub(crate) lib_name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-VER`.
    pub(crate) lib_ver: Option<Vec<u8>>,
    /// RESP2 until `HELLO 3`.
    pub(crate) protocol: Protocol,
    /// True when no password is required or the client gave it.
    pub(crate) authenticated: bool,
    /// When the connection was accepted.
    pub(crate) created: Instant,
    /// The last command's name, for `CLIENT LIST`.
    pub(crate) last_command: &'static str,
    /// The commands queued since `MULTI`, if one is open.
    pub(crate) transaction: Option<crate::cmd::Transaction>,
    /// The keys watched by `WATCH`.
    pub(crate) watching: crate::watch::Watching,
    /// The batch result of the pipelined run of GETs or SETs being answered.
    pub(crate) prefetched: crate::prefetch::Prefetched,
}

impl Session {
    pub(crate) fn new(id: u64, peer: SocketAddr, local: SocketAddr, needs_auth: bool) -> Self {
        Session {
            id,
            peer,
            local,
            name: None,
            lib_name: None,
            lib_ver: None,
            protocol: Protocol::Resp2,
            authenticated: !needs_auth,
            created: Instant::now(),
            last_command: "NULL",
            transaction: None,
            watching: crate::watch::Watching::default(),
            prefetched: crate::prefetch::Prefetched::default(),
        }
    }

    /// One `CLIENT LIST` / `CLIENT INFO` line (without the trailing newline).
    pub(crate) fn describe(&self) -> String {
        let text = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle=0 flags=N db=0 sub=0 psub=0 ssub=0 \
             multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 \
             events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer,
            self.local,
            text(&self.name),
            self.created.elapsed().as_secs(),
            self.last_command,
            if self.protocol == Protocol::Resp3 {
                3
            } else {
                2
            },
            text(&self.lib_name),
            text(&self.lib_ver),
        )
    }
}
