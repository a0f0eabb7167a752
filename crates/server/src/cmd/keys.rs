//! DEL UNLINK EXISTS TYPE KEYS SCAN DBSIZE FLUSHDB FLUSHALL RENAME RENAMENX.

use bytes::Bytes;
use relaycache::{Error, KeyOps};
use relaycache_resp::cmd::Scan;
use relaycache_resp::{Args, Writer, is};

use super::cache_error;
use crate::dispatch::Flow;
use crate::glob;
use crate::server::Shared;

/// Keys asked of the backend per page when `KEYS` walks the whole key space.
const KEYS_PAGE: usize = 1000;
/// Upper bound on pages one `KEYS` walks (a billion keys), so the loop is bounded.
const KEYS_MAX_PAGES: usize = 1_000_000;

pub(super) async fn del<C: KeyOps>(cache: &C, keys: Args<'_>, w: &mut Writer<'_>) -> Flow {
    let mut removed = 0;
    for key in keys.iter() {
        match cache.remove(key).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => return cache_error(&e, w),
        }
    }
    w.integer(removed);
    Flow::Continue
}

pub(super) async fn exists<C: KeyOps>(cache: &C, keys: Args<'_>, w: &mut Writer<'_>) -> Flow {
    let mut found = 0;
    for key in keys.iter() {
        match cache.exists(key).await {
            Ok(true) => found += 1,
            Ok(false) => {}
            Err(e) => return cache_error(&e, w),
        }
    }
    w.integer(found);
    Flow::Continue
}

pub(super) async fn kind<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.exists(key).await {
        Ok(true) => w.simple(b"string"),
        Ok(false) => w.simple(b"none"),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn keys<C: KeyOps>(cache: &C, pattern: &[u8], w: &mut Writer<'_>) -> Flow {
    let prefix = glob::literal_prefix(pattern);
    let mut cursor = 0;
    let mut found: Vec<Bytes> = Vec::new();
    for _ in 0..KEYS_MAX_PAGES {
        match cache.scan(cursor, prefix, KEYS_PAGE).await {
            Ok(page) => {
                found.extend(page.keys.into_iter().filter(|k| glob::matches(pattern, k)));
                cursor = page.cursor;
                if cursor == 0 {
                    break;
                }
            }
            Err(e) => return cache_error(&e, w),
        }
    }
    found.sort_unstable();
    found.dedup();
    w.array(found.len());
    for key in &found {
        w.bulk(key);
    }
    Flow::Continue
}

pub(super) async fn scan<C: KeyOps>(cache: &C, scan: Scan<'_>, w: &mut Writer<'_>) -> Flow {
    let prefix = scan.pattern.map_or(&b""[..], glob::literal_prefix);
    let page = match cache.scan(scan.cursor, prefix, scan.count).await {
        Ok(page) => page,
        Err(e) => return cache_error(&e, w),
    };
    // Every key relaycache stores is a string.
    let type_ok = scan.kind.is_none_or(|t| is(t, "string"));
    let keys: Vec<&Bytes> = page
        .keys
        .iter()
        .filter(|k| type_ok && scan.pattern.is_none_or(|p| glob::matches(p, k)))
        .collect();
    w.array(2);
    w.bulk(page.cursor.to_string().as_bytes());
    w.array(keys.len());
    for key in keys {
        w.bulk(key);
    }
    Flow::Continue
}

pub(super) async fn dbsize<C: KeyOps>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.stats().await {
        Ok(stats) => w.integer(i64::try_from(stats.key_count).unwrap_or(i64::MAX)),
        Err(Error::Unsupported { .. }) => w.integer(0),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn flush<C: KeyOps>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.invalidate_prefix(b"").await {
        Ok(_) => {
            w.ok();
            Flow::Continue
        }
        Err(e) => cache_error(&e, w),
    }
}

/// `RENAME` / `RENAMENX`: moves the value and its expiry in one step ([`KeyOps::rename`]).
pub(super) async fn rename<C: KeyOps>(
    shared: &Shared<C>,
    from: &[u8],
    to: &[u8],
    if_absent: bool,
    w: &mut Writer<'_>,
) -> Flow {
    match shared.cache.rename(from, to, if_absent).await {
        Ok(moved) => {
            if moved && from != to {
                shared.encodings.moved(from, to);
            }
            if if_absent {
                w.integer(i64::from(moved));
            } else {
                w.ok();
            }
        }
        Err(Error::NotFound) => w.error(b"ERR no such key"),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `COPY` ([`KeyOps::copy`]).
pub(super) async fn copy<C: KeyOps>(
    shared: &Shared<C>,
    from: &[u8],
    to: &[u8],
    replace: bool,
    w: &mut Writer<'_>,
) -> Flow {
    if from == to {
        w.error(b"ERR source and destination objects are the same");
        return Flow::Continue;
    }
    match shared.cache.copy(from, to, replace).await {
        Ok(copied) => {
            if copied {
                shared.encodings.copied(from, to);
            }
            w.integer(i64::from(copied));
        }
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}
