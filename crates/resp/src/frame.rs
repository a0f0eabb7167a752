//! [`Frame`]: one RESP value, RESP2 and RESP3 kinds alike, and [`Protocol`], the version a connection speaks.

use bytes::Bytes;

/// The protocol version a connection speaks. RESP2 is the default; `HELLO 3` switches to RESP3.
///
/// The version only matters when encoding: RESP3-only kinds (maps, nulls, booleans, doubles, ...) are
/// written in their RESP2 form on a RESP2 connection, the way Redis does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2: nulls are `$-1`, maps are flat arrays.
    #[default]
    Resp2,
    /// RESP3: typed nulls `_`, maps `%`, sets `~`, booleans `#`, doubles `,`.
    Resp3,
}

/// One RESP value.
///
/// Aggregates hold their items in a `Vec`; maps, attributes hold key-value pairs as consecutive items
/// (`[k1, v1, k2, v2, ...]`), which keeps decoding and encoding uniform.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a short status line (no `\r` or `\n` inside).
    Simple(Bytes),
    /// `-ERR message`: an error line; the first word is the error code.
    Error(Bytes),
    /// `:42`: a signed 64-bit integer.
    Integer(i64),
    /// `$3\r\nfoo`: a binary-safe string.
    Bulk(Bytes),
    /// A null: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// `*-1`: the RESP2 null array (decoded only; encodes as `*-1` in RESP2 and `_` in RESP3).
    NullArray,
    /// `*N`: an array of frames.
    Array(Vec<Frame>),
    /// `#t` / `#f` (RESP3; `:1` / `:0` in RESP2).
    Boolean(bool),
    /// `,3.14` (RESP3; a bulk string in RESP2).
    Double(f64),
    /// `(1234...` an arbitrary-precision integer as decimal digits (RESP3; a bulk string in RESP2).
    BigNumber(Bytes),
    /// `!N\r\n...` a binary-safe error (RESP3; an error line in RESP2).
    BulkError(Bytes),
    /// `=N\r\ntxt:...` a string with a three-letter format (RESP3; a bulk string in RESP2).
    Verbatim {
        /// The format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// `%N`: N key-value pairs stored flat as `[k1, v1, ...]` (RESP3; a flat array in RESP2).
    Map(Vec<Frame>),
    /// `~N`: an unordered collection (RESP3; an array in RESP2).
    Set(Vec<Frame>),
    /// `|N`: attributes (key-value pairs stored flat) describing the frame that follows (RESP3).
    Attribute(Vec<Frame>),
    /// `>N`: an out-of-band push message (RESP3; an array in RESP2).
    Push(Vec<Frame>),
}

impl Frame {
    /// `+OK`.
    #[must_use]
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// A simple status line.
    #[must_use]
    pub fn simple(text: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// An error line; `text` should start with its code (`ERR ...`, `WRONGTYPE ...`).
    #[must_use]
    pub fn error(text: impl Into<String>) -> Frame {
        Frame::Error(Bytes::from(text.into()))
    }

    /// A bulk string copied from `data`.
    #[must_use]
    pub fn bulk(data: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// An array of bulk strings, as clients send commands.
    #[must_use]
    pub fn command<I, A>(args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        Frame::Array(args.into_iter().map(Frame::bulk).collect())
    }

    /// The bytes of a string-like frame (simple, bulk, verbatim, big number), if it is one.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) | Frame::BigNumber(b) => Some(b),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for the null kinds (`Null`, `NullArray`).
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullArray)
    }

    /// The error text of an error frame (`Error` or `BulkError`), if it is one.
    #[must_use]
    pub fn as_error(&self) -> Option<&[u8]> {
        match self {
            Frame::Error(b) | Frame::BulkError(b) => Some(b),
            _ => None,
        }
    }
}
