//! EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST TTL PTTL EXPIRETIME PEXPIRETIME GETEX.

use std::time::Duration;

use relaycache::{Error, ExpireCondition as KeyCondition, ExpiryUpdate, KeyOps, SetExpiry};
use relaycache_resp::Writer;
use relaycache_resp::cmd::{Expire, ExpireCondition, GetExpiry};

use super::cache_error;
use super::strings::{deadline_ms, now_ms, resolve, until};
use crate::dispatch::Flow;

pub(super) async fn expire<C: KeyOps>(cache: &C, e: Expire<'_>, w: &mut Writer<'_>) -> Flow {
    // The time to live from now. A relative time whose absolute time would overflow is an error, as
    // in Redis (it never wraps to "already expired"). An absolute time is kept to the nanosecond, so
    // that `EXPIRETIME` gives it back exactly.
    let now = now_ms();
    let new = if e.absolute {
        until(e.millis)
    } else if e.millis > i64::MAX - now {
        w.error(format!("ERR invalid expire time in '{}' command", e.name).as_bytes());
        return Flow::Continue;
    } else {
        u64::try_from(e.millis)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    };
    let condition = match e.condition {
        ExpireCondition::Always => KeyCondition::Always,
        ExpireCondition::NoExpiry => KeyCondition::NoExpiry,
        ExpireCondition::HasExpiry => KeyCondition::HasExpiry,
        ExpireCondition::Greater => KeyCondition::Greater,
        ExpireCondition::Less => KeyCondition::Less,
        ExpireCondition::LessIfExpiring => KeyCondition::LessIfExpiring,
    };
    // One step of the backend: the condition is checked and the expiry set (or, for a time not in
    // the future, the key removed, as Redis does) with no other write of the key in between.
    let ttl = new.unwrap_or(Duration::ZERO);
    let result = cache.expire_if(e.key, ttl, condition).await;
    match result {
        Ok(done) => {
            w.integer(i64::from(done));
            Flow::Continue
        }
        Err(Error::InvalidArgument(_)) => {
            w.error(format!("ERR invalid expire time in '{}' command", e.name).as_bytes());
            Flow::Continue
        }
        Err(err) => cache_error(&err, w),
    }
}

pub(super) async fn persist<C: KeyOps>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
    match cache.ttl(key).await {
        Ok(Some(_)) => match cache.expire(key, None).await {
            Ok(done) => w.integer(i64::from(done)),
            Err(e) => return cache_error(&e, w),
        },
        Ok(None) | Err(Error::NotFound) => w.integer(0),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn ttl<C: KeyOps>(
    cache: &C,
    key: &[u8],
    millis: bool,
    w: &mut Writer<'_>,
) -> Flow {
    match cache.ttl(key).await {
        Ok(None) => w.integer(-1),
        Ok(Some(left)) => {
            let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
            // Redis rounds TTL to the nearest second.
            w.integer(if millis {
                ms
            } else {
                ms.saturating_add(500) / 1000
            });
        }
        Err(Error::NotFound) => w.integer(-2),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

pub(super) async fn expire_time<C: KeyOps>(
    cache: &C,
    key: &[u8],
    millis: bool,
    w: &mut Writer<'_>,
) -> Flow {
    match cache.ttl(key).await {
        Ok(None) => w.integer(-1),
        Ok(Some(left)) => {
            let at = deadline_ms(left);
            // Redis rounds to the nearest second.
            w.integer(if millis {
                at
            } else {
                at.saturating_add(500) / 1000
            });
        }
        Err(Error::NotFound) => w.integer(-2),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}

/// `GETEX`: the value and the expiry change in one step ([`KeyOps::get_and_expire`]).
pub(super) async fn getex<C: KeyOps>(
    cache: &C,
    key: &[u8],
    expiry: GetExpiry,
    w: &mut Writer<'_>,
) -> Flow {
    // An invalid expiry is an error even for a missing key, as in Redis.
    let update = match expiry {
        GetExpiry::Unchanged => ExpiryUpdate::Keep,
        GetExpiry::Persist => ExpiryUpdate::Persist,
        GetExpiry::Set(e) => match resolve(e) {
            Ok(Some(SetExpiry::After(ttl))) => ExpiryUpdate::After(ttl),
            // An absolute time in the past deletes the key once read.
            Ok(_) => ExpiryUpdate::After(Duration::ZERO),
            Err(()) => {
                w.error(b"ERR invalid expire time in 'getex' command");
                return Flow::Continue;
            }
        },
    };
    match cache.get_and_expire(key, update).await {
        Ok(value) => w.bulk(&value),
        Err(Error::NotFound) => w.null(),
        Err(e) => return cache_error(&e, w),
    }
    Flow::Continue
}
