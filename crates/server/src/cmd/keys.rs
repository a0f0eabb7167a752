//! DEL UNLINK EXISTS TYPE KEYS SCAN DBSIZE FLUSHDB FLUSHALL RENAME RENAMENX.

use bytes::Bytes;
use relaycache::{Cache, Error};
use relaycache_resp::cmd::Scan;
use relaycache_resp::{Args, Writer, is};

use super::cache_error;
use crate::dispatch::Flow;
use crate::glob;

/// Keys asked of the backend per page when `KEYS` walks the whole key space.
const KEYS_PAGE: usize = 1000;
/// Upper bound on pages one `KEYS` walks (a billion keys), so the loop is bounded.
const KEYS_MAX_PAGES: usize = 1_000_000;

pub(super) async fn del<C: Cache>(cache: &C, keys: Args<'_>, w: &mut Writer<'_>) -> Flow {
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

pub(super) async fn exists<C: Cache>(cache: &C, keys: Args<'_>, w: &mut Writer<'_>) -> Flow {
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

pub(super) async fn kind<C: Cache>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.exists(key).await {
        Ok(true) => w.simple(b"string"),
        Ok(false) => w.simple(b"none"),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn keys<C: Cache>(cache: &C, pattern: &[u8], w: &mut Writer<'_>) -> Flow {
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

pub(super) async fn scan<C: Cache>(cache: &C, scan: Scan<'_>, w: &mut Writer<'_>) -> Flow {
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

pub(super) async fn dbsize<C: Cache>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.stats().await {
        Ok(stats) => w.integer(i64::try_from(stats.key_count).unwrap_or(i64::MAX)),
        Err(Error::Unsupported { .. }) => w.integer(0),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn flush<C: Cache>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.invalidate_prefix(b"").await {
        Ok(_) => {
            w.ok();
            Flow::Continue
        }
        Err(e) => cache_error(&e, w),
    }
}

/// `RENAME` / `RENAMENX`: moves the value and its expiry. Composed of reads and writes (not atomic under
/// concurrent writers to either key).
pub(super) async fn rename<C: Cache>(
    cache: &C,
    from: &[u8],
    to: &[u8],
    if_absent: bool,
    w: &mut Writer<'_>,
) -> Flow {
    let value = match cache.get(from).await {
        Ok(v) => v,
        Err(Error::NotFound) => {
            w.error(b"ERR no such key");
            return Flow::Continue;
        }
        Err(e) => return cache_error(&e, w),
    };
    if from == to {
        if if_absent {
            w.integer(0);
        } else {
            w.ok();
        }
        return Flow::Continue;
    }
    if if_absent {
        match cache.exists(to).await {
            Ok(true) => {
                w.integer(0);
                return Flow::Continue;
            }
            Ok(false) => {}
            Err(e) => return cache_error(&e, w),
        }
    }
    let ttl = match cache.ttl(from).await {
        Ok(t) => t,
        Err(Error::NotFound) => None,
        Err(e) => return cache_error(&e, w),
    };
    let written = match ttl {
        Some(ttl) => cache.set_with_ttl(to, &value, ttl).await,
        None => cache.set(to, &value).await,
    };
    if let Err(e) = written {
        return cache_error(&e, w);
    }
    if let Err(e) = cache.delete(from).await {
        return cache_error(&e, w);
    }
    if if_absent {
        w.integer(1);
    } else {
        w.ok();
    }
    Flow::Continue
}
