//! The one error type of the facade.

use std::time::Duration;

use crate::config::ConfigError;

/// Result alias used throughout the facade.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a cache operation can report besides success.
///
/// Each variant says whether the operation may have taken effect and whether retrying is safe, so callers
/// can decide what to do without parsing messages. Use [`Error::is_not_found`] to tell a miss from a
/// failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key is not in the cache (a miss). Nothing changed; not an error condition for a cache user.
    #[error("cache: key not found")]
    NotFound,
    /// The cache was closed with [`Cache::close`](crate::Cache::close). Nothing changed; retrying will not
    /// help.
    #[error("cache: cache is closed")]
    Closed,
    /// A value could not be encoded or decoded by a caller-side helper. Nothing changed.
    #[error("cache: serialization failed: {0}")]
    SerializationFailed(String),
    /// An argument was out of range (for example a TTL too large to represent). Nothing changed.
    #[error("cache: invalid argument: {0}")]
    InvalidArgument(String),
    /// The backend did not answer within its configured time. A write may or may not have taken effect;
    /// retrying an idempotent operation (every operation of [`Cache`](crate::Cache)) is safe.
    #[error("cache: {op} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out (`get`, `set`, ...).
        op: &'static str,
        /// The deadline that passed.
        after: Duration,
    },
    /// The backend could not be reached (connection refused, reset, DNS, TLS). The operation did not take
    /// effect unless it is a write whose connection broke after sending; retrying is safe.
    #[error("cache: connection to {endpoint} failed: {reason}")]
    Connection {
        /// The address or URL that failed.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The backend refused our credentials. Nothing changed; retrying with the same credentials fails again.
    #[error("cache: authentication failed: {0}")]
    Auth(String),
    /// A cluster could not gather enough members or replicas: which quorum failed (`read`, `write` or
    /// `member_count`), how many were needed and how many were reached. A refused write (too few owners
    /// alive, or too few members) was not made; a write that reached fewer owners than `write_quorum`
    /// may have been stored on those. Retrying is safe once the cluster heals.
    #[error("cache: {0}")]
    Quorum(relaycache_cluster::QuorumError),
    /// The backend does not offer an optional capability. Nothing changed. See
    /// [`Capabilities`](crate::Capabilities) to ask first.
    #[error("cache: {capability} is not supported by the {backend} backend")]
    Unsupported {
        /// The capability asked for (`stats`, `cluster_info`, ...).
        capability: &'static str,
        /// The backend that lacks it.
        backend: &'static str,
    },
    /// The configuration is invalid. Raised before anything starts.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Any other failure reported by the backend, with its message. Whether it took effect depends on the
    /// backend; treat writes as "maybe".
    #[error("cache: {backend} backend error: {message}")]
    Backend {
        /// The backend that failed.
        backend: &'static str,
        /// What it said.
        message: String,
    },
}

impl Error {
    /// True for [`Error::NotFound`], the normal outcome of a miss.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound)
    }

    /// True for [`Error::Closed`].
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed)
    }

    /// True when retrying the same call later may succeed (timeouts, connection and quorum failures).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. } | Error::Connection { .. } | Error::Quorum(_)
        )
    }

    /// Builds [`Error::Unsupported`].
    #[must_use]
    pub fn unsupported(capability: &'static str, backend: &'static str) -> Self {
        Error::Unsupported {
            capability,
            backend,
        }
    }
}
