//! The RESP encoding of [`Request`] and [`Response`] (see `docs/cluster.md`, "The RPC protocol").
//!
//! Every message is a RESP2 array of bulk strings; numbers travel as decimal text (no sign, no
//! spaces) inside bulks. Decoding takes a [`Frame`] from [`FrameDecoder`](relaycache_resp::FrameDecoder)
//! (configured with [`frame_limits`]) and never panics: anything else than the layout below is a
//! [`CodecError`], and lists are bounded by [`MAX_ITEMS`] before anything is reserved.
//!
//! # Requests: `[id, verb, fingerprint, args...]`
//!
//! `id` is chosen by the caller (unique among its calls in flight on one connection), `fingerprint` is
//! the sender's routing-table fingerprint (0: none).
//!
//! | request | args |
//! |---|---|
//! | `Op Get` | `OP hops GET key` |
//! | `Op Meta` | `OP hops META key` |
//! | `Op Set` | `OP hops SET key value expires_at` |
//! | `Op Delete` | `OP hops DEL key` |
//! | `Op Expire` | `OP hops EXPIRE key expires_at` |
//! | `Op SetIf` | `OP hops SETIF key kind value expires_at hlc node` (`kind` as in an entry) |
//! | `Batch` | `BATCH hops op...`, each op as in `Op` without `OP hops` (`GET key`, `SET key value expires_at`, ...) |
//! | `Apply` | `APPLY entry...` (6 bulks per entry, below) |
//! | `Fetch` | `FETCH key...` |
//! | `Peek` | `PEEK key...` |
//! | `Pull` | `PULL cursor count partition...` |
//! | `Table` | `TABLE` |
//! | `Stats` | `STATS` |
//! | `Scan` | `SCAN cursor prefix count` |
//! | `Clock` | `CLOCK` |
//! | `Purge` | `PURGE prefix hlc node` |
//! | `Leaving` | `LEAVING` |
//!
//! An **entry** is 6 bulks: `key kind value hlc node expires_at`, where `kind` is `v` (a value; `value`
//! is it) or `t` (a tombstone; `value` is empty), `hlc`/`node` the [`Version`] and `expires_at` absolute
//! Unix milliseconds (0: none).
//!
//! # Responses: `[id, status, fingerprint, results...]`
//!
//! `id` is the request's, `fingerprint` the responder's. With status `OK` the first result names the
//! [`Response`] variant:
//!
//! | response | results |
//! |---|---|
//! | `Ok` | `ok` |
//! | `Entry(None)` | `entry` |
//! | `Entry(Some(e))` | `entry` + the 6 bulks of `e` |
//! | `Entries` | `entries entry...` |
//! | `Count` | `count n` |
//! | `Table` | `table partition_count replica_count epoch (gossip_addr generation)...` |
//! | `Stats` | `stats hits misses keys bytes evictions expirations rejections max_cost` |
//! | `Scan` | `scan cursor key...` |
//! | `Page` | `page cursor entry...` |
//! | `Batch` | `batch item...`, an item per operation: `ok`, `n` (no entry), `e` + an entry, `c n`, `q kind needed reached`, `x` (closed), `o text` |
//!
//! With status `ERR` ([`Response::Error`]) the results are one of `quorum kind needed reached` (`kind`
//! as [`QuorumKind::as_str`]), `closed`, or `other text`.
//!
//! Decoded bulks are slices of the frame, which is a slice of the connection's read buffer. The answers
//! that reach callers (the entries of `Entry`, `Entries` and `Batch`, the keys of `Scan`) are copied out
//! of it ([`Entry::detached`]), so a caller that keeps one keeps only its bytes. A `Page` (a partition
//! pull) and the entries of an `APPLY` are left as slices: the store copies what it keeps.
//!
//! # Limits
//! Bulks up to [`MAX_BULK`] (64 MiB), arrays up to [`MAX_ELEMENTS`] (1,048,576) elements, at most
//! [`MAX_ITEMS`] (65,536) entries, keys, partitions or members in one message. [`check_request`] and
//! [`check_response`] tell the sender beforehand whether a message fits.

use bytes::{BufMut, Bytes, BytesMut};
use relaycache_resp::{Frame, Limits};

use super::message::{Entry, MemberInfo, NodeStats, Op, RemoteError, Request, Response, TableInfo};
use crate::error::QuorumKind;
use crate::version::Version;

/// Largest bulk string of a message.
pub const MAX_BULK: u64 = 64 << 20;
/// Most elements of a message's array.
pub const MAX_ELEMENTS: u64 = 1 << 20;
/// Most entries, keys, partitions or members in one message.
pub const MAX_ITEMS: usize = 1 << 16;

/// The decoder limits of an RPC connection after the handshake.
#[must_use]
pub fn frame_limits() -> Limits {
    Limits {
        max_bulk_len: MAX_BULK,
        max_args: MAX_ELEMENTS,
        max_nesting: 4,
        ..Limits::default()
    }
}

/// Why a frame is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The frame is not an array of bulk strings.
    #[error("not an array of bulk strings")]
    NotBulkArray,
    /// The message ends before this field.
    #[error("missing {0}")]
    Missing(&'static str),
    /// This field is malformed.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The verb (or response kind) is not one of this version's.
    #[error("unknown verb {0:?}")]
    UnknownVerb(String),
    /// A list is longer than [`MAX_ITEMS`].
    #[error("too many {what}: {count}, at most {max}")]
    TooMany {
        /// What the list holds.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A bulk is longer than [`MAX_BULK`].
    #[error("{what} of {len} bytes exceeds {max} bytes")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: u64,
    },
    /// Elements follow the last field.
    #[error("{0} unexpected trailing elements")]
    Trailing(usize),
}

// ---------------------------------------------------------------------------------------------------
// Encoding: straight into the output buffer (the same bytes `relaycache_resp::encode` writes for an
// array of bulks, without building frames).

fn put_header(out: &mut BytesMut, kind: u8, n: usize) {
    let mut digits = itoa_buf();
    let text = fmt_u64(n as u64, &mut digits);
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_header(out, b'$', data.len());
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn put_u64(out: &mut BytesMut, n: u64) {
    let mut digits = itoa_buf();
    let text = fmt_u64(n, &mut digits);
    put_bulk(out, text);
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

const ENTRY_FIELDS: usize = 6;

fn put_entry(out: &mut BytesMut, entry: &Entry) {
    put_bulk(out, &entry.key);
    match &entry.value {
        Some(value) => {
            put_bulk(out, b"v");
            put_bulk(out, value);
        }
        None => {
            put_bulk(out, b"t");
            put_bulk(out, b"");
        }
    }
    put_u64(out, entry.version.hlc);
    put_u64(out, u64::from(entry.version.node));
    put_u64(out, entry.expires_at);
}

/// Appends the encoding of request `req` with `id` and the sender's `fingerprint` to `out`.
///
/// The encoding is always produced; whether the receiver accepts it is [`check_request`].
pub fn encode_request(id: u64, fingerprint: u64, req: &Request, out: &mut BytesMut) {
    let args = match req {
        Request::Op { op, .. } => 1 + op_fields(op),
        Request::Batch { ops, .. } => 1 + ops.iter().map(op_fields).sum::<usize>(),
        Request::Apply { entries } => entries.len() * ENTRY_FIELDS,
        Request::Fetch { keys } | Request::Peek { keys } => keys.len(),
        Request::Pull { partitions, .. } => 2 + partitions.len(),
        Request::Table | Request::Stats | Request::Leaving | Request::Clock => 0,
        Request::Scan { .. } => 3,
        Request::Purge { .. } => 3,
    };
    put_header(out, b'*', 3 + args);
    put_u64(out, id);
    put_bulk(out, verb_token(req));
    put_u64(out, fingerprint);
    match req {
        Request::Op { hops, op } => {
            put_u64(out, u64::from(*hops));
            put_op(out, op);
        }
        Request::Batch { hops, ops } => {
            put_u64(out, u64::from(*hops));
            for op in ops {
                put_op(out, op);
            }
        }
        Request::Apply { entries } => {
            for entry in entries {
                put_entry(out, entry);
            }
        }
        Request::Fetch { keys } | Request::Peek { keys } => {
            for key in keys {
                put_bulk(out, key);
            }
        }
        Request::Pull {
            partitions,
            cursor,
            count,
        } => {
            put_u64(out, *cursor);
            put_u64(out, u64::from(*count));
            for partition in partitions {
                put_u64(out, u64::from(*partition));
            }
        }
        Request::Table | Request::Stats | Request::Leaving | Request::Clock => {}
        Request::Scan {
            cursor,
            prefix,
            count,
        } => {
            put_u64(out, *cursor);
            put_bulk(out, prefix);
            put_u64(out, u64::from(*count));
        }
        Request::Purge { prefix, version } => {
            put_bulk(out, prefix);
            put_u64(out, version.hlc);
            put_u64(out, u64::from(version.node));
        }
    }
}

/// Bulks of an operation: its sub-verb and fields.
fn op_fields(op: &Op) -> usize {
    match op {
        Op::Get { .. } | Op::Meta { .. } | Op::Delete { .. } => 2,
        Op::Set { .. } => 4,
        Op::Expire { .. } => 3,
        Op::SetIf { .. } => 7,
    }
}

fn put_op(out: &mut BytesMut, op: &Op) {
    match op {
        Op::Get { key } => {
            put_bulk(out, b"GET");
            put_bulk(out, key);
        }
        Op::Meta { key } => {
            put_bulk(out, b"META");
            put_bulk(out, key);
        }
        Op::Set {
            key,
            value,
            expires_at,
        } => {
            put_bulk(out, b"SET");
            put_bulk(out, key);
            put_bulk(out, value);
            put_u64(out, *expires_at);
        }
        Op::Delete { key } => {
            put_bulk(out, b"DEL");
            put_bulk(out, key);
        }
        Op::Expire { key, expires_at } => {
            put_bulk(out, b"EXPIRE");
            put_bulk(out, key);
            put_u64(out, *expires_at);
        }
        Op::SetIf {
            key,
            value,
            expires_at,
            expected,
        } => {
            put_bulk(out, b"SETIF");
            put_bulk(out, key);
            match value {
                Some(v) => {
                    put_bulk(out, b"v");
                    put_bulk(out, v);
                }
                None => {
                    put_bulk(out, b"t");
                    put_bulk(out, b"");
                }
            }
            put_u64(out, *expires_at);
            put_u64(out, expected.hlc);
            put_u64(out, u64::from(expected.node));
        }
    }
}

/// Bulks of one item of a batch answer: its tag and fields.
fn item_fields(item: &Response) -> usize {
    match item {
        Response::Ok | Response::Entry(None) | Response::Error(RemoteError::Closed) => 1,
        Response::Entry(Some(_)) => 1 + ENTRY_FIELDS,
        Response::Count(_) | Response::Error(RemoteError::Other(_)) => 2,
        Response::Error(RemoteError::Quorum { .. }) => 4,
        // Only the answers of operations go in a batch; anything else is sent as an error.
        _ => 2,
    }
}

fn put_item(out: &mut BytesMut, item: &Response) {
    match item {
        Response::Ok => put_bulk(out, b"ok"),
        Response::Entry(None) => put_bulk(out, b"n"),
        Response::Entry(Some(entry)) => {
            put_bulk(out, b"e");
            put_entry(out, entry);
        }
        Response::Count(n) => {
            put_bulk(out, b"c");
            put_u64(out, *n);
        }
        Response::Error(RemoteError::Quorum {
            kind,
            needed,
            reached,
        }) => {
            put_bulk(out, b"q");
            put_bulk(out, kind.as_str().as_bytes());
            put_u64(out, u64::from(*needed));
            put_u64(out, u64::from(*reached));
        }
        Response::Error(RemoteError::Closed) => put_bulk(out, b"x"),
        Response::Error(RemoteError::Other(text)) => {
            put_bulk(out, b"o");
            put_bulk(out, text.as_bytes());
        }
        _ => {
            put_bulk(out, b"o");
            put_bulk(out, b"not an operation's answer");
        }
    }
}

fn verb_token(req: &Request) -> &'static [u8] {
    match req {
        Request::Op { .. } => b"OP",
        Request::Batch { .. } => b"BATCH",
        Request::Apply { .. } => b"APPLY",
        Request::Fetch { .. } => b"FETCH",
        Request::Peek { .. } => b"PEEK",
        Request::Pull { .. } => b"PULL",
        Request::Table => b"TABLE",
        Request::Stats => b"STATS",
        Request::Scan { .. } => b"SCAN",
        Request::Clock => b"CLOCK",
        Request::Purge { .. } => b"PURGE",
        Request::Leaving => b"LEAVING",
    }
}

/// Appends the encoding of response `resp` to the call `id`, with the responder's `fingerprint`, to
/// `out`.
///
/// The encoding is always produced; whether the receiver accepts it is [`check_response`].
pub fn encode_response(id: u64, fingerprint: u64, resp: &Response, out: &mut BytesMut) {
    let results = match resp {
        Response::Ok => 1,
        Response::Entry(entry) => 1 + if entry.is_some() { ENTRY_FIELDS } else { 0 },
        Response::Entries(entries) => 1 + entries.len() * ENTRY_FIELDS,
        Response::Count(_) => 2,
        Response::Table(table) => 4 + 2 * table.members.len(),
        Response::Stats(_) => 9,
        Response::Scan { keys, .. } => 2 + keys.len(),
        Response::Page { entries, .. } => 2 + entries.len() * ENTRY_FIELDS,
        Response::Error(RemoteError::Quorum { .. }) => 4,
        Response::Error(RemoteError::Closed) => 1,
        Response::Error(RemoteError::Other(_)) => 2,
        Response::Batch(items) => 1 + items.iter().map(item_fields).sum::<usize>(),
    };
    put_header(out, b'*', 3 + results);
    put_u64(out, id);
    put_bulk(
        out,
        if matches!(resp, Response::Error(_)) {
            b"ERR"
        } else {
            b"OK"
        },
    );
    put_u64(out, fingerprint);
    match resp {
        Response::Ok => put_bulk(out, b"ok"),
        Response::Batch(items) => {
            put_bulk(out, b"batch");
            for item in items {
                put_item(out, item);
            }
        }
        Response::Entry(entry) => {
            put_bulk(out, b"entry");
            if let Some(entry) = entry {
                put_entry(out, entry);
            }
        }
        Response::Entries(entries) => {
            put_bulk(out, b"entries");
            for entry in entries {
                put_entry(out, entry);
            }
        }
        Response::Count(n) => {
            put_bulk(out, b"count");
            put_u64(out, *n);
        }
        Response::Table(table) => {
            put_bulk(out, b"table");
            put_u64(out, u64::from(table.partition_count));
            put_u64(out, u64::from(table.replica_count));
            put_u64(out, table.epoch);
            for member in &table.members {
                put_bulk(out, member.gossip_addr.as_bytes());
                put_u64(out, member.generation);
            }
        }
        Response::Stats(stats) => {
            put_bulk(out, b"stats");
            for n in stats_fields(stats) {
                put_u64(out, n);
            }
        }
        Response::Scan { cursor, keys } => {
            put_bulk(out, b"scan");
            put_u64(out, *cursor);
            for key in keys {
                put_bulk(out, key);
            }
        }
        Response::Page { cursor, entries } => {
            put_bulk(out, b"page");
            put_u64(out, *cursor);
            for entry in entries {
                put_entry(out, entry);
            }
        }
        Response::Error(RemoteError::Quorum {
            kind,
            needed,
            reached,
        }) => {
            put_bulk(out, b"quorum");
            put_bulk(out, kind.as_str().as_bytes());
            put_u64(out, u64::from(*needed));
            put_u64(out, u64::from(*reached));
        }
        Response::Error(RemoteError::Closed) => put_bulk(out, b"closed"),
        Response::Error(RemoteError::Other(text)) => {
            put_bulk(out, b"other");
            put_bulk(out, text.as_bytes());
        }
    }
}

fn stats_fields(s: &NodeStats) -> [u64; 8] {
    [
        s.hits,
        s.misses,
        s.keys,
        s.bytes,
        s.evictions,
        s.expirations,
        s.rejections,
        s.max_cost,
    ]
}

// ---------------------------------------------------------------------------------------------------
// Checks before sending.

fn check_len(what: &'static str, data: &[u8]) -> Result<(), CodecError> {
    if data.len() as u64 > MAX_BULK {
        return Err(CodecError::TooLong {
            what,
            len: data.len(),
            max: MAX_BULK,
        });
    }
    Ok(())
}

fn check_count(what: &'static str, count: usize) -> Result<(), CodecError> {
    if count > MAX_ITEMS {
        return Err(CodecError::TooMany {
            what,
            count,
            max: MAX_ITEMS,
        });
    }
    Ok(())
}

fn check_entries(entries: &[Entry]) -> Result<(), CodecError> {
    check_count("entries", entries.len())?;
    for entry in entries {
        check_len("key", &entry.key)?;
        if let Some(value) = &entry.value {
            check_len("value", value)?;
        }
    }
    Ok(())
}

fn check_op(op: &Op) -> Result<(), CodecError> {
    check_len("key", op.key())?;
    match op {
        Op::Set { value, .. }
        | Op::SetIf {
            value: Some(value), ..
        } => check_len("value", value)?,
        _ => {}
    }
    Ok(())
}

/// Whether the receiver's decoder accepts `req` (lists within [`MAX_ITEMS`], bulks within
/// [`MAX_BULK`]).
///
/// # Errors
/// The first limit `req` exceeds.
pub fn check_request(req: &Request) -> Result<(), CodecError> {
    match req {
        Request::Op { op, .. } => check_op(op),
        Request::Batch { ops, .. } => {
            check_count("operations", ops.len())?;
            ops.iter().try_for_each(check_op)
        }
        Request::Apply { entries } => check_entries(entries),
        Request::Fetch { keys } | Request::Peek { keys } => {
            check_count("keys", keys.len())?;
            keys.iter().try_for_each(|k| check_len("key", k))
        }
        Request::Pull { partitions, .. } => check_count("partitions", partitions.len()),
        Request::Scan { prefix, .. } | Request::Purge { prefix, .. } => check_len("prefix", prefix),
        Request::Table | Request::Stats | Request::Leaving | Request::Clock => Ok(()),
    }
}

/// Whether the receiver's decoder accepts `resp` (lists within [`MAX_ITEMS`], bulks within
/// [`MAX_BULK`]).
///
/// # Errors
/// The first limit `resp` exceeds.
pub fn check_response(resp: &Response) -> Result<(), CodecError> {
    match resp {
        Response::Ok | Response::Count(_) | Response::Stats(_) => Ok(()),
        Response::Entry(entry) => check_entries(entry.as_slice()),
        Response::Entries(entries) | Response::Page { entries, .. } => check_entries(entries),
        Response::Table(table) => {
            check_count("members", table.members.len())?;
            table
                .members
                .iter()
                .try_for_each(|m| check_len("gossip_addr", m.gossip_addr.as_bytes()))
        }
        Response::Scan { keys, .. } => {
            check_count("keys", keys.len())?;
            keys.iter().try_for_each(|k| check_len("key", k))
        }
        Response::Error(RemoteError::Other(text)) => check_len("error text", text.as_bytes()),
        Response::Error(_) => Ok(()),
        Response::Batch(items) => {
            check_count("items", items.len())?;
            items.iter().try_for_each(check_response)
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decoding.

/// Reads the fields of a message in order.
struct Fields {
    items: std::vec::IntoIter<Frame>,
}

impl Fields {
    fn new(frame: Frame) -> Result<Fields, CodecError> {
        match frame {
            Frame::Array(items) => Ok(Fields {
                items: items.into_iter(),
            }),
            _ => Err(CodecError::NotBulkArray),
        }
    }

    fn remaining(&self) -> usize {
        self.items.len()
    }

    fn bytes(&mut self, what: &'static str) -> Result<Bytes, CodecError> {
        match self.items.next() {
            Some(Frame::Bulk(b)) => Ok(b),
            Some(_) => Err(CodecError::NotBulkArray),
            None => Err(CodecError::Missing(what)),
        }
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let b = self.bytes(what)?;
        parse_u64(&b).ok_or(CodecError::Invalid(what))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        u32::try_from(self.u64(what)?).map_err(|_| CodecError::Invalid(what))
    }

    fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        String::from_utf8(self.bytes(what)?.to_vec()).map_err(|_| CodecError::Invalid(what))
    }

    /// How many groups of `size` fields remain, at most [`MAX_ITEMS`].
    fn groups(&self, what: &'static str, size: usize) -> Result<usize, CodecError> {
        let rest = self.remaining();
        if rest % size != 0 {
            return Err(CodecError::Invalid(what));
        }
        let count = rest / size;
        check_count(what, count)?;
        Ok(count)
    }

    fn entry(&mut self) -> Result<Entry, CodecError> {
        let key = self.bytes("entry key")?;
        let kind = self.bytes("entry kind")?;
        let value = self.bytes("entry value")?;
        let value = match &kind[..] {
            b"v" => Some(value),
            b"t" if value.is_empty() => None,
            _ => return Err(CodecError::Invalid("entry kind")),
        };
        let hlc = self.u64("entry hlc")?;
        let node = self.u32("entry node")?;
        let expires_at = self.u64("entry expires_at")?;
        Ok(Entry {
            key,
            value,
            version: Version { hlc, node },
            expires_at,
        })
    }

    fn op(&mut self) -> Result<Op, CodecError> {
        let sub = self.bytes("operation")?;
        let key = self.bytes("key")?;
        Ok(match &sub[..] {
            b"GET" => Op::Get { key },
            b"META" => Op::Meta { key },
            b"DEL" => Op::Delete { key },
            b"SET" => {
                let value = self.bytes("value")?;
                let expires_at = self.u64("expires_at")?;
                Op::Set {
                    key,
                    value,
                    expires_at,
                }
            }
            b"EXPIRE" => Op::Expire {
                key,
                expires_at: self.u64("expires_at")?,
            },
            b"SETIF" => {
                let kind = self.bytes("kind")?;
                let value = self.bytes("value")?;
                let value = match &kind[..] {
                    b"v" => Some(value),
                    b"t" => None,
                    _ => return Err(CodecError::Invalid("kind")),
                };
                Op::SetIf {
                    key,
                    value,
                    expires_at: self.u64("expires_at")?,
                    expected: Version {
                        hlc: self.u64("hlc")?,
                        node: self.u32("node")?,
                    },
                }
            }
            other => return Err(unknown(other)),
        })
    }

    /// One item of a batch answer.
    fn item(&mut self) -> Result<Response, CodecError> {
        let tag = self.bytes("batch item")?;
        Ok(match &tag[..] {
            b"ok" => Response::Ok,
            b"n" => Response::Entry(None),
            b"e" => Response::Entry(Some(self.entry()?.detached())),
            b"c" => Response::Count(self.u64("count")?),
            b"q" => {
                let kind = self.bytes("quorum kind")?;
                let kind = QuorumKind::parse(&kind).ok_or(CodecError::Invalid("quorum kind"))?;
                Response::Error(RemoteError::Quorum {
                    kind,
                    needed: self.u32("needed")?,
                    reached: self.u32("reached")?,
                })
            }
            b"x" => Response::Error(RemoteError::Closed),
            b"o" => {
                let text = self.bytes("error text")?;
                Response::Error(RemoteError::Other(
                    String::from_utf8_lossy(&text).into_owned(),
                ))
            }
            other => return Err(unknown(other)),
        })
    }

    fn entries(&mut self) -> Result<Vec<Entry>, CodecError> {
        let count = self.groups("entries", ENTRY_FIELDS)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(self.entry()?);
        }
        Ok(entries)
    }

    fn rest_bytes(&mut self, what: &'static str) -> Result<Vec<Bytes>, CodecError> {
        let count = self.groups(what, 1)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(self.bytes(what)?);
        }
        Ok(out)
    }

    fn end(self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(CodecError::Trailing(n)),
        }
    }
}

/// Parses a decimal `u64`: 1 to 20 ASCII digits, no sign, no overflow.
#[must_use]
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// The id of a message frame (its first element), if it has a readable one: lets a receiver answer or
/// fail the right call when the rest of the message is malformed.
#[must_use]
pub fn frame_id(frame: &Frame) -> Option<u64> {
    match frame {
        Frame::Array(items) => match items.first() {
            Some(Frame::Bulk(b)) => parse_u64(b),
            _ => None,
        },
        _ => None,
    }
}

fn unknown(token: &[u8]) -> CodecError {
    let shown = &token[..token.len().min(32)];
    CodecError::UnknownVerb(String::from_utf8_lossy(shown).into_owned())
}

/// Decodes a request frame into `(id, fingerprint, request)`.
///
/// # Errors
/// A [`CodecError`] for anything but the layout of the module documentation; never panics.
pub fn decode_request(frame: Frame) -> Result<(u64, u64, Request), CodecError> {
    let mut f = Fields::new(frame)?;
    let id = f.u64("id")?;
    let verb = f.bytes("verb")?;
    let fingerprint = f.u64("fingerprint")?;
    let req = match &verb[..] {
        b"OP" => {
            let hops = u8::try_from(f.u64("hops")?).map_err(|_| CodecError::Invalid("hops"))?;
            let op = f.op()?;
            Request::Op { hops, op }
        }
        b"BATCH" => {
            let hops = u8::try_from(f.u64("hops")?).map_err(|_| CodecError::Invalid("hops"))?;
            let mut ops = Vec::new();
            while f.remaining() > 0 {
                check_count("operations", ops.len() + 1)?;
                ops.push(f.op()?);
            }
            Request::Batch { hops, ops }
        }
        b"APPLY" => Request::Apply {
            entries: f.entries()?,
        },
        b"FETCH" => Request::Fetch {
            keys: f.rest_bytes("keys")?,
        },
        b"PEEK" => Request::Peek {
            keys: f.rest_bytes("keys")?,
        },
        b"PULL" => {
            let cursor = f.u64("cursor")?;
            let count = f.u32("count")?;
            let n = f.groups("partitions", 1)?;
            let mut partitions = Vec::with_capacity(n);
            for _ in 0..n {
                partitions.push(f.u32("partition")?);
            }
            Request::Pull {
                partitions,
                cursor,
                count,
            }
        }
        b"TABLE" => Request::Table,
        b"STATS" => Request::Stats,
        b"LEAVING" => Request::Leaving,
        b"SCAN" => {
            let cursor = f.u64("cursor")?;
            let prefix = f.bytes("prefix")?;
            let count = f.u32("count")?;
            Request::Scan {
                cursor,
                prefix,
                count,
            }
        }
        b"CLOCK" => Request::Clock,
        b"PURGE" => Request::Purge {
            prefix: f.bytes("prefix")?,
            version: Version {
                hlc: f.u64("hlc")?,
                node: f.u32("node")?,
            },
        },
        other => return Err(unknown(other)),
    };
    f.end()?;
    Ok((id, fingerprint, req))
}

/// Decodes a response frame into `(id, fingerprint, response)`.
///
/// # Errors
/// A [`CodecError`] for anything but the layout of the module documentation; never panics.
pub fn decode_response(frame: Frame) -> Result<(u64, u64, Response), CodecError> {
    let mut f = Fields::new(frame)?;
    let id = f.u64("id")?;
    let status = f.bytes("status")?;
    let fingerprint = f.u64("fingerprint")?;
    let kind = f.bytes("response kind")?;
    let resp = match (&status[..], &kind[..]) {
        (b"OK", b"ok") => Response::Ok,
        (b"OK", b"entry") => {
            if f.remaining() == 0 {
                Response::Entry(None)
            } else {
                Response::Entry(Some(f.entry()?.detached()))
            }
        }
        (b"OK", b"entries") => {
            Response::Entries(f.entries()?.iter().map(Entry::detached).collect())
        }
        (b"OK", b"batch") => {
            let mut items = Vec::new();
            while f.remaining() > 0 {
                check_count("items", items.len() + 1)?;
                items.push(f.item()?);
            }
            Response::Batch(items)
        }
        (b"OK", b"count") => Response::Count(f.u64("count")?),
        (b"OK", b"table") => {
            let partition_count = f.u32("partition_count")?;
            let replica_count = f.u32("replica_count")?;
            let epoch = f.u64("epoch")?;
            let n = f.groups("members", 2)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                let gossip_addr = f.string("gossip_addr")?;
                let generation = f.u64("generation")?;
                members.push(MemberInfo {
                    gossip_addr,
                    generation,
                });
            }
            Response::Table(TableInfo {
                members,
                partition_count,
                replica_count,
                epoch,
            })
        }
        (b"OK", b"stats") => Response::Stats(NodeStats {
            hits: f.u64("hits")?,
            misses: f.u64("misses")?,
            keys: f.u64("keys")?,
            bytes: f.u64("bytes")?,
            evictions: f.u64("evictions")?,
            expirations: f.u64("expirations")?,
            rejections: f.u64("rejections")?,
            max_cost: f.u64("max_cost")?,
        }),
        (b"OK", b"scan") => {
            let cursor = f.u64("cursor")?;
            let keys = f.rest_bytes("keys")?;
            let keys = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
            Response::Scan { cursor, keys }
        }
        (b"OK", b"page") => {
            let cursor = f.u64("cursor")?;
            let entries = f.entries()?;
            Response::Page { cursor, entries }
        }
        (b"ERR", b"quorum") => {
            let kind = f.bytes("quorum kind")?;
            let kind = QuorumKind::parse(&kind).ok_or(CodecError::Invalid("quorum kind"))?;
            let needed = f.u32("needed")?;
            let reached = f.u32("reached")?;
            Response::Error(RemoteError::Quorum {
                kind,
                needed,
                reached,
            })
        }
        (b"ERR", b"closed") => Response::Error(RemoteError::Closed),
        (b"ERR", b"other") => {
            let text = f.bytes("error text")?;
            Response::Error(RemoteError::Other(
                String::from_utf8_lossy(&text).into_owned(),
            ))
        }
        (b"OK" | b"ERR", other) => return Err(unknown(other)),
        _ => return Err(CodecError::Invalid("status")),
    };
    f.end()?;
    Ok((id, fingerprint, resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use relaycache_resp::{FrameDecoder, Protocol, encode};

    fn arb_bytes() -> impl Strategy<Value = Bytes> {
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        (
            arb_bytes(),
            prop::option::of(arb_bytes()),
            any::<u64>(),
            any::<u32>(),
            any::<u64>(),
        )
            .prop_map(|(key, value, hlc, node, expires_at)| Entry {
                key,
                value,
                version: Version { hlc, node },
                expires_at,
            })
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            arb_bytes().prop_map(|key| Op::Get { key }),
            arb_bytes().prop_map(|key| Op::Meta { key }),
            (arb_bytes(), arb_bytes(), any::<u64>()).prop_map(|(key, value, expires_at)| {
                Op::Set {
                    key,
                    value,
                    expires_at,
                }
            }),
            arb_bytes().prop_map(|key| Op::Delete { key }),
            (arb_bytes(), any::<u64>())
                .prop_map(|(key, expires_at)| Op::Expire { key, expires_at }),
            (
                arb_bytes(),
                prop::option::of(arb_bytes()),
                any::<u64>(),
                any::<u64>(),
                any::<u32>()
            )
                .prop_map(|(key, value, expires_at, hlc, node)| Op::SetIf {
                    key,
                    value,
                    expires_at,
                    expected: Version { hlc, node },
                }),
        ]
    }

    pub(crate) fn arb_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            (any::<u8>(), arb_op()).prop_map(|(hops, op)| Request::Op { hops, op }),
            (any::<u8>(), prop::collection::vec(arb_op(), 0..5))
                .prop_map(|(hops, ops)| Request::Batch { hops, ops }),
            prop::collection::vec(arb_entry(), 0..6).prop_map(|entries| Request::Apply { entries }),
            prop::collection::vec(arb_bytes(), 0..6).prop_map(|keys| Request::Fetch { keys }),
            prop::collection::vec(arb_bytes(), 0..6).prop_map(|keys| Request::Peek { keys }),
            (
                prop::collection::vec(any::<u32>(), 0..6),
                any::<u64>(),
                any::<u32>()
            )
                .prop_map(|(partitions, cursor, count)| Request::Pull {
                    partitions,
                    cursor,
                    count
                }),
            Just(Request::Table),
            Just(Request::Stats),
            (any::<u64>(), arb_bytes(), any::<u32>()).prop_map(|(cursor, prefix, count)| {
                Request::Scan {
                    cursor,
                    prefix,
                    count,
                }
            }),
            Just(Request::Clock),
            (arb_bytes(), any::<u64>(), any::<u32>()).prop_map(|(prefix, hlc, node)| {
                Request::Purge {
                    prefix,
                    version: Version { hlc, node },
                }
            }),
            Just(Request::Leaving),
        ]
    }

    fn arb_kind() -> impl Strategy<Value = QuorumKind> {
        prop_oneof![
            Just(QuorumKind::Read),
            Just(QuorumKind::Write),
            Just(QuorumKind::MemberCount)
        ]
    }

    pub(crate) fn arb_response() -> impl Strategy<Value = Response> {
        prop_oneof![
            Just(Response::Ok),
            prop::option::of(arb_entry()).prop_map(Response::Entry),
            prop::collection::vec(arb_entry(), 0..6).prop_map(Response::Entries),
            any::<u64>().prop_map(Response::Count),
            (
                prop::collection::vec(
                    (".{0,12}", any::<u64>()).prop_map(|(gossip_addr, generation)| MemberInfo {
                        gossip_addr,
                        generation
                    }),
                    0..5
                ),
                any::<u32>(),
                any::<u32>(),
                any::<u64>()
            )
                .prop_map(|(members, partition_count, replica_count, epoch)| {
                    Response::Table(TableInfo {
                        members,
                        partition_count,
                        replica_count,
                        epoch,
                    })
                }),
            any::<[u64; 8]>().prop_map(|s| Response::Stats(NodeStats {
                hits: s[0],
                misses: s[1],
                keys: s[2],
                bytes: s[3],
                evictions: s[4],
                expirations: s[5],
                rejections: s[6],
                max_cost: s[7],
            })),
            (any::<u64>(), prop::collection::vec(arb_bytes(), 0..6))
                .prop_map(|(cursor, keys)| Response::Scan { cursor, keys }),
            (any::<u64>(), prop::collection::vec(arb_entry(), 0..6))
                .prop_map(|(cursor, entries)| Response::Page { cursor, entries }),
            (arb_kind(), any::<u32>(), any::<u32>()).prop_map(|(kind, needed, reached)| {
                Response::Error(RemoteError::Quorum {
                    kind,
                    needed,
                    reached,
                })
            }),
            Just(Response::Error(RemoteError::Closed)),
            ".{0,40}".prop_map(|t| Response::Error(RemoteError::Other(t))),
            prop::collection::vec(arb_item(), 0..5).prop_map(Response::Batch),
        ]
    }

    fn arb_item() -> impl Strategy<Value = Response> {
        prop_oneof![
            Just(Response::Ok),
            prop::option::of(arb_entry()).prop_map(Response::Entry),
            any::<u64>().prop_map(Response::Count),
            (arb_kind(), any::<u32>(), any::<u32>()).prop_map(|(kind, needed, reached)| {
                Response::Error(RemoteError::Quorum {
                    kind,
                    needed,
                    reached,
                })
            }),
            Just(Response::Error(RemoteError::Closed)),
            ".{0,40}".prop_map(|t| Response::Error(RemoteError::Other(t))),
        ]
    }

    fn one_frame(bytes: &[u8]) -> Frame {
        let mut buf = BytesMut::from(bytes);
        let frame = FrameDecoder::new(frame_limits())
            .decode(&mut buf)
            .expect("valid RESP")
            .expect("a whole frame");
        assert!(buf.is_empty(), "exactly one frame");
        frame
    }

    /// Our direct encoder writes what the resp crate's encoder writes for the same array of bulks.
    fn same_as_resp_encoder(frame: &Frame, bytes: &[u8]) {
        let mut expected = BytesMut::new();
        encode(frame, Protocol::Resp2, &mut expected);
        assert_eq!(&expected[..], bytes);
        let Frame::Array(items) = frame else {
            panic!("an array")
        };
        assert!(items.iter().all(|i| matches!(i, Frame::Bulk(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn requests_round_trip(id in any::<u64>(), fp in any::<u64>(), req in arb_request()) {
            prop_assert!(check_request(&req).is_ok());
            let mut out = BytesMut::new();
            encode_request(id, fp, &req, &mut out);
            let frame = one_frame(&out);
            same_as_resp_encoder(&frame, &out);
            prop_assert_eq!(frame_id(&frame), Some(id));
            prop_assert_eq!(decode_request(frame), Ok((id, fp, req)));
        }

        #[test]
        fn responses_round_trip(id in any::<u64>(), fp in any::<u64>(), resp in arb_response()) {
            prop_assert!(check_response(&resp).is_ok());
            let mut out = BytesMut::new();
            encode_response(id, fp, &resp, &mut out);
            let frame = one_frame(&out);
            same_as_resp_encoder(&frame, &out);
            prop_assert_eq!(decode_response(frame), Ok((id, fp, resp)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&data[..]);
            let mut decoder = FrameDecoder::new(frame_limits());
            while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                let _ = frame_id(&frame);
                let _ = decode_request(frame.clone());
                let _ = decode_response(frame);
            }
        }

        /// Arrays of plausible tokens reach deep into the decoders.
        #[test]
        fn arbitrary_token_arrays_never_panic(tokens in prop::collection::vec(prop_oneof![
            Just("OP"), Just("GET"), Just("SET"), Just("META"), Just("DEL"), Just("EXPIRE"),
            Just("APPLY"), Just("FETCH"), Just("PEEK"), Just("PULL"), Just("TABLE"), Just("STATS"), Just("SCAN"),
            Just("PURGE"), Just("CLOCK"), Just("LEAVING"), Just("OK"), Just("ERR"), Just("ok"), Just("entry"),
            Just("entries"), Just("count"), Just("table"), Just("stats"), Just("scan"), Just("page"),
            Just("quorum"), Just("closed"), Just("other"), Just("read"), Just("v"), Just("t"), Just(""),
            Just("0"), Just("1"), Just("255"), Just("256"), Just("4294967296"),
            Just("18446744073709551615"), Just("18446744073709551616"), Just("-1"), Just("x"),
        ], 0..24), mixed in any::<bool>()) {
            let mut items: Vec<Frame> = tokens.iter().map(Frame::bulk).collect();
            if mixed && !items.is_empty() {
                items[0] = Frame::Integer(1);
            }
            let frame = Frame::Array(items);
            let _ = decode_request(frame.clone());
            let _ = decode_response(frame);
        }
    }

    #[test]
    fn bounded_lists_are_refused_before_reserving() {
        let mut items = vec![Frame::bulk("1"), Frame::bulk("FETCH"), Frame::bulk("0")];
        items.extend((0..=MAX_ITEMS).map(|_| Frame::bulk("k")));
        assert!(matches!(
            decode_request(Frame::Array(items)),
            Err(CodecError::TooMany { what: "keys", .. })
        ));
        let keys = vec![Bytes::new(); MAX_ITEMS + 1];
        assert!(check_request(&Request::Fetch { keys }).is_err());
    }

    #[test]
    fn malformed_messages() {
        let req = |parts: &[&str]| decode_request(Frame::command(parts));
        assert_eq!(req(&[]), Err(CodecError::Missing("id")));
        assert_eq!(req(&["x", "TABLE", "0"]), Err(CodecError::Invalid("id")));
        assert_eq!(
            req(&["1", "NOPE", "0"]),
            Err(CodecError::UnknownVerb("NOPE".into()))
        );
        assert_eq!(
            req(&["1", "TABLE", "0", "extra"]),
            Err(CodecError::Trailing(1))
        );
        assert_eq!(
            req(&["1", "OP", "256", "GET", "k"]),
            Err(CodecError::Invalid("hops"))
        );
        assert_eq!(
            req(&["1", "APPLY", "0", "k", "t", "not empty", "1", "1", "0"]),
            Err(CodecError::Invalid("entry kind"))
        );
        assert_eq!(
            req(&["1", "APPLY", "0", "k", "v"]),
            Err(CodecError::Invalid("entries"))
        );
        assert_eq!(
            decode_request(Frame::Integer(3)),
            Err(CodecError::NotBulkArray)
        );
        let resp = |parts: &[&str]| decode_response(Frame::command(parts));
        assert_eq!(
            resp(&["1", "MAYBE", "0", "ok"]),
            Err(CodecError::Invalid("status"))
        );
        assert_eq!(
            resp(&["1", "ERR", "0", "quorum", "some", "1", "1"]),
            Err(CodecError::Invalid("quorum kind"))
        );
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u64(b""), None);
    }
}
