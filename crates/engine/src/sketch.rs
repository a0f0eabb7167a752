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

/// What the sketch holds for one key: its smallest counter and whether its doorkeeper bits are set.
/// Entries keep the count of their key (see `slab::Meta`), so the policy compares candidate and victim
/// without reading the sketch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Count {
    /// The smallest of the key's counters (0..=15).
    pub(crate) min: u8,
    /// Whether the key was seen since the last halving (its doorkeeper bits are set).
    pub(crate) door: bool,
}

impl Count {
    /// Estimated occurrences (0..=16): the counter, plus one for the doorkeeper.
    #[inline]
    pub(crate) fn estimate(self) -> u64 {
        u64::from(self.min) + u64::from(self.door)
    }

    /// The count after `n` more occurrences, as [`Sketch::add`] would make it: the first since the last
    /// halving opens the doorkeeper, the rest raise the counter (saturating).
    #[inline]
    pub(crate) fn plus(self, n: u8) -> Count {
        let mut n = n;
        let mut door = self.door;
        if n > 0 && !door {
            door = true;
            n -= 1;
        }
        Count {
            min: self.min.saturating_add(n).min(MAX as u8),
            door,
        }
    }

    /// The count after a halving: counters halve, doorkeepers are cleared.
    #[inline]
    pub(crate) fn halved(self) -> Count {
        Count {
            min: self.min >> 1,
            door: false,
        }
    }
}

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
    #[cfg(test)]
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

    /// Records one occurrence of the key with hash `hash`; returns the key's count after it.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) -> Count {
        self.add(hash, 1)
    }

    /// Records `n` occurrences of a key and returns its count after them. The first occurrence since
    /// the last halving only sets the doorkeeper. The engine records one per write of an absent key
    /// ([`Sketch::increment`]); hits on cached entries reach the sketch through [`Sketch::raise`] when
    /// the entry leaves. The caller checks [`Sketch::due`] afterwards.
    pub(crate) fn add(&mut self, hash: u64, n: u8) -> Count {
        let p = self.place(mix(hash));
        let Some(words) = self.block_mut(p.block) else {
            return Count::default();
        };
        // Conservative update: the counters are raised to the new minimum, no further.
        let count = Self::read(words, &p).plus(n);
        Self::write(words, &p, count);
        self.note(n);
        count
    }

    /// Writes back a count kept outside the sketch (by a cached entry, see `slab::Meta`): opens the key's
    /// doorkeeper if `c` has it open and raises its counters to at least `c.min`. Occurrences were
    /// already counted towards aging when they were added to `c` ([`Sketch::note`]).
    pub(crate) fn raise(&mut self, hash: u64, c: Count) {
        let p = self.place(mix(hash));
        if let Some(words) = self.block_mut(p.block) {
            Self::write(words, &p, c);
        }
    }

    /// The count a block holds for the key at `p`.
    #[inline]
    fn read(words: &[u64; BLOCK_WORDS], p: &Place) -> Count {
        Count {
            min: Self::min_count(words, &p.counters) as u8,
            door: Self::door_open(words, &p.door),
        }
    }

    /// Makes the block hold at least `c` for the key at `p`: its doorkeeper bits set if `c` has them,
    /// each of its counters raised to `c.min` (never lowered).
    #[inline]
    fn write(words: &mut [u64; BLOCK_WORDS], p: &Place, c: Count) {
        if c.door {
            for &(w, m) in &p.door {
                words[w] |= m;
            }
        }
        let target = u64::from(c.min).min(MAX);
        for &(w, s) in &p.counters {
            let v = (words[w] >> s) & MAX;
            if v < target {
                words[w] += (target - v) << s;
            }
        }
    }

    /// Counts `n` occurrences towards the aging period without recording them. The caller checks
    /// [`Sketch::due`] afterwards.
    pub(crate) fn note(&mut self, n: u8) {
        self.additions += u64::from(n);
    }

    /// Whether the sketch should be halved: one aging period of additions has passed, and at least as
    /// many as `entries` (the entries whose counts the caller halves with it, so that work stays O(1)
    /// per addition however small the sketch is configured).
    #[inline]
    pub(crate) fn due(&self, entries: usize) -> bool {
        self.additions >= self.sample.max(entries as u64)
    }

    /// The key's count (the policy reads the copies entries keep; this is for checking them).
    #[cfg(test)]
    pub(crate) fn count(&self, hash: u64) -> Count {
        let p = self.place(mix(hash));
        self.block(p.block)
            .map_or_else(Count::default, |words| Self::read(words, &p))
    }

    /// Estimated occurrences of the key (0..=16) since about the last halving.
    #[cfg(test)]
    pub(crate) fn estimate(&self, hash: u64) -> u64 {
        self.count(hash).estimate()
    }

    /// Halves every counter and clears the doorkeeper: popularity ages. Entries' counts are halved
    /// with it by the caller ([`Count::halved`]).
    pub(crate) fn halve(&mut self) {
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
            if s.due(0) {
                s.halve();
            }
            k += 1;
        }
        let est = s.estimate(7);
        assert!(est <= 5, "after halving the count is about half, got {est}");
    }

    #[test]
    fn an_entrys_count_follows_the_sketch() {
        // `Count::plus` must predict what `Sketch::add` does to a key (no collisions here), including
        // the doorkeeper, saturation, and counting again after a halving.
        let mut s = Sketch::new(1 << 12);
        let mut kept = Count::default();
        for (step, n) in [1u8, 0, 3, 1, 15, 2, 0, 1].into_iter().enumerate() {
            kept = kept.plus(n);
            assert_eq!(s.add(99, n), kept, "step {step}: add {n}");
            assert_eq!(s.count(99), kept);
            if step == 3 {
                s.halve();
                kept = kept.halved();
                assert_eq!(s.count(99), kept, "halving");
            }
        }
        assert_eq!(kept.estimate(), 16, "saturated counter plus the doorkeeper");
    }

    #[test]
    fn raise_writes_back_a_count_ahead() {
        let mut s = Sketch::new(1 << 12);
        s.increment(5);
        s.raise(5, Count { min: 9, door: true });
        assert_eq!(s.estimate(5), 10);
        // Never lowers a count.
        s.raise(
            5,
            Count {
                min: 2,
                door: false,
            },
        );
        assert_eq!(s.estimate(5), 10);
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
