//! [`Client`]: a minimal RESP client for the `relaycache` tool and the tests: connect, send a command,
//! read its reply.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use relaycache_resp::{Frame, FrameDecoder, Limits, Protocol, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to a RESP server.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    input: BytesMut,
    output: BytesMut,
    decoder: FrameDecoder,
    timeout: Duration,
}

impl Client {
    /// Connects to `addr` (`host:port`), failing after `timeout`; `timeout` also bounds each reply.
    ///
    /// # Errors
    /// Connection failures and timeouts.
    pub async fn connect(addr: &str, timeout: Duration) -> io::Result<Client> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} timed out"),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            input: BytesMut::with_capacity(4096),
            output: BytesMut::new(),
            decoder: FrameDecoder::new(Limits::default()),
            timeout,
        })
    }

    /// Sends one command and returns its reply (error replies are returned as [`Frame::Error`]).
    ///
    /// # Errors
    /// I/O failures, a timeout, a closed connection, or a malformed reply.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Frame> {
        self.send(args).await?;
        self.read_reply().await
    }

    /// Sends one command without waiting for its reply (pipelining).
    ///
    /// # Errors
    /// I/O failures.
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.output.clear();
        encode(&Frame::command(args), Protocol::Resp2, &mut self.output);
        self.stream.write_all(&self.output).await
    }

    /// Writes raw bytes (for tests of malformed input).
    ///
    /// # Errors
    /// I/O failures.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads the next reply.
    ///
    /// # Errors
    /// I/O failures, a timeout, a closed connection (`UnexpectedEof`), or a malformed reply.
    pub async fn read_reply(&mut self) -> io::Result<Frame> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.input)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            {
                return Ok(frame);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))??;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                ));
            }
        }
    }

    /// Waits until the server closes the connection, discarding anything it sends; fails after the
    /// timeout.
    ///
    /// # Errors
    /// A timeout, or an I/O error other than a reset.
    pub async fn wait_closed(&mut self) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            self.input.clear();
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input)).await {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection still open",
                    ));
                }
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Ok(Err(e)) => return Err(e),
            }
        }
    }
}
