//! Zipf-distributed key streams.
//!
//! Sampling uses rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to generate
//! variates from monotone discrete distributions", 1996): constant memory and expected O(1) time per
//! sample, so 10M-key keyspaces need no CDF table. Ranks are mapped to keys by a fixed bijection so that
//! the hottest keys are not the smallest integers (some hashers and shard maps treat small integers
//! kindly, which would flatter them).

use crate::rng::SplitMix64;

/// A Zipf(s) distribution over ranks `1..=n`, where rank `k` has weight `k^-s`.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl Zipf {
    /// The distribution over `n >= 1` ranks with exponent `s > 0`.
    pub(crate) fn new(n: u64, s: f64) -> Self {
        let n_f = n.max(1) as f64;
        let mut z = Self {
            n: n_f,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n_f + 0.5);
        z.squeeze = 2.0 - z.h_integral_inv(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// One rank in `1..=n`.
    pub(crate) fn sample(&self, rng: &mut SplitMix64) -> u64 {
        // Bounded: the acceptance probability is above 1/2 for every s > 0, so 1000 rounds failing has
        // probability below 2^-1000; the fallback keeps the function total.
        for _ in 0..1000 {
            let u = self.h_integral_n + rng.next_f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
        1
    }

    /// `h(x) = x^-s`, the unnormalised weight.
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// An antiderivative of `h`: `(x^(1-s) - 1) / (1-s)`, which tends to `ln x` as `s -> 1`.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.s) * log_x) * log_x
    }

    /// The inverse of [`Self::h_integral`].
    fn h_integral_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (log1p_over_x(t) * x).exp()
    }
}

/// `ln(1+x)/x`, accurate near 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1)/x`, accurate near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// Maps a rank to a key by an odd-constant multiplication, a bijection on `u64`.
pub(crate) fn rank_to_key(rank: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `len` keys drawn from Zipf(`s`) over `n` ranks, fully determined by `seed`.
pub(crate) fn key_stream(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(n, s);
    let mut rng = SplitMix64::new(seed);
    (0..len)
        .map(|_| rank_to_key(zipf.sample(&mut rng)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_the_same_stream() {
        assert_eq!(
            key_stream(1000, 1.0, 500, 42),
            key_stream(1000, 1.0, 500, 42)
        );
        assert_ne!(
            key_stream(1000, 1.0, 500, 42),
            key_stream(1000, 1.0, 500, 43)
        );
    }

    #[test]
    fn ranks_stay_in_range_and_follow_the_zipf_law() {
        let n = 100u64;
        let zipf = Zipf::new(n, 1.0);
        let mut rng = SplitMix64::new(3);
        let draws = 400_000;
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            let k = zipf.sample(&mut rng);
            assert!((1..=n).contains(&k));
            counts[k as usize] += 1;
        }
        let harmonic: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        for k in [1usize, 2, 10, 50] {
            let expected = draws as f64 / (k as f64 * harmonic);
            let got = counts[k] as f64;
            assert!(
                (got - expected).abs() / expected < 0.05,
                "rank {k}: got {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn other_exponents_follow_the_law_too() {
        let n = 50u64;
        let s = 0.7;
        let zipf = Zipf::new(n, s);
        let mut rng = SplitMix64::new(9);
        let draws = 200_000;
        let mut first = 0u64;
        for _ in 0..draws {
            if zipf.sample(&mut rng) == 1 {
                first += 1;
            }
        }
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        let expected = draws as f64 / norm;
        assert!(
            (first as f64 - expected).abs() / expected < 0.05,
            "got {first}, expected {expected}"
        );
    }

    #[test]
    fn rank_to_key_is_injective_on_a_sample() {
        let keys: std::collections::HashSet<u64> = (1..10_000).map(rank_to_key).collect();
        assert_eq!(keys.len(), 9_999);
    }
}
