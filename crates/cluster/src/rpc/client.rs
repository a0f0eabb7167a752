//! [`RpcClient`]: calls to peers over a small pool of multiplexed connections per peer.
//!
//! Each connection has a writer task (requests queued meanwhile go out in one write) and a reader task
//! that hands every response to its call by id. Every call has the deadline `request_timeout`, covering
//! connect, handshake and answer. A connection on which a call timed out is retired: it takes no new
//! calls and closes once the calls still on it end, so a black-holed peer costs one timeout per call and
//! the next call connects afresh.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::RpcSettings;
use super::codec::{check_request, decode_response, encode_request, frame_id, frame_limits};
use super::handshake;
use super::io::{FrameReader, Outbox, configure, handshake_limits};
use super::message::{Request, Response};
use crate::error::{ClusterError, Result};

type Answer = Result<(Response, u64)>;

/// A client of RPC servers: a handle (cheap to clone) on a pool of connections per peer.
#[derive(Clone, Debug)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: RpcSettings,
    pools: parking_lot::Mutex<HashMap<SocketAddr, Arc<Pool>>>,
    /// Cancelled by [`RpcClient::close`] (or when the last handle goes); every connection's token is a
    /// child of it.
    cancel: CancellationToken,
    next_id: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[derive(Debug)]
struct Pool {
    slots: Box<[Slot]>,
    next: AtomicUsize,
}

#[derive(Debug)]
struct Slot {
    conn: parking_lot::Mutex<Option<Arc<Conn>>>,
    /// Held while connecting, so concurrent calls wait for one connection instead of opening many.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Conn {
    peer: SocketAddr,
    outbox: Outbox,
    calls: parking_lot::Mutex<Calls>,
    /// False once retired or failed: no new calls.
    usable: AtomicBool,
    cancel: CancellationToken,
    /// The client's token (to tell a close from a failure).
    client_cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Calls {
    waiting: HashMap<u64, Waiter>,
    retired: bool,
    /// Set once the connection failed (or was closed): the reason.
    failed: Option<String>,
}

#[derive(Debug)]
struct Waiter {
    tx: oneshot::Sender<Answer>,
    /// Where the request starts in the outbox (to know whether it was ever handed to the writer).
    start: u64,
}

impl RpcClient {
    /// A client with no connection yet (they are opened on first use).
    #[must_use]
    pub fn new(settings: RpcSettings) -> RpcClient {
        RpcClient {
            inner: Arc::new(Inner {
                settings,
                pools: parking_lot::Mutex::new(HashMap::new()),
                cancel: CancellationToken::new(),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// Calls `peer` with `req`, sending our routing-table `fingerprint`; returns the response and the
    /// peer's fingerprint. A [`Response::Error`] is returned as it is: the caller interprets it.
    ///
    /// # Errors
    /// - [`ClusterError::Timeout`] when no answer came within `request_timeout` (the request may have
    ///   taken effect);
    /// - [`ClusterError::Connection`] when the peer could not be reached (`not_sent: true`: connect or
    ///   handshake failed, or the connection broke before the request was handed to the socket) or the
    ///   connection broke afterwards (`not_sent: false`);
    /// - [`ClusterError::Refused`] when the handshake was refused (tag or secret differ);
    /// - [`ClusterError::Protocol`] for an answer that cannot be decoded;
    /// - [`ClusterError::InvalidArgument`] for a request over the codec's limits;
    /// - [`ClusterError::Closed`] after [`RpcClient::close`].
    pub async fn call(
        &self,
        peer: SocketAddr,
        fingerprint: u64,
        req: Request,
    ) -> Result<(Response, u64)> {
        let verb = req.verb();
        if self.inner.cancel.is_cancelled() {
            return Err(ClusterError::Closed);
        }
        if let Err(e) = check_request(&req) {
            return Err(ClusterError::InvalidArgument(format!(
                "{verb} request: {e}"
            )));
        }
        let after = self.inner.settings.request_timeout;
        let started = Instant::now();
        let mut used = None;
        let outcome = tokio::time::timeout(
            after,
            self.inner.call_on(peer, fingerprint, &req, &mut used),
        )
        .await;
        let result = match outcome {
            // The connect and handshake deadlines are the call's: report the call.
            Ok(Err(ClusterError::Timeout { .. })) => Err(ClusterError::Timeout {
                peer: peer.to_string(),
                op: verb,
                after,
            }),
            Ok(result) => result,
            Err(_) => {
                if let Some(conn) = used {
                    conn.retire();
                }
                tracing::debug!(%peer, verb, ?after, "RPC call timed out");
                Err(ClusterError::Timeout {
                    peer: peer.to_string(),
                    op: verb,
                    after,
                })
            }
        };
        metrics::histogram!("relaycache_cluster_rpc_seconds", "verb" => verb)
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            let kind = match e {
                ClusterError::Timeout { .. } => Some("timeout"),
                ClusterError::Connection { .. } | ClusterError::Protocol { .. } => {
                    Some("connection")
                }
                ClusterError::Refused { .. } => Some("refused"),
                _ => None,
            };
            if let Some(kind) = kind {
                metrics::counter!("relaycache_cluster_rpc_errors_total", "kind" => kind)
                    .increment(1);
            }
        }
        result
    }

    /// Closes the connections to `peer` (calls on them fail); the next call connects again. For peers
    /// that left, so their pool does not linger.
    pub fn disconnect(&self, peer: SocketAddr) {
        let pool = self.inner.pools.lock().remove(&peer);
        if let Some(pool) = pool {
            pool.close();
        }
    }

    /// Closes every connection; calls in progress and later calls fail with [`ClusterError::Closed`].
    pub fn close(&self) {
        self.inner.cancel.cancel();
        let pools: Vec<_> = self.inner.pools.lock().drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.close();
        }
    }
}

impl Inner {
    fn pool(&self, peer: SocketAddr) -> Arc<Pool> {
        let mut pools = self.pools.lock();
        Arc::clone(pools.entry(peer).or_insert_with(|| {
            let slots = (0..self.settings.connections_per_peer.max(1))
                .map(|_| Slot {
                    conn: parking_lot::Mutex::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                })
                .collect();
            Arc::new(Pool {
                slots,
                next: AtomicUsize::new(0),
            })
        }))
    }

    /// The call without its deadline; `used` receives the connection once there is one (so that the
    /// caller can retire it on a timeout).
    async fn call_on(
        &self,
        peer: SocketAddr,
        fingerprint: u64,
        req: &Request,
        used: &mut Option<Arc<Conn>>,
    ) -> Result<(Response, u64)> {
        let pool = self.pool(peer);
        let slot = pool.pick();
        let conn = slot.get(self, peer).await?;
        *used = Some(Arc::clone(&conn));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let rx = conn.send(id, fingerprint, req)?;
        let guard = Registered { conn: &conn, id };
        let answer = rx.await.unwrap_or_else(|_| {
            Err(ClusterError::Connection {
                peer: peer.to_string(),
                reason: "connection closed".into(),
                not_sent: false,
            })
        });
        drop(guard);
        answer
    }
}

impl Pool {
    fn pick(&self) -> &Slot {
        let n = self.slots.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        // Prefer a slot that has a connection; otherwise the round-robin one connects.
        (0..n)
            .map(|i| &self.slots[(first + i) % n])
            .find(|slot| slot.usable().is_some())
            .unwrap_or(&self.slots[first])
    }

    fn close(&self) {
        for slot in &self.slots {
            if let Some(conn) = slot.conn.lock().take() {
                conn.cancel.cancel();
            }
        }
    }
}

impl Slot {
    fn usable(&self) -> Option<Arc<Conn>> {
        self.conn
            .lock()
            .as_ref()
            .filter(|c| c.usable.load(Ordering::Acquire))
            .cloned()
    }

    async fn get(&self, client: &Inner, peer: SocketAddr) -> Result<Arc<Conn>> {
        if let Some(conn) = self.usable() {
            return Ok(conn);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(conn) = self.usable() {
            return Ok(conn);
        }
        if client.cancel.is_cancelled() {
            return Err(ClusterError::Closed);
        }
        let conn = connect(&client.settings, peer, &client.cancel).await?;
        *self.conn.lock() = Some(Arc::clone(&conn));
        if client.cancel.is_cancelled() {
            conn.cancel.cancel();
            return Err(ClusterError::Closed);
        }
        Ok(conn)
    }
}

/// Removes the call from its connection when the call ends in any way (answered, timed out, dropped).
struct Registered<'a> {
    conn: &'a Arc<Conn>,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.conn.forget(self.id);
    }
}

impl Conn {
    /// Queues the request; the receiver gets the answer.
    fn send(&self, id: u64, fingerprint: u64, req: &Request) -> Result<oneshot::Receiver<Answer>> {
        let (tx, rx) = oneshot::channel();
        let mut calls = self.calls.lock();
        if calls.failed.is_some() {
            drop(calls);
            return Err(self.failure_error("connection closed", true));
        }
        let start = self
            .outbox
            .push(|out| encode_request(id, fingerprint, req, out));
        match start {
            Some(start) => {
                calls.waiting.insert(id, Waiter { tx, start });
                Ok(rx)
            }
            None => {
                drop(calls);
                Err(self.failure_error("connection closed", true))
            }
        }
    }

    fn failure_error(&self, reason: &str, not_sent: bool) -> ClusterError {
        if self.client_cancel.is_cancelled() {
            ClusterError::Closed
        } else {
            ClusterError::Connection {
                peer: self.peer.to_string(),
                reason: reason.to_owned(),
                not_sent,
            }
        }
    }

    /// Delivers an answer.
    fn complete(&self, id: u64, answer: Answer) {
        let waiter = {
            let mut calls = self.calls.lock();
            let waiter = calls.waiting.remove(&id);
            if calls.retired && calls.waiting.is_empty() {
                self.cancel.cancel();
            }
            waiter
        };
        if let Some(waiter) = waiter {
            let _ = waiter.tx.send(answer);
        }
    }

    /// Drops a call that ended (its answer, if any, is ignored).
    fn forget(&self, id: u64) {
        let mut calls = self.calls.lock();
        calls.waiting.remove(&id);
        if calls.retired && calls.waiting.is_empty() {
            self.cancel.cancel();
        }
    }

    /// No new calls; close once the calls on it have ended.
    fn retire(&self) {
        self.usable.store(false, Ordering::Release);
        let mut calls = self.calls.lock();
        calls.retired = true;
        if calls.waiting.is_empty() {
            self.cancel.cancel();
        }
    }

    /// The connection is gone: fail every call on it.
    fn fail(&self, reason: String) {
        self.usable.store(false, Ordering::Release);
        let waiting = {
            let mut calls = self.calls.lock();
            if calls.failed.is_none() {
                calls.failed = Some(reason.clone());
            }
            std::mem::take(&mut calls.waiting)
        };
        let taken = self.outbox.abandon();
        self.cancel.cancel();
        for (_, waiter) in waiting {
            let _ = waiter
                .tx
                .send(Err(self.failure_error(&reason, waiter.start >= taken)));
        }
    }
}

/// Opens, configures and authenticates a connection to `peer`, and starts its tasks.
async fn connect(
    settings: &RpcSettings,
    peer: SocketAddr,
    client_cancel: &CancellationToken,
) -> Result<Arc<Conn>> {
    let failed = |what: &str, e: std::io::Error| ClusterError::Connection {
        peer: peer.to_string(),
        reason: format!("{what}: {e}"),
        not_sent: true,
    };
    let socket = if peer.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| failed("socket", e))?;
    if let Some(ip) = settings.local_ip {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| failed(&format!("bind {ip}"), e))?;
    }
    let timeout = settings.request_timeout;
    let stream: TcpStream = tokio::time::timeout(timeout, socket.connect(peer))
        .await
        .map_err(|_| ClusterError::Timeout {
            peer: peer.to_string(),
            op: "connect",
            after: timeout,
        })?
        .map_err(|e| failed("connect", e))?;
    configure(&stream);
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = FrameReader::new(read_half, handshake_limits());
    tokio::time::timeout(
        timeout,
        handshake::client(&mut reader, &mut write_half, settings, peer),
    )
    .await
    .map_err(|_| ClusterError::Timeout {
        peer: peer.to_string(),
        op: "handshake",
        after: timeout,
    })??;
    reader.set_limits(frame_limits());

    let cancel = client_cancel.child_token();
    let conn = Arc::new(Conn {
        peer,
        outbox: Outbox::new(),
        calls: parking_lot::Mutex::new(Calls::default()),
        usable: AtomicBool::new(true),
        cancel: cancel.clone(),
        client_cancel: client_cancel.clone(),
    });
    {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move {
            let reason = match conn.outbox.write_loop(&mut write_half, &conn.cancel).await {
                Ok(()) => "connection closed".to_owned(),
                Err(e) => format!("write: {e}"),
            };
            conn.fail(reason);
        });
    }
    {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move {
            let reason = read_loop(&conn, reader).await;
            conn.fail(reason);
        });
    }
    tracing::debug!(%peer, "RPC connection established");
    Ok(conn)
}

/// Hands every response to its call until the connection ends; returns why it ended.
async fn read_loop(conn: &Conn, mut reader: FrameReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    loop {
        let frame = tokio::select! {
            () = conn.cancel.cancelled() => return "connection closed".into(),
            r = reader.next() => r,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return "connection closed by the peer".into(),
            Err(e) => return format!("read: {e}"),
        };
        let id = frame_id(&frame);
        match decode_response(frame) {
            Ok((id, fingerprint, resp)) => conn.complete(id, Ok((resp, fingerprint))),
            Err(e) => match id {
                Some(id) => conn.complete(
                    id,
                    Err(ClusterError::Protocol {
                        peer: conn.peer.to_string(),
                        reason: e.to_string(),
                    }),
                ),
                None => {
                    tracing::debug!(peer = %conn.peer, error = %e, "unreadable RPC response");
                    return format!("unreadable response: {e}");
                }
            },
        }
    }
}
