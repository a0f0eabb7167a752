//! GETBIT BITCOUNT BITPOS: read-only bit operations on a string value, with Redis's index rules.
//!
//! Ranges are clamped to the value before anything is touched, so a huge range costs nothing; counting
//! and searching run over the stored bytes in place (no copy, no allocation).

use bytes::Bytes;
use relaycache::{Cache, Error};
use relaycache_resp::cmd::{BitQuery, BitRange, BitUnit};
use relaycache_resp::{CommandError, Writer};

use super::cache_error;
use crate::dispatch::Flow;

/// The value of `key`, `None` when absent; a failed call has written its error reply.
async fn value<C: Cache>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Result<Option<Bytes>, Flow> {
    match cache.get(key).await {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(cache_error(&e, w)),
    }
}

pub(super) async fn getbit<C: Cache>(
    cache: &C,
    key: &[u8],
    offset: u64,
    w: &mut Writer<'_>,
) -> Flow {
    let v = match value(cache, key, w).await {
        Ok(v) => v.unwrap_or_default(),
        Err(flow) => return flow,
    };
    w.integer(i64::from(bit_at(&v, offset)));
    Flow::Continue
}

pub(super) async fn bitcount<C: Cache>(cache: &C, q: BitQuery<'_>, w: &mut Writer<'_>) -> Flow {
    let v = match value(cache, q.key, w).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            w.integer(0);
            return Flow::Continue;
        }
        Err(flow) => return flow,
    };
    match q.range {
        Ok(range) => w.integer(count(&v, range)),
        Err(e) => w.error(CommandError::from(e).to_string().as_bytes()),
    }
    Flow::Continue
}

pub(super) async fn bitpos<C: Cache>(cache: &C, q: BitQuery<'_>, w: &mut Writer<'_>) -> Flow {
    let v = match value(cache, q.key, w).await {
        Ok(Some(v)) => v,
        // A missing key is an endless run of 0 bits.
        Ok(None) => {
            w.integer(if q.bit { -1 } else { 0 });
            return Flow::Continue;
        }
        Err(flow) => return flow,
    };
    match q.range {
        Ok(range) => w.integer(position(&v, q.bit, range)),
        Err(e) => w.error(CommandError::from(e).to_string().as_bytes()),
    }
    Flow::Continue
}

/// The bit at `offset` (bit 0 is the most significant bit of byte 0); 0 past the end.
fn bit_at(v: &[u8], offset: u64) -> bool {
    let byte = usize::try_from(offset >> 3).ok().and_then(|i| v.get(i));
    byte.is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// The inclusive bit range `range` covers in a value of `len` bytes, clamped as Redis clamps it; `None`
/// when it is empty. `end` defaults to the last index.
fn bit_span(len: usize, range: Option<BitRange>) -> Option<(u64, u64)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX >> 3);
    let Some(range) = range else {
        return (len > 0).then(|| (0, (len as u64) * 8 - 1));
    };
    let total = match range.unit {
        BitUnit::Byte => len,
        BitUnit::Bit => len << 3,
    };
    let clamp = |i: i64| {
        let i = if i < 0 { total.saturating_add(i) } else { i };
        i.max(0)
    };
    let start = clamp(range.start);
    let end = clamp(range.end.unwrap_or(total - 1)).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match range.unit {
        BitUnit::Byte => (start * 8, end * 8 + 7),
        BitUnit::Bit => (start, end),
    })
}

/// `BITCOUNT`: set bits within `range`.
fn count(v: &[u8], range: Option<BitRange>) -> i64 {
    // Redis: two negative indexes out of order count nothing, before any clamping.
    if let Some(r) = range
        && let Some(end) = r.end
        && r.start < 0
        && end < 0
        && r.start > end
    {
        return 0;
    }
    let Some((first, last)) = bit_span(v.len(), range) else {
        return 0;
    };
    let (fb, lb) = ((first / 8) as usize, (last / 8) as usize);
    let bytes = &v[fb..=lb];
    let mut n: u64 = bytes.iter().map(|b| u64::from(b.count_ones())).sum();
    // Take out the bits of the edge bytes that lie outside the range.
    let head = (first % 8) as u32;
    let tail = 7 - (last % 8) as u32;
    if head > 0 {
        n -= u64::from((v[fb] >> (8 - head)).count_ones());
    }
    if tail > 0 {
        n -= u64::from((v[lb] & ((1u8 << tail) - 1)).count_ones());
    }
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `BITPOS`: the first bit equal to `bit` within `range`, or -1. Looking for a 0 in a range that holds
/// none, with no explicit end, gives the position just past the range (the value reads as padded with
/// zeros); with an explicit end it gives -1.
fn position(v: &[u8], bit: bool, range: Option<BitRange>) -> i64 {
    let Some((first, last)) = bit_span(v.len(), range) else {
        return -1;
    };
    let (fb, lb) = ((first / 8) as usize, (last / 8) as usize);
    for (i, &byte) in v[fb..=lb].iter().enumerate() {
        // Bits of this byte inside the range, as a mask over its 8 positions.
        let at = fb + i;
        let lo = if at == fb { (first % 8) as u32 } else { 0 };
        let hi = if at == lb { (last % 8) as u32 } else { 7 };
        let inside = (0xFFu8 >> lo) & (0xFFu8 << (7 - hi));
        let hits = if bit { byte } else { !byte } & inside;
        if hits != 0 {
            return (at as i64) * 8 + i64::from(hits.leading_zeros());
        }
    }
    let end_given = range.is_some_and(|r| r.end.is_some());
    if bit || end_given {
        -1
    } else {
        i64::try_from(last + 1).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: i64, end: Option<i64>, unit: BitUnit) -> Option<BitRange> {
        Some(BitRange { start, end, unit })
    }

    #[test]
    fn getbit_reads_msb_first() {
        assert!(!bit_at(b"`", 0));
        assert!(bit_at(b"`", 1));
        assert!(bit_at(b"`", 2));
        assert!(!bit_at(b"`", 3));
        assert!(!bit_at(b"`", 8));
        assert!(!bit_at(b"", u64::from(u32::MAX)));
    }

    #[test]
    fn bitcount_ranges() {
        let v = b"foobar";
        assert_eq!(count(v, None), 26);
        assert_eq!(count(v, r(0, Some(0), BitUnit::Byte)), 4);
        assert_eq!(count(v, r(1, Some(1), BitUnit::Byte)), 6);
        assert_eq!(count(v, r(5, Some(30), BitUnit::Bit)), 17);
        assert_eq!(count(v, r(-2, Some(-1), BitUnit::Byte)), 7);
        assert_eq!(count(v, r(-1, Some(-2), BitUnit::Byte)), 0);
        assert_eq!(count(v, r(i64::MIN, Some(i64::MAX), BitUnit::Bit)), 26);
        assert_eq!(count(v, r(i64::MAX, Some(i64::MAX), BitUnit::Byte)), 0);
        assert_eq!(count(b"", r(0, Some(-1), BitUnit::Byte)), 0);
    }

    #[test]
    fn bitpos_rules() {
        let v = b"\xff\xf0\x00";
        assert_eq!(position(v, false, None), 12);
        assert_eq!(position(b"\xff\xff\xff", false, None), 24);
        assert_eq!(
            position(b"\xff\xff\xff", false, r(0, None, BitUnit::Byte)),
            24
        );
        assert_eq!(
            position(b"\xff\xff\xff", false, r(0, Some(-1), BitUnit::Byte)),
            -1
        );
        assert_eq!(
            position(b"\x00\xff\xf0", true, r(0, None, BitUnit::Byte)),
            8
        );
        assert_eq!(
            position(b"\x00\xff\xf0", true, r(2, Some(-1), BitUnit::Byte)),
            16
        );
        assert_eq!(position(b"\x00\x00\x00", true, None), -1);
        assert_eq!(
            position(b"\x00\xff\xf0", true, r(7, Some(15), BitUnit::Bit)),
            8
        );
        assert_eq!(
            position(b"\x00\xff\xf0", false, r(7, Some(15), BitUnit::Bit)),
            7
        );
        assert_eq!(position(b"\xff\xff", false, r(3, None, BitUnit::Bit)), 16);
        assert_eq!(position(b"", false, None), -1);
        assert_eq!(position(b"a", true, r(5, Some(2), BitUnit::Byte)), -1);
    }
}
