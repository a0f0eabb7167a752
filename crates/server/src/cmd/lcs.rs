//! LCS: the longest common subsequence of two values, by the classic dynamic-programming table.
//!
//! The table has `(len(a) + 1) * (len(b) + 1)` cells of 4 bytes; beyond [`MAX_CELLS`] the command is
//! refused with Redis's out-of-memory error rather than allocating (64 MiB at most, and as many steps).
//! Tables above [`INLINE_CELLS`] are computed on a blocking thread (`spawn_blocking`), so one large LCS does
//! not stall the other clients of the same worker.

use bytes::Bytes;
use relaycache::{Cache, Error};
use relaycache_resp::Writer;
use relaycache_resp::cmd::Lcs;

use super::cache_error;
use crate::dispatch::Flow;

/// The most table cells one LCS may use (16 Mi cells, 64 MiB: two values of about 4 KiB each).
pub(crate) const MAX_CELLS: u64 = 16 << 20;

/// Tables up to this many cells (1 Mi, about a millisecond of work) are computed on the connection's
/// task; larger ones on a blocking thread.
const INLINE_CELLS: u64 = 1 << 20;

/// One matching range: `(a_start, a_end)`, `(b_start, b_end)`, inclusive.
type Match = ((usize, usize), (usize, usize));

pub(super) async fn lcs<C: Cache>(cache: &C, q: Lcs<'_>, w: &mut Writer<'_>) -> Flow {
    let mut values = [Bytes::new(), Bytes::new()];
    for (slot, key) in values.iter_mut().zip([q.a, q.b]) {
        match cache.get(key).await {
            Ok(v) => *slot = v,
            Err(Error::NotFound) => {}
            Err(e) => return cache_error(&e, w),
        }
    }
    let [a, b] = values;
    let Some(Solved {
        len,
        common,
        matches,
    }) = solve(a, b, q).await
    else {
        w.error(b"ERR Insufficient memory, failed allocating transient memory for LCS");
        return Flow::Continue;
    };
    if q.len {
        w.integer(i64::from(len));
        return Flow::Continue;
    }
    if !q.idx {
        w.bulk(&common);
        return Flow::Continue;
    }
    w.map(2);
    w.bulk(b"matches");
    w.array(matches.len());
    for ((a0, a1), (b0, b1)) in matches {
        w.array(if q.with_match_len { 3 } else { 2 });
        for (from, to) in [(a0, a1), (b0, b1)] {
            w.array(2);
            w.integer(from as i64);
            w.integer(to as i64);
        }
        if q.with_match_len {
            w.integer((a1 - a0 + 1) as i64);
        }
    }
    w.bulk(b"len");
    w.integer(i64::from(len));
    Flow::Continue
}

/// What a reply needs from the table.
struct Solved {
    len: u32,
    common: Vec<u8>,
    matches: Vec<Match>,
}

/// Builds and walks the table (on a blocking thread when it is large, so the connection's worker keeps
/// serving others); `None` when it exceeds [`MAX_CELLS`].
async fn solve(a: Bytes, b: Bytes, q: Lcs<'_>) -> Option<Solved> {
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    let (len_only, min_len) = (q.len, q.min_match_len);
    let work = move || {
        let table = Table::build(&a, &b)?;
        let len = table.len();
        let (common, matches) = if len_only {
            (Vec::new(), Vec::new())
        } else {
            table.walk(&a, &b, min_len)
        };
        Some(Solved {
            len,
            common,
            matches,
        })
    };
    if cells <= INLINE_CELLS || cells > MAX_CELLS {
        return work();
    }
    // A panic on the blocking thread (not expected) is reported like a refused table.
    tokio::task::spawn_blocking(work).await.ok().flatten()
}

/// `cells[i * (blen + 1) + j]`: the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    alen: usize,
    blen: usize,
}

impl Table {
    /// The filled table, or `None` when it would exceed [`MAX_CELLS`].
    fn build(a: &[u8], b: &[u8]) -> Option<Table> {
        let (alen, blen) = (a.len(), b.len());
        let size = (alen as u64 + 1).checked_mul(blen as u64 + 1)?;
        if size > MAX_CELLS {
            return None;
        }
        let width = blen + 1;
        let mut cells = vec![0u32; usize::try_from(size).ok()?];
        for i in 1..=alen {
            for j in 1..=blen {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Some(Table { cells, alen, blen })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.blen + 1) + j]
    }

    fn len(&self) -> u32 {
        self.at(self.alen, self.blen)
    }

    /// Walks back from the end: the common subsequence, and its contiguous matching ranges from the
    /// last to the first (Redis's order), leaving out those shorter than `min_len`.
    fn walk(&self, a: &[u8], b: &[u8], min_len: u64) -> (Vec<u8>, Vec<Match>) {
        let mut common = vec![0u8; self.len() as usize];
        let mut fill = common.len();
        let mut matches = Vec::new();
        let mut open: Option<Match> = None;
        let (mut i, mut j) = (self.alen, self.blen);
        let close = |open: &mut Option<Match>, matches: &mut Vec<Match>| {
            if let Some(m) = open.take()
                && (m.0.1 - m.0.0 + 1) as u64 >= min_len
            {
                matches.push(m);
            }
        };
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                fill -= 1;
                common[fill] = a[i - 1];
                // Consecutive matches extend the open range backwards.
                open = Some(match open {
                    Some(((_, a1), (_, b1))) => ((i - 1, a1), (j - 1, b1)),
                    None => ((i - 1, i - 1), (j - 1, j - 1)),
                });
                i -= 1;
                j -= 1;
                if i == 0 || j == 0 {
                    close(&mut open, &mut matches);
                }
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                close(&mut open, &mut matches);
            }
        }
        (common, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn redis_example() {
        let (a, b) = (b"ohmytext", b"mynewtext");
        let t = Table::build(a, b).unwrap();
        assert_eq!(t.len(), 6);
        let (common, matches) = t.walk(a, b, 0);
        assert_eq!(common, b"mytext");
        assert_eq!(matches, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
        assert_eq!(t.walk(a, b, 4).1, vec![((4, 7), (5, 8))]);
    }

    #[test]
    fn empty_and_too_large() {
        let t = Table::build(b"", b"abc").unwrap();
        assert_eq!(t.len(), 0);
        assert_eq!(t.walk(b"", b"abc", 0), (vec![], vec![]));
        let big = vec![b'x'; 5000];
        assert!(Table::build(&big, &big).is_none());
    }
}
