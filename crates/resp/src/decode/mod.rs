//! Incremental decoders. Both keep their progress between calls, so bytes already examined are never
//! examined again when more input arrives, and both check every [`Limits`](crate::Limits) bound before
//! reserving memory for it.
//!
//! - [`RequestDecoder`]: what a server reads: commands as arrays of bulk strings, or inline
//!   (telnet-style) lines. Arguments are returned as slices of the caller's buffer: no copy, no
//!   allocation per command once warmed up.
//! - [`FrameDecoder`]: any RESP2/RESP3 [`Frame`](crate::Frame), for clients reading replies; also a
//!   [`tokio_util::codec::Decoder`].

mod frame;
mod line;
mod request;

pub use frame::FrameDecoder;
pub use request::{Args, Request, RequestDecoder};

/// Parses a strict decimal integer (`-` allowed, no `+`, no spaces, no leading zeros).
#[must_use]
pub fn parse_i64_strict(text: &[u8]) -> Option<i64> {
    line::parse_i64(text)
}
