//! Encoding: [`encode`] for whole [`Frame`]s, and the [`Writer`] helpers a server uses to write replies
//! straight into its output buffer without building frames.

use bytes::{BufMut, BytesMut};

use crate::frame::{Frame, Protocol};

/// Appends `frame` to `out` in the form `protocol` expects (RESP3-only kinds are downgraded on RESP2
/// connections the way Redis does: maps become flat arrays, nulls `$-1`, booleans integers, doubles bulk
/// strings).
///
/// ```
/// use bytes::BytesMut;
/// use relaycache_resp::{encode, Frame, Protocol};
/// let mut out = BytesMut::new();
/// encode(&Frame::Null, Protocol::Resp2, &mut out);
/// encode(&Frame::Null, Protocol::Resp3, &mut out);
/// assert_eq!(&out[..], b"$-1\r\n_\r\n");
/// ```
pub fn encode(frame: &Frame, protocol: Protocol, out: &mut BytesMut) {
    let mut w = Writer::new(out, protocol);
    w.frame(frame);
}

/// Writes reply pieces into a buffer for one connection's protocol version.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut BytesMut,
    protocol: Protocol,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut BytesMut, protocol: Protocol) -> Self {
        Writer { out, protocol }
    }

    /// The buffer written to (to continue with another writer, for example in another protocol).
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.out
    }

    /// The protocol replies are written in.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Bytes written so far (the whole buffer, including what was there before).
    #[must_use]
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// The byte at `index` of the buffer, if any (to inspect a reply just written).
    #[must_use]
    pub fn byte_at(&self, index: usize) -> Option<u8> {
        self.out.get(index).copied()
    }

    /// True when the buffer is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// `+text`. The text must not contain `\r` or `\n`.
    pub fn simple(&mut self, text: &[u8]) {
        self.out.reserve(text.len() + 3);
        self.out.put_u8(b'+');
        self.out.put_slice(text);
        self.out.put_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.out.put_slice(b"+OK\r\n");
    }

    /// `-text` (the text should start with its code, such as `ERR`). Line breaks are replaced by spaces.
    pub fn error(&mut self, text: &[u8]) {
        self.out.reserve(text.len() + 3);
        self.out.put_u8(b'-');
        for &b in text {
            self.out
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.out.put_slice(b"\r\n");
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        self.line(b':', n);
    }

    /// `$len\r\ndata\r\n`.
    pub fn bulk(&mut self, data: &[u8]) {
        self.out.reserve(data.len() + 16);
        self.line(b'$', data.len() as i64);
        self.out.put_slice(data);
        self.out.put_slice(b"\r\n");
    }

    /// A null: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.put_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.put_slice(b"_\r\n"),
        }
    }

    /// A null array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.put_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.put_slice(b"_\r\n"),
        }
    }

    /// The header of an array of `len` items; write the items next.
    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// The header of a map of `pairs` key-value pairs (`%` in RESP3, a flat `*2n` array in RESP2);
    /// write key, value, key, value... next.
    pub fn map(&mut self, pairs: usize) {
        match self.protocol {
            Protocol::Resp2 => self.line(b'*', (pairs * 2) as i64),
            Protocol::Resp3 => self.line(b'%', pairs as i64),
        }
    }

    /// The header of a set of `len` items (`~` in RESP3, an array in RESP2).
    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.line(b'*', len as i64),
            Protocol::Resp3 => self.line(b'~', len as i64),
        }
    }

    /// A verbatim text (`=` with format `txt` in RESP3, a bulk string in RESP2), as `INFO` replies.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.line(b'=', text.len() as i64 + 4);
                self.out.put_slice(b"txt:");
                self.out.put_slice(text);
                self.out.put_slice(b"\r\n");
            }
        }
    }

    /// Any frame.
    pub fn frame(&mut self, frame: &Frame) {
        let resp3 = self.protocol == Protocol::Resp3;
        match frame {
            Frame::Simple(s) => self.simple(s),
            Frame::Error(e) => self.error(e),
            Frame::Integer(n) => self.integer(*n),
            Frame::Bulk(b) => self.bulk(b),
            Frame::Null => self.null(),
            Frame::NullArray => self.null_array(),
            Frame::Array(items) => self.items(b'*', items.len(), items),
            Frame::Boolean(b) if resp3 => {
                self.out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Frame::Boolean(b) => self.integer(i64::from(*b)),
            Frame::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    self.out.put_u8(b',');
                    self.out.put_slice(text.as_bytes());
                    self.out.put_slice(b"\r\n");
                } else {
                    self.bulk(text.as_bytes());
                }
            }
            Frame::BigNumber(n) if resp3 => {
                self.out.put_u8(b'(');
                self.out.put_slice(n);
                self.out.put_slice(b"\r\n");
            }
            Frame::BigNumber(n) => self.bulk(n),
            Frame::BulkError(e) if resp3 => {
                self.line(b'!', e.len() as i64);
                self.out.put_slice(e);
                self.out.put_slice(b"\r\n");
            }
            Frame::BulkError(e) => self.error(e),
            Frame::Verbatim { format, text } if resp3 => {
                self.line(b'=', text.len() as i64 + 4);
                self.out.put_slice(format);
                self.out.put_u8(b':');
                self.out.put_slice(text);
                self.out.put_slice(b"\r\n");
            }
            Frame::Verbatim { text, .. } => self.bulk(text),
            Frame::Map(items) if resp3 => self.items(b'%', items.len() / 2, items),
            Frame::Set(items) if resp3 => self.items(b'~', items.len(), items),
            Frame::Attribute(items) if resp3 => self.items(b'|', items.len() / 2, items),
            Frame::Push(items) if resp3 => self.items(b'>', items.len(), items),
            Frame::Map(items) | Frame::Set(items) | Frame::Push(items) => {
                self.items(b'*', items.len(), items);
            }
            // RESP2 has no attributes: they are dropped.
            Frame::Attribute(_) => {}
        }
    }

    fn items(&mut self, kind: u8, count: usize, items: &[Frame]) {
        self.line(kind, count as i64);
        for item in items {
            self.frame(item);
        }
    }

    fn line(&mut self, kind: u8, n: i64) {
        let mut digits = [0u8; 20];
        let text = format_i64(n, &mut digits);
        self.out.reserve(text.len() + 3);
        self.out.put_u8(kind);
        self.out.put_slice(text);
        self.out.put_slice(b"\r\n");
    }
}

/// Formats `n` in decimal into `buf`, returning the used part.
fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        let mut buf = [0u8; 20];
        assert_eq!(format_i64(0, &mut buf), b"0");
        assert_eq!(format_i64(-42, &mut buf), b"-42");
        assert_eq!(format_i64(i64::MIN, &mut buf), b"-9223372036854775808");
    }

    #[test]
    fn resp2_downgrades() {
        let mut out = BytesMut::new();
        let map = Frame::Map(vec![Frame::bulk("a"), Frame::Boolean(true)]);
        encode(&map, Protocol::Resp2, &mut out);
        assert_eq!(&out[..], b"*2\r\n$1\r\na\r\n:1\r\n");
        out.clear();
        encode(&map, Protocol::Resp3, &mut out);
        assert_eq!(&out[..], b"%1\r\n$1\r\na\r\n#t\r\n");
    }
}
