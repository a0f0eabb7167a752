//! [`AnyCache`]: the backend chosen by the configuration, and [`AnyCache::from_config`], the factory.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use crate::api::{Cache, Capabilities, ClusterInfo, ScanPage, Stats};
use crate::backend::{DisabledCache, HaCache, SingleCache};
#[cfg(feature = "redis")]
use crate::backend::{RedisBuilder, RedisCache};
use crate::config::{Config, Mode};
#[cfg(not(feature = "redis"))]
use crate::error::Error;
use crate::error::Result;
use crate::keyops::{ExpireCondition, ExpiryUpdate, KeyOps, SetOptions, SetOutcome};
use crate::load::Flights;

/// One of the backends, selected by `cache.mode`. It implements [`Cache`] by delegating to the backend.
///
/// This is an enum rather than a `Box<dyn Cache>`: calls are static (no allocation per call for the
/// returned futures), and adding a backend breaks every `match` here until it is handled.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyCache {
    /// `cache.mode: disabled`.
    Disabled(DisabledCache),
    /// `cache.mode: single`.
    Single(SingleCache),
    /// `cache.mode: ha`.
    Ha(HaCache),
    /// `cache.mode: redis` (feature `redis`).
    #[cfg(feature = "redis")]
    Redis(RedisCache),
}

impl AnyCache {
    /// Builds the backend the configuration selects. The configuration is validated first, so an invalid
    /// one fails here before any port is bound or connection made.
    ///
    /// ```
    /// use relaycache::{AnyCache, Cache, Config};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let config = Config::from_yaml_str("cache:\n  mode: disabled\n")?;
    /// let cache = AnyCache::from_config(&config).await?;
    /// assert_eq!(cache.name(), "disabled");
    /// # Ok::<(), relaycache::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for an invalid configuration; a backend error when it cannot start (for example
    /// [`Error::Unsupported`](crate::Error::Unsupported) for a mode this build does not include).
    pub async fn from_config(config: &Config) -> Result<AnyCache> {
        config.validate()?;
        tracing::debug!(component = "cache_factory", mode = %config.cache.mode, "building cache");
        match config.cache.mode {
            Mode::Disabled => Ok(AnyCache::Disabled(DisabledCache::new())),
            Mode::Single => Ok(AnyCache::Single(SingleCache::new(&config.cache.ristretto)?)),
            Mode::Redis => redis_from_config(config).await,
            Mode::Ha => Ok(AnyCache::Ha(
                HaCache::from_config(&config.cache.olric, &config.cache.ristretto).await?,
            )),
        }
    }
}

/// `cache.mode: redis`: the prefix defaults to `<cache.olric.dmap_name>:`.
#[cfg(feature = "redis")]
async fn redis_from_config(config: &Config) -> Result<AnyCache> {
    let default_prefix = format!("{}:", config.cache.olric.dmap_name);
    let cache = RedisBuilder::from_config(&config.cache.redis, &default_prefix)?
        .connect()
        .await?;
    Ok(AnyCache::Redis(cache))
}

/// `cache.mode: redis` in a build without the `redis` feature.
#[cfg(not(feature = "redis"))]
async fn redis_from_config(_config: &Config) -> Result<AnyCache> {
    Err(Error::Backend {
        backend: "redis",
        message: "this build of relaycache was compiled without the `redis` feature; \
                  rebuild with `--features redis` (it is on by default) or choose another cache.mode"
            .to_owned(),
    })
}

/// Calls `$call` on whichever backend `$self` holds.
macro_rules! delegate {
    ($self:expr, $backend:ident => $call:expr) => {
        match $self {
            AnyCache::Disabled($backend) => $call,
            AnyCache::Single($backend) => $call,
            AnyCache::Ha($backend) => $call,
            #[cfg(feature = "redis")]
            AnyCache::Redis($backend) => $call,
        }
    };
}

impl Cache for AnyCache {
    fn name(&self) -> &'static str {
        delegate!(self, b => b.name())
    }

    fn capabilities(&self) -> Capabilities {
        delegate!(self, b => b.capabilities())
    }

    fn flights(&self) -> &Flights {
        delegate!(self, b => b.flights())
    }

    async fn get(&self, key: &[u8]) -> Result<Bytes> {
        delegate!(self, b => b.get(key).await)
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        delegate!(self, b => b.set(key, value).await)
    }

    async fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        delegate!(self, b => b.set_with_ttl(key, value, ttl).await)
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        delegate!(self, b => b.delete(key).await)
    }

    async fn exists(&self, key: &[u8]) -> Result<bool> {
        delegate!(self, b => b.exists(key).await)
    }

    async fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        delegate!(self, b => b.ttl(key).await)
    }

    async fn close(&self) -> Result<()> {
        delegate!(self, b => b.close().await)
    }

    async fn get_multi(&self, keys: &[&[u8]]) -> Result<HashMap<Bytes, Bytes>> {
        delegate!(self, b => b.get_multi(keys).await)
    }

    async fn set_multi(&self, items: &[(&[u8], &[u8])]) -> Result<()> {
        delegate!(self, b => b.set_multi(items).await)
    }

    async fn set_multi_with_ttl(&self, items: &[(&[u8], &[u8])], ttl: Duration) -> Result<()> {
        delegate!(self, b => b.set_multi_with_ttl(items, ttl).await)
    }

    async fn stats(&self) -> Result<Stats> {
        delegate!(self, b => b.stats().await)
    }

    async fn ping(&self) -> Result<()> {
        delegate!(self, b => b.ping().await)
    }

    async fn cluster_info(&self) -> Result<ClusterInfo> {
        delegate!(self, b => b.cluster_info().await)
    }

    async fn expire(&self, key: &[u8], ttl: Option<Duration>) -> Result<bool> {
        delegate!(self, b => b.expire(key, ttl).await)
    }

    async fn scan(&self, cursor: u64, prefix: &[u8], count: usize) -> Result<ScanPage> {
        delegate!(self, b => b.scan(cursor, prefix, count).await)
    }

    async fn invalidate_prefix(&self, prefix: &[u8]) -> Result<u64> {
        delegate!(self, b => b.invalidate_prefix(prefix).await)
    }
}

impl KeyOps for AnyCache {
    async fn set_with_options(
        &self,
        key: &[u8],
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        delegate!(self, b => b.set_with_options(key, value, options).await)
    }

    async fn take(&self, key: &[u8]) -> Result<Bytes> {
        delegate!(self, b => b.take(key).await)
    }

    async fn remove(&self, key: &[u8]) -> Result<bool> {
        delegate!(self, b => b.remove(key).await)
    }

    async fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        delegate!(self, b => b.increment(key, delta).await)
    }

    async fn increment_float(&self, key: &[u8], increment: &[u8]) -> Result<Bytes> {
        delegate!(self, b => b.increment_float(key, increment).await)
    }

    async fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize> {
        delegate!(self, b => b.append(key, suffix).await)
    }

    async fn set_range(&self, key: &[u8], offset: usize, bytes: &[u8]) -> Result<usize> {
        delegate!(self, b => b.set_range(key, offset, bytes).await)
    }

    async fn set_bit(&self, key: &[u8], offset: u64, bit: bool) -> Result<bool> {
        delegate!(self, b => b.set_bit(key, offset, bit).await)
    }

    async fn get_and_expire(&self, key: &[u8], expiry: ExpiryUpdate) -> Result<Bytes> {
        delegate!(self, b => b.get_and_expire(key, expiry).await)
    }

    async fn expire_if(
        &self,
        key: &[u8],
        ttl: Duration,
        condition: ExpireCondition,
    ) -> Result<bool> {
        delegate!(self, b => b.expire_if(key, ttl, condition).await)
    }

    async fn rename(&self, from: &[u8], to: &[u8], only_if_absent: bool) -> Result<bool> {
        delegate!(self, b => b.rename(from, to, only_if_absent).await)
    }

    async fn copy(&self, from: &[u8], to: &[u8], replace: bool) -> Result<bool> {
        delegate!(self, b => b.copy(from, to, replace).await)
    }

    async fn set_multi_if_absent(&self, items: &[(&[u8], &[u8])]) -> Result<bool> {
        delegate!(self, b => b.set_multi_if_absent(items).await)
    }
}
