//! [`Version`] of a stored entry and the hybrid logical clock ([`Hlc`]) that makes them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The version of an entry: a hybrid-logical-clock reading and the writer's tie-break. Versions are
/// totally ordered (`hlc` first, then `node`); the higher one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version {
    /// Physical milliseconds since the Unix epoch shifted left 16 bits, plus a counter.
    pub hlc: u64,
    /// A hash of the writing node's address (the tie-break).
    pub node: u32,
}

impl Version {
    /// The lowest version: older than every real write.
    pub const ZERO: Version = Version { hlc: 0, node: 0 };
}

/// Bits of the logical counter below the physical milliseconds.
const COUNTER_BITS: u32 = 16;

/// Milliseconds since the Unix epoch by the wall clock.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A hybrid logical clock: readings never go backwards on this node, follow the wall clock when it moves
/// forward, and move past every version this node has observed.
#[derive(Debug)]
pub struct Hlc {
    last: AtomicU64,
    node: AtomicU32,
}

impl Hlc {
    /// A clock for the node whose tie-break is `node`.
    #[must_use]
    pub fn new(node: u32) -> Self {
        Hlc {
            last: AtomicU64::new(0),
            node: AtomicU32::new(node),
        }
    }

    /// This node's tie-break.
    #[must_use]
    pub fn node(&self) -> u32 {
        self.node.load(Ordering::Relaxed)
    }

    /// Changes the tie-break (once the node's advertised address is known).
    pub fn set_node(&self, node: u32) {
        self.node.store(node, Ordering::Relaxed);
    }

    /// A new version, higher than every version this clock returned or observed.
    pub fn next(&self) -> Version {
        let physical = now_ms() << COUNTER_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = physical.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Version {
                        hlc: next,
                        node: self.node(),
                    };
                }
                Err(seen) => last = seen,
            }
        }
    }

    /// Records a version seen from elsewhere, so the next reading is higher.
    pub fn observe(&self, version: Version) {
        self.last.fetch_max(version.hlc, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_increase_and_pass_observed_versions() {
        let clock = Hlc::new(7);
        let a = clock.next();
        let b = clock.next();
        assert!(b > a);
        let far = Version {
            hlc: a.hlc + (1 << 40),
            node: 1,
        };
        clock.observe(far);
        let c = clock.next();
        assert!(c.hlc > far.hlc, "a reading passes what was observed");
        assert_eq!(c.node, 7);
    }

    #[test]
    fn node_breaks_ties() {
        let a = Version { hlc: 5, node: 1 };
        let b = Version { hlc: 5, node: 2 };
        assert!(b > a);
        assert!(Version { hlc: 6, node: 0 } > b);
    }
}
