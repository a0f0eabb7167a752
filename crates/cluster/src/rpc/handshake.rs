//! The handshake at the start of every RPC connection.
//!
//! ```text
//! client → HELLO 1 dmap_name partition_count nonce_c
//! server ← HELLO 1 nonce_s proof_s                  (or -ERR <which setting differs>)
//! client → AUTH proof_c                             (or REFUSE <reason>)
//! server ← +OK                                      (or -ERR <reason>)
//! ```
//!
//! Nonces are 16 random bytes in hex. With a key, `proof_s = hex(HMAC(key, "server" ‖ nonce_c ‖ nonce_s))`
//! and `proof_c = hex(HMAC(key, "client" ‖ nonce_c ‖ nonce_s))` (the nonces as their hex text); without
//! one, proofs are empty. The client knows from `proof_s` whether the server has a key, so it decides
//! every key-presence mismatch and the failure of `proof_s`, and tells the server with `REFUSE`; the
//! server decides the tag and `proof_c`. Every reason text is written for the side that reads it
//! ("there" is the peer, "here" the reader), and both sides log refusals.
//!
//! A first frame that is not our `HELLO` (a Redis client on the wrong port, `HELLO 3` included) is
//! answered with [`NOT_CLUSTER`] and the connection closed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use relaycache_resp::Frame;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::RpcSettings;
use super::io::{FrameReader, from_hex, random_hex, to_hex, write_frame};
use crate::auth::AuthKey;
use crate::config::ClusterTag;
use crate::error::ClusterError;

/// The protocol version this node speaks.
const VERSION: &[u8] = b"1";

/// Bytes of a nonce (before hex).
const NONCE_LEN: usize = 16;

/// The answer to anything but the handshake as first message.
pub(super) const NOT_CLUSTER: &str =
    "ERR this is the relaycache cluster RPC port; connect redis clients to the server port";

/// The reason read by a side without a secret whose peer has one.
const LACKS_SECRET: &str = "secret required: the peer has a secret, none is set here";
/// The reason read by a side with a secret whose peer has none.
const PEER_LACKS_SECRET: &str = "secret missing: the peer has no secret, one is set here";
/// The reason when both have a secret, not the same.
const SECRET_MISMATCH: &str = "secret does not match";

fn proof(key: &AuthKey, role: &[u8], nonce_c: &[u8], nonce_s: &[u8]) -> String {
    to_hex(&key.tag(&[role, nonce_c, nonce_s]))
}

fn verify(key: &AuthKey, role: &[u8], nonce_c: &[u8], nonce_s: &[u8], proof: &[u8]) -> bool {
    from_hex(proof).is_some_and(|tag| key.verify(&[role, nonce_c, nonce_s], &tag))
}

fn is_nonce(text: &[u8]) -> bool {
    text.len() == NONCE_LEN * 2 && text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The bulks of an array of bulks, or `None`.
fn bulks(frame: &Frame) -> Option<Vec<&Bytes>> {
    match frame {
        Frame::Array(items) => items
            .iter()
            .map(|item| match item {
                Frame::Bulk(b) => Some(b),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn error_text(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    text.strip_prefix("ERR ").unwrap_or(&text).to_owned()
}

// ---------------------------------------------------------------------------------------------------
// Client side.

/// Runs the client side on a fresh connection to `peer`.
///
/// # Errors
/// [`ClusterError::Refused`] when either side refuses (logged), [`ClusterError::Connection`] (with
/// `not_sent`) for I/O failures and answers that are not the handshake's.
pub(super) async fn client<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut W,
    settings: &RpcSettings,
    peer: SocketAddr,
) -> Result<(), ClusterError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let broken = |reason: String| ClusterError::Connection {
        peer: peer.to_string(),
        reason: format!("handshake: {reason}"),
        not_sent: true,
    };
    let io_err = |e: io::Error| broken(e.to_string());
    let refused = |reason: String| {
        tracing::warn!(%peer, %reason, "RPC handshake refused by the peer");
        ClusterError::Refused {
            peer: peer.to_string(),
            reason,
        }
    };

    let nonce_c = random_hex(NONCE_LEN);
    let partition_count = settings.tag.partition_count.to_string();
    let hello = Frame::command([
        "HELLO",
        "1",
        settings.tag.dmap_name.as_str(),
        partition_count.as_str(),
        nonce_c.as_str(),
    ]);
    write_frame(writer, &hello).await.map_err(io_err)?;

    let answer = reader
        .next()
        .await
        .map_err(io_err)?
        .ok_or_else(|| broken("the peer closed the connection".into()))?;
    if let Some(text) = answer.as_error() {
        return Err(refused(error_text(text)));
    }
    let (nonce_s, proof_s) = match bulks(&answer).as_deref() {
        Some([hello, version, nonce_s, proof_s])
            if &hello[..] == b"HELLO" && &version[..] == VERSION && is_nonce(nonce_s) =>
        {
            ((*nonce_s).clone(), (*proof_s).clone())
        }
        _ => return Err(broken("the peer does not speak the relaycache RPC".into())),
    };

    // (what we tell the server, what we report) when we refuse it.
    let refusal = match (&settings.key, proof_s.is_empty()) {
        (Some(_), true) => Some((LACKS_SECRET, PEER_LACKS_SECRET)),
        (None, false) => Some((PEER_LACKS_SECRET, LACKS_SECRET)),
        (Some(key), false) => {
            if verify(key, b"server", nonce_c.as_bytes(), &nonce_s, &proof_s) {
                None
            } else {
                Some((SECRET_MISMATCH, SECRET_MISMATCH))
            }
        }
        (None, true) => None,
    };
    if let Some((theirs, ours)) = refusal {
        // Best effort: the server logs why; we refuse either way.
        let _ = write_frame(writer, &Frame::command(["REFUSE", theirs])).await;
        let _ = writer.shutdown().await;
        tracing::warn!(%peer, reason = ours, "refusing the RPC handshake");
        return Err(ClusterError::Refused {
            peer: peer.to_string(),
            reason: ours.to_owned(),
        });
    }

    let proof_c = settings
        .key
        .as_ref()
        .map(|key| proof(key, b"client", nonce_c.as_bytes(), &nonce_s))
        .unwrap_or_default();
    write_frame(writer, &Frame::command(["AUTH", proof_c.as_str()]))
        .await
        .map_err(io_err)?;
    let answer = reader
        .next()
        .await
        .map_err(io_err)?
        .ok_or_else(|| broken("the peer closed the connection".into()))?;
    match answer {
        Frame::Simple(ok) if &ok[..] == b"OK" => Ok(()),
        Frame::Error(text) => Err(refused(error_text(&text))),
        _ => Err(broken("unexpected answer to AUTH".into())),
    }
}

// ---------------------------------------------------------------------------------------------------
// Server side.

/// Why the server side did not complete (already logged and answered).
#[derive(Debug)]
pub(super) enum Failed {
    /// Not a cluster client (answered with [`NOT_CLUSTER`]).
    NotCluster,
    /// One side refused.
    Refused,
    /// The connection broke or closed.
    Io,
}

/// Runs the server side on an accepted connection from `peer`.
///
/// # Errors
/// Why the connection must be closed; the peer has been answered and the reason logged (refusals as
/// warnings, the rest as debug lines).
pub(super) async fn server<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut W,
    settings: &RpcSettings,
    peer: SocketAddr,
) -> Result<(), Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let io_failed = |e: io::Error| {
        tracing::debug!(%peer, error = %e, "RPC connection failed during the handshake");
        Failed::Io
    };
    let first = match reader.next().await {
        Ok(Some(frame)) => frame,
        Ok(None) => return Err(Failed::Io),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            tracing::debug!(%peer, error = %e, "not an RPC client: unreadable first message");
            return Err(not_cluster(reader, writer).await);
        }
        Err(e) => return Err(io_failed(e)),
    };
    let Some(args) = bulks(&first) else {
        tracing::debug!(%peer, "not an RPC client: the first message is not a command");
        return Err(not_cluster(reader, writer).await);
    };
    let hello = match args.as_slice() {
        [hello, version, dmap_name, partition_count, nonce_c, ..]
            if args.len() <= 6 && &hello[..] == b"HELLO" && is_nonce(nonce_c) =>
        {
            if &version[..] != VERSION {
                let version = String::from_utf8_lossy(version);
                let text = format!(
                    "ERR RPC protocol version {version} is not supported here (this node speaks 1)"
                );
                tracing::warn!(%peer, %version, "refused an RPC connection: other protocol version");
                return Err(refuse(reader, writer, &text).await);
            }
            let partition_count = std::str::from_utf8(partition_count)
                .ok()
                .and_then(|s| s.parse::<u32>().ok());
            match partition_count {
                Some(partition_count) => (
                    String::from_utf8_lossy(dmap_name).into_owned(),
                    partition_count,
                    (*nonce_c).clone(),
                ),
                None => {
                    tracing::debug!(%peer, "malformed RPC HELLO");
                    return Err(refuse(reader, writer, "ERR malformed HELLO").await);
                }
            }
        }
        _ => {
            tracing::debug!(%peer, "not an RPC client: the first command is not the RPC HELLO");
            return Err(not_cluster(reader, writer).await);
        }
    };
    let (dmap_name, partition_count, nonce_c) = hello;
    let theirs = ClusterTag {
        dmap_name,
        partition_count,
        environment: settings.tag.environment,
    };
    if let Some(ours) = settings.tag.mismatch(&theirs) {
        tracing::warn!(%peer, reason = %ours, "refused an RPC connection");
        let text = theirs.mismatch(&settings.tag).unwrap_or(ours);
        return Err(refuse(reader, writer, &format!("ERR {text}")).await);
    }

    let nonce_s = random_hex(NONCE_LEN);
    let proof_s = settings
        .key
        .as_ref()
        .map(|key| proof(key, b"server", &nonce_c, nonce_s.as_bytes()))
        .unwrap_or_default();
    let answer = Frame::command(["HELLO", "1", nonce_s.as_str(), proof_s.as_str()]);
    write_frame(writer, &answer).await.map_err(io_failed)?;

    let second = match reader.next().await {
        Ok(Some(frame)) => frame,
        Ok(None) => {
            tracing::debug!(%peer, "the peer closed the RPC connection during the handshake");
            return Err(Failed::Io);
        }
        Err(e) => return Err(io_failed(e)),
    };
    let (theirs, ours) = match bulks(&second).as_deref() {
        Some([verb, reason]) if &verb[..] == b"REFUSE" => {
            let reason = String::from_utf8_lossy(reason);
            tracing::warn!(%peer, %reason, "the peer refused the RPC handshake");
            return Err(Failed::Refused);
        }
        Some([verb, proof_c]) if &verb[..] == b"AUTH" => {
            match (&settings.key, proof_c.is_empty()) {
                (None, true) => return ok(writer).await.map_err(io_failed),
                (Some(key), false) => {
                    if verify(key, b"client", &nonce_c, nonce_s.as_bytes(), proof_c) {
                        return ok(writer).await.map_err(io_failed);
                    }
                    (SECRET_MISMATCH, SECRET_MISMATCH)
                }
                (Some(_), true) => (LACKS_SECRET, PEER_LACKS_SECRET),
                (None, false) => (PEER_LACKS_SECRET, LACKS_SECRET),
            }
        }
        _ => {
            tracing::debug!(%peer, "unexpected message instead of AUTH");
            return Err(refuse(reader, writer, "ERR expected AUTH").await);
        }
    };
    tracing::warn!(%peer, reason = ours, "refused an RPC connection");
    Err(refuse(reader, writer, &format!("ERR {theirs}")).await)
}

async fn ok<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    write_frame(writer, &Frame::ok()).await
}

/// Answers with the error `text`, then closes gracefully (lets the peer read the answer).
async fn refuse<R, W>(reader: &mut FrameReader<R>, writer: &mut W, text: &str) -> Failed
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if write_frame(writer, &Frame::error(text)).await.is_ok() {
        let _ = writer.shutdown().await;
        reader.drain(Duration::from_millis(200)).await;
    }
    Failed::Refused
}

async fn not_cluster<R, W>(reader: &mut FrameReader<R>, writer: &mut W) -> Failed
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let _ = refuse(reader, writer, NOT_CLUSTER).await;
    Failed::NotCluster
}
