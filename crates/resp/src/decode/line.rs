//! Line and number helpers shared by the decoders.

/// Finds the `\r\n` ending the line that starts at `start`, scanning from `from` (>= `start`) so that
/// bytes already scanned are not scanned again. Returns the index of the `\r`.
pub(crate) fn find_crlf(buf: &[u8], start: usize, from: usize) -> Option<usize> {
    let mut at = from.max(start);
    while at < buf.len() {
        let nl = memchr::memchr(b'\n', &buf[at..])? + at;
        if nl > start && buf[nl - 1] == b'\r' {
            return Some(nl - 1);
        }
        at = nl + 1;
    }
    None
}

/// Where to resume scanning for a line end once more bytes arrive: the last byte may be a `\r` whose
/// `\n` has not arrived yet.
pub(crate) fn resume_at(buf: &[u8]) -> usize {
    buf.len().saturating_sub(1)
}

/// Parses a strict signed decimal integer (Redis's `string2ll`): optional `-`, digits, no `+`, no spaces,
/// no leading zeros (except `0` itself), no overflow.
pub(crate) fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if value == 0 {
            return None;
        }
        if value == 1 << 63 {
            return Some(i64::MIN);
        }
        i64::try_from(value).ok().map(|v| -v)
    } else {
        i64::try_from(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn crlf_search_resumes() {
        let buf = b"abc\r\ndef";
        assert_eq!(find_crlf(buf, 0, 0), Some(3));
        assert_eq!(find_crlf(buf, 5, 5), None);
        assert_eq!(find_crlf(b"a\nb\r\n", 0, 0), Some(3));
    }
}
