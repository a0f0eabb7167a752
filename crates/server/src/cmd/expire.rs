//! EXPIRE PEXPIRE PERSIST TTL PTTL.

use std::time::Duration;

use relaycache::{Cache, Error};
use relaycache_resp::Writer;
use relaycache_resp::cmd::{Expire, ExpireCondition};

use super::cache_error;
use crate::dispatch::Flow;

pub(super) async fn expire<C: Cache>(cache: &C, e: Expire<'_>, w: &mut Writer<'_>) -> Flow {
    let current = match cache.ttl(e.key).await {
        Ok(t) => t,
        Err(Error::NotFound) => {
            w.integer(0);
            return Flow::Continue;
        }
        Err(err) => return cache_error(&err, w),
    };
    let new = Duration::from_millis(e.millis.max(0).unsigned_abs());
    let allowed = match e.condition {
        ExpireCondition::Always => true,
        ExpireCondition::NoExpiry => current.is_none(),
        ExpireCondition::HasExpiry => current.is_some(),
        // No expiry counts as an infinite TTL.
        ExpireCondition::Greater => current.is_some_and(|c| new > c),
        ExpireCondition::Less => current.is_none_or(|c| new < c),
    };
    if !allowed {
        w.integer(0);
        return Flow::Continue;
    }
    let result = if e.millis <= 0 {
        // Redis deletes a key whose new expiry is not in the future.
        cache.remove(e.key).await
    } else {
        cache.expire(e.key, Some(new)).await
    };
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

pub(super) async fn persist<C: Cache>(cache: &C, key: &[u8], w: &mut Writer<'_>) -> Flow {
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

pub(super) async fn ttl<C: Cache>(cache: &C, key: &[u8], millis: bool, w: &mut Writer<'_>) -> Flow {
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
