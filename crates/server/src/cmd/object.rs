//! OBJECT MEMORY RANDOMKEY: what Redis tells about one key, or picks one.

use std::hash::{BuildHasher, Hasher};

use relaycache::{Cache, Error};
use relaycache_resp::Writer;
use relaycache_resp::cmd::{Memory, Object};

use super::cache_error;
use crate::dispatch::Flow;
use crate::server::Shared;

/// Redis's LFU counter for a key just written (`OBJECT FREQ` reports it for every key: the backends do
/// not expose per-key access counts).
const NEW_KEY_FREQ: i64 = 5;

/// Bytes `MEMORY USAGE` adds to key and value: the per-entry bookkeeping the `single` backend charges
/// against `max_cost`.
const ENTRY_OVERHEAD: u64 = relaycache_engine::ENTRY_OVERHEAD;

/// Keys one `RANDOMKEY` reads from the backend's scan to pick from.
const RANDOM_SAMPLE: usize = 256;

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> ...]. Subcommands:",
    "ENCODING <key>",
    "    How the value is represented: int, embstr or raw, by Redis's rules for strings.",
    "FREQ <key>",
    "    The key's LFU access counter (relaycache reports a new key's counter, 5).",
    "IDLETIME <key>",
    "    Not tracked: the maxmemory policy is LFU, so this replies an error, as Redis does.",
    "REFCOUNT <key>",
    "    References to the value (always 1).",
    "HELP",
    "    This text.",
];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> ...]. Subcommands:",
    "USAGE <key> [SAMPLES <count>]",
    "    An estimate of the bytes the key takes: key + value + the per-entry bookkeeping.",
    "HELP",
    "    This text.",
];

fn help(lines: &[&str], w: &mut Writer<'_>) -> Flow {
    w.array(lines.len());
    for line in lines {
        w.simple(line.as_bytes());
    }
    Flow::Continue
}

pub(super) async fn object<C: Cache>(
    shared: &Shared<C>,
    sub: Object<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    let key = match sub {
        Object::Help => return help(OBJECT_HELP, w),
        Object::Encoding(k) | Object::Freq(k) | Object::IdleTime(k) | Object::RefCount(k) => k,
    };
    let value = match shared.cache.get(key).await {
        Ok(v) => v,
        Err(Error::NotFound) => {
            w.null();
            return Flow::Continue;
        }
        Err(e) => return cache_error(&e, w),
    };
    match sub {
        Object::Encoding(_) => w.bulk(shared.encodings.of(key, &value).as_bytes()),
        Object::Freq(_) => w.integer(NEW_KEY_FREQ),
        Object::IdleTime(_) => w.error(
            b"ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when \
              switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
        Object::RefCount(_) | Object::Help => w.integer(1),
    }
    Flow::Continue
}

pub(super) async fn memory<C: Cache>(cache: &C, sub: Memory<'_>, w: &mut Writer<'_>) -> Flow {
    let key = match sub {
        Memory::Help => return help(MEMORY_HELP, w),
        Memory::Usage(key) => key,
    };
    match cache.get(key).await {
        Ok(value) => {
            let bytes = key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD;
            w.integer(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        Err(Error::NotFound) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// A random number (the standard library's per-process random hash keys, which differ per call).
pub(crate) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

/// `RANDOMKEY`: one of the first keys of a backend scan, picked at random; null when there is none (or
/// the backend cannot list keys).
pub(super) async fn randomkey<C: Cache>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.scan(0, b"", RANDOM_SAMPLE).await {
        Ok(page) if !page.keys.is_empty() => {
            let i = (random_u64() % page.keys.len() as u64) as usize;
            w.bulk(&page.keys[i]);
        }
        Ok(_) | Err(Error::Unsupported { .. }) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}
