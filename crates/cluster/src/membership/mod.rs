//! SWIM membership on foca (see `docs/cluster.md`, "Membership" and "Gossip packet").
//!
//! [`Membership::start`] binds the gossip UDP socket (and, optionally, a socket on the RPC port number
//! that answers misdirected gossip with a wrong-port notice), then runs one tokio task that owns the foca
//! instance, its timers and the socket, one task that resolves `peers` and asks the driver to announce to
//! those that are not members, and the wrong-port responder.
//!
//! - Every packet is wrapped: magic, version, kind, the [`ClusterTag`], and an
//!   HMAC-SHA256 tag with the gossip key. A packet of another cluster, or with a missing, unexpected or
//!   wrong tag, is dropped, counted (`relaycache_cluster_gossip_dropped_total{reason}`), logged and
//!   answered (at most once per 5 s per sender) with a refusal the sender logs.
//! - Identities are [`MemberId`]s (address + generation), so a restarted or falsely-suspected node comes
//!   back at once under a higher generation.
//! - The live view ([`Membership::view`]) and the events ([`Membership::events`]) are derived from foca's
//!   active members after every interaction, so they always agree.
//!
//! Refusal texts are phrased from the reader's side: the refusing node logs
//! `refused gossip from A: secret missing there`, and the refused node logs
//! `B refused our gossip: secret set there, none here` ("here" is always the node that writes the log).
//! Datagrams that do not start with the magic are dropped and counted but not answered.

mod driver;
mod identity;
mod packet;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::AuthKey;
use crate::config::{ClusterTag, Timings};
use crate::error::{ClusterError, Result};

pub use identity::MemberId;

/// Capacity of the event channel; a receiver that falls further behind gets `RecvError::Lagged`.
const EVENT_CAPACITY: usize = 256;
/// How long [`Membership::leave`] waits for the driver to send its notices.
const LEAVE_ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// How long [`Membership::leave`] and [`Membership::kill`] wait for the tasks to end, in all.
const JOIN_TIMEOUT: Duration = Duration::from_millis(300);

/// Settings of [`Membership::start`].
#[derive(Debug, Clone)]
pub struct MembershipSettings {
    /// Gossip UDP socket bind address (port 0 picks a free one).
    pub bind: SocketAddr,
    /// The gossip address other nodes reach this node at. `None`: the bound address; when its IP is
    /// unspecified (`0.0.0.0`, `::`), the local address that routes to the first resolvable peer, else
    /// `127.0.0.1`.
    pub advertise: Option<SocketAddr>,
    /// Also bind a UDP socket here (the RPC port number) that answers gossip with a wrong-port notice
    /// naming the gossip address.
    pub wrong_port_bind: Option<SocketAddr>,
    /// `host:port` gossip addresses of nodes to join; resolved again on every attempt.
    pub peers: Vec<String>,
    /// What every node of the cluster agrees on.
    pub tag: ClusterTag,
    /// Failure-detection timings.
    pub timings: Timings,
    /// Gossip key (derived with [`crate::auth::GOSSIP_LABEL`]); `None`: unauthenticated.
    pub key: Option<AuthKey>,
}

/// A change of the live member set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member became live (new, restarted, or back under a new generation).
    Joined(MemberId),
    /// A member announced that it leaves, and is gone.
    Left(MemberId),
    /// A member was declared down without a leave notice, or was replaced by a newer generation of itself.
    Failed(MemberId),
}

/// Counters of what the gossip socket dropped, refused and was told (mostly for tests and diagnostics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipStats {
    /// Packets dropped: malformed, too long, another version or cluster, a missing, unexpected or bad MAC.
    pub dropped: u64,
    /// The reason of the last drop, as logged here.
    pub last_drop_reason: Option<String>,
    /// Refusals sent back to senders of dropped packets.
    pub refusals_sent: u64,
    /// Refusals received: another node dropped our gossip.
    pub refusals_received: u64,
    /// The reason of the last refusal received, as sent by the refusing node.
    pub last_refusal_received: Option<String>,
    /// Wrong-port notices sent by the wrong-port socket.
    pub wrong_port_notices_sent: u64,
    /// Wrong-port notices received: a configured peer address is an RPC port.
    pub wrong_port_notices_received: u64,
    /// Leave notices received and accepted.
    pub leave_notices_received: u64,
}

/// State shared between the handle and the tasks.
pub(crate) struct Shared {
    pub(crate) local: Mutex<MemberId>,
    pub(crate) view: watch::Sender<Arc<Vec<MemberId>>>,
    pub(crate) events: broadcast::Sender<MemberEvent>,
    pub(crate) stats: Mutex<MembershipStats>,
}

/// Running membership: a handle owning the gossip tasks. Dropping it stops them (without a leave notice).
pub struct Membership {
    shared: Arc<Shared>,
    gossip_addr: SocketAddr,
    wrong_port_addr: Option<SocketAddr>,
    commands: mpsc::Sender<driver::Command>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("local", &self.local())
            .field("gossip_addr", &self.gossip_addr)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// Binds the gossip socket on `settings.bind` (and the wrong-port socket), then starts gossiping and
    /// joining `peers`. Fails with [`ClusterError::Start`] when a socket cannot be bound or
    /// `dmap_name` is over 255 bytes.
    pub async fn start(settings: MembershipSettings) -> Result<Membership> {
        let socket = std::net::UdpSocket::bind(settings.bind).map_err(|e| {
            ClusterError::Start(format!(
                "cannot bind the gossip socket {}: {e}",
                settings.bind
            ))
        })?;
        Self::run(settings, socket).await
    }

    /// Like [`Membership::start`] on an already bound socket (`settings.bind` is then ignored). Tests use
    /// it to know every address before any node starts.
    pub async fn start_with_socket(
        settings: MembershipSettings,
        socket: std::net::UdpSocket,
    ) -> Result<Membership> {
        Self::run(settings, socket).await
    }

    async fn run(settings: MembershipSettings, socket: std::net::UdpSocket) -> Result<Membership> {
        if settings.tag.dmap_name.len() > usize::from(u8::MAX) {
            return Err(ClusterError::Start(format!(
                "dmap_name is {} bytes long, at most 255 fit in a gossip packet",
                settings.tag.dmap_name.len()
            )));
        }
        let (socket, sender) = split(socket)
            .map_err(|e| ClusterError::Start(format!("cannot use the gossip socket: {e}")))?;
        let gossip_addr = socket
            .local_addr()
            .map_err(|e| ClusterError::Start(format!("gossip socket: {e}")))?;
        let wrong_port =
            match settings.wrong_port_bind {
                Some(addr) => Some(std::net::UdpSocket::bind(addr).and_then(split).map_err(
                    |e| {
                        ClusterError::Start(format!(
                            "cannot bind the UDP socket on the RPC port {addr}: {e}"
                        ))
                    },
                )?),
                None => None,
            };
        let wrong_port_addr = match &wrong_port {
            Some((s, _)) => Some(
                s.local_addr()
                    .map_err(|e| ClusterError::Start(format!("wrong-port socket: {e}")))?,
            ),
            None => None,
        };
        let advertise = driver::pick_advertise(gossip_addr, &settings).await;
        let local = MemberId::new(advertise, driver::next_generation());
        let (view, _) = watch::channel(Arc::new(vec![local]));
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shared = Arc::new(Shared {
            local: Mutex::new(local),
            view,
            events,
            stats: Mutex::new(MembershipStats::default()),
        });
        let cancel = CancellationToken::new();
        let (commands, commands_rx) = mpsc::channel(4);
        let (peers_tx, peers_rx) = mpsc::channel(4);
        metrics::gauge!("relaycache_cluster_members").set(1.0);
        tracing::info!(
            gossip = %gossip_addr,
            advertise = %advertise,
            generation = local.generation,
            authenticated = settings.key.is_some(),
            "gossip started"
        );
        let mut tasks = Vec::with_capacity(3);
        let d = driver::Driver::new(&settings, local, gossip_addr, Arc::clone(&shared));
        tasks.push(tokio::spawn(d.run(
            socket,
            sender,
            commands_rx,
            peers_rx,
            cancel.clone(),
        )));
        tasks.push(tokio::spawn(driver::run_resolver(
            settings.peers.clone(),
            Arc::clone(&shared),
            peers_tx,
            cancel.clone(),
        )));
        if let Some((s, sender)) = wrong_port {
            tasks.push(tokio::spawn(driver::run_wrong_port(
                s,
                sender,
                settings.tag.clone(),
                Arc::clone(&shared),
                cancel.clone(),
            )));
        }
        Ok(Membership {
            shared,
            gossip_addr,
            wrong_port_addr,
            commands,
            cancel,
            tasks: Mutex::new(tasks),
        })
    }

    /// This node's current identity (its generation grows when it renews itself).
    #[must_use]
    pub fn local(&self) -> MemberId {
        *self.shared.local.lock()
    }

    /// The bound gossip address.
    #[must_use]
    pub fn gossip_addr(&self) -> SocketAddr {
        self.gossip_addr
    }

    /// The bound address of the wrong-port socket, if one was asked for.
    #[must_use]
    pub fn wrong_port_addr(&self) -> Option<SocketAddr> {
        self.wrong_port_addr
    }

    /// The live members, this node included, sorted, one identity per address (the latest generation).
    /// Updated on every change.
    #[must_use]
    pub fn view(&self) -> watch::Receiver<Arc<Vec<MemberId>>> {
        self.shared.view.subscribe()
    }

    /// Member events from now on (bounded: a slow receiver gets `Lagged`).
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<MemberEvent> {
        self.shared.events.subscribe()
    }

    /// Counters of dropped, refused and misdirected packets.
    #[must_use]
    pub fn stats(&self) -> MembershipStats {
        self.shared.stats.lock().clone()
    }

    /// Leaves gracefully: sends a leave notice to every live member, tells foca to leave (which gossips
    /// our own down state), then stops. Idempotent; takes well under a second. The view and the identity
    /// stay as they were last.
    pub async fn leave(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock());
        if tasks.is_empty() {
            return;
        }
        let (done, acked) = oneshot::channel();
        if self.commands.try_send(driver::Command::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(LEAVE_ACK_TIMEOUT, acked).await;
        }
        self.cancel.cancel();
        join_all(tasks).await;
    }

    /// Stops at once without telling anybody (a crash, for tests). Idempotent. When it returns, the
    /// sockets are closed.
    pub async fn kill(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock());
        self.cancel.cancel();
        for task in &tasks {
            task.abort();
        }
        join_all(tasks).await;
    }
}

/// A tokio socket to receive with, and a duplicate of it to send with. Sends go straight to the
/// (non-blocking) system call: a UDP send only fails when the buffer is full, and tokio's `try_send_to`
/// would also refuse until the reactor has seen the new socket writable, dropping the first announces.
fn split(
    socket: std::net::UdpSocket,
) -> std::io::Result<(tokio::net::UdpSocket, std::net::UdpSocket)> {
    socket.set_nonblocking(true)?;
    let sender = socket.try_clone()?;
    Ok((tokio::net::UdpSocket::from_std(socket)?, sender))
}

/// Waits for the tasks to end, at most [`JOIN_TIMEOUT`] in all, then aborts what is left.
async fn join_all(tasks: Vec<JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.cancel.cancel();
        for task in self.tasks.get_mut().iter() {
            task.abort();
        }
    }
}
