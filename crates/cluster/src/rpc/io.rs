//! Connection plumbing both ends share: reading frames with limits, a writer that coalesces every
//! message queued meanwhile into one write, and the socket options.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use relaycache_resp::{Frame, FrameDecoder, Limits};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most bytes one message may take on the wire (the decoder bounds each bulk and the element count;
/// this bounds their product).
pub(super) const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Most times the writer yields to let more messages queue before it writes.
const COALESCE_YIELDS: usize = 8;

/// Bytes read at a time.
const READ_CHUNK: usize = 64 << 10;

/// Limits while the handshake is not done: its messages are a few short bulks.
pub(super) fn handshake_limits() -> Limits {
    Limits {
        max_bulk_len: 1024,
        max_args: 16,
        max_inline_len: 4096,
        max_nesting: 2,
        unauthenticated: true,
    }
}

/// Reads whole frames from a stream.
pub(super) struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    decoder: FrameDecoder,
    /// Bytes received since the last complete frame (the current message's size so far).
    since_frame: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(super) fn new(io: R, limits: Limits) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: FrameDecoder::new(limits),
            since_frame: 0,
        }
    }

    /// Replaces the decoder's limits. Only between frames (after [`FrameReader::next`] returned one and
    /// before it is called again), where the decoder holds no partial frame.
    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.decoder = FrameDecoder::new(limits);
    }

    /// The next frame; `None` at a clean end of stream (between frames). Cancel-safe: dropping the
    /// future loses nothing.
    ///
    /// # Errors
    /// I/O errors, malformed or over-limit input (`InvalidData`), or an end of stream inside a frame.
    pub(super) async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if !self.buf.is_empty() {
                if let Some(frame) = self.decoder.decode(&mut self.buf).map_err(invalid)? {
                    self.since_frame = self.buf.len();
                    return Ok(Some(frame));
                }
            }
            if self.since_frame > MAX_MESSAGE_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message longer than {MAX_MESSAGE_BYTES} bytes"),
                ));
            }
            self.buf.reserve(READ_CHUNK);
            let n = self.io.read_buf(&mut self.buf).await?;
            if n == 0 {
                if self.since_frame == 0 {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a message",
                ));
            }
            self.since_frame += n;
        }
    }

    /// Reads and drops input for at most `within` or until the end of stream (so that closing after an
    /// error reply does not reset the connection before the peer has read the reply).
    pub(super) async fn drain(&mut self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            let mut total = 0usize;
            loop {
                self.buf.clear();
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        total += n;
                        if total > READ_CHUNK * 4 {
                            break;
                        }
                    }
                }
            }
        })
        .await;
    }
}

fn invalid(e: relaycache_resp::ProtocolError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Writes one frame now (handshake messages).
pub(super) async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &Frame) -> io::Result<()> {
    let mut out = BytesMut::new();
    relaycache_resp::encode(frame, relaycache_resp::Protocol::Resp2, &mut out);
    w.write_all(&out).await
}

/// Messages waiting to be written on one connection. Senders append encoded messages; the writer takes
/// everything queued at once, so many messages go out in one write.
#[derive(Debug)]
pub(super) struct Outbox {
    state: Mutex<OutState>,
    notify: Notify,
}

#[derive(Debug)]
struct OutState {
    buf: BytesMut,
    /// Bytes ever appended.
    queued: u64,
    /// Bytes ever handed to the writer (a message starting at or after this never left).
    taken: u64,
    closed: bool,
}

impl Outbox {
    pub(super) fn new() -> Self {
        Outbox {
            state: Mutex::new(OutState {
                buf: BytesMut::new(),
                queued: 0,
                taken: 0,
                closed: false,
            }),
            notify: Notify::new(),
        }
    }

    /// Appends what `encode` writes; returns the offset the message starts at, or `None` (nothing
    /// appended) once the outbox is closed.
    pub(super) fn push(&self, encode: impl FnOnce(&mut BytesMut)) -> Option<u64> {
        let start = {
            let mut state = self.state.lock();
            if state.closed {
                return None;
            }
            let before = state.buf.len();
            encode(&mut state.buf);
            let start = state.queued;
            state.queued += (state.buf.len() - before) as u64;
            start
        };
        self.notify.notify_one();
        Some(start)
    }

    /// Stops taking messages; the writer writes what is queued and ends. Returns the offset up to which
    /// messages were handed to the writer: a message starting at or after it was never sent.
    pub(super) fn close(&self) -> u64 {
        let taken = {
            let mut state = self.state.lock();
            state.closed = true;
            state.taken
        };
        self.notify.notify_one();
        taken
    }

    /// Like [`Outbox::close`], and drops what was not handed to the writer yet.
    pub(super) fn abandon(&self) -> u64 {
        let taken = {
            let mut state = self.state.lock();
            state.closed = true;
            state.buf.clear();
            state.taken
        };
        self.notify.notify_one();
        taken
    }

    /// Writes queued messages to `w` until the outbox is closed and empty, or `cancel` fires.
    ///
    /// # Errors
    /// The first write error.
    pub(super) async fn write_loop<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        cancel: &CancellationToken,
    ) -> io::Result<()> {
        loop {
            let chunk = {
                let mut state = self.state.lock();
                if state.buf.is_empty() {
                    if state.closed {
                        return Ok(());
                    }
                    None
                } else {
                    let chunk = state.buf.split();
                    state.taken += chunk.len() as u64;
                    Some(chunk)
                }
            };
            match chunk {
                Some(mut chunk) => {
                    while !chunk.is_empty() {
                        let n = tokio::select! {
                            r = w.write(&chunk) => r?,
                            () = cancel.cancelled() => return Ok(()),
                        };
                        if n == 0 {
                            return Err(io::ErrorKind::WriteZero.into());
                        }
                        chunk.advance(n);
                    }
                }
                None => {
                    tokio::select! {
                        () = self.notify.notified() => {}
                        () = cancel.cancelled() => return Ok(()),
                    }
                    // The runtime runs a task it has just woken next, before the others that are ready:
                    // without this, a message pushed by each of many ready tasks would go out in a write
                    // of its own. Yielding lets them queue theirs first; a yield also polls the sockets,
                    // so the tasks that input woke add theirs too. Yield again while messages keep
                    // coming, a few times at most.
                    let mut seen = self.state.lock().queued;
                    for _ in 0..COALESCE_YIELDS {
                        tokio::task::yield_now().await;
                        let queued = self.state.lock().queued;
                        if queued == seen {
                            break;
                        }
                        seen = queued;
                    }
                }
            }
        }
    }
}

/// `TCP_NODELAY` and keepalive (idle 10 s, then probes every 5 s, 3 of them) on a connection.
pub(super) fn configure(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an RPC connection");
    }
    let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(10));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let keepalive = keepalive.with_interval(Duration::from_secs(5));
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let keepalive = keepalive.with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive on an RPC connection");
    }
}

/// `count` random bytes as lowercase hex.
pub(super) fn random_hex(count: usize) -> String {
    let bytes: Vec<u8> = (0..count).map(|_| rand::random::<u8>()).collect();
    to_hex(&bytes)
}

/// Lowercase hex of `bytes`.
pub(super) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Decodes lowercase or uppercase hex; `None` for anything else.
pub(super) fn from_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0xab, 0xff, 0x10];
        assert_eq!(to_hex(&bytes), "0001abff10");
        assert_eq!(from_hex(b"0001ABff10"), Some(bytes.to_vec()));
        assert_eq!(from_hex(b"0"), None);
        assert_eq!(from_hex(b"zz"), None);
        assert_eq!(random_hex(16).len(), 32);
    }
}
