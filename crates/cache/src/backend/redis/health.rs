//! Remembers that the connection was lost and why, so that a call timing out while redis-rs
//! re-establishes it reports the lost connection (`Error::Connection`) rather than a bare timeout. Any
//! successful call clears it. The hot path is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// Connection state as seen by the calls.
#[derive(Debug, Default)]
pub(crate) struct Health {
    lost: AtomicBool,
    reason: Mutex<String>,
}

impl Health {
    /// A call succeeded: whatever was lost is back.
    pub(crate) fn succeeded(&self) {
        if self.lost.load(Ordering::Relaxed) {
            self.lost.store(false, Ordering::Relaxed);
        }
    }

    /// A call failed because the connection failed, for `reason`.
    pub(crate) fn lost(&self, reason: &str) {
        reason.clone_into(&mut self.reason.lock());
        self.lost.store(true, Ordering::Release);
    }

    /// Why the connection is down, if the last connection failure has not been followed by a success.
    pub(crate) fn lost_reason(&self) -> Option<String> {
        self.lost
            .load(Ordering::Acquire)
            .then(|| self.reason.lock().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_clears_a_loss() {
        let health = Health::default();
        assert_eq!(health.lost_reason(), None);
        health.lost("connection refused");
        assert_eq!(health.lost_reason().as_deref(), Some("connection refused"));
        health.succeeded();
        assert_eq!(health.lost_reason(), None);
    }
}
