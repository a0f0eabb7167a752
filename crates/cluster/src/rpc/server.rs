//! [`RpcServer`]: the RPC listener. Every accepted connection does the handshake, then reads requests
//! and runs each one on the [`Handler`]: a call that finishes without waiting (most of them: a read or
//! write of this node's own copy) is answered at once, the others go on as tasks of their own, at most
//! [`MAX_IN_FLIGHT`] per connection. A writer task sends the responses as they complete, coalescing all
//! ready ones into one write.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::RpcSettings;
use super::codec::{check_response, decode_request, encode_response, frame_id, frame_limits};
use super::handshake;
use super::io::{FrameReader, Outbox, configure, handshake_limits};
use super::message::{RemoteError, Request, Response};
use crate::error::{ClusterError, Result};

/// Requests one connection may have in flight; reading pauses at this many.
const MAX_IN_FLIGHT: usize = 1024;

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    /// The connection's remote address.
    pub peer: SocketAddr,
    /// The sender's routing-table fingerprint (0: none).
    pub fingerprint: u64,
}

/// What answers the requests of an [`RpcServer`].
pub trait Handler: Send + Sync + 'static {
    /// This node's routing-table fingerprint, put into every response (read when the response is sent).
    fn fingerprint(&self) -> u64;

    /// Answers one request. Calls run concurrently; a call whose connection closes (the caller gave up,
    /// or the server shuts down) is dropped at its next await point.
    fn handle(
        &self,
        ctx: CallContext,
        req: Request,
    ) -> impl std::future::Future<Output = Response> + Send;
}

/// The RPC listener and its connections. Dropping it stops them too (without waiting).
#[derive(Debug)]
pub struct RpcServer {
    local_addr: SocketAddr,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl RpcServer {
    /// Binds `addr` and serves `handler` on it.
    ///
    /// # Errors
    /// [`ClusterError::Start`] when the address cannot be bound.
    pub async fn bind<H: Handler>(
        addr: SocketAddr,
        settings: RpcSettings,
        handler: Arc<H>,
    ) -> Result<RpcServer> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ClusterError::Start(format!("cannot bind the RPC port {addr}: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ClusterError::Start(format!("RPC listener on {addr}: {e}")))?;
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(accept_loop(
            listener,
            Arc::new(settings),
            handler,
            cancel.clone(),
            tracker.clone(),
        ));
        Ok(RpcServer {
            local_addr,
            cancel,
            tracker,
        })
    }

    /// The bound address (with the port chosen when binding port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection (calls in progress are dropped) and waits for the
    /// server's tasks to end. Idempotent.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    settings: Arc<RpcSettings>,
    handler: Arc<H>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let limit = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    tracing::warn!(
                        %peer,
                        max = settings.max_connections,
                        "too many RPC connections; closing the new one"
                    );
                    continue;
                };
                let settings = Arc::clone(&settings);
                let handler = Arc::clone(&handler);
                let cancel = cancel.child_token();
                let inner = tracker.clone();
                tracker.spawn(async move {
                    serve(stream, peer, settings, handler, cancel, inner).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "RPC accept failed");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
}

async fn serve<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    settings: Arc<RpcSettings>,
    handler: Arc<H>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    configure(&stream);
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = FrameReader::new(read_half, handshake_limits());
    let handshake = tokio::select! {
        () = cancel.cancelled() => return,
        r = tokio::time::timeout(
            settings.request_timeout,
            handshake::server(&mut reader, &mut write_half, &settings, peer),
        ) => r,
    };
    match handshake {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return,
        Err(_) => {
            tracing::debug!(%peer, "RPC handshake timed out");
            return;
        }
    }
    reader.set_limits(frame_limits());
    tracing::debug!(%peer, "RPC connection established");

    let outbox = Arc::new(Outbox::new());
    let writer_cancel = cancel.child_token();
    let writer = {
        let outbox = Arc::clone(&outbox);
        let writer_cancel = writer_cancel.clone();
        tracker.spawn(async move {
            if let Err(e) = outbox.write_loop(&mut write_half, &writer_cancel).await {
                tracing::debug!(%peer, error = %e, "RPC connection write failed");
            }
            outbox.abandon();
        })
    };

    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut calls = JoinSet::new();
    let clean = loop {
        while calls.try_join_next().is_some() {}
        let frame = tokio::select! {
            () = cancel.cancelled() => break false,
            r = reader.next() => r,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tracing::debug!(%peer, "RPC connection closed by the peer");
                break true;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "closing the RPC connection");
                break false;
            }
        };
        let id = frame_id(&frame);
        match decode_request(frame) {
            Ok((id, fingerprint, req)) => {
                let permit = tokio::select! {
                    () = cancel.cancelled() => break false,
                    p = Arc::clone(&in_flight).acquire_owned() => p,
                };
                let Ok(permit) = permit else { break false };
                let call = {
                    let handler = Arc::clone(&handler);
                    let outbox = Arc::clone(&outbox);
                    async move {
                        let ctx = CallContext { peer, fingerprint };
                        let resp = handler.handle(ctx, req).await;
                        respond(&*handler, &outbox, peer, id, resp);
                        drop(permit);
                    }
                };
                // Most requests (a read or write of this node's own copy) finish without waiting:
                // polled once here, they are answered without a task of their own. The others go on
                // as a task, polled again there.
                let mut call = Box::pin(call);
                let mut cx = Context::from_waker(Waker::noop());
                if call.as_mut().poll(&mut cx).is_pending() {
                    calls.spawn(call);
                }
            }
            Err(e) => {
                let Some(id) = id else {
                    tracing::debug!(%peer, error = %e, "unreadable RPC request; closing the connection");
                    break false;
                };
                tracing::debug!(%peer, id, error = %e, "malformed RPC request");
                let resp = Response::Error(RemoteError::Other(format!("bad request: {e}")));
                respond(&*handler, &outbox, peer, id, resp);
            }
        }
    };
    // The callers of the calls still running have gone: drop them.
    calls.shutdown().await;
    if clean {
        // Flush what is queued, briefly.
        outbox.close();
        let _ = tokio::time::timeout(settings.request_timeout, writer).await;
    } else {
        outbox.abandon();
    }
    writer_cancel.cancel();
}

/// Queues the response to request `id` (an error in its place when it is over the codec's limits).
fn respond<H: Handler>(
    handler: &H,
    outbox: &Outbox,
    peer: SocketAddr,
    id: u64,
    mut resp: Response,
) {
    if let Err(e) = check_response(&resp) {
        tracing::warn!(%peer, error = %e, "RPC response too large");
        resp = Response::Error(RemoteError::Other(format!("response too large: {e}")));
    }
    let fp = handler.fingerprint();
    outbox.push(|out| encode_response(id, fp, &resp, out));
}
