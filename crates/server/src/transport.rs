//! [`Transport`]: the byte streams a client connection runs over (plain TCP, TLS over TCP) and the
//! operations the connection loop needs beyond `AsyncRead` / `AsyncWrite`: a write that never waits,
//! and a wait for either direction.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// Read at least this much at a time.
pub(crate) const READ_CHUNK: usize = 16 << 10;

/// A client's byte stream.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Writes as much of `buf` as the stream takes without waiting; `WouldBlock` when it takes nothing.
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Whether bytes the stream has accepted are still inside it, not yet on the socket (TLS records
    /// waiting for room in the socket buffer).
    fn has_buffered_output(&self) -> bool;

    /// Waits until input arrives (appended to `input`: `Some(bytes read)`, 0 at end of stream) or the
    /// stream can take more of `output` (`None`). A stream that encrypts may move part of `output` in
    /// while waiting.
    fn wait_either(
        &mut self,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> impl Future<Output = io::Result<Option<usize>>> + Send;
}

impl Transport for TcpStream {
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }

    fn has_buffered_output(&self) -> bool {
        false
    }

    async fn wait_either(
        &mut self,
        input: &mut BytesMut,
        _output: &mut BytesMut,
    ) -> io::Result<Option<usize>> {
        let ready = self.ready(Interest::READABLE | Interest::WRITABLE).await?;
        if ready.is_readable() {
            input.reserve(READ_CHUNK);
            match self.try_read_buf(input) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl Transport for TlsStream<TcpStream> {
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Polled with a no-op waker: `Pending` just means "not now". Whoever waits next polls with the
        // task's real waker, which replaces this one.
        let mut cx = Context::from_waker(Waker::noop());
        let n = match Pin::new(&mut *self).poll_write(&mut cx, buf) {
            Poll::Ready(Ok(0)) | Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(result) => result?,
        };
        // Push the records out as far as the socket takes them now; the rest waits in the session
        // (`has_buffered_output`).
        if let Poll::Ready(Err(e)) = Pin::new(&mut *self).poll_flush(&mut cx) {
            return Err(e);
        }
        Ok(n)
    }

    fn has_buffered_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }

    async fn wait_either(
        &mut self,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> io::Result<Option<usize>> {
        poll_fn(|cx| {
            if !output.is_empty() {
                match Pin::new(&mut *self).poll_write(cx, output) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        output.advance(n);
                        return Poll::Ready(Ok(None));
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(_)) | Poll::Pending => {}
                }
            } else if self.has_buffered_output() {
                match Pin::new(&mut *self).poll_flush(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Ok(None)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            } else {
                return Poll::Ready(Ok(None));
            }
            // Writing has to wait: wait for input as well. A pending `read_buf` loses nothing when
            // dropped, so it is made anew on every poll.
            input.reserve(READ_CHUNK);
            let read = pin!(self.read_buf(input));
            read.poll(cx).map(|r| r.map(Some))
        })
        .await
    }
}
