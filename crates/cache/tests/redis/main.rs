//! The `redis` backend against real `redis-server` processes started by the tests on free loopback ports:
//! one server, and a three-master Redis Cluster. `redis-server` and `redis-cli` must be installed
//! (`scripts/test.sh` installs them); a missing binary fails the tests, it never skips them.

mod cluster;
mod server;
mod single;
mod tls;

use std::time::Duration;

use relaycache::RedisBuilder;
use relaycache::testing::{Semantics, Suite};

/// The response timeout of the tests that measure failures (stalls, restarts, a dead master): short
/// enough for fast tests, long enough for a loaded 2-core CI machine.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The timeouts of the tests that check behaviour, not failure: generous, so that a machine busy
/// compiling never turns a slow answer into a failed check.
const RELAXED_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the conformance suite on caches connected from `make()`'s builder, one per check.
pub(crate) async fn assert_conformance(make: impl Fn() -> RedisBuilder) {
    Suite::new(Semantics::Stores)
        .run(|| async { make().connect().await.expect("connect") })
        .await
        .assert_passed();
}

/// A builder for behaviour tests: relaxed timeouts.
pub(crate) fn builder(url: &str) -> RedisBuilder {
    RedisBuilder::url(url)
        .connect_timeout(RELAXED_TIMEOUT)
        .response_timeout(RELAXED_TIMEOUT)
        .reconnect(6, Duration::from_millis(200))
}

/// A builder for failure tests: [`RESPONSE_TIMEOUT`] and a fast reconnection backoff.
pub(crate) fn tight_builder(url: &str) -> RedisBuilder {
    builder(url)
        .connect_timeout(Duration::from_secs(2))
        .response_timeout(RESPONSE_TIMEOUT)
}

/// A cluster builder for behaviour tests.
pub(crate) fn cluster_builder(urls: &[String]) -> RedisBuilder {
    RedisBuilder::cluster(urls.iter().cloned())
        .connect_timeout(RELAXED_TIMEOUT)
        .response_timeout(RELAXED_TIMEOUT)
        .reconnect(6, Duration::from_millis(100))
}

/// A cluster builder for failure tests.
pub(crate) fn tight_cluster_builder(urls: &[String]) -> RedisBuilder {
    cluster_builder(urls)
        .connect_timeout(Duration::from_secs(2))
        .response_timeout(RESPONSE_TIMEOUT)
}
