//! GET SET SETNX SETEX PSETEX GETSET GETDEL GETRANGE STRLEN APPEND MGET MSET INCR DECR INCRBY DECRBY.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use relaycache::{Error, KeyOps, SetCondition, SetExpiry, SetOptions};
use relaycache_resp::cmd::{self as parsed, BitOperation, Expiry};
use relaycache_resp::{Args, Writer};

use super::cache_error;
use crate::dispatch::Flow;
use crate::encoding::Made;
use crate::server::Shared;

pub(crate) async fn get<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.get(key).await {
        Ok(value) => w.bulk(&value),
        Err(Error::NotFound) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn getdel<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.take(key).await {
        Ok(value) => w.bulk(&value),
        Err(Error::NotFound) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// True for `SET key value` and `SET key value EX/PX n`: no condition, no `GET`, a relative or no
/// expiry (the hot path).
pub(crate) fn is_plain_set(set: &parsed::Set<'_>) -> bool {
    set.condition == parsed::SetCondition::Always
        && !set.get
        && matches!(set.expiry, Expiry::Never | Expiry::In(_))
}

/// Executes a SET for which [`is_plain_set`] holds, with the core calls only.
pub(crate) async fn set_plain<C: KeyOps>(
    cache: &C,
    set: parsed::Set<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    let result = match resolve(set.expiry) {
        Ok(Some(SetExpiry::After(ttl))) => cache.set_with_ttl(set.key, set.value, ttl).await,
        Ok(Some(_)) => cache.set(set.key, set.value).await,
        Ok(None) | Err(()) => {
            w.error(format!("ERR invalid expire time in '{}' command", set.name).as_bytes());
            return Flow::Continue;
        }
    };
    match result {
        Ok(()) => w.ok(),
        Err(Error::InvalidArgument(_)) => {
            w.error(format!("ERR invalid expire time in '{}' command", set.name).as_bytes());
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Wall-clock nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// The time from now until the absolute Unix time `at_ms`, to the nanosecond; `None` when it has
/// passed. Converting back with [`deadline_ms`] gives `at_ms` again exactly: both sides work in
/// nanoseconds and only the final answer is rounded to the millisecond.
pub(crate) fn until(at_ms: i64) -> Option<Duration> {
    let left = i128::from(at_ms) * 1_000_000 - now_ns();
    if left <= 0 {
        return None;
    }
    // Up to `i64::MAX` ms ahead: seconds fit a u64 even where nanoseconds would not.
    let secs = u64::try_from(left / 1_000_000_000).unwrap_or(u64::MAX);
    let nanos = u32::try_from(left % 1_000_000_000).unwrap_or(0);
    Some(Duration::new(secs, nanos))
}

/// The absolute Unix time, in milliseconds (rounded to the nearest), at which a key whose time to live
/// is `left` expires.
pub(crate) fn deadline_ms(left: Duration) -> i64 {
    let at = now_ns() + i128::try_from(left.as_nanos()).unwrap_or(i128::MAX / 2);
    i64::try_from((at + 500_000) / 1_000_000).unwrap_or(i64::MAX)
}

/// What a parsed expiry means now: `Ok(None)` for "already expired", `Err(())` when it cannot be
/// represented (Redis: `invalid expire time`).
pub(super) fn resolve(expiry: Expiry) -> Result<Option<SetExpiry>, ()> {
    match expiry {
        Expiry::Never => Ok(Some(SetExpiry::Never)),
        Expiry::Keep => Ok(Some(SetExpiry::Keep)),
        Expiry::In(ms) => {
            let now = now_ms();
            // Redis refuses a relative expiry whose absolute time would overflow; it never wraps.
            if ms > i64::MAX - now {
                return Err(());
            }
            Ok(Some(SetExpiry::After(Duration::from_millis(
                ms.unsigned_abs(),
            ))))
        }
        Expiry::At(at) => Ok(until(at).map(SetExpiry::After)),
    }
}

pub(super) async fn set<C: KeyOps>(
    cache: &C,
    set: parsed::Set<'_>,
    reply_integer: bool,
    w: &mut Writer<'_>,
) -> Flow {
    let name = set.name;
    let expiry = match resolve(set.expiry) {
        Ok(Some(e)) => e,
        Ok(None) => {
            // An absolute time in the past: the key ends up absent, as if set then expired at once.
            return set_expired(cache, set, w).await;
        }
        Err(()) => {
            w.error(format!("ERR invalid expire time in '{name}' command").as_bytes());
            return Flow::Continue;
        }
    };
    let condition = match set.condition {
        parsed::SetCondition::Always => SetCondition::Always,
        parsed::SetCondition::IfAbsent => SetCondition::IfAbsent,
        parsed::SetCondition::IfPresent => SetCondition::IfPresent,
    };
    // A plain SET is the hot path: go straight to the core calls.
    let result = match (condition, expiry, set.get) {
        (SetCondition::Always, SetExpiry::Never, false) => {
            cache.set(set.key, set.value).await.map(|()| None)
        }
        (SetCondition::Always, SetExpiry::After(ttl), false) => cache
            .set_with_ttl(set.key, set.value, ttl)
            .await
            .map(|()| None),
        _ => {
            let options = SetOptions::new()
                .condition(condition)
                .expiry(expiry)
                .return_previous(set.get);
            cache
                .set_with_options(set.key, set.value, options)
                .await
                .map(Some)
        }
    };
    match result {
        Ok(None) if reply_integer => w.integer(1),
        Ok(None) => w.ok(),
        Ok(Some(outcome)) => {
            if reply_integer {
                w.integer(i64::from(outcome.written));
            } else if set.get {
                match outcome.previous {
                    Some(v) => w.bulk(&v),
                    None => w.null(),
                }
            } else if outcome.written {
                w.ok();
            } else {
                w.null();
            }
        }
        Err(Error::InvalidArgument(_)) => {
            w.error(format!("ERR invalid expire time in '{name}' command").as_bytes());
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

async fn set_expired<C: KeyOps>(cache: &C, set: parsed::Set<'_>, w: &mut Writer<'_>) -> Flow {
    let previous = match cache.get(set.key).await {
        Ok(v) => Some(v),
        Err(Error::NotFound) => None,
        Err(e) => return cache_error(&e, w),
    };
    let allowed = match set.condition {
        parsed::SetCondition::Always => true,
        parsed::SetCondition::IfAbsent => previous.is_none(),
        parsed::SetCondition::IfPresent => previous.is_some(),
    };
    if allowed && let Err(e) = cache.delete(set.key).await {
        return cache_error(&e, w);
    }
    if set.get {
        match previous {
            Some(v) => w.bulk(&v),
            None => w.null(),
        }
    } else if allowed {
        w.ok();
    } else {
        w.null();
    }
    Flow::Continue
}

pub(super) async fn mget<C: KeyOps>(cache: &C, keys: Args<'_>, w: &mut Writer<'_>) -> Flow {
    let list: Vec<&[u8]> = keys.iter().collect();
    match cache.get_multi(&list).await {
        Ok(found) => {
            w.array(list.len());
            for key in list {
                match found.get(key) {
                    Some(v) => w.bulk(v),
                    None => w.null(),
                }
            }
            Flow::Continue
        }
        Err(e) => cache_error(&e, w),
    }
}

pub(super) async fn mset<C: KeyOps>(cache: &C, pairs: Args<'_>, w: &mut Writer<'_>) -> Flow {
    match cache.set_multi(&pairs_of(pairs)).await {
        Ok(()) => {
            w.ok();
            Flow::Continue
        }
        Err(e) => cache_error(&e, w),
    }
}

/// Key-value pairs from flat arguments.
fn pairs_of<'a>(pairs: Args<'a>) -> Vec<(&'a [u8], &'a [u8])> {
    (0..pairs.len() / 2)
        .map(|i| {
            (
                pairs.get(2 * i).unwrap_or_default(),
                pairs.get(2 * i + 1).unwrap_or_default(),
            )
        })
        .collect()
}

/// `MSETNX`: all the pairs or none, in one step ([`KeyOps::set_multi_if_absent`]).
pub(super) async fn msetnx<C: KeyOps>(cache: &C, pairs: Args<'_>, w: &mut Writer<'_>) -> Flow {
    match cache.set_multi_if_absent(&pairs_of(pairs)).await {
        Ok(written) => w.integer(i64::from(written)),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn incr_by<C: KeyOps>(
    cache: &C,
    key: &[u8],
    delta: i64,
    w: &mut Writer<'_>,
) -> Flow {
    match cache.increment(key, delta).await {
        Ok(n) => {
            w.integer(n);
            Flow::Continue
        }
        Err(e) => cache_error(&e, w),
    }
}

pub(super) async fn strlen<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.get(key).await {
        Ok(value) => w.integer(i64::try_from(value.len()).unwrap_or(i64::MAX)),
        Err(Error::NotFound) => w.integer(0),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `APPEND` ([`KeyOps::append`]).
pub(super) async fn append<C: KeyOps>(
    shared: &Shared<C>,
    key: &[u8],
    value: &[u8],
    w: &mut Writer<'_>,
) -> Flow {
    match shared.cache.append(key, value).await {
        Ok(len) => {
            // Appending to an existing value modifies it in place; a new key is written whole.
            if len > value.len() {
                shared.encodings.mark(key, Made::Raw, Some(len));
            } else {
                shared.encodings.forget(key);
            }
            w.integer(i64::try_from(len).unwrap_or(i64::MAX));
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `SETRANGE` ([`KeyOps::set_range`]).
pub(super) async fn setrange<C: KeyOps>(
    shared: &Shared<C>,
    key: &[u8],
    offset: usize,
    value: &[u8],
    w: &mut Writer<'_>,
) -> Flow {
    match shared.cache.set_range(key, offset, value).await {
        Ok(len) => {
            // An empty range changes nothing (and creates no key).
            if !value.is_empty() {
                shared.encodings.mark(key, Made::Raw, Some(len));
            }
            w.integer(i64::try_from(len).unwrap_or(i64::MAX));
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `SETBIT` ([`KeyOps::set_bit`]).
pub(super) async fn setbit<C: KeyOps>(
    shared: &Shared<C>,
    key: &[u8],
    offset: u64,
    bit: bool,
    w: &mut Writer<'_>,
) -> Flow {
    match shared.cache.set_bit(key, offset, bit).await {
        Ok(previous) => {
            // The value's length is not known here: the mark is not checked against it.
            shared.encodings.mark(key, Made::Raw, None);
            w.integer(i64::from(previous));
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `BITOP`: reads the sources (a missing one is empty), combines them byte by byte over the longest,
/// and stores the result without expiry (an empty result deletes `dest`). The reads and the write are
/// separate steps: a source written meanwhile may or may not be seen.
pub(super) async fn bitop<C: KeyOps>(
    shared: &Shared<C>,
    op: BitOperation,
    dest: &[u8],
    sources: Args<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    let cache = &shared.cache;
    let mut values = Vec::with_capacity(sources.len());
    for key in sources.iter() {
        match cache.get(key).await {
            Ok(v) => values.push(v),
            Err(Error::NotFound) => values.push(bytes::Bytes::new()),
            Err(e) => return cache_error(&e, w),
        }
    }
    let len = values.iter().map(|v| v.len()).max().unwrap_or(0);
    let byte = |v: &bytes::Bytes, i: usize| v.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let mut bytes = values.iter().map(|v| byte(v, i));
            let first = bytes.next().unwrap_or(0);
            match op {
                BitOperation::Not => !first,
                BitOperation::And => bytes.fold(first, |a, b| a & b),
                BitOperation::Or => bytes.fold(first, |a, b| a | b),
                BitOperation::Xor => bytes.fold(first, |a, b| a ^ b),
            }
        })
        .collect();
    let stored = if result.is_empty() {
        cache.delete(dest).await
    } else {
        cache.set(dest, &result).await
    };
    match stored {
        Ok(()) => {
            if result.is_empty() {
                shared.encodings.forget(dest);
            } else {
                shared.encodings.mark(dest, Made::Raw, Some(result.len()));
            }
            w.integer(i64::try_from(len).unwrap_or(i64::MAX));
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `INCRBYFLOAT` ([`KeyOps::increment_float`]).
pub(super) async fn incr_by_float<C: KeyOps>(
    shared: &Shared<C>,
    key: &[u8],
    increment: &[u8],
    w: &mut Writer<'_>,
) -> Flow {
    match shared.cache.increment_float(key, increment).await {
        Ok(value) => {
            shared.encodings.mark(key, Made::Text, Some(value.len()));
            w.bulk(&value);
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `GETRANGE`: Redis's index rules (negative from the end, clamped, empty when out of order).
pub(super) async fn getrange<C: KeyOps>(
    cache: &C,
    key: &[u8],
    start: i64,
    end: i64,
    w: &mut Writer<'_>,
) -> Flow {
    let value = match cache.get(key).await {
        Ok(v) => v,
        Err(Error::NotFound) => bytes::Bytes::new(),
        Err(e) => return cache_error(&e, w),
    };
    w.bulk(slice(&value, start, end));
    Flow::Continue
}

fn slice(value: &[u8], start: i64, end: i64) -> &[u8] {
    let len = i64::try_from(value.len()).unwrap_or(i64::MAX);
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return &[];
    }
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    if start > end {
        return &[];
    }
    let index = |i: i64| usize::try_from(i).unwrap_or(0);
    value.get(index(start)..=index(end)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::slice;

    #[test]
    fn getrange_indexes() {
        let v = b"This is a string";
        assert_eq!(slice(v, 0, 3), b"This");
        assert_eq!(slice(v, -3, -1), b"ing");
        assert_eq!(slice(v, 0, -1), v);
        assert_eq!(slice(v, 10, 100), b"string");
        assert_eq!(slice(v, 5, 2), b"");
        assert_eq!(slice(v, -1, -5), b"");
        assert_eq!(slice(v, -100, 2), b"Thi");
        assert_eq!(slice(v, 100, 200), b"");
        assert_eq!(slice(b"", 0, -1), b"");
    }
}
