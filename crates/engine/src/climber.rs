//! Adaptive window size: a hill climber that moves the admission window's share of a shard's capacity in
//! whichever direction last improved the hit rate, with a step that decays, and restarts with a large
//! step when the hit rate changes sharply (the workload changed). Recency-heavy workloads grow the
//! window; frequency-heavy and loop-like workloads shrink it towards zero.

/// Initial and restart step, as a share of capacity.
const STEP: f64 = 0.0625;
/// Decay of the step after each move.
const DECAY: f64 = 0.98;
/// A hit-rate change that restarts the climb.
const RESTART: f64 = 0.05;
/// Largest window share of capacity.
pub(crate) const MAX_SHARE: f64 = 0.8;
/// Initial window share of capacity.
pub(crate) const INITIAL_SHARE: f64 = 0.01;

/// Hill-climbing state of one shard.
pub(crate) struct Climber {
    prev_rate: f64,
    step: f64,
    hits0: u64,
    misses0: u64,
}

impl Climber {
    pub(crate) fn new(capacity: u64) -> Self {
        Climber {
            prev_rate: 0.0,
            step: STEP * capacity as f64,
            hits0: 0,
            misses0: 0,
        }
    }

    /// Given the shard's running hit and miss counts and the number of entries it holds, returns how much
    /// to add to (or, negative, take from) the window target once a sample is complete, else 0.
    pub(crate) fn adjust(&mut self, hits: u64, misses: u64, entries: u64, capacity: u64) -> f64 {
        let dh = hits.wrapping_sub(self.hits0);
        let dm = misses.wrapping_sub(self.misses0);
        let n = dh.saturating_add(dm);
        let sample = (entries.saturating_mul(10)).clamp(512, 1 << 22);
        if n < sample {
            return 0.0;
        }
        self.hits0 = hits;
        self.misses0 = misses;
        let rate = dh as f64 / n as f64;
        let delta = rate - self.prev_rate;
        let amount = if delta >= 0.0 { self.step } else { -self.step };
        self.step = if delta.abs() >= RESTART {
            STEP * capacity as f64 * amount.signum()
        } else {
            DECAY * amount
        };
        self.prev_rate = rate;
        amount
    }
}
