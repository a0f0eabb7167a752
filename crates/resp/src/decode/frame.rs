//! [`FrameDecoder`]: any RESP2/RESP3 frame, incrementally, with an explicit stack instead of recursion.

use bytes::{Buf, Bytes, BytesMut};

use super::line::{find_crlf, parse_i64, resume_at};
use crate::error::ProtocolError;
use crate::frame::Frame;
use crate::limits::Limits;

/// Decodes [`Frame`]s from a [`BytesMut`], consuming each element as soon as it is complete.
///
/// Aggregates in progress live on an explicit stack (depth bounded by [`Limits::max_nesting`]), so a
/// deeply nested input cannot overflow the call stack, and the elements already decoded are never
/// decoded again when more input arrives. Counts are checked against the limits before anything is
/// reserved, and reservations are capped, so memory grows only with input actually received.
///
/// ```
/// use bytes::BytesMut;
/// use relaycache_resp::{Frame, FrameDecoder, Limits};
/// let mut decoder = FrameDecoder::new(Limits::default());
/// let mut buf = BytesMut::from(&b"*2\r\n:1\r\n$2\r\nhi"[..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(b"\r\n");
/// assert_eq!(
///     decoder.decode(&mut buf).unwrap(),
///     Some(Frame::Array(vec![Frame::Integer(1), Frame::bulk("hi")]))
/// );
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    limits: Limits,
    stack: Vec<Pending>,
    /// A bulk-like header was consumed; its data (of this length) is awaited.
    bulk: Option<(u8, usize)>,
    scan_from: usize,
}

#[derive(Debug)]
struct Pending {
    kind: u8,
    remaining: usize,
    items: Vec<Frame>,
}

/// What one step read from the front of the buffer.
enum Step {
    Leaf(Frame),
    Open(u8, usize),
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        FrameDecoder {
            limits,
            stack: Vec::new(),
            bulk: None,
            scan_from: 0,
        }
    }

    /// Decodes the next complete frame, consuming its bytes from `buf`; `Ok(None)` when more input is
    /// needed (the partial progress is kept).
    ///
    /// # Errors
    /// A [`ProtocolError`] for malformed or over-limit input; the stream cannot be resynchronised.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        loop {
            let Some(step) = self.step(buf)? else {
                return Ok(None);
            };
            let mut frame = match step {
                Step::Open(kind, count) => {
                    if count > 0 {
                        if self.stack.len() as u32 >= self.limits.max_nesting {
                            return Err(ProtocolError::TooDeep(self.limits.max_nesting));
                        }
                        self.stack.push(Pending {
                            kind,
                            remaining: count,
                            items: Vec::with_capacity(count.min(64)),
                        });
                        continue;
                    }
                    aggregate(kind, Vec::new())
                }
                Step::Leaf(frame) => frame,
            };
            // Attach the finished frame to its parents, closing every parent it completes.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    return Ok(Some(frame));
                };
                top.items.push(frame);
                top.remaining -= 1;
                if top.remaining > 0 {
                    break;
                }
                let Some(done) = self.stack.pop() else {
                    break;
                };
                frame = aggregate(done.kind, done.items);
            }
        }
    }

    /// Reads one element header or leaf from the front of `buf`, consuming it.
    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Step>, ProtocolError> {
        if let Some((kind, len)) = self.bulk {
            if buf.len() < len + 2 {
                return Ok(None);
            }
            if &buf[len..len + 2] != b"\r\n" {
                return Err(ProtocolError::MissingCrlf);
            }
            let data = buf.split_to(len).freeze();
            buf.advance(2);
            self.bulk = None;
            return bulk_leaf(kind, data).map(|f| Some(Step::Leaf(f)));
        }
        let Some(cr) = find_crlf(buf, 0, self.scan_from) else {
            if buf.len() as u64 > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigCount("line"));
            }
            self.scan_from = resume_at(buf);
            return Ok(None);
        };
        self.scan_from = 0;
        if cr == 0 {
            return Err(ProtocolError::InvalidType('\r'));
        }
        let kind = buf[0];
        let line = buf.split_to(cr).split_off(1).freeze();
        buf.advance(2);
        let int = |what| parse_i64(&line).ok_or(ProtocolError::InvalidValue(what));
        let step = match kind {
            b'+' => Step::Leaf(Frame::Simple(line)),
            b'-' => Step::Leaf(Frame::Error(line)),
            b':' => Step::Leaf(Frame::Integer(int("integer")?)),
            b'_' => Step::Leaf(Frame::Null),
            b'#' => match &line[..] {
                b"t" => Step::Leaf(Frame::Boolean(true)),
                b"f" => Step::Leaf(Frame::Boolean(false)),
                _ => return Err(ProtocolError::InvalidValue("boolean")),
            },
            b',' => Step::Leaf(Frame::Double(parse_double(&line)?)),
            b'(' => {
                let digits = line.strip_prefix(b"-").unwrap_or(&line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(ProtocolError::InvalidValue("big number"));
                }
                Step::Leaf(Frame::BigNumber(line))
            }
            b'$' | b'!' | b'=' => {
                let len = parse_i64(&line).ok_or(ProtocolError::InvalidBulkLength)?;
                if len == -1 && kind == b'$' {
                    return Ok(Some(Step::Leaf(Frame::Null)));
                }
                let len = u64::try_from(len)
                    .ok()
                    .filter(|&l| l <= self.limits.max_bulk_len)
                    .and_then(|l| usize::try_from(l).ok())
                    .ok_or(ProtocolError::InvalidBulkLength)?;
                self.bulk = Some((kind, len));
                return self.step(buf);
            }
            b'*' | b'%' | b'~' | b'|' | b'>' => {
                let count = parse_i64(&line).ok_or(ProtocolError::InvalidMultibulkLength)?;
                if count == -1 && kind == b'*' {
                    return Ok(Some(Step::Leaf(Frame::NullArray)));
                }
                let count = u64::try_from(count)
                    .ok()
                    .filter(|&c| c <= self.limits.max_args)
                    .ok_or(ProtocolError::InvalidMultibulkLength)?;
                let pairs = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
                let items = count
                    .checked_mul(pairs)
                    .filter(|&c| c <= self.limits.max_args)
                    .and_then(|c| usize::try_from(c).ok())
                    .ok_or(ProtocolError::InvalidMultibulkLength)?;
                Step::Open(kind, items)
            }
            other => return Err(ProtocolError::InvalidType(char::from(other))),
        };
        Ok(Some(step))
    }
}

fn bulk_leaf(kind: u8, data: Bytes) -> Result<Frame, ProtocolError> {
    Ok(match kind {
        b'!' => Frame::BulkError(data),
        b'=' => {
            if data.len() < 4 || data[3] != b':' {
                return Err(ProtocolError::InvalidValue("verbatim string"));
            }
            let format = [data[0], data[1], data[2]];
            Frame::Verbatim {
                format,
                text: data.slice(4..),
            }
        }
        _ => Frame::Bulk(data),
    })
}

fn aggregate(kind: u8, items: Vec<Frame>) -> Frame {
    match kind {
        b'%' => Frame::Map(items),
        b'~' => Frame::Set(items),
        b'|' => Frame::Attribute(items),
        b'>' => Frame::Push(items),
        _ => Frame::Array(items),
    }
}

fn parse_double(line: &[u8]) -> Result<f64, ProtocolError> {
    let text = std::str::from_utf8(line).map_err(|_| ProtocolError::InvalidValue("double"))?;
    match text {
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ => text
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite())
            .ok_or(ProtocolError::InvalidValue("double")),
    }
}

impl tokio_util::codec::Decoder for FrameDecoder {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        FrameDecoder::decode(self, src)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        FrameDecoder::new(Limits::default()).decode(&mut BytesMut::from(input))
    }

    #[test]
    fn resp3_kinds() {
        assert_eq!(one(b"_\r\n"), Ok(Some(Frame::Null)));
        assert_eq!(one(b"#t\r\n"), Ok(Some(Frame::Boolean(true))));
        assert_eq!(one(b",1.5\r\n"), Ok(Some(Frame::Double(1.5))));
        assert_eq!(
            one(b"%1\r\n+a\r\n:1\r\n"),
            Ok(Some(Frame::Map(vec![
                Frame::simple("a"),
                Frame::Integer(1)
            ])))
        );
        assert_eq!(
            one(b"=7\r\ntxt:abc\r\n"),
            Ok(Some(Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"abc")
            }))
        );
        assert_eq!(one(b"*-1\r\n"), Ok(Some(Frame::NullArray)));
        assert_eq!(one(b"$-1\r\n"), Ok(Some(Frame::Null)));
        assert_eq!(one(b"*0\r\n"), Ok(Some(Frame::Array(vec![]))));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = b"*1\r\n".repeat(100_000);
        assert_eq!(one(&deep), Err(ProtocolError::TooDeep(32)));
    }

    #[test]
    fn bad_input() {
        assert_eq!(one(b"?x\r\n"), Err(ProtocolError::InvalidType('?')));
        assert_eq!(one(b"$-2\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(
            one(b"%9999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(one(b":1x\r\n"), Err(ProtocolError::InvalidValue("integer")));
    }
}
