//! The tasks behind [`super::Membership`]: the driver that owns foca and the gossip socket, the peer
//! resolver that keeps joining, and the wrong-port responder.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foca::{
    AccumulatingRuntime, Codec, Foca, Header, Member, Message, OwnedNotification, State, Timer,
};
use rand_010::SeedableRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::identity::{self, IdCodec, MemberId};
use super::packet::{self, DecodeError, Kind, MAX_PACKET, VERSION};
use super::{MemberEvent, MembershipSettings, Shared};
use crate::auth::AuthKey;
use crate::config::{ClusterTag, Timings};

/// At most one refusal (and one log line) per sender in this time.
const RATE_LIMIT: Duration = Duration::from_secs(5);
/// Senders remembered by a rate limiter; more are not answered until old entries expire.
const RATE_LIMIT_CAP: usize = 4096;
/// First retry delay of the join while no other member is live.
const JOIN_BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Largest retry delay of the join.
const JOIN_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often configured peers that are not members are announced to while the cluster is not empty.
const KEEP_ANNOUNCING: Duration = Duration::from_secs(2);
/// Deadline of one DNS resolution.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// Addresses taken from one peer name.
const ADDRS_PER_PEER: usize = 16;
/// How long a leave notice is remembered while waiting for the member to go down.
const LEAVING_TTL: Duration = Duration::from_secs(60);
/// Leave notices remembered at once.
const LEAVING_CAP: usize = 1024;
/// How long foca remembers a down member (identities carry a generation, so this only has to outlive
/// stale gossip about the old one).
const REMOVE_DOWN_AFTER: Duration = Duration::from_secs(600);
/// Reasons and addresses read from the network are cut to this many characters in logs.
const TEXT_LIMIT: usize = 200;
/// Receive buffer: larger than any packet, so an oversized one is seen (and refused) whole.
const RECV_BUF: usize = 64 * 1024;

type FocaInstance = Foca<MemberId, IdCodec, rand_010::rngs::SmallRng, foca::NoCustomBroadcast>;

/// Requests from the handle.
pub(crate) enum Command {
    /// Leave gracefully, then acknowledge and stop.
    Leave(oneshot::Sender<()>),
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A new generation: the time in milliseconds, and always above the last one this process handed out
/// (a node restarted within the same millisecond still gets a higher one).
pub(crate) fn next_generation() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_millis();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The address to advertise (see [`MembershipSettings::advertise`]).
pub(crate) async fn pick_advertise(bound: SocketAddr, settings: &MembershipSettings) -> SocketAddr {
    if let Some(addr) = settings.advertise {
        return identity::normalize(addr);
    }
    if !bound.ip().is_unspecified() {
        return identity::normalize(bound);
    }
    let search = async {
        for peer in &settings.peers {
            let Ok(Ok(addrs)) =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(peer.as_str())).await
            else {
                continue;
            };
            for addr in addrs.take(ADDRS_PER_PEER) {
                if let Some(ip) = route_to(addr) {
                    return Some(ip);
                }
            }
        }
        None
    };
    let ip = tokio::time::timeout(RESOLVE_TIMEOUT * 2, search)
        .await
        .ok()
        .flatten()
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, bound.port())
}

/// The local IP the kernel would send to `peer` from (a connected UDP socket; nothing is sent).
fn route_to(peer: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(peer).ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// True for the timer that would turn a suspected member down when that member has refuted the
/// suspicion since (it is known at another incarnation now). foca leaves such a member up, but still
/// sends it the courtesy "you are down" notice of `notify_down_members`, and the member, believing it,
/// rejoins under a new generation: every suspicion refuted in time would end as a membership flap.
fn refuted(foca: &FocaInstance, timer: &foca::Timer<MemberId>) -> bool {
    let foca::Timer::ChangeSuspectToDown {
        member_id,
        incarnation,
        ..
    } = timer
    else {
        return false;
    };
    foca.iter_members()
        .any(|m| m.id() == member_id && m.incarnation() != *incarnation)
}

/// foca's configuration from the environment timings.
fn foca_config(timings: &Timings, name_len: usize, peers: usize) -> foca::Config {
    let floor = Duration::from_millis(10);
    let size = u32::try_from(peers.saturating_add(1))
        .unwrap_or(u32::MAX)
        .max(4);
    let mut config = foca::Config::new_lan(NonZeroU32::new(size).unwrap_or(NonZeroU32::MIN));
    config.probe_rtt = timings.probe_timeout.max(floor);
    // foca needs the probe period strictly longer than the probe round trip (the indirect probes run in
    // between); the `local` preset probes every 100 ms with a 200 ms timeout, so its period is 400 ms.
    config.probe_period = timings.probe_interval.max(config.probe_rtt * 2);
    config.suspect_to_down_after = timings.suspect_timeout.max(floor);
    config.remove_down_after = Some(REMOVE_DOWN_AFTER.max(timings.suspect_timeout * 10));
    config.max_packet_size =
        NonZeroUsize::new(MAX_PACKET.saturating_sub(packet::overhead(name_len)))
            .unwrap_or(NonZeroUsize::MIN);
    config.notify_down_members = true;
    // foca sizes retransmissions by log10(cluster size): 2 for a few nodes, too few for a suspicion to
    // reach its subject (and the refutation to come back) when packets are lost. A few more cost a few
    // bytes per gossip message on a small cluster.
    config.max_transmissions = config
        .max_transmissions
        .max(std::num::NonZeroU8::new(8).unwrap_or(std::num::NonZeroU8::MIN));
    let three = NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN);
    let two = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
    config.periodic_gossip = Some(foca::PeriodicParams {
        frequency: timings.gossip_interval.max(floor),
        num_members: three,
    });
    config.periodic_announce = Some(foca::PeriodicParams {
        frequency: (timings.probe_interval * 5).max(Duration::from_millis(500)),
        num_members: NonZeroUsize::MIN,
    });
    config.periodic_announce_to_down_members = Some(foca::PeriodicParams {
        frequency: (timings.probe_interval * 10).max(Duration::from_secs(1)),
        num_members: two,
    });
    config
}

/// Remembers when each key was last let through.
pub(crate) struct RateLimiter<K> {
    last: HashMap<K, Instant>,
    every: Duration,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub(crate) fn new(every: Duration) -> Self {
        RateLimiter {
            last: HashMap::new(),
            every,
        }
    }

    /// True (and remembered) when `key` was not let through in the last period.
    pub(crate) fn allow(&mut self, key: &K) -> bool {
        let now = Instant::now();
        if let Some(at) = self.last.get_mut(key) {
            if now.duration_since(*at) < self.every {
                return false;
            }
            *at = now;
            return true;
        }
        if self.last.len() >= RATE_LIMIT_CAP {
            let every = self.every;
            self.last.retain(|_, at| now.duration_since(*at) < every);
            if self.last.len() >= RATE_LIMIT_CAP {
                return false;
            }
        }
        self.last.insert(key.clone(), now);
        true
    }
}

/// Printable text from the network: lossy UTF-8, control characters replaced, length capped.
fn sanitize(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(TEXT_LIMIT)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Owner of foca, its timers and the gossip socket.
pub(crate) struct Driver {
    foca: FocaInstance,
    runtime: AccumulatingRuntime<MemberId>,
    timers: BinaryHeap<Reverse<(Instant, Timer<MemberId>)>>,
    tag: ClusterTag,
    key: Option<AuthKey>,
    bound: SocketAddr,
    shared: Arc<Shared>,
    /// Live members other than us, by address, as last published.
    up: BTreeMap<SocketAddr, MemberId>,
    /// Members that sent a leave notice, by address.
    leaving: HashMap<SocketAddr, (MemberId, Instant)>,
    /// Gates refusals and the warnings about dropped packets, per sender.
    drops: RateLimiter<SocketAddr>,
    /// Gates the warnings about refusals received, per refusing node.
    refused: RateLimiter<SocketAddr>,
    /// Gates the errors about wrong-port notices, per sender.
    wrong_port: RateLimiter<SocketAddr>,
    /// Set once leaving: no more renewals.
    stopping: bool,
    out: Vec<u8>,
}

impl Driver {
    pub(crate) fn new(
        settings: &MembershipSettings,
        local: MemberId,
        bound: SocketAddr,
        shared: Arc<Shared>,
    ) -> Self {
        let config = foca_config(
            &settings.timings,
            settings.tag.dmap_name.len(),
            settings.peers.len(),
        );
        let rng = rand_010::rngs::SmallRng::seed_from_u64(rand::random());
        Driver {
            foca: Foca::new(local, config, rng, IdCodec),
            runtime: AccumulatingRuntime::new(),
            timers: BinaryHeap::new(),
            tag: settings.tag.clone(),
            key: settings.key.clone(),
            bound,
            shared,
            up: BTreeMap::new(),
            leaving: HashMap::new(),
            drops: RateLimiter::new(RATE_LIMIT),
            refused: RateLimiter::new(RATE_LIMIT),
            wrong_port: RateLimiter::new(RATE_LIMIT),
            stopping: false,
            out: Vec::with_capacity(MAX_PACKET),
        }
    }

    /// The driver loop: datagrams, timers, announce requests and commands, until cancelled or left.
    pub(crate) async fn run(
        mut self,
        receiver: UdpSocket,
        socket: std::net::UdpSocket,
        mut commands: mpsc::Receiver<Command>,
        mut peers: mpsc::Receiver<Vec<SocketAddr>>,
        cancel: CancellationToken,
    ) {
        let mut buf = vec![0u8; RECV_BUF];
        let mut errors: u32 = 0;
        loop {
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                command = commands.recv() => match command {
                    Some(Command::Leave(done)) => {
                        self.leave(&socket);
                        let _ = done.send(());
                        break;
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(next_timer.unwrap_or_else(Instant::now)),
                    if next_timer.is_some() => self.fire_timers(&socket),
                addrs = peers.recv(), if !peers.is_closed() => {
                    if let Some(addrs) = addrs {
                        self.announce_to(&socket, &addrs);
                    }
                }
                received = receiver.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        errors = 0;
                        let data = buf.get(..len).unwrap_or(&[]);
                        self.on_datagram(&socket, data, from);
                    }
                    Err(e) => {
                        // Unconnected UDP sockets may report ICMP errors of earlier sends; keep going,
                        // but do not spin on a broken socket.
                        tracing::debug!(error = %e, "gossip socket receive error");
                        errors = errors.saturating_add(1);
                        if errors > 100 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                },
            }
        }
    }

    fn local(&self) -> MemberId {
        *self.foca.identity()
    }

    fn fire_timers(&mut self, socket: &std::net::UdpSocket) {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, timer))) = self.timers.pop() {
                due.push(timer);
            }
        }
        for timer in due {
            if refuted(&self.foca, &timer) {
                continue;
            }
            if let Err(e) = self.foca.handle_timer(timer, &mut self.runtime) {
                tracing::debug!(error = %e, "foca timer");
            }
        }
        self.after_foca(socket);
    }

    /// Announces to every resolved peer address that is neither us nor a live member.
    fn announce_to(&mut self, socket: &std::net::UdpSocket, addrs: &[SocketAddr]) {
        let local = self.local();
        for &addr in addrs {
            if addr == local.addr || addr == self.bound || self.up.contains_key(&addr) {
                continue;
            }
            tracing::trace!(peer = %addr, "announcing");
            if let Err(e) = self
                .foca
                .announce(MemberId::new(addr, 0), &mut self.runtime)
            {
                tracing::debug!(peer = %addr, error = %e, "announce");
            }
        }
        self.after_foca(socket);
    }

    fn on_datagram(&mut self, socket: &std::net::UdpSocket, data: &[u8], from: SocketAddr) {
        let packet = match packet::decode(data) {
            Ok(p) => p,
            Err(DecodeError::NotGossip) => {
                self.count_drop("not_gossip", "not a relaycache gossip packet");
                if self.drops.allow(&from) {
                    tracing::debug!(
                        "dropped a datagram from {from}: not a relaycache gossip packet"
                    );
                }
                return;
            }
            Err(err) => {
                let (reason, here, there) = match err {
                    DecodeError::TooLong(_) => ("too_long", err.to_string(), err.to_string()),
                    DecodeError::Version(v) => (
                        "version",
                        format!("gossip version is {v} there, {VERSION} here"),
                        format!("gossip version is {VERSION} there, {v} here"),
                    ),
                    _ => ("malformed", err.to_string(), err.to_string()),
                };
                // Never answer what may be a refusal or a notice: no loops.
                let answer = !matches!(packet::peek_kind(data), Some(1 | 3));
                self.refuse(socket, from, reason, &here, &there, answer);
                return;
            }
        };
        match packet.kind {
            Kind::Refusal => self.on_refusal(from, packet.payload),
            Kind::WrongPort => self.on_wrong_port(from, packet.payload),
            Kind::Foca | Kind::Leave => {
                if let Some((reason, here, there)) = self.check(&packet) {
                    self.refuse(socket, from, reason, &here, &there, true);
                    return;
                }
                if packet.kind == Kind::Foca {
                    self.on_foca(packet.payload);
                } else {
                    self.on_leave(from, packet.payload);
                }
                self.after_foca(socket);
            }
        }
    }

    /// Why a foca message or leave notice is refused, as (metric reason, text here, text there).
    fn check(&self, packet: &packet::Packet<'_>) -> Option<(&'static str, String, String)> {
        if !packet.same_cluster(&self.tag) {
            let theirs = packet.cluster_tag();
            let reason = if theirs.dmap_name != self.tag.dmap_name {
                "dmap_name"
            } else if theirs.partition_count != self.tag.partition_count {
                "partition_count"
            } else {
                "environment"
            };
            let here = self
                .tag
                .mismatch(&theirs)
                .unwrap_or_else(|| "another cluster".to_owned());
            let there = theirs
                .mismatch(&self.tag)
                .unwrap_or_else(|| "another cluster".to_owned());
            return Some((reason, sanitize(here.as_bytes()), there));
        }
        match (&self.key, packet.mac) {
            (Some(_), None) => Some((
                "secret_missing",
                "secret missing there".to_owned(),
                "secret set there, none here".to_owned(),
            )),
            (None, Some(_)) => Some((
                "secret_unexpected",
                "secret set there, none here".to_owned(),
                "secret missing there".to_owned(),
            )),
            (Some(key), Some(_)) if !packet.verify(key) => Some((
                "secret_mismatch",
                "secret does not match".to_owned(),
                "secret does not match".to_owned(),
            )),
            _ => None,
        }
    }

    fn count_drop(&self, reason: &'static str, text: &str) {
        metrics::counter!("relaycache_cluster_gossip_dropped_total", "reason" => reason)
            .increment(1);
        let mut stats = self.shared.stats.lock();
        stats.dropped = stats.dropped.saturating_add(1);
        stats.last_drop_reason = Some(text.to_owned());
    }

    /// Drops a packet: counts it, and (rate-limited per sender) logs it and answers with a refusal.
    fn refuse(
        &mut self,
        socket: &std::net::UdpSocket,
        from: SocketAddr,
        reason: &'static str,
        here: &str,
        there: &str,
        answer: bool,
    ) {
        self.count_drop(reason, here);
        if !self.drops.allow(&from) {
            return;
        }
        tracing::warn!(sender = %from, reason, "refused gossip from {from}: {here}");
        if answer && self.send(socket, Kind::Refusal, from, there.as_bytes()) {
            let mut stats = self.shared.stats.lock();
            stats.refusals_sent = stats.refusals_sent.saturating_add(1);
        }
    }

    fn on_refusal(&mut self, from: SocketAddr, payload: &[u8]) {
        let reason = sanitize(payload);
        if self.refused.allow(&from) {
            tracing::warn!(peer = %from, "{from} refused our gossip: {reason}");
        }
        let mut stats = self.shared.stats.lock();
        stats.refusals_received = stats.refusals_received.saturating_add(1);
        stats.last_refusal_received = Some(reason);
    }

    fn on_wrong_port(&mut self, from: SocketAddr, payload: &[u8]) {
        let gossip = sanitize(payload);
        if self.wrong_port.allow(&from) {
            tracing::error!(
                peer = %from,
                "peer {from} is an RPC port; its gossip port is {gossip}: fix cache.olric.peers"
            );
        }
        let mut stats = self.shared.stats.lock();
        stats.wrong_port_notices_received = stats.wrong_port_notices_received.saturating_add(1);
    }

    fn on_foca(&mut self, payload: &[u8]) {
        let local = self.local();
        // An announce that reached our socket is for us, whatever address the sender used for us (a name
        // that resolves to another of our addresses); foca only takes it if it names our advertised one.
        let mut rewritten = Vec::new();
        let mut data = payload;
        if let Ok(header) = IdCodec.decode_header(payload)
            && header.message == Message::Announce
            && header.dst.addr != local.addr
        {
            let header = Header {
                dst: local,
                ..header
            };
            if IdCodec.encode_header(&header, &mut rewritten).is_ok() {
                data = &rewritten;
            }
        }
        if let Err(e) = self.foca.handle_data(data, &mut self.runtime) {
            tracing::debug!(error = %e, "foca rejected a message");
        }
    }

    fn on_leave(&mut self, from: SocketAddr, payload: &[u8]) {
        let Ok(id) = identity::decode_id(payload) else {
            tracing::debug!(sender = %from, "malformed leave notice");
            return;
        };
        if id.addr == self.local().addr {
            return;
        }
        let known = self
            .foca
            .iter_membership_state()
            .find(|m| m.id() == &id)
            .map(|m| (m.incarnation(), m.state()));
        let Some((incarnation, state)) = known else {
            tracing::debug!(member = %id, "leave notice from an unknown identity");
            return;
        };
        {
            let mut stats = self.shared.stats.lock();
            stats.leave_notices_received = stats.leave_notices_received.saturating_add(1);
        }
        let now = Instant::now();
        if self.leaving.len() >= LEAVING_CAP {
            self.leaving
                .retain(|_, (_, at)| now.duration_since(*at) < LEAVING_TTL);
        }
        if self.leaving.len() < LEAVING_CAP {
            self.leaving.insert(id.addr, (id, now));
        }
        if state != State::Down {
            // Declare it down now, without gossiping it: the member tells everybody itself.
            let down = Member::new(id, incarnation, State::Down);
            if let Err(e) = self
                .foca
                .apply_many(std::iter::once(down), false, &mut self.runtime)
            {
                tracing::debug!(error = %e, "applying a leave notice");
            }
        }
    }

    /// Wraps and sends; false if it could not be sent (UDP: a lost packet is fine).
    fn send(
        &mut self,
        socket: &std::net::UdpSocket,
        kind: Kind,
        to: SocketAddr,
        payload: &[u8],
    ) -> bool {
        let key = match kind {
            Kind::Foca | Kind::Leave => self.key.as_ref(),
            Kind::Refusal | Kind::WrongPort => None,
        };
        let payload = payload
            .get(
                ..payload
                    .len()
                    .min(MAX_PACKET - packet::overhead(self.tag.dmap_name.len())),
            )
            .unwrap_or(&[]);
        if let Err(e) = packet::encode(kind, &self.tag, payload, key, &mut self.out) {
            tracing::debug!(error = ?e, "gossip packet not built");
            return false;
        }
        match socket.send_to(&self.out, to) {
            Ok(_) => true,
            Err(e) => {
                tracing::trace!(peer = %to, error = %e, "gossip send failed");
                false
            }
        }
    }

    /// Sends what foca queued, schedules its timers, reacts to its notifications, then publishes the view.
    fn after_foca(&mut self, socket: &std::net::UdpSocket) {
        for _ in 0..8 {
            while let Some((to, data)) = self.runtime.to_send() {
                self.send(socket, Kind::Foca, to.addr, &data);
            }
            let now = Instant::now();
            while let Some((after, timer)) = self.runtime.to_schedule() {
                self.timers.push(Reverse((now + after, timer)));
            }
            while let Some(notification) = self.runtime.to_notify() {
                self.on_notification(notification);
            }
            if self.runtime.backlog() == 0 {
                break;
            }
        }
        self.reconcile();
    }

    fn on_notification(&mut self, notification: OwnedNotification<MemberId>) {
        match notification {
            OwnedNotification::Rejoin(id) => {
                tracing::info!(
                    generation = id.generation,
                    "declared down by the cluster; rejoined as {id}"
                );
                *self.shared.local.lock() = id;
            }
            OwnedNotification::Defunct if !self.stopping => {
                // Only reachable if renewal failed (generation at its maximum): try a fresh one.
                let fresh = MemberId::new(self.local().addr, next_generation());
                tracing::warn!("declared down by the cluster; rejoining as {fresh}");
                if fresh.generation > self.local().generation
                    && self.foca.change_identity(fresh, &mut self.runtime).is_ok()
                {
                    *self.shared.local.lock() = fresh;
                }
            }
            OwnedNotification::Idle => tracing::debug!("no other live member"),
            OwnedNotification::Active => tracing::debug!("known by the cluster"),
            _ => {}
        }
    }

    /// Derives the events from foca's active members and publishes the view.
    fn reconcile(&mut self) {
        let local = self.local();
        let mut live: BTreeMap<SocketAddr, MemberId> = BTreeMap::new();
        for member in self.foca.iter_members() {
            let id = *member.id();
            if id.addr == local.addr {
                continue;
            }
            let slot = live.entry(id.addr).or_insert(id);
            if id.generation > slot.generation {
                *slot = id;
            }
        }
        let previous = std::mem::take(&mut self.up);
        for (addr, old) in &previous {
            match live.get(addr) {
                None => self.gone(*old),
                Some(new) if new != old => {
                    self.gone(*old);
                    self.joined(*new);
                }
                Some(_) => {}
            }
        }
        for (addr, new) in &live {
            if !previous.contains_key(addr) {
                self.joined(*new);
            }
        }
        self.up = live;
        let mut view: Vec<MemberId> = self.up.values().copied().collect();
        view.push(local);
        view.sort();
        let count = view.len();
        let changed = self.shared.view.send_if_modified(|current| {
            if **current == view {
                false
            } else {
                *current = Arc::new(view);
                true
            }
        });
        if changed {
            metrics::gauge!("relaycache_cluster_members").set(count as f64);
        }
    }

    fn gone(&mut self, id: MemberId) {
        let left = match self.leaving.get(&id.addr) {
            Some((notice, _)) if notice.generation >= id.generation => {
                self.leaving.remove(&id.addr);
                true
            }
            _ => false,
        };
        if left {
            tracing::info!(member = %id.addr, generation = id.generation, "member left");
            metrics::counter!("relaycache_cluster_member_events_total", "event" => "leave")
                .increment(1);
            let _ = self.shared.events.send(MemberEvent::Left(id));
        } else {
            tracing::warn!(member = %id.addr, generation = id.generation, "member failed");
            metrics::counter!("relaycache_cluster_member_events_total", "event" => "fail")
                .increment(1);
            let _ = self.shared.events.send(MemberEvent::Failed(id));
        }
    }

    fn joined(&mut self, id: MemberId) {
        tracing::info!(member = %id.addr, generation = id.generation, "member joined");
        metrics::counter!("relaycache_cluster_member_events_total", "event" => "join").increment(1);
        let _ = self.shared.events.send(MemberEvent::Joined(id));
    }

    /// Tells every live member we leave, then lets foca gossip our down state.
    fn leave(&mut self, socket: &std::net::UdpSocket) {
        self.stopping = true;
        let local = self.local();
        let notice = identity::encode_id(&local);
        let members: Vec<SocketAddr> = self.up.keys().copied().collect();
        for addr in members {
            self.send(socket, Kind::Leave, addr, &notice);
        }
        if let Err(e) = self.foca.leave_cluster(&mut self.runtime) {
            tracing::debug!(error = %e, "foca leave");
        }
        while let Some((to, data)) = self.runtime.to_send() {
            self.send(socket, Kind::Foca, to.addr, &data);
        }
        tracing::info!(member = %local.addr, generation = local.generation, "left the cluster");
    }
}

/// Resolves `peers` and hands the addresses to the driver: with backoff while we are alone, every
/// [`KEEP_ANNOUNCING`] otherwise.
pub(crate) async fn run_resolver(
    peers: Vec<String>,
    shared: Arc<Shared>,
    to_driver: mpsc::Sender<Vec<SocketAddr>>,
    cancel: CancellationToken,
) {
    if peers.is_empty() {
        return;
    }
    let mut view = shared.view.subscribe();
    let mut backoff = JOIN_BACKOFF_MIN;
    let mut warned: RateLimiter<String> = RateLimiter::new(Duration::from_secs(30));
    loop {
        let resolve = async {
            let mut addrs = Vec::new();
            for peer in &peers {
                match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(peer.as_str()))
                    .await
                {
                    Ok(Ok(found)) => {
                        addrs.extend(found.take(ADDRS_PER_PEER).map(identity::normalize));
                    }
                    Ok(Err(e)) => log_resolve_failure(&mut warned, peer, &e.to_string()),
                    Err(_) => log_resolve_failure(&mut warned, peer, "timed out"),
                }
            }
            addrs
        };
        let mut addrs = tokio::select! {
            () = cancel.cancelled() => return,
            addrs = resolve => addrs,
        };
        addrs.sort();
        addrs.dedup();
        if !addrs.is_empty() && to_driver.try_send(addrs).is_err() && to_driver.is_closed() {
            return;
        }
        let alone = view.borrow_and_update().len() <= 1;
        let wait = if alone {
            let wait = backoff;
            backoff = (backoff * 2).min(JOIN_BACKOFF_MAX);
            wait
        } else {
            backoff = JOIN_BACKOFF_MIN;
            KEEP_ANNOUNCING
        };
        let deadline = Instant::now() + wait;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(deadline) => break,
                changed = view.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // Everybody else just went away: start joining again at once.
                    if !alone && view.borrow_and_update().len() <= 1 {
                        backoff = JOIN_BACKOFF_MIN;
                        break;
                    }
                }
            }
        }
    }
}

fn log_resolve_failure(warned: &mut RateLimiter<String>, peer: &str, error: &str) {
    if warned.allow(&peer.to_owned()) {
        tracing::warn!(peer, error, "cannot resolve gossip peer {peer}: {error}");
    } else {
        tracing::debug!(peer, error, "cannot resolve gossip peer {peer}: {error}");
    }
}

/// Answers gossip that reached the RPC port number with a wrong-port notice naming the gossip address.
pub(crate) async fn run_wrong_port(
    socket: UdpSocket,
    sender: std::net::UdpSocket,
    tag: ClusterTag,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; 64];
    let mut limiter = RateLimiter::new(RATE_LIMIT);
    let mut out = Vec::with_capacity(MAX_PACKET);
    let here = socket.local_addr().ok();
    let mut errors: u32 = 0;
    loop {
        let received = tokio::select! {
            () = cancel.cancelled() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, from) = match received {
            Ok(r) => {
                errors = 0;
                r
            }
            Err(e) => {
                tracing::debug!(error = %e, "wrong-port socket receive error");
                errors = errors.saturating_add(1);
                if errors > 100 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        // A datagram larger than the buffer is truncated; only its first bytes matter here.
        if packet::peek_kind(buf.get(..len).unwrap_or(&[])) != Some(Kind::Foca.code()) {
            continue;
        }
        if !limiter.allow(&from) {
            continue;
        }
        let gossip = shared.local.lock().addr;
        tracing::warn!(
            sender = %from,
            "gossip from {from} reached the RPC port{}; answered that the gossip port is {gossip}",
            here.map(|h| format!(" {h}")).unwrap_or_default()
        );
        if packet::encode(
            Kind::WrongPort,
            &tag,
            gossip.to_string().as_bytes(),
            None,
            &mut out,
        )
        .is_ok()
            && sender.send_to(&out, from).is_ok()
        {
            let mut stats = shared.stats.lock();
            stats.wrong_port_notices_sent = stats.wrong_port_notices_sent.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod refutation_tests {
    use super::*;
    use foca::{Member, State, Timer};

    fn id(port: u16) -> MemberId {
        MemberId::new(SocketAddr::from(([127, 0, 0, 1], port)), 1)
    }

    #[test]
    fn a_suspicion_refuted_in_time_does_not_turn_the_member_down() {
        let config = foca_config(&Timings::local(), 9, 2);
        let rng = rand_010::rngs::SmallRng::seed_from_u64(7);
        let mut foca: FocaInstance = Foca::new(id(1), config, rng, IdCodec);
        let mut runtime = AccumulatingRuntime::new();
        let peer = id(2);
        foca.apply_many(
            [Member::new(peer, 0, State::Suspect)].into_iter(),
            false,
            &mut runtime,
        )
        .expect("suspect");
        let timer = Timer::ChangeSuspectToDown {
            member_id: peer,
            incarnation: 0,
            token: 0,
        };
        assert!(!refuted(&foca, &timer), "still suspected at incarnation 0");
        // The member answers with a higher incarnation: the suspicion is refuted.
        foca.apply_many(
            [Member::new(peer, 1, State::Alive)].into_iter(),
            false,
            &mut runtime,
        )
        .expect("alive");
        assert!(refuted(&foca, &timer));
        // Other timers are never skipped.
        assert!(!refuted(&foca, &Timer::ProbeRandomMember(0)));
    }
}
