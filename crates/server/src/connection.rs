//! One client connection: read bytes, decode requests, execute them in order, write the replies.
//!
//! The loop is readiness-driven on one task and one socket: it reads whatever has arrived, executes every
//! complete request in the buffer, appends each reply to one output buffer, then writes that buffer with
//! a single non-blocking write, so a pipeline of N commands costs one read and one write, not N. A client
//! that sends without reading has its replies buffered up to `limits.max_output_buffer` and is then
//! disconnected; it never blocks other clients (each connection is its own task).
//!
//! The stream is any [`Transport`]: a `TcpStream`, or on `tls_port` a TLS session over one, whose
//! encrypted records may wait inside the session for room in the socket (`has_buffered_output`); the
//! loop then waits for either direction as it does for unread replies.

use std::future::{Future, pending};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use relaycache::KeyOps;
use relaycache_resp::{RequestDecoder, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, Sleep, sleep_until};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::dispatch::{self, Flow};
use crate::metrics::{CloseReason, Local};
use crate::server::Shared;
use crate::session::Session;
use crate::transport::{READ_CHUNK, Transport};

/// Buffers grown past this by one large request or reply are given back once empty.
const BIG_BUFFER: usize = 1 << 20;
/// At shutdown, how long to wait for bytes a client has already sent.
const DRAIN_WAIT: Duration = Duration::from_millis(20);
/// Write the output buffer out once it holds this much, even in the middle of a pipeline.
const FLUSH_AT: usize = 64 << 10;

/// Serves one client until it quits, errs, times out or the server shuts down.
pub(crate) async fn serve<C: KeyOps + 'static, S: Transport>(
    mut stream: S,
    shared: Arc<Shared<C>>,
    mut session: Session,
    shutdown: CancellationToken,
) {
    let mut conn = Conn {
        decoder: RequestDecoder::new(shared.limits_for(session.authenticated)),
        input: BytesMut::with_capacity(READ_CHUNK),
        output: BytesMut::with_capacity(READ_CHUNK),
        local: Local::default(),
    };
    let outcome = conn.run(&mut stream, &shared, &mut session, shutdown).await;
    shared.watches.unwatch(session.id, &mut session.watching);
    conn.local.flush(&shared.metrics);
    match outcome {
        Ok(End::Quit | End::PeerClosed | End::Shutdown) => {}
        Ok(End::Closed(reason)) => {
            shared.metrics.closed(reason);
            tracing::debug!(client = session.id, peer = %session.peer, reason = reason.as_str(), "closing client");
        }
        Err(e) => {
            tracing::debug!(client = session.id, peer = %session.peer, error = %e, "client connection failed");
        }
    }
    // Best effort: the replies written so far (an error line, the last +OK) should reach the client.
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// What woke the connection up.
enum Event {
    Cancelled,
    Read(usize),
    Writable,
    Timeout,
}

enum End {
    Quit,
    PeerClosed,
    Shutdown,
    Closed(CloseReason),
}

struct Conn {
    decoder: RequestDecoder,
    input: BytesMut,
    output: BytesMut,
    local: Local,
}

impl Conn {
    async fn run<C: KeyOps + 'static, S: Transport>(
        &mut self,
        stream: &mut S,
        shared: &Shared<C>,
        session: &mut Session,
        shutdown: CancellationToken,
    ) -> io::Result<End> {
        let limits = &shared.config.limits;
        let idle = shared.config.idle_timeout;
        let partial = limits.partial_command_timeout;
        let mut cancelled = std::pin::pin!(shutdown.cancelled_owned());
        let mut timer: std::pin::Pin<&mut Sleep> =
            std::pin::pin!(sleep_until(Instant::now() + Duration::from_secs(86_400)));
        let mut timer_armed_for: Option<Instant> = None;
        let mut last_input = Instant::now();
        let mut partial_since: Option<Instant> = None;
        loop {
            // Execute every complete request received so far.
            if let Some(end) = self.execute_all(stream, shared, session).await? {
                if !matches!(end, End::Closed(CloseReason::OutputBuffer)) {
                    // Deliver the last replies (+OK of QUIT, the protocol error) if the client reads them.
                    if let Err(e) = self.flush_blocking(stream).await {
                        tracing::debug!(client = session.id, error = %e, "last replies not delivered");
                    }
                }
                return Ok(end);
            }
            // Count before replying, so a client that saw its reply also sees it in the metrics.
            self.local.flush(&shared.metrics);
            self.try_flush(stream)?;
            if self.output.len() as u64 > limits.max_output_buffer {
                return Ok(End::Closed(CloseReason::OutputBuffer));
            }
            if self.input.is_empty() && self.input.capacity() > BIG_BUFFER {
                // Give back the memory of one large request.
                self.input = BytesMut::with_capacity(READ_CHUNK);
            }

            // When must something have happened?
            partial_since = if self.input.is_empty() {
                None
            } else {
                partial_since.or(Some(Instant::now()))
            };
            let deadline = match (partial_since, idle.is_zero()) {
                (Some(since), _) if !partial.is_zero() => Some(since + partial),
                (_, false) => Some(last_input + idle),
                _ => None,
            };
            if deadline != timer_armed_for {
                if let Some(at) = deadline {
                    timer.as_mut().reset(at);
                }
                timer_armed_for = deadline;
            }
            let timeout = async {
                if deadline.is_some() {
                    (&mut timer).await;
                } else {
                    pending::<()>().await;
                }
            };
            let event = self.next_event(stream, cancelled.as_mut(), timeout).await?;
            match event {
                Event::Cancelled => {
                    self.drain(stream, shared, session).await?;
                    self.flush_blocking(stream).await?;
                    return Ok(End::Shutdown);
                }
                Event::Read(0) => return Ok(End::PeerClosed),
                Event::Read(_) => {
                    shared.busy_poll.activity();
                    if !idle.is_zero() {
                        last_input = Instant::now();
                    }
                }
                Event::Writable => {}
                Event::Timeout => {
                    let reason = if partial_since.is_some() && !partial.is_zero() {
                        CloseReason::Partial
                    } else {
                        CloseReason::Idle
                    };
                    return Ok(End::Closed(reason));
                }
            }
        }
    }

    /// Waits for input, for the socket to take more output (when replies are pending), for the shutdown
    /// signal, or for `timeout`.
    async fn next_event<S: Transport>(
        &mut self,
        stream: &mut S,
        cancelled: Pin<&mut WaitForCancellationFutureOwned>,
        timeout: impl Future<Output = ()>,
    ) -> io::Result<Event> {
        if self.output.is_empty() && !stream.has_buffered_output() {
            // The common case: wait for input. `read_buf` (unlike `try_read`) lets the runtime forget
            // the socket's readiness after a short read, saving a syscall per request.
            self.input.reserve(READ_CHUNK);
            return Ok(tokio::select! {
                biased;
                () = cancelled => Event::Cancelled,
                read = stream.read_buf(&mut self.input) => Event::Read(read?),
                () = timeout => Event::Timeout,
            });
        }
        // Replies are waiting for the client to read them: wait for either direction.
        Ok(tokio::select! {
            biased;
            () = cancelled => Event::Cancelled,
            read = stream.wait_either(&mut self.input, &mut self.output) => {
                read?.map_or(Event::Writable, Event::Read)
            }
            () = timeout => Event::Timeout,
        })
    }

    /// Executes the complete requests in the input buffer; `Some` when the connection must end.
    async fn execute_all<C: KeyOps + 'static, S: Transport>(
        &mut self,
        stream: &mut S,
        shared: &Shared<C>,
        session: &mut Session,
    ) -> io::Result<Option<End>> {
        // One clock read per command: each command's time runs from the end of the previous one.
        let mut mark = std::time::Instant::now();
        // A backend across the network answers a pipelined run of GETs or SETs in one batch.
        let batches = matches!(shared.mode, "ha" | "redis");
        // Held shared while this batch executes, so no other client's EXEC runs meanwhile. Released
        // before this client's own EXEC, which takes it exclusively: a connection never holds both.
        let mut shared_guard = None;
        loop {
            if shared_guard.is_none() {
                shared_guard = Some(shared.isolation.read().await);
            }
            if batches
                && session.prefetched.is_empty()
                && session.authenticated
                && session.transaction.is_none()
                && !self.decoder.in_progress()
            {
                let limits = self.decoder.limits();
                session
                    .prefetched
                    .prepare(&shared.cache, &self.input, limits)
                    .await;
            }
            let (consumed, flow) = match self.decoder.decode(&self.input) {
                Ok(Some(request)) => {
                    let flow = if request.args.is_empty() {
                        Flow::Continue
                    } else {
                        let exclusive = if session.transaction.is_some()
                            && request
                                .args
                                .get(0)
                                .is_some_and(|name| name.eq_ignore_ascii_case(b"exec"))
                        {
                            shared_guard = None;
                            Some(shared.isolation.write().await)
                        } else {
                            None
                        };
                        let (flow, index) = dispatch::execute(
                            request.args,
                            shared,
                            session,
                            &mut self.local,
                            &mut self.output,
                        )
                        .await;
                        drop(exclusive);
                        let now = std::time::Instant::now();
                        self.local
                            .command(index, now.saturating_duration_since(mark));
                        mark = now;
                        flow
                    };
                    (request.consumed, flow)
                }
                Ok(None) => {
                    session.prefetched.clear();
                    return Ok(None);
                }
                Err(e) => {
                    let mut w = Writer::new(&mut self.output, session.protocol);
                    w.error(format!("ERR {e}").as_bytes());
                    self.local.error();
                    tracing::debug!(client = session.id, peer = %session.peer, error = %e, "protocol error");
                    return Ok(Some(End::Closed(CloseReason::Protocol)));
                }
            };
            self.input.advance(consumed);
            match flow {
                Flow::Continue => {}
                Flow::Close => return Ok(Some(End::Quit)),
                Flow::Authenticated => {
                    self.decoder.set_limits(shared.limits_for(true));
                }
            }
            if self.output.len() >= FLUSH_AT {
                self.try_flush(stream)?;
                if self.output.len() as u64 > shared.config.limits.max_output_buffer {
                    return Ok(Some(End::Closed(CloseReason::OutputBuffer)));
                }
            }
        }
    }

    /// At shutdown: executes what the client has already sent (what is in the socket now, up to a bound),
    /// so every command that reached the server before the shutdown gets its reply.
    async fn drain<C: KeyOps + 'static, S: Transport>(
        &mut self,
        stream: &mut S,
        shared: &Shared<C>,
        session: &mut Session,
    ) -> io::Result<()> {
        for _ in 0..64 {
            self.input.reserve(READ_CHUNK);
            // A short wait rather than `try_read`: readiness reported by the OS but not yet seen by the
            // runtime would make `try_read` miss bytes that have arrived.
            match tokio::time::timeout(DRAIN_WAIT, stream.read_buf(&mut self.input)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
            }
            if self.execute_all(stream, shared, session).await?.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// Writes as much of the output as the socket takes without waiting.
    fn try_flush<S: Transport>(&mut self, stream: &mut S) -> io::Result<()> {
        while !self.output.is_empty() {
            match stream.try_write_now(&self.output) {
                Ok(n) => self.output.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.output.is_empty() && self.output.capacity() > BIG_BUFFER {
            // Give back the memory of one large reply.
            self.output = BytesMut::with_capacity(READ_CHUNK);
        }
        Ok(())
    }

    /// Writes all of the output, waiting at most a few seconds (used before closing).
    async fn flush_blocking<S: Transport>(&mut self, stream: &mut S) -> io::Result<()> {
        let write = async {
            stream.write_all(&self.output).await?;
            // TLS: the records still inside the session.
            stream.flush().await
        };
        match tokio::time::timeout(Duration::from_secs(5), write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client did not read its replies",
            )),
        }
    }
}
