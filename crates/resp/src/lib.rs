//! # relaycache-resp
//!
//! The Redis serialization protocol (RESP2 and RESP3) as relaycache speaks it: frames, incremental
//! decoders with limits, an encoder and command parsing. It knows nothing about caches: the server
//! executes the commands this crate parses.
//!
//! ## Map (the data flow of a request)
//! bytes → [`RequestDecoder`] (module `decode`, enforces [`Limits`]) → [`Args`] → [`Command::parse`]
//! (module [`cmd`], one module per family of verbs, arity from [`cmd::COMMANDS`]) → the server executes →
//! reply written with [`Writer`] (module `encode`) in the connection's [`Protocol`].
//!
//! - `frame`: [`Frame`], every RESP2/RESP3 value, and [`Protocol`].
//! - `limits`: [`Limits`] every decoder enforces before reserving memory.
//! - `decode`: [`RequestDecoder`] (commands, zero-copy arguments) and [`FrameDecoder`] (any frame, for
//!   clients; also a `tokio_util` codec).
//! - `encode`: [`encode`] and [`Writer`], which downgrade RESP3 kinds on RESP2 connections.
//! - `parse`: [`Cursor`] over arguments and [`CommandError`], whose texts are Redis's.
//! - [`cmd`]: [`Command`] and the typed arguments of each verb.
//! - `error`: [`ProtocolError`], the `Protocol error: ...` replies.
//!
//! ## Guarantees
//! Decoders never panic on any input, never re-scan bytes they have already examined, and never reserve
//! memory for a length or count before checking it against [`Limits`]; nesting is bounded by an explicit
//! stack, not recursion. Property tests check round trips and arbitrary input.
//!
//! ## Example
//! ```
//! use bytes::BytesMut;
//! use relaycache_resp::{Command, Limits, Protocol, RequestDecoder, Writer};
//!
//! let mut decoder = RequestDecoder::new(Limits::default());
//! let request = decoder.decode(b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n").unwrap().unwrap();
//! let mut out = BytesMut::new();
//! let mut reply = Writer::new(&mut out, Protocol::Resp2);
//! match Command::parse(request.args) {
//!     Ok(Command::Get(key)) => reply.bulk(key), // a real server would look the key up
//!     Ok(_) => reply.ok(),
//!     Err(e) => reply.error(e.to_string().as_bytes()),
//! }
//! assert_eq!(&out[..], b"$5\r\nhello\r\n");
//! ```

pub mod cmd;
mod decode;
mod encode;
mod error;
mod frame;
mod limits;
mod parse;

pub use cmd::Command;
pub use decode::{Args, FrameDecoder, Request, RequestDecoder, parse_i64_strict};
pub use encode::{Writer, encode};
pub use error::ProtocolError;
pub use frame::{Frame, Protocol};
pub use limits::Limits;
pub use parse::{CommandError, Cursor, is, parse_int};
