//! The conformance suite: every line of the cache contract, run against any backend with one call.
//!
//! ```no_run
//! use relaycache::testing::{Semantics, Suite};
//! use relaycache::DisabledCache;
//! # async fn demo() {
//! Suite::new(Semantics::Discards)
//!     .run(|| async { DisabledCache::new() })
//!     .await
//!     .assert_passed();
//! # }
//! ```
//!
//! Each check gets a fresh cache from the factory and uses keys of its own, so backends that share state
//! between instances (a Redis server) can run it too. A backend declares its [`Semantics`]; the suite
//! never skips a check silently: checks of optional capabilities the backend does not announce are
//! reported as "not applicable", and [`Report`] lists them.
//!
//! The checks need a tokio runtime with timers; `concurrent_use` spawns tasks, so run the suite on a
//! multi-thread runtime (`#[tokio::test(flavor = "multi_thread")]`) to exercise real parallelism.
//!
//! That values are copied in and out is guaranteed by the trait's types rather than checked here: a
//! backend receives `&[u8]` it cannot keep past the call, and hands out immutable [`bytes::Bytes`].

mod checks;
mod update_checks;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::keyops::KeyOps;

pub use checks::CHECKS;

/// What a backend does with writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Semantics {
    /// Writes are stored and read back (every real backend).
    Stores,
    /// Writes succeed and are forgotten (`disabled`).
    Discards,
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Suite {
    pub(crate) semantics: Semantics,
    pub(crate) ttl: Duration,
    pub(crate) large_value: usize,
    pub(crate) tasks: usize,
    pub(crate) only: Option<Vec<&'static str>>,
}

impl Suite {
    /// A suite for a backend with the given semantics, with default settings: TTL checks use 300 ms,
    /// the largest value is 8 MiB, the concurrency check runs 32 tasks.
    #[must_use]
    pub fn new(semantics: Semantics) -> Self {
        Suite {
            semantics,
            ttl: Duration::from_millis(300),
            large_value: 8 << 20,
            tasks: 32,
            only: None,
        }
    }

    /// The TTL used by expiry checks. Backends with coarse expiry (seconds) need a longer one.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Runs only the named checks (see [`CHECKS`]).
    #[must_use]
    pub fn only(mut self, names: &[&'static str]) -> Self {
        self.only = Some(names.to_vec());
        self
    }

    /// Runs every check, each against a fresh cache from `factory`, and reports the outcome of each.
    pub async fn run<C, F, Fut>(&self, factory: F) -> Report
    where
        C: KeyOps + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = C>,
    {
        let mut outcomes = Vec::new();
        for &name in CHECKS {
            if let Some(only) = &self.only {
                if !only.contains(&name) {
                    continue;
                }
            }
            let cache = std::sync::Arc::new(factory().await);
            let ctx = checks::Ctx {
                suite: self,
                ns: format!("conformance:{name}:").into_bytes(),
            };
            let outcome = checks::run(name, &cache, &ctx).await;
            // The close check closes on its own; a second close must be harmless anyway.
            if let Err(e) = cache.close().await {
                if outcome == Outcome::Passed {
                    outcomes.push((
                        name,
                        Outcome::Failed(format!("close after the check failed: {e}")),
                    ));
                    continue;
                }
            }
            outcomes.push((name, outcome));
        }
        Report { outcomes }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The backend behaved as the contract says.
    Passed,
    /// The check concerns an optional capability the backend does not announce.
    NotApplicable(&'static str),
    /// The backend broke the contract; the message says how.
    Failed(String),
}

/// The outcomes of a run, check by check.
#[derive(Debug, Clone)]
pub struct Report {
    /// Each check's name and outcome, in the order they ran.
    pub outcomes: Vec<(&'static str, Outcome)>,
}

impl Report {
    /// Names of the checks that failed.
    #[must_use]
    pub fn failed(&self) -> Vec<&'static str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .map(|(n, _)| *n)
            .collect()
    }

    /// Number of checks that passed.
    #[must_use]
    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Passed)
            .count()
    }

    /// Panics with every failure if any check failed, or if nothing passed at all.
    ///
    /// # Panics
    /// When the backend broke the contract.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            self.failed().is_empty() && self.passed() > 0,
            "conformance suite failed:\n{self}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, outcome) in &self.outcomes {
            match outcome {
                Outcome::Passed => writeln!(f, "  ok    {name}")?,
                Outcome::NotApplicable(why) => writeln!(f, "  n/a   {name}: {why}")?,
                Outcome::Failed(msg) => writeln!(f, "  FAIL  {name}: {msg}")?,
            }
        }
        Ok(())
    }
}
