//! How redis-rs failures become the facade's [`Error`]: what happened, in words a caller can act on.

use std::time::Duration;

use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::error::Error;

/// The backend name used in [`Error::Backend`].
pub(crate) const BACKEND: &str = "redis";

/// Maps a redis-rs error of operation `op` against `endpoint` (credentials already removed) to an
/// [`Error`]. `after` is the configured response timeout, reported when redis-rs itself timed out.
pub(crate) fn map(op: &'static str, endpoint: &str, after: Duration, e: &RedisError) -> Error {
    if is_auth(e) {
        return Error::Auth(format!("redis at {endpoint} refused the credentials: {e}"));
    }
    if e.is_timeout() {
        return Error::Timeout { op, after };
    }
    match e.kind() {
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => Error::Connection {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        },
        ErrorKind::Server(ServerErrorKind::ClusterDown) => backend(format!(
            "cluster down: {endpoint} does not serve this key's slot, typically because a master \
             failed with no replica to take over ({e})"
        )),
        ErrorKind::Server(ServerErrorKind::MasterDown) => backend(format!(
            "cluster down: the master of this key's slot is down ({endpoint}: {e})"
        )),
        ErrorKind::Server(ServerErrorKind::Moved | ServerErrorKind::Ask) => {
            // redis-rs follows redirects itself; one reaching us means it gave up following them,
            // typically because the master they point at does not answer.
            let detail = e.detail().unwrap_or_default();
            let target = detail.split_whitespace().nth(1).unwrap_or(endpoint);
            Error::Connection {
                endpoint: target.to_owned(),
                reason: format!(
                    "the cluster redirects this key there ({} {detail}) and the retries ran out",
                    e.code().unwrap_or("MOVED")
                ),
            }
        }
        ErrorKind::Server(ServerErrorKind::TryAgain) => backend(format!(
            "the Redis Cluster at {endpoint} is moving this key's slot, try again ({e})"
        )),
        ErrorKind::Server(ServerErrorKind::BusyLoading) => {
            backend(format!("redis at {endpoint} is loading its dataset ({e})"))
        }
        ErrorKind::Server(ServerErrorKind::ReadOnly) => backend(format!(
            "redis at {endpoint} is a read-only replica; point the cache at a master ({e})"
        )),
        _ if e.is_connection_dropped() || e.is_connection_refusal() => Error::Connection {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        },
        _ => backend(format!("{op} failed on {endpoint}: {e}")),
    }
}

/// True for failed or missing authentication and for ACL refusals.
fn is_auth(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed | ErrorKind::Server(ServerErrorKind::NoPerm)
    ) || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
}

/// An [`Error::Backend`] of this backend.
pub(crate) fn backend(message: String) -> Error {
    Error::Backend {
        backend: BACKEND,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(e: RedisError) -> Error {
        map("get", "127.0.0.1:1", Duration::from_secs(2), &e)
    }

    #[test]
    fn io_failures_are_connection_errors() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        match mapped(RedisError::from(refused)) {
            Error::Connection { endpoint, reason } => {
                assert_eq!(endpoint, "127.0.0.1:1");
                assert!(reason.contains("refused"), "{reason}");
            }
            other => panic!("want Connection, got {other:?}"),
        }
    }

    #[test]
    fn timeouts_name_the_operation() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        match mapped(RedisError::from(timed_out)) {
            Error::Timeout { op, after } => {
                assert_eq!(op, "get");
                assert_eq!(after, Duration::from_secs(2));
            }
            other => panic!("want Timeout, got {other:?}"),
        }
    }

    #[test]
    fn auth_failures_are_auth_errors() {
        let e = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert!(matches!(mapped(e), Error::Auth(_)));
    }

    #[test]
    fn an_unfollowed_redirect_names_its_target() {
        let e = RedisError::from((
            ErrorKind::Server(ServerErrorKind::Moved),
            "An error was signalled by the server",
            "630 127.0.0.1:7002".to_owned(),
        ));
        match mapped(e) {
            Error::Connection { endpoint, reason } => {
                assert_eq!(endpoint, "127.0.0.1:7002");
                assert!(reason.contains("630"), "{reason}");
            }
            other => panic!("want Connection, got {other:?}"),
        }
    }

    #[test]
    fn cluster_down_says_so() {
        let e = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ClusterDown),
            "The cluster is down",
        ));
        match mapped(e) {
            Error::Backend { backend, message } => {
                assert_eq!(backend, "redis");
                assert!(message.starts_with("cluster down"), "{message}");
            }
            other => panic!("want Backend, got {other:?}"),
        }
    }
}
