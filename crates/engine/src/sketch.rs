//! TinyLFU's memory of how often keys were seen: a count-min sketch of 4-bit counters with periodic
//! halving (so old popularity fades) and a doorkeeper bit set in front of it (so keys seen once do not
//! take counters).
//!
//! Layout: the sketch is an array of 64-byte blocks, aligned to cache lines. A key maps to one block,
//! which holds both its four counters (six words of 16 counters: four rows of 24) and its two
//! doorkeeper bits (the last two words), so an update or an estimate touches exactly one cache line:
//! with large sketches that line is usually a miss, and it is the only one. Updates are conservative:
//! only the counters at the current minimum are incremented.

/// Counters per tracked key: 3 x 4 bits, plus 4 doorkeeper bits = 2 bytes per unit of
/// `num_counters`. Chosen with the hit-ratio replays: 2 lost up to 5 points on GLI and loop traces, 4
/// gained nothing over 3.
const PER_TRACKED: u64 = 3;

/// Counter words per block (the rest of the block is doorkeeper bits).
const COUNTER_WORDS: usize = 6;

/// Counters per row of a block (four rows).
const ROW: u64 = (COUNTER_WORDS as u64 * 16) / 4;

/// Saturation value of a 4-bit counter.
const MAX: u64 = 15;

/// Words in a block: one cache line, `COUNTER_WORDS` words of counters, then doorkeeper bits.
const BLOCK_WORDS: usize = 8;

/// Frequency sketch of one shard.
pub(crate) struct Sketch {
    /// The blocks, from `offset` on. Allocated zeroed, so pages no key has touched yet take no memory,
    /// with one spare block so the first one can start on a 64-byte boundary.
    words: Box<[u64]>,
    /// First word of block 0 (0..8): the words before it are padding up to a cache-line boundary.
    offset: usize,
    blocks: u64,
    additions: u64,
    sample: u64,
}

#[inline]
fn mix(h: u64) -> u64 {
    // A final avalanche (splitmix64) so the sketch does not reuse the bits the table and shard use.
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps the low 32 bits of `h` onto `0..n` without division (Lemire's multiply-shift).
#[inline]
fn reduce(h: u64, n: u64) -> u64 {
    ((h & 0xFFFF_FFFF) * n) >> 32
}

/// Where one key lives: its block, the word and bit shift of its counter in each row, and its two
/// doorkeeper bits as `(word, mask)` pairs.
struct Place {
    block: usize,
    counters: [(usize, u32); 4],
    door: [(usize, u64); 2],
}

impl Sketch {
    /// A sketch for `tracked` keys (`num_counters` in the configuration), with [`PER_TRACKED`] counters
    /// per tracked key. Counters are halved after `tracked` increments (10x the capacity at the
    /// documented 10 counters per entry, as Caffeine does; measured with the bench crate's hit-ratio
    /// replays: 4x kept stale counts too long for small caches on cpp, -1.5 points at capacity 100;
    /// 1x lost Zipf points only while main was a single CLOCK queue).
    pub(crate) fn new(tracked: u64) -> Self {
        let tracked = tracked.clamp(32, 1 << 32);
        // No rounding to a power of two (blocks are picked by multiply-shift), so memory follows
        // `num_counters` closely.
        let blocks = (tracked * PER_TRACKED).div_ceil(4 * ROW).max(1);
        let len = usize::try_from(blocks + 1).map_or(usize::MAX, |b| b.saturating_mul(BLOCK_WORDS));
        let words = vec![0u64; len].into_boxed_slice();
        let misalign = (words.as_ptr() as usize) % 64;
        Sketch {
            offset: ((64 - misalign) % 64) / 8,
            words,
            blocks,
            additions: 0,
            sample: tracked,
        }
    }

    /// Block `b`'s words.
    #[inline]
    fn block(&self, b: usize) -> Option<&[u64; BLOCK_WORDS]> {
        self.words
            .get(self.offset + b * BLOCK_WORDS..)?
            .first_chunk()
    }

    #[inline]
    fn block_mut(&mut self, b: usize) -> Option<&mut [u64; BLOCK_WORDS]> {
        self.words
            .get_mut(self.offset + b * BLOCK_WORDS..)?
            .first_chunk_mut()
    }

    #[inline]
    fn place(&self, h: u64) -> Place {
        let block = reduce(h, self.blocks) as usize;
        let b = h >> 32;
        let counter = |row: u64| {
            let pos = row * ROW + ((((b >> (8 * row)) & 0xFF) * ROW) >> 8);
            ((pos >> 4) as usize, ((pos & 15) * 4) as u32)
        };
        // The doorkeeper takes bits the block and rows do not use.
        let d = h.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let door = |bit: u64| (COUNTER_WORDS + (bit >> 6) as usize, 1u64 << (bit & 63));
        Place {
            block,
            counters: [counter(0), counter(1), counter(2), counter(3)],
            door: [door(d >> 57), door((d >> 50) & 127)],
        }
    }

    #[inline]
    fn min_count(words: &[u64; BLOCK_WORDS], counters: &[(usize, u32); 4]) -> u64 {
        let mut min = MAX;
        for &(w, s) in counters {
            min = min.min((words[w] >> s) & MAX);
        }
        min
    }

    #[inline]
    fn door_open(words: &[u64; BLOCK_WORDS], door: &[(usize, u64); 2]) -> bool {
        door.iter().all(|&(w, m)| words[w] & m != 0)
    }

    /// Records one occurrence of the key with hash `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        self.add(hash, 1);
    }

    /// Records `n` occurrences (hits counted lazily by an entry, folded in when the policy looks at it).
    /// The first occurrence since the last halving only sets the doorkeeper.
    pub(crate) fn add(&mut self, hash: u64, n: u8) {
        if n == 0 {
            return;
        }
        let p = self.place(mix(hash));
        if let Some(words) = self.block_mut(p.block) {
            let mut n = u64::from(n);
            if !Self::door_open(words, &p.door) {
                for &(w, m) in &p.door {
                    words[w] |= m;
                }
                n -= 1;
            }
            if n > 0 {
                // Conservative update: raise each counter to at least `min + n`.
                let min = Self::min_count(words, &p.counters);
                let target = (min + n).min(MAX);
                for &(w, s) in &p.counters {
                    let c = (words[w] >> s) & MAX;
                    if c < target {
                        words[w] += (target - c) << s;
                    }
                }
            }
        }
        self.note(n);
    }

    /// Counts `n` occurrences towards the aging period without recording them.
    pub(crate) fn note(&mut self, n: u8) {
        self.additions += u64::from(n);
        if self.additions >= self.sample {
            self.halve();
        }
    }

    /// Estimated occurrences of the key (0..=16) since about the last halving.
    #[inline]
    pub(crate) fn estimate(&self, hash: u64) -> u64 {
        let p = self.place(mix(hash));
        let Some(words) = self.block(p.block) else {
            return 0;
        };
        Self::min_count(words, &p.counters) + u64::from(Self::door_open(words, &p.door))
    }

    /// Halves every counter and clears the doorkeeper: popularity ages.
    fn halve(&mut self) {
        let start = self.offset;
        let end = start + self.blocks as usize * BLOCK_WORDS;
        for words in self.words[start..end].chunks_exact_mut(BLOCK_WORDS) {
            for w in &mut words[..COUNTER_WORDS] {
                *w = (*w >> 1) & 0x7777_7777_7777_7777;
            }
            words[COUNTER_WORDS..].fill(0);
        }
        self.additions /= 2;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.words.fill(0);
        self.additions = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_and_saturate() {
        let mut s = Sketch::new(1 << 10);
        assert_eq!(s.estimate(42), 0);
        s.increment(42);
        assert_eq!(s.estimate(42), 1, "first sighting sets the doorkeeper");
        for _ in 0..5 {
            s.increment(42);
        }
        assert_eq!(s.estimate(42), 6);
        for _ in 0..40 {
            s.increment(42);
        }
        assert_eq!(s.estimate(42), 16);
    }

    #[test]
    fn halving_ages_counts() {
        let mut s = Sketch::new(32);
        for _ in 0..9 {
            s.increment(7);
        }
        assert_eq!(s.estimate(7), 9);
        // Fill the sample with other keys until a halving happens.
        let mut k = 1000u64;
        while s.estimate(7) >= 9 && k < 3000 {
            s.increment(k);
            k += 1;
        }
        let est = s.estimate(7);
        assert!(est <= 5, "after halving the count is about half, got {est}");
    }

    #[test]
    fn distinct_keys_mostly_independent() {
        let mut s = Sketch::new(1 << 12);
        for _ in 0..10 {
            s.increment(1);
        }
        let noisy = (100..1100u64).filter(|&k| s.estimate(k) > 1).count();
        assert!(noisy < 20, "{noisy} unrelated keys look frequent");
    }
}
