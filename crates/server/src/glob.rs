//! Redis-style glob patterns for `KEYS`, `SCAN MATCH` and `CONFIG GET`: `*`, `?`, `[abc]`, `[^a]`,
//! `[a-z]`, `\x`. Matching is iterative, O(pattern × text) at worst, so hostile patterns such as
//! `*a*a*a*a*b` cannot take exponential time.

/// True when `text` matches `pattern`.
pub(crate) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Redis matches an empty text only with an empty pattern; `*` alone matches everything because
    // KEYS and SCAN treat it as "all keys" before matching.
    if text.is_empty() {
        return pattern.is_empty() || pattern == b"*";
    }
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after the star, text index it matched up to).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {
                    if let Some((matched, next)) = single(pattern, p, text[t])
                        && matched
                    {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last star swallow one more byte, or fail.
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches one non-wildcard pattern element at `p` (a literal, `\x` or a `[...]` class) against `c`;
/// returns whether it matched and the index after the element.
fn single(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    match pattern[p] {
        b'\\' if p + 1 < pattern.len() => Some((pattern[p + 1] == c, p + 2)),
        b'[' => {
            let mut i = p + 1;
            let negate = pattern.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut hit = false;
            while i < pattern.len() && pattern[i] != b']' {
                if pattern[i] == b'\\' && i + 1 < pattern.len() {
                    hit |= pattern[i + 1] == c;
                    i += 2;
                } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' {
                    // As in Redis, `]` right after `-` ends the range, not the class.
                    let (lo, hi) = (
                        pattern[i].min(pattern[i + 2]),
                        pattern[i].max(pattern[i + 2]),
                    );
                    hit |= (lo..=hi).contains(&c);
                    i += 3;
                } else {
                    hit |= pattern[i] == c;
                    i += 1;
                }
            }
            // An unterminated class ends at the pattern's end, as in Redis.
            Some((hit != negate, (i + 1).min(pattern.len())))
        }
        literal => Some((literal == c, p + 1)),
    }
}

/// The literal prefix every match of `pattern` starts with (up to the first special character), used to
/// narrow a scan.
pub(crate) fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let yes = |p: &str, t: &str| assert!(matches(p.as_bytes(), t.as_bytes()), "{p} {t}");
        let no = |p: &str, t: &str| assert!(!matches(p.as_bytes(), t.as_bytes()), "{p} {t}");
        yes("*", "");
        no("**", "");
        no("*a*", "");
        yes("", "");
        // `[a-]llo`: a range from `a` to `]`, then `llo` inside the unterminated class.
        no("h[a-]llo", "hallo");
        yes("h[a-]", "h^");
        yes("*", "abc");
        yes("a*", "abc");
        yes("*c", "abc");
        yes("a?c", "abc");
        yes("h[ae]llo", "hallo");
        no("h[ae]llo", "hillo");
        yes("h[^e]llo", "hallo");
        no("h[^e]llo", "hello");
        yes("h[a-b]llo", "hbllo");
        yes("a\\*", "a*");
        no("a\\*", "ab");
        yes("user:*:name", "user:42:name");
        no("user:*:name", "user:42:names");
        yes("*a*b", "xxaxxb");
        no("abc", "ab");
        no("ab", "abc");
        let hostile = format!("{}b", "*a".repeat(30));
        no(&hostile, &"a".repeat(5000));
    }

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix(b"user:*"), b"user:");
        assert_eq!(literal_prefix(b"abc"), b"abc");
        assert_eq!(literal_prefix(b"*"), b"");
    }
}
