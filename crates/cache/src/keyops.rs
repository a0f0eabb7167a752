//! [`KeyOps`]: the Redis-style operations on keys that read, decide and write in one atomic step
//! (`SET` with `NX`/`XX`/`GET`/`KEEPTTL`, `GETDEL`, `INCRBY`, `INCRBYFLOAT`, `APPEND`, `SETRANGE`,
//! `SETBIT`, `GETEX`, `RENAME`/`RENAMENX`, `COPY`, `MSETNX`), the types they take, and the pure
//! functions that compute their new values the way Redis does (shared by the backends that run the
//! step themselves).
//!
//! Every backend implements each operation natively; there are no composed defaults. What "atomic"
//! means per backend:
//! - `single`: each operation runs under the shard locks of its keys ([`relaycache_engine`]'s
//!   `compute` / `compute_many`): no other write of those keys can come between its read and its write.
//! - `redis`: each operation is one Redis command (or one script), atomic on the server. In a Redis
//!   Cluster, the multi-key operations need their keys in one hash slot (`{tag}`), as in Redis.
//! - `ha`: a single-key operation reads the key's version and writes the result with a
//!   compare-and-set at the key's primary, retried on conflict, so a concurrent write of the key is
//!   never lost. The multi-key operations (`rename`, `copy`, `set_multi_if_absent`) are atomic per key
//!   but not across keys that live on different primaries ([`Capabilities::atomic_multi_key`] is
//!   false).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::api::Cache;
use crate::error::{Error, Result};

/// The largest string Redis builds by `APPEND`, `SETRANGE` or `SETBIT` (its default
/// `proto-max-bulk-len`, 512 MiB).
pub const MAX_STRING: usize = 512 << 20;

/// Redis's read-modify-write operations on keys, each atomic (see the module documentation for what
/// that means per backend). Every backend and [`AnyCache`](crate::AnyCache) implement it.
pub trait KeyOps: Cache {
    /// Writes `value` under `key` with Redis `SET` options: a condition (`NX`/`XX`), an expiry (none,
    /// keep the current one, or a TTL) and whether to return the previous value (`GET`). The check and
    /// the write are one step.
    ///
    /// # Errors
    /// As [`Cache::set_with_ttl`].
    fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> impl Future<Output = Result<SetOutcome>> + Send;

    /// Removes `key` and returns its value (`GETDEL`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when absent, or as [`Cache::delete`].
    fn take(&self, key: &[u8]) -> impl Future<Output = Result<Bytes>> + Send;

    /// Removes `key` and tells whether it was present (`DEL`'s count).
    ///
    /// # Errors
    /// As [`Cache::delete`].
    fn remove(&self, key: &[u8]) -> impl Future<Output = Result<bool>> + Send;

    /// Adds `delta` to the decimal integer stored under `key` (0 when absent) and returns the result,
    /// keeping the key's expiry (`INCRBY`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] with the text `value is not an integer or out of range` when the
    /// stored value is not a 64-bit decimal integer, or `increment or decrement would overflow`.
    fn increment(&self, key: &[u8], delta: i64) -> impl Future<Output = Result<i64>> + Send;

    /// Adds the decimal float `increment` (text, as `INCRBYFLOAT` takes it) to the float stored under
    /// `key` (0 when absent), keeping the key's expiry; returns the stored text (see
    /// [`increment_float`]).
    ///
    /// # Errors
    /// As [`increment_float`].
    fn increment_float(
        &self,
        key: &[u8],
        increment: &[u8],
    ) -> impl Future<Output = Result<Bytes>> + Send;

    /// Appends `suffix` to the value of `key` (creating it), keeping its expiry; returns the new length
    /// (`APPEND`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the result would exceed [`MAX_STRING`].
    fn append(&self, key: &[u8], suffix: &[u8]) -> impl Future<Output = Result<usize>> + Send;

    /// Overwrites the value of `key` from byte `offset` with `bytes`, zero-padding it when shorter,
    /// keeping its expiry; returns the new length (`SETRANGE`). Empty `bytes` change nothing (and do
    /// not create the key).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `offset + bytes.len()` exceeds [`MAX_STRING`].
    fn set_range(
        &self,
        key: &[u8],
        offset: usize,
        bytes: &[u8],
    ) -> impl Future<Output = Result<usize>> + Send;

    /// Sets or clears bit `offset` (0 is the most significant bit of the first byte) of the value of
    /// `key`, zero-padding it, keeping its expiry; returns the bit's previous value (`SETBIT`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `offset` is at or past `2^32` bits.
    fn set_bit(
        &self,
        key: &[u8],
        offset: u64,
        bit: bool,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Returns the value of `key` and changes its expiry in the same step (`GETEX`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when absent.
    fn get_and_expire(
        &self,
        key: &[u8],
        expiry: ExpiryUpdate,
    ) -> impl Future<Output = Result<Bytes>> + Send;

    /// Sets the expiry of a present `key` to `ttl` from now if `condition` holds for its current
    /// expiry, in one step (`EXPIRE` / `PEXPIRE` with `NX`, `XX`, `GT` or `LT`); returns whether it
    /// changed the key. A zero `ttl` (a deadline not in the future, as Redis has it) removes the key
    /// when the condition holds.
    ///
    /// # Errors
    /// As [`Cache::expire`]; a missing key is `Ok(false)`.
    fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Moves the value of `from` and its expiry to `to` (`RENAME`; `RENAMENX` with `only_if_absent`,
    /// which then moves nothing when `to` exists and returns false). Renaming a key to itself changes
    /// nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `from` is absent.
    fn rename(
        &self,
        from: &[u8],
        to: &[u8],
        only_if_absent: bool,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Copies the value of `from` and its expiry to `to` (`COPY`), replacing a present `to` only with
    /// `replace`; returns whether it copied (false when `from` is absent, when `to` exists without
    /// `replace`, or when both are the same key).
    ///
    /// # Errors
    /// As [`Cache::set`].
    fn copy(
        &self,
        from: &[u8],
        to: &[u8],
        replace: bool,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Writes every pair (without expiry) if none of the keys exists, else none; returns whether it
    /// wrote (`MSETNX`).
    ///
    /// # Errors
    /// As [`Cache::set_multi`].
    fn set_multi_if_absent(
        &self,
        items: &[(&[u8], &[u8])],
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// How [`KeyOps::get_and_expire`] changes the key's expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiryUpdate {
    /// Leave it (`GETEX` without options).
    #[default]
    Keep,
    /// Remove it (`PERSIST`).
    Persist,
    /// Expire this long from now; zero removes the key once its value has been read (a deadline in the
    /// past, as Redis does).
    After(Duration),
}

/// When [`KeyOps::expire_if`] changes a key's expiry, given the expiry it has (no expiry counts as
/// an infinite time to live, as in Redis).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpireCondition {
    /// Always (`EXPIRE` without options).
    #[default]
    Always,
    /// Only when the key has no expiry (`NX`).
    NoExpiry,
    /// Only when the key has an expiry (`XX`).
    HasExpiry,
    /// Only when the new time to live is longer than the current one (`GT`); never for a key without
    /// expiry.
    Greater,
    /// Only when the new time to live is shorter than the current one (`LT`); always for a key
    /// without expiry.
    Less,
    /// Only when the key has an expiry and the new time to live is shorter (`XX LT`).
    LessIfExpiring,
}

impl ExpireCondition {
    /// Whether the change goes ahead for a key whose time left is `current` (`None`: no expiry) and
    /// whose new time to live is `new`.
    #[must_use]
    pub fn allows(self, current: Option<Duration>, new: Duration) -> bool {
        match self {
            ExpireCondition::Always => true,
            ExpireCondition::NoExpiry => current.is_none(),
            ExpireCondition::HasExpiry => current.is_some(),
            ExpireCondition::Greater => current.is_some_and(|c| new > c),
            ExpireCondition::Less => current.is_none_or(|c| new < c),
            ExpireCondition::LessIfExpiring => current.is_some_and(|c| new < c),
        }
    }

    /// Redis's option words (`NX`, `XX`, `GT`, `LT`, `XX LT`); none for
    /// [`ExpireCondition::Always`].
    #[must_use]
    pub fn options(self) -> &'static [&'static str] {
        match self {
            ExpireCondition::Always => &[],
            ExpireCondition::NoExpiry => &["NX"],
            ExpireCondition::HasExpiry => &["XX"],
            ExpireCondition::Greater => &["GT"],
            ExpireCondition::Less => &["LT"],
            ExpireCondition::LessIfExpiring => &["XX", "LT"],
        }
    }
}

/// The value after `APPEND`ing `suffix` to `current` (absent: empty).
///
/// # Errors
/// [`Error::InvalidArgument`] past [`MAX_STRING`], with Redis's text.
pub fn appended(current: Option<&[u8]>, suffix: &[u8]) -> Result<Vec<u8>> {
    let current = current.unwrap_or_default();
    check_size(current.len().saturating_add(suffix.len()))?;
    let mut out = Vec::with_capacity(current.len() + suffix.len());
    out.extend_from_slice(current);
    out.extend_from_slice(suffix);
    Ok(out)
}

/// The value after `SETRANGE offset bytes` on `current`; `None` when nothing changes (empty `bytes`).
///
/// # Errors
/// [`Error::InvalidArgument`] past [`MAX_STRING`], with Redis's text.
pub fn with_range(current: Option<&[u8]>, offset: usize, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let end = offset.saturating_add(bytes.len());
    check_size(end)?;
    let mut out = current.unwrap_or_default().to_vec();
    if out.len() < end {
        out.resize(end, 0);
    }
    out[offset..end].copy_from_slice(bytes);
    Ok(Some(out))
}

/// The largest bit offset `SETBIT` and `GETBIT` take (`2^32 - 1`).
pub const MAX_BIT_OFFSET: u64 = (1 << 32) - 1;

/// The value after `SETBIT offset bit` on `current`, and the bit's previous value.
///
/// # Errors
/// [`Error::InvalidArgument`] when `offset` exceeds [`MAX_BIT_OFFSET`], with Redis's text.
pub fn with_bit(current: Option<&[u8]>, offset: u64, bit: bool) -> Result<(Vec<u8>, bool)> {
    if offset > MAX_BIT_OFFSET {
        return Err(Error::InvalidArgument(
            "bit offset is not an integer or out of range".to_owned(),
        ));
    }
    let byte = usize::try_from(offset >> 3).map_err(|_| {
        Error::InvalidArgument("bit offset is not an integer or out of range".to_owned())
    })?;
    let mask = 0x80u8 >> (offset & 7);
    let mut out = current.unwrap_or_default().to_vec();
    if out.len() <= byte {
        out.resize(byte + 1, 0);
    }
    let previous = out[byte] & mask != 0;
    if bit {
        out[byte] |= mask;
    } else {
        out[byte] &= !mask;
    }
    Ok((out, previous))
}

/// The counter after `INCRBY delta` on `current` (absent: 0), as text and as a number.
///
/// # Errors
/// As [`KeyOps::increment`].
pub fn incremented(current: Option<&[u8]>, delta: i64) -> Result<i64> {
    let now = current.map_or(Ok(0), parse_counter)?;
    now.checked_add(delta)
        .ok_or_else(|| Error::InvalidArgument("increment or decrement would overflow".to_owned()))
}

pub use crate::float::increment_float;

fn check_size(len: usize) -> Result<()> {
    if len > MAX_STRING {
        return Err(Error::InvalidArgument(
            "string exceeds maximum allowed size (proto-max-bulk-len)".to_owned(),
        ));
    }
    Ok(())
}

/// Parses a stored counter the way Redis does: a decimal `i64` of at most 20 bytes, no spaces, no `+`.
///
/// # Errors
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) with `value is not an integer or out of range`.
pub fn parse_counter(value: &[u8]) -> Result<i64> {
    let bad =
        || crate::Error::InvalidArgument("value is not an integer or out of range".to_owned());
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if text.len() > 20
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || text == "-0"
    {
        return Err(bad());
    }
    text.parse::<i64>().map_err(|_| bad())
}

/// When [`KeyOps::set_with_options`] writes (`NX` / `XX`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetCondition {
    /// Always.
    #[default]
    Always,
    /// Only when the key is absent (`NX`).
    IfAbsent,
    /// Only when the key is present (`XX`).
    IfPresent,
}

impl SetCondition {
    /// Whether a write goes ahead, given whether the key is present.
    #[must_use]
    pub fn allows(self, present: bool) -> bool {
        match self {
            SetCondition::Always => true,
            SetCondition::IfAbsent => !present,
            SetCondition::IfPresent => present,
        }
    }
}

/// The expiry [`KeyOps::set_with_options`] gives the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetExpiry {
    /// No expiry; any previous one is removed.
    #[default]
    Never,
    /// Keep the key's current expiry (`KEEPTTL`); none if the key is new.
    Keep,
    /// Expire after this long (must be non-zero).
    After(Duration),
}

/// Options of [`KeyOps::set_with_options`]; build with [`SetOptions::new`] and the chained setters.
///
/// ```
/// use std::time::Duration;
/// use relaycache::{SetCondition, SetExpiry, SetOptions};
/// let options = SetOptions::new()
///     .condition(SetCondition::IfAbsent)
///     .expiry(SetExpiry::After(Duration::from_secs(10)))
///     .return_previous(true);
/// assert!(options.return_previous);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOptions {
    /// When to write.
    pub condition: SetCondition,
    /// The expiry of the written key.
    pub expiry: SetExpiry,
    /// Return the previous value in [`SetOutcome::previous`] (`GET`).
    pub return_previous: bool,
}

impl SetOptions {
    /// Always write, no expiry, do not return the previous value: a plain `set`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the condition.
    #[must_use]
    pub fn condition(mut self, condition: SetCondition) -> Self {
        self.condition = condition;
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn expiry(mut self, expiry: SetExpiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Asks for the previous value.
    #[must_use]
    pub fn return_previous(mut self, yes: bool) -> Self {
        self.return_previous = yes;
        self
    }
}

/// What [`KeyOps::set_with_options`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOutcome {
    /// The value was written (the condition held).
    pub written: bool,
    /// The previous value, when asked for (or when the condition needed it) and present.
    pub previous: Option<Bytes>,
}

impl SetOutcome {
    /// Builds an outcome.
    #[must_use]
    pub fn new(written: bool, previous: Option<Bytes>) -> Self {
        SetOutcome { written, previous }
    }
}

#[cfg(test)]
mod tests {
    //! The Redis-style operations and their helpers, on the `single` backend.
    use std::time::Duration;

    use super::*;
    use crate::backend::SingleCache;
    use crate::config::SingleConfig;

    fn cache() -> SingleCache {
        SingleCache::new(&SingleConfig::default()).expect("default config")
    }

    #[tokio::test]
    async fn set_with_options_conditions_and_previous_value() {
        let c = cache();
        let nx = SetOptions::new().condition(SetCondition::IfAbsent);
        let xx = SetOptions::new().condition(SetCondition::IfPresent);
        assert_eq!(
            c.set_with_options(b"k", b"1", xx).await.unwrap(),
            SetOutcome::new(false, None)
        );
        assert!(
            c.get(b"k").await.unwrap_err().is_not_found(),
            "XX on a missing key writes nothing"
        );
        assert_eq!(
            c.set_with_options(b"k", b"1", nx).await.unwrap(),
            SetOutcome::new(true, None)
        );
        let again = c.set_with_options(b"k", b"2", nx).await.unwrap();
        assert!(!again.written);
        assert_eq!(c.get(b"k").await.unwrap(), "1");
        let swapped = c
            .set_with_options(b"k", b"3", xx.return_previous(true))
            .await
            .unwrap();
        assert_eq!(
            swapped,
            SetOutcome::new(true, Some(Bytes::from_static(b"1")))
        );
        assert_eq!(c.get(b"k").await.unwrap(), "3");
    }

    #[tokio::test]
    async fn set_with_options_expiry() {
        let c = cache();
        let ttl = SetOptions::new().expiry(SetExpiry::After(Duration::from_secs(100)));
        c.set_with_options(b"k", b"v", ttl).await.unwrap();
        let left = c.ttl(b"k").await.unwrap().expect("has a TTL");
        assert!(left > Duration::from_secs(99) && left <= Duration::from_secs(100));
        c.set_with_options(b"k", b"w", SetOptions::new().expiry(SetExpiry::Keep))
            .await
            .unwrap();
        let kept = c.ttl(b"k").await.unwrap().expect("KEEPTTL keeps it");
        assert!(kept > Duration::from_secs(98) && kept <= left);
        assert_eq!(c.get(b"k").await.unwrap(), "w");
        c.set_with_options(b"k", b"x", SetOptions::new())
            .await
            .unwrap();
        assert_eq!(
            c.ttl(b"k").await.unwrap(),
            None,
            "a plain set clears the TTL"
        );
        c.set_with_options(b"new", b"x", SetOptions::new().expiry(SetExpiry::Keep))
            .await
            .unwrap();
        assert_eq!(
            c.ttl(b"new").await.unwrap(),
            None,
            "KEEPTTL on a new key: no expiry"
        );
    }

    #[tokio::test]
    async fn take_remove_increment() {
        let c = cache();
        assert!(c.take(b"k").await.unwrap_err().is_not_found());
        c.set(b"k", b"v").await.unwrap();
        assert_eq!(c.take(b"k").await.unwrap(), "v");
        assert!(!c.exists(b"k").await.unwrap());
        c.set(b"k", b"v").await.unwrap();
        assert!(c.remove(b"k").await.unwrap());
        assert!(!c.remove(b"k").await.unwrap());
        assert_eq!(c.increment(b"n", 5).await.unwrap(), 5);
        assert_eq!(c.increment(b"n", -7).await.unwrap(), -2);
        assert_eq!(c.get(b"n").await.unwrap(), "-2");
        c.set_with_ttl(b"t", b"10", Duration::from_secs(100))
            .await
            .unwrap();
        assert_eq!(c.increment(b"t", 1).await.unwrap(), 11);
        assert!(
            c.ttl(b"t").await.unwrap().is_some(),
            "increment keeps the TTL"
        );
        c.set(b"s", b"abc").await.unwrap();
        let err = c.increment(b"s", 1).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cache: invalid argument: value is not an integer or out of range"
        );
        c.set(b"max", i64::MAX.to_string().as_bytes())
            .await
            .unwrap();
        let err = c.increment(b"max", 1).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("increment or decrement would overflow")
        );
    }

    #[test]
    fn counters_parse_like_redis() {
        assert_eq!(parse_counter(b"0").unwrap(), 0);
        assert_eq!(parse_counter(b"-42").unwrap(), -42);
        assert_eq!(parse_counter(b"9223372036854775807").unwrap(), i64::MAX);
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"+1",
            b"01",
            b"-0",
            b"1.5",
            b"9223372036854775808",
            b"\xff",
        ] {
            assert!(parse_counter(bad).is_err(), "{bad:?}");
        }
    }
}
