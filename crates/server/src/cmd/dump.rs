//! DUMP RESTORE, with relaycache's own payload (not Redis's RDB encoding).
//!
//! A payload is `type (1 byte, 0 = string) | value | format version (2 bytes, little-endian, now 1) |
//! XXH3-64 of everything before it (8 bytes, little-endian)`. A payload that is too short, has another
//! version or a wrong checksum is refused with Redis's `DUMP payload version or checksum are wrong`; one
//! that checks out but holds another type, with `Bad data format`.

use std::time::Duration;

use relaycache::{Error, KeyOps, SetCondition, SetExpiry, SetOptions};
use relaycache_resp::cmd::Restore;
use relaycache_resp::{CommandError, Writer};
use xxhash_rust::xxh3::xxh3_64;

use super::cache_error;
use super::strings::now_ms;
use crate::dispatch::Flow;

/// The payload's type byte for a string.
const TYPE_STRING: u8 = 0;
/// The payload format this server writes and reads.
const VERSION: u16 = 1;
/// Type byte + version + checksum.
const FRAMING: usize = 1 + 2 + 8;

const BUSYKEY: &[u8] = b"BUSYKEY Target key name already exists.";

/// Why a payload is refused.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// Too short, another version, or a wrong checksum.
    VersionOrChecksum,
    /// Not a string.
    Format,
}

/// The payload `DUMP` replies for `value`.
fn encode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + FRAMING);
    out.push(TYPE_STRING);
    out.extend_from_slice(value);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The value inside `payload`.
fn decode(payload: &[u8]) -> Result<&[u8], Refused> {
    if payload.len() < FRAMING {
        return Err(Refused::VersionOrChecksum);
    }
    let (body, sum) = payload.split_at(payload.len() - 8);
    let (typed, version) = body.split_at(body.len() - 2);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| Refused::VersionOrChecksum)?);
    let version = u16::from_le_bytes(version.try_into().map_err(|_| Refused::VersionOrChecksum)?);
    if version != VERSION || xxh3_64(body) != sum {
        return Err(Refused::VersionOrChecksum);
    }
    match typed.split_first() {
        Some((&TYPE_STRING, value)) => Ok(value),
        _ => Err(Refused::Format),
    }
}

pub(super) async fn dump<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.get(key).await {
        Ok(value) => w.bulk(&encode(&value)),
        Err(Error::NotFound) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `RESTORE`, checking in Redis's order: the key (`BUSYKEY` without `REPLACE`), the TTL, the payload.
/// `IDLETIME` and `FREQ` are accepted and ignored (the backends keep their own access statistics).
pub(super) async fn restore<C: KeyOps>(cache: &C, r: Restore<'_>, w: &mut Writer<'_>) -> Flow {
    if !r.replace {
        match cache.exists(r.key).await {
            Ok(true) => {
                w.error(BUSYKEY);
                return Flow::Continue;
            }
            Ok(false) => {}
            Err(e) => return cache_error(&e, w),
        }
    }
    let ttl = match r.ttl {
        Ok(ttl) => ttl,
        Err(e) => {
            w.error(CommandError::from(e).to_string().as_bytes());
            return Flow::Continue;
        }
    };
    let value = match decode(r.payload) {
        Ok(v) => v,
        Err(Refused::VersionOrChecksum) => {
            w.error(b"ERR DUMP payload version or checksum are wrong");
            return Flow::Continue;
        }
        Err(Refused::Format) => {
            w.error(b"ERR Bad data format");
            return Flow::Continue;
        }
    };
    let expiry = if ttl == 0 {
        SetExpiry::Never
    } else {
        let now = now_ms();
        let left = if r.absolute {
            ttl.saturating_sub(now)
        } else {
            ttl
        };
        if left <= 0 {
            // Already expired: the key ends up absent (an existing one is replaced by nothing).
            if r.replace
                && let Err(e) = cache.delete(r.key).await
            {
                return cache_error(&e, w);
            }
            w.ok();
            return Flow::Continue;
        }
        SetExpiry::After(Duration::from_millis(left.unsigned_abs()))
    };
    let condition = if r.replace {
        SetCondition::Always
    } else {
        SetCondition::IfAbsent
    };
    let options = SetOptions::new().condition(condition).expiry(expiry);
    match cache.set_with_options(r.key, value, options).await {
        Ok(outcome) if outcome.written => w.ok(),
        Ok(_) => w.error(BUSYKEY),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_refusals() {
        for value in [
            &b""[..],
            b"v",
            &[0u8, 255, 13, 10][..],
            &vec![7u8; 10_000][..],
        ] {
            assert_eq!(decode(&encode(value)), Ok(value));
        }
        let good = encode(b"hello");
        assert_eq!(
            decode(&good[..good.len() - 1]),
            Err(Refused::VersionOrChecksum)
        );
        assert_eq!(decode(b""), Err(Refused::VersionOrChecksum));
        assert_eq!(decode(b"garbage"), Err(Refused::VersionOrChecksum));
        let mut flipped = good.clone();
        flipped[2] ^= 1;
        assert_eq!(decode(&flipped), Err(Refused::VersionOrChecksum));
        let mut other_version = good[..good.len() - 10].to_vec();
        other_version.extend_from_slice(&2u16.to_le_bytes());
        let sum = xxh3_64(&other_version);
        other_version.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&other_version), Err(Refused::VersionOrChecksum));
        let mut other_type = vec![9u8, b'x'];
        other_type.extend_from_slice(&VERSION.to_le_bytes());
        let sum = xxh3_64(&other_type);
        other_type.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&other_type), Err(Refused::Format));
    }
}
