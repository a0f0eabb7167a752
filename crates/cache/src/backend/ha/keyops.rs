//! [`KeyOps`] for the `ha` backend. Every operation reads the key's versioned entry from its primary,
//! decides, and writes the result with a compare-and-set at the primary, which serializes the key: the
//! write happens only if no other write of the key came in between, and otherwise the whole step runs
//! again (a bounded number of times). So a concurrent write of the key is never lost.
//!
//! The read-modify-writes of one process on one key take turns ([`Turns`]): run at once, each of them
//! would read the same version and all but one compare-and-set would fail, so many callers
//! incrementing one counter through one node would exhaust their attempts. Taking turns, a step
//! retries only for a write from another process (another node's callers, or a plain write).
//!
//! The multi-key operations (`rename`, `copy`, `set_multi_if_absent`) do this per key, in order: each
//! key's step is atomic, the set of keys is not (their primaries are different nodes), which
//! [`Capabilities::atomic_multi_key`](crate::Capabilities::atomic_multi_key) says.

use std::time::Duration;

use bytes::Bytes;
use relaycache_cluster::Version;
use relaycache_cluster::version::now_ms;

use super::{BACKEND, HaCache, Target, deadline, left_until};
use crate::error::{Error, Result};
use crate::keyops::{
    ExpireCondition, ExpiryUpdate, KeyOps, SetCondition, SetExpiry, SetOptions, SetOutcome,
    appended, increment_float, incremented, with_bit, with_range,
};

/// Rounds of read, decide and compare-and-set before an operation gives up on a key that keeps
/// changing.
const ATTEMPTS: u32 = 64;

/// Locks that order this process's read-modify-writes of a key, one per stripe of keys (a key's
/// stripe is its hash's; two keys may share one, so the count keeps that rare).
pub(super) struct Turns {
    stripes: Box<[tokio::sync::Mutex<()>]>,
    hasher: std::hash::RandomState,
}

/// Stripes of [`Turns`].
const TURN_STRIPES: usize = 256;

impl Turns {
    pub(super) fn new() -> Turns {
        Turns {
            stripes: (0..TURN_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Waits for `key`'s turn; it lasts as long as the guard.
    async fn take(&self, key: &[u8]) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::BuildHasher;
        let stripe = self.hasher.hash_one(key) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
    }
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns")
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

/// A key as its primary holds it.
struct Found {
    /// The value, when present and not expired.
    value: Option<Bytes>,
    /// Its deadline (Unix ms; 0 none), when present.
    expires_at: u64,
    /// The stored version (of a value, an expired value or a tombstone); [`Version::ZERO`]: nothing.
    version: Version,
}

impl Found {
    fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// What an operation decided after reading its key.
enum Step<R> {
    /// Nothing to write; the answer.
    Done(R),
    /// Write this value (`None`: delete) with this deadline, then answer.
    Write {
        value: Option<Bytes>,
        expires_at: u64,
        answer: R,
    },
}

/// The step that stores `value` keeping `found`'s deadline.
fn keep<R>(found: &Found, value: impl Into<Bytes>, answer: R) -> Step<R> {
    Step::Write {
        value: Some(value.into()),
        expires_at: found.expires_at,
        answer,
    }
}

impl HaCache {
    async fn read_versioned(&self, key: &[u8]) -> Result<Found> {
        self.check_open()?;
        let found = match &self.target {
            Target::Node(n) => n.read_versioned(key).await,
            Target::Client(c) => c.read_versioned(key).await,
        }
        .map_err(|e| self.error(e))?;
        let now = now_ms();
        Ok(match found {
            None => Found {
                value: None,
                expires_at: 0,
                version: Version::ZERO,
            },
            Some(e) => {
                let live = e.value.is_some() && (e.expires_at == 0 || e.expires_at > now);
                Found {
                    expires_at: if live { e.expires_at } else { 0 },
                    value: e.value.filter(|_| live),
                    version: e.version,
                }
            }
        })
    }

    async fn set_if(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        expires_at: u64,
        expected: Version,
    ) -> Result<bool> {
        self.check_open()?;
        match &self.target {
            Target::Node(n) => n.set_if(key, value, expires_at, expected).await,
            Target::Client(c) => c.set_if(key, value, expires_at, expected).await,
        }
        .map_err(|e| self.error(e))
    }

    /// Runs read, `decide`, compare-and-set on `key` until the write goes through or nothing is to be
    /// written.
    async fn update<R>(
        &self,
        op: &'static str,
        key: &[u8],
        mut decide: impl FnMut(&Found) -> Result<Step<R>>,
    ) -> Result<R> {
        let _turn = self.turns.take(key).await;
        for attempt in 0..ATTEMPTS {
            let found = self.read_versioned(key).await?;
            match decide(&found)? {
                Step::Done(answer) => return Ok(answer),
                Step::Write {
                    value,
                    expires_at,
                    answer,
                } => {
                    if self
                        .set_if(key, value.as_deref(), expires_at, found.version)
                        .await?
                    {
                        return Ok(answer);
                    }
                }
            }
            back_off(attempt).await;
        }
        Err(conflict(op))
    }
}

/// Waits a little before the next attempt on a contended key: a yield at first, then up to 6.4 ms.
async fn back_off(attempt: u32) {
    if attempt < 2 {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_micros(100 << attempt.min(6))).await;
    }
}

fn conflict(op: &str) -> Error {
    Error::Backend {
        backend: BACKEND,
        message: format!(
            "{op}: the key changed during each of {ATTEMPTS} attempts; too many concurrent writers"
        ),
    }
}

impl KeyOps for HaCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let value = Bytes::copy_from_slice(value);
        let after = match options.expiry {
            // A zero TTL here means "expire at once", not "no expiry".
            SetExpiry::After(ttl) => Some(deadline(ttl.max(Duration::from_millis(1)))?),
            _ => None,
        };
        self.update("set", key, |found| {
            let wanted = options.return_previous || options.condition != SetCondition::Always;
            let previous = found.value.clone().filter(|_| wanted);
            if !options.condition.allows(found.value.is_some()) {
                return Ok(Step::Done(SetOutcome::new(false, previous)));
            }
            let expires_at = match options.expiry {
                SetExpiry::Keep => found.expires_at,
                _ => after.unwrap_or(0),
            };
            Ok(Step::Write {
                value: Some(value.clone()),
                expires_at,
                answer: SetOutcome::new(true, previous),
            })
        })
        .await
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        self.update("take", key, |found| match &found.value {
            Some(v) => Ok(Step::Write {
                value: None,
                expires_at: 0,
                answer: v.clone(),
            }),
            None => Err(Error::NotFound),
        })
        .await
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        self.update("remove", key, |found| {
            Ok(match found.value {
                Some(_) => Step::Write {
                    value: None,
                    expires_at: 0,
                    answer: true,
                },
                None => Step::Done(false),
            })
        })
        .await
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        self.update("increment", key, |found| {
            let n = incremented(found.value(), delta)?;
            Ok(keep(found, n.to_string(), n))
        })
        .await
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        self.update("increment_float", key, |found| {
            let next = Bytes::from(increment_float(found.value(), increment)?);
            Ok(keep(found, next.clone(), next))
        })
        .await
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        self.update("append", key, |found| {
            let next = appended(found.value(), suffix)?;
            let len = next.len();
            Ok(keep(found, next, len))
        })
        .await
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        self.update("set_range", key, |found| {
            Ok(match with_range(found.value(), offset, bytes)? {
                Some(next) => {
                    let len = next.len();
                    keep(found, next, len)
                }
                None => Step::Done(found.value().map_or(0, <[u8]>::len)),
            })
        })
        .await
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        self.update("set_bit", key, |found| {
            let (next, previous) = with_bit(found.value(), offset, bit)?;
            Ok(keep(found, next, previous))
        })
        .await
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        let after = match expiry {
            ExpiryUpdate::After(ttl) if !ttl.is_zero() => Some(deadline(ttl)?),
            _ => None,
        };
        self.update("get_and_expire", key, |found| {
            let Some(value) = found.value.clone() else {
                return Err(Error::NotFound);
            };
            Ok(match expiry {
                ExpiryUpdate::Keep => Step::Done(value),
                ExpiryUpdate::Persist if found.expires_at == 0 => Step::Done(value),
                ExpiryUpdate::Persist => Step::Write {
                    value: Some(value.clone()),
                    expires_at: 0,
                    answer: value,
                },
                ExpiryUpdate::After(_) => match after {
                    Some(at) => Step::Write {
                        value: Some(value.clone()),
                        expires_at: at,
                        answer: value,
                    },
                    // A deadline already passed: the key goes once read.
                    None => Step::Write {
                        value: None,
                        expires_at: 0,
                        answer: value,
                    },
                },
            })
        })
        .await
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        let at = deadline(ttl)?;
        self.update("expire_if", key, |found| {
            let Some(value) = found.value.clone() else {
                return Ok(Step::Done(false));
            };
            let current = (found.expires_at != 0).then(|| left_until(found.expires_at));
            if !condition.allows(current, ttl) {
                return Ok(Step::Done(false));
            }
            // A zero TTL removes the key (a deadline not in the future).
            Ok(Step::Write {
                value: (at != 0).then_some(value),
                expires_at: at,
                answer: true,
            })
        })
        .await
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        for attempt in 0..ATTEMPTS {
            let source = self.read_versioned(from).await?;
            let Some(value) = source.value.clone() else {
                return Err(Error::NotFound);
            };
            if from == to {
                return Ok(!only_if_absent);
            }
            if !only_if_absent {
                // Take the value out of `from` first: of several renames of it at once, only one
                // wins the compare-and-set, so the value is moved once, never copied.
                if self.set_if(from, None, 0, source.version).await? {
                    self.write(to, &value, source.expires_at).await?;
                    return Ok(true);
                }
                back_off(attempt).await;
                continue;
            }
            let target = self.read_versioned(to).await?;
            if target.value.is_some() {
                return Ok(false);
            }
            if self
                .set_if(to, Some(&value), source.expires_at, target.version)
                .await?
            {
                // A write of `from` since it was read stays: it came after the rename.
                self.set_if(from, None, 0, source.version).await?;
                return Ok(true);
            }
            back_off(attempt).await;
        }
        Err(conflict("rename"))
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        if from == to {
            return Ok(false);
        }
        for attempt in 0..ATTEMPTS {
            let source = self.read_versioned(from).await?;
            let Some(value) = source.value.clone() else {
                return Ok(false);
            };
            let target = self.read_versioned(to).await?;
            if target.value.is_some() && !replace {
                return Ok(false);
            }
            if self
                .set_if(to, Some(&value), source.expires_at, target.version)
                .await?
            {
                return Ok(true);
            }
            back_off(attempt).await;
        }
        Err(conflict("copy"))
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        'attempts: for attempt in 0..ATTEMPTS {
            let mut versions = Vec::with_capacity(items.len());
            for (k, _) in items {
                let found = self.read_versioned(k).await?;
                if found.value.is_some() {
                    return Ok(false);
                }
                versions.push(found.version);
            }
            for (i, ((k, v), expected)) in items.iter().zip(versions).enumerate() {
                if !self.set_if(k, Some(v), 0, expected).await? {
                    if i == 0 {
                        back_off(attempt).await;
                        continue 'attempts;
                    }
                    // Another writer created a later key meanwhile: the earlier ones are written.
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        Err(conflict("set_multi_if_absent"))
    }
}
