//! [`RequestDecoder`]: commands as a server receives them.

use std::ops::Range;

use super::line::{find_crlf, parse_i64, resume_at};
use crate::error::ProtocolError;
use crate::limits::Limits;

/// Decodes commands (`*N\r\n$len\r\narg\r\n...` or inline lines) from a buffer the caller owns.
///
/// Call [`decode`](RequestDecoder::decode) with everything received so far that has not been consumed.
/// It returns `Ok(None)` when the next command is incomplete (its progress is kept, so the bytes already
/// seen are not scanned again), or a [`Request`] whose arguments borrow the buffer. Execute it, then drop
/// [`Request::consumed`] bytes from the front of the buffer before the next call.
///
/// Empty requests (`*0`, `*-1`, blank inline lines) are returned with no arguments, to be skipped, as
/// Redis does. Any [`ProtocolError`] is final: reply with it and close the connection.
///
/// ```
/// use relaycache_resp::{Limits, RequestDecoder};
/// let mut decoder = RequestDecoder::new(Limits::default());
/// let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n";
/// let request = decoder.decode(buf).unwrap().unwrap();
/// assert_eq!(request.args.get(0), Some(&b"GET"[..]));
/// assert_eq!(request.args.get(1), Some(&b"k"[..]));
/// let rest = &buf[request.consumed..];
/// let request = decoder.decode(rest).unwrap().unwrap();
/// assert_eq!(request.args.get(0), Some(&b"PING"[..]));
/// assert_eq!(request.consumed, rest.len());
/// ```
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    state: State,
    /// Argument ranges of the multibulk request in progress, relative to the buffer start.
    ranges: Vec<Range<usize>>,
    /// Arguments of the last inline request (they may be unescaped, so they are owned).
    inline: Vec<Vec<u8>>,
    /// Where to resume scanning for the end of the current line.
    scan_from: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing of the next request seen yet.
    Start,
    /// Inside a multibulk request: `remaining` arguments left, the next header starts at `pos`.
    Args { remaining: u64, pos: usize },
    /// A bulk header was read: `len` data bytes start at `pos`.
    Bulk {
        remaining: u64,
        pos: usize,
        len: usize,
    },
}

/// One decoded command.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The arguments, command name first. Empty for requests to skip.
    pub args: Args<'a>,
    /// Bytes of the buffer this request occupied; drop them before decoding the next one.
    pub consumed: usize,
}

/// The arguments of a [`Request`], borrowed from the buffer (or from the decoder for inline requests).
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    inner: ArgsInner<'a>,
}

#[derive(Debug, Clone, Copy)]
enum ArgsInner<'a> {
    Ranges(&'a [u8], &'a [Range<usize>]),
    Owned(&'a [Vec<u8>]),
}

impl<'a> Args<'a> {
    /// Arguments held in owned vectors (for tests and for callers that build commands).
    #[must_use]
    pub fn from_owned(args: &'a [Vec<u8>]) -> Args<'a> {
        Args {
            inner: ArgsInner::Owned(args),
        }
    }

    /// Number of arguments, command name included.
    #[must_use]
    pub fn len(&self) -> usize {
        match self.inner {
            ArgsInner::Ranges(_, r) => r.len(),
            ArgsInner::Owned(o) => o.len(),
        }
    }

    /// True when there are no arguments (a request to skip).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The argument at `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        match self.inner {
            ArgsInner::Ranges(buf, r) => r.get(index).map(|r| &buf[r.clone()]),
            ArgsInner::Owned(o) => o.get(index).map(Vec::as_slice),
        }
    }

    /// Where the argument at `index` lies in the buffer given to [`RequestDecoder::decode`]; `None`
    /// past the end, and for an inline request, whose arguments the decoder holds.
    #[must_use]
    pub fn range(&self, index: usize) -> Option<Range<usize>> {
        match self.inner {
            ArgsInner::Ranges(_, r) => r.get(index).cloned(),
            ArgsInner::Owned(_) => None,
        }
    }

    /// The arguments from `index` on (empty when `index` is past the end).
    #[must_use]
    pub fn skip(&self, index: usize) -> Args<'a> {
        let inner = match self.inner {
            ArgsInner::Ranges(buf, r) => ArgsInner::Ranges(buf, r.get(index..).unwrap_or(&[])),
            ArgsInner::Owned(o) => ArgsInner::Owned(o.get(index..).unwrap_or(&[])),
        };
        Args { inner }
    }

    /// Iterates over the arguments.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let this = *self;
        (0..this.len()).map(move |i| this.get(i).unwrap_or_default())
    }
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            state: State::Start,
            ranges: Vec::new(),
            inline: Vec::new(),
            scan_from: 0,
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limits (for example once a client has authenticated). Applies from the next header.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// True when part of a request has been received but not all of it.
    #[must_use]
    pub fn in_progress(&self) -> bool {
        self.state != State::Start
    }

    /// Decodes the next request from `buf`; see the type's documentation for the contract.
    ///
    /// # Errors
    /// A [`ProtocolError`] for malformed or over-limit input; the connection should be closed.
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Option<Request<'a>>, ProtocolError> {
        loop {
            match self.state {
                State::Start => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    if first != b'*' {
                        return self.decode_inline(buf);
                    }
                    let Some((count, next)) = self.header(buf, 0, "mbulk")? else {
                        return Ok(None);
                    };
                    if count <= 0 {
                        self.state = State::Start;
                        return Ok(Some(self.finish_empty(next)));
                    }
                    if count.unsigned_abs() > self.limits.max_args {
                        return Err(if self.limits.unauthenticated {
                            ProtocolError::UnauthenticatedMultibulkLength
                        } else {
                            ProtocolError::InvalidMultibulkLength
                        });
                    }
                    self.ranges.clear();
                    // Reserve for a bounded number of arguments only: the rest must actually arrive.
                    self.ranges.reserve(count.unsigned_abs().min(64) as usize);
                    self.state = State::Args {
                        remaining: count.unsigned_abs(),
                        pos: next,
                    };
                }
                State::Args { remaining, pos } => {
                    if remaining == 0 {
                        self.state = State::Start;
                        self.scan_from = 0;
                        return Ok(Some(Request {
                            args: Args {
                                inner: ArgsInner::Ranges(buf, &self.ranges),
                            },
                            consumed: pos,
                        }));
                    }
                    let Some(&kind) = buf.get(pos) else {
                        return Ok(None);
                    };
                    if kind != b'$' {
                        return Err(ProtocolError::ExpectedBulk(char::from(kind)));
                    }
                    let Some((len, data)) = self.header(buf, pos, "bulk")? else {
                        return Ok(None);
                    };
                    let len = u64::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    if len > self.limits.max_bulk_len {
                        return Err(if self.limits.unauthenticated {
                            ProtocolError::UnauthenticatedBulkLength
                        } else {
                            ProtocolError::InvalidBulkLength
                        });
                    }
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    self.state = State::Bulk {
                        remaining,
                        pos: data,
                        len,
                    };
                }
                State::Bulk {
                    remaining,
                    pos,
                    len,
                } => {
                    let end = pos + len;
                    if buf.len() < end + 2 {
                        return Ok(None);
                    }
                    if &buf[end..end + 2] != b"\r\n" {
                        return Err(ProtocolError::MissingCrlf);
                    }
                    self.ranges.push(pos..end);
                    self.state = State::Args {
                        remaining: remaining - 1,
                        pos: end + 2,
                    };
                }
            }
        }
    }

    /// Reads a `*N` / `$N` header line starting at `pos`: the number and where the next item starts.
    fn header(
        &mut self,
        buf: &[u8],
        pos: usize,
        what: &'static str,
    ) -> Result<Option<(i64, usize)>, ProtocolError> {
        match find_crlf(buf, pos, self.scan_from) {
            None => {
                if (buf.len() - pos) as u64 > self.limits.max_inline_len {
                    return Err(ProtocolError::TooBigCount(what));
                }
                self.scan_from = resume_at(buf);
                Ok(None)
            }
            Some(cr) => {
                self.scan_from = 0;
                let number = parse_i64(&buf[pos + 1..cr]).ok_or(if what == "bulk" {
                    ProtocolError::InvalidBulkLength
                } else {
                    ProtocolError::InvalidMultibulkLength
                })?;
                Ok(Some((number, cr + 2)))
            }
        }
    }

    fn finish_empty(&mut self, consumed: usize) -> Request<'_> {
        self.scan_from = 0;
        self.inline.clear();
        Request {
            args: Args {
                inner: ArgsInner::Owned(&self.inline),
            },
            consumed,
        }
    }

    fn decode_inline<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> Result<Option<Request<'a>>, ProtocolError> {
        let from = self.scan_from;
        let Some(nl) = memchr::memchr(b'\n', &buf[from..]).map(|i| i + from) else {
            if buf.len() as u64 > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInline);
            }
            self.scan_from = buf.len();
            return Ok(None);
        };
        if nl as u64 > self.limits.max_inline_len {
            return Err(ProtocolError::TooBigInline);
        }
        let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
        self.scan_from = 0;
        self.inline.clear();
        split_inline(line, &mut self.inline, self.limits.max_args)?;
        Ok(Some(Request {
            args: Args {
                inner: ArgsInner::Owned(&self.inline),
            },
            consumed: nl + 1,
        }))
    }
}

/// Splits an inline command line into arguments, with Redis's quoting rules: `"..."` with backslash
/// escapes (`\n \r \t \b \a \\ \" \xHH`), `'...'` with `\'`; a closing quote must end the argument.
fn split_inline(line: &[u8], out: &mut Vec<Vec<u8>>, max_args: u64) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Ok(());
        }
        if out.len() as u64 >= max_args {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        let mut arg = Vec::new();
        match line[i] {
            b'"' => i = double_quoted(line, i + 1, &mut arg)?,
            b'\'' => i = single_quoted(line, i + 1, &mut arg)?,
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    arg.push(line[i]);
                    i += 1;
                }
            }
        }
        out.push(arg);
    }
}

fn closing_ok(line: &[u8], after: usize) -> Result<usize, ProtocolError> {
    match line.get(after) {
        None => Ok(after),
        Some(c) if c.is_ascii_whitespace() => Ok(after),
        Some(_) => Err(ProtocolError::UnbalancedQuotes),
    }
}

fn double_quoted(line: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match line.get(i) {
            None => return Err(ProtocolError::UnbalancedQuotes),
            Some(b'"') => return closing_ok(line, i + 1),
            Some(b'\\') if i + 3 < line.len() && line[i + 1] == b'x' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(line[i + 2]), hex(line[i + 3])) {
                    (Some(h), Some(l)) => {
                        arg.push((h * 16 + l) as u8);
                        i += 4;
                    }
                    _ => {
                        arg.push(b'x');
                        i += 2;
                    }
                }
            }
            Some(b'\\') if i + 1 < line.len() => {
                arg.push(match line[i + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'a' => 7,
                    c => c,
                });
                i += 2;
            }
            Some(&c) => {
                arg.push(c);
                i += 1;
            }
        }
    }
}

fn single_quoted(line: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match line.get(i) {
            None => return Err(ProtocolError::UnbalancedQuotes),
            Some(b'\'') => return closing_ok(line, i + 1),
            Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                i += 2;
            }
            Some(&c) => {
                arg.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut d = RequestDecoder::new(Limits::default());
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(req) = d.decode(&input[at..])? {
            out.push(req.args.iter().map(<[u8]>::to_vec).collect());
            at += req.consumed;
        }
        Ok(out)
    }

    #[test]
    fn multibulk_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxx\r\n";
        let mut d = RequestDecoder::new(Limits::default());
        for end in 0..input.len() {
            assert!(d.decode(&input[..end]).unwrap().is_none(), "end {end}");
        }
        let req = d.decode(input).unwrap().unwrap();
        assert_eq!(req.consumed, input.len());
        assert_eq!(req.args.get(2), Some(&b"v\r\nxx"[..]));
    }

    #[test]
    fn inline_with_quotes() {
        let got = all(b"set k \"a b\\n\\x41\" 'it\\'s'\r\nPING\n\n").unwrap();
        assert_eq!(
            got[0],
            vec![
                b"set".to_vec(),
                b"k".to_vec(),
                b"a b\nA".to_vec(),
                b"it's".to_vec()
            ]
        );
        assert_eq!(got[1], vec![b"PING".to_vec()]);
        assert!(got[2].is_empty());
        assert_eq!(all(b"set \"abc\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(all(b"set \"abc\"d\n"), Err(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn empty_and_negative_counts_are_skipped() {
        let got = all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_empty() && got[1].is_empty());
    }

    #[test]
    fn limits_and_errors() {
        assert_eq!(all(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(all(b"*1\r\n*1\r\n"), Err(ProtocolError::ExpectedBulk('*')));
        assert_eq!(all(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            all(b"*1\r\n$2147483648\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            all(b"*99999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(all(b"*1\r\n$1\r\nab\r\n"), Err(ProtocolError::MissingCrlf));
        let mut d = RequestDecoder::new(Limits::default().unauthenticated(4, 2));
        assert_eq!(
            d.decode(b"*3\r\n").unwrap_err(),
            ProtocolError::UnauthenticatedMultibulkLength
        );
        let mut d = RequestDecoder::new(Limits::default().unauthenticated(4, 2));
        assert_eq!(
            d.decode(b"*1\r\n$5\r\n").unwrap_err(),
            ProtocolError::UnauthenticatedBulkLength
        );
        let long = vec![b'a'; 70 << 10];
        assert_eq!(all(&long), Err(ProtocolError::TooBigInline));
    }
}
