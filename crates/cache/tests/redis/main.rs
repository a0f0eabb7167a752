//! The `redis` backend against real `redis-server` processes started by the tests on free loopback ports:
//! one server, and a three-master Redis Cluster. `redis-server` and `redis-cli` must be installed
//! (`scripts/test.sh` installs them); a missing binary fails the tests, it never skips them.

mod cluster;
mod server;
mod single;
mod tls;

use std::time::Duration;

use relaycache::RedisBuilder;

/// Timeouts short enough for fast tests, long enough for a loaded 2-core CI machine.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A builder with the test timeouts and a fast reconnection backoff.
pub(crate) fn builder(url: &str) -> RedisBuilder {
    RedisBuilder::url(url)
        .connect_timeout(Duration::from_secs(2))
        .response_timeout(RESPONSE_TIMEOUT)
        .reconnect(6, Duration::from_millis(200))
}

/// The same for a cluster.
pub(crate) fn cluster_builder(urls: &[String]) -> RedisBuilder {
    RedisBuilder::cluster(urls.iter().cloned())
        .connect_timeout(Duration::from_secs(2))
        .response_timeout(RESPONSE_TIMEOUT)
        .reconnect(6, Duration::from_millis(100))
}
