//! `INCRBYFLOAT` arithmetic as Redis does it: both operands read as x87 80-bit extended floats (C's
//! `long double` on x86-64, where `strtold` parses them), added with that precision, and the sum
//! written as `printf("%.17Lf")` with the trailing zeros (and a trailing point) removed, never in
//! exponent form and never as `-0`. The extended format is emulated in software
//! ([`rustc_apfloat`]), so the result is the same on every platform, byte for byte.

use num_bigint::BigUint;
use rustc_apfloat::ieee::X87DoubleExtended as Ext;
use rustc_apfloat::{Float, Status};

use crate::error::{Error, Result};

/// The longest operand Redis parses (its `MAX_LONG_DOUBLE_CHARS`); longer ones are not floats.
const MAX_TEXT: usize = 5 * 1024;
/// Digits after the point in Redis's human-friendly format.
const FRACTION_DIGITS: u32 = 17;

/// The text that `INCRBYFLOAT` stores when `current` (absent: 0) is incremented by `increment`.
///
/// # Errors
/// [`Error::InvalidArgument`] with Redis's texts: `value is not a valid float` when either operand is
/// not a float as `strtold` reads it (leading or trailing space, junk, NaN, overflow or underflow to
/// zero), `increment would produce NaN or Infinity` when the sum is not finite.
pub fn increment_float(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>> {
    let value = match current {
        Some(text) => parse(text)?,
        None => Ext::ZERO,
    };
    let delta = parse(increment)?;
    let sum = (value + delta).value;
    if !sum.is_finite() {
        return Err(Error::InvalidArgument(
            "increment would produce NaN or Infinity".to_owned(),
        ));
    }
    Ok(format(sum).into_bytes())
}

fn not_a_float() -> Error {
    Error::InvalidArgument("value is not a valid float".to_owned())
}

/// Reads `text` as `strtold` would, with Redis's checks on what it accepts.
fn parse(text: &[u8]) -> Result<Ext> {
    if text.is_empty() || text.len() >= MAX_TEXT {
        return Err(not_a_float());
    }
    let s = std::str::from_utf8(text).map_err(|_| not_a_float())?;
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        let inf = Ext::INFINITY;
        return Ok(if negative { -inf } else { inf });
    }
    let hex = lower.starts_with("0x");
    if !well_formed(&lower) {
        return Err(not_a_float());
    }
    // `strtold` takes a hexadecimal float without a binary exponent; the emulation wants one.
    let owned;
    let body = if hex && !lower.contains('p') {
        owned = format!("{lower}p0");
        owned.as_str()
    } else {
        body
    };
    let status_and = Ext::from_str_r(body, rustc_apfloat::Round::NearestTiesToEven)
        .map_err(|_| not_a_float())?;
    let value = status_and.value;
    // `strtold` reports a range error for overflow and for underflow to zero; Redis refuses both.
    if value.is_infinite()
        || value.is_nan()
        || (value.is_zero() && status_and.status.contains(Status::UNDERFLOW))
    {
        return Err(not_a_float());
    }
    Ok(if negative { -value } else { value })
}

/// Whether `s` (lower case, sign removed) is a whole number `strtold` reads to its end: digits with
/// an optional point and at least one digit, then an optional exponent with at least one digit
/// (`e` for decimal, `p` for hexadecimal after `0x`).
fn well_formed(s: &str) -> bool {
    let (digits, marker, body): (fn(u8) -> bool, u8, &str) = match s.strip_prefix("0x") {
        Some(rest) => (|b| b.is_ascii_hexdigit(), b'p', rest),
        None => (|b| b.is_ascii_digit(), b'e', s),
    };
    let (mantissa, exponent) = match body.bytes().position(|b| b == marker) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut points = 0;
    let mut seen = 0;
    for b in mantissa.bytes() {
        if b == b'.' {
            points += 1;
        } else if digits(b) {
            seen += 1;
        } else {
            return false;
        }
    }
    if points > 1 || seen == 0 {
        return false;
    }
    match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

/// `%.17Lf` of a finite `x`, trailing zeros and point removed, `-0` written `0`.
fn format(x: Ext) -> String {
    let bits = x.to_bits();
    let negative = (bits >> 79) & 1 == 1;
    let biased = ((bits >> 64) & 0x7fff) as i64;
    let significand = BigUint::from((bits & u128::from(u64::MAX)) as u64);
    // value = significand × 2^exponent (a denormal has the smallest exponent and no integer bit).
    let exponent = biased.max(1) - 16383 - 63;
    let scale = BigUint::from(10u32).pow(FRACTION_DIGITS);
    // The value in units of 10^-17, rounded to nearest, ties to even, as printf rounds.
    let units = if exponent >= 0 {
        (significand << exponent.unsigned_abs()) * scale
    } else {
        let shift = exponent.unsigned_abs();
        let numerator = significand * scale;
        let quotient = &numerator >> shift;
        let remainder = &numerator - (&quotient << shift);
        let twice = remainder << 1u32;
        let half_unit = BigUint::from(1u32) << shift;
        let odd = quotient.bit(0);
        if twice > half_unit || (twice == half_unit && odd) {
            quotient + 1u32
        } else {
            quotient
        }
    };
    let digits = units.to_str_radix(10);
    let width = FRACTION_DIGITS as usize + 1;
    let digits = format!("{digits:0>width$}");
    let (int, frac) = digits.split_at(digits.len() - FRACTION_DIGITS as usize);
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(digits.len() + 2);
    let zero = int.bytes().all(|b| b == b'0') && frac.is_empty();
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(current: Option<&str>, by: &str) -> String {
        let out = increment_float(current.map(str::as_bytes), by.as_bytes()).expect("valid");
        String::from_utf8(out).expect("ascii")
    }

    fn refused(current: Option<&str>, by: &str) -> String {
        match increment_float(current.map(str::as_bytes), by.as_bytes()) {
            Err(Error::InvalidArgument(text)) => text,
            other => panic!("{current:?} + {by:?}: {other:?}"),
        }
    }

    #[test]
    fn sums_read_as_redis_writes_them() {
        assert_eq!(incr(Some("10.50"), "0.1"), "10.6");
        assert_eq!(incr(Some("5.0e3"), "2.0e2"), "5200");
        assert_eq!(incr(None, "1"), "1");
        assert_eq!(incr(Some("1"), "0.25"), "1.25");
        assert_eq!(incr(Some("17179869184"), "1.5"), "17179869185.5");
        assert_eq!(
            incr(Some("0.1"), "0.2"),
            "0.3",
            "extended precision hides the binary error"
        );
        assert_eq!(incr(Some("1.1"), "-1.1"), "0");
        assert_eq!(incr(Some("-1"), "0.5"), "-0.5");
        assert_eq!(
            incr(Some("0x10"), "0x1p1"),
            "18",
            "hexadecimal floats, as strtold"
        );
        assert_eq!(
            incr(Some("1e-20"), "0"),
            "0",
            "below the 17th decimal rounds away"
        );
        assert_eq!(incr(Some(".5"), "1."), "1.5");
    }

    #[test]
    fn no_negative_zero() {
        assert_eq!(incr(Some("0"), "-0"), "0");
        assert_eq!(incr(Some("-0.000000000000000001"), "0"), "0");
        let third = "0.024390243902439025";
        assert_eq!(
            incr(Some(&incr(Some("0"), third)), &format!("-{third}")),
            "0"
        );
    }

    #[test]
    fn what_strtold_refuses_redis_refuses() {
        for bad in [
            "", " 1", "1 ", "1x", "nan", "-nan", "abc", "1e", "--1", "+-1", "1e99999", "1e-99999",
            "1\0",
        ] {
            assert_eq!(
                refused(Some(bad), "1"),
                "value is not a valid float",
                "{bad:?}"
            );
            assert_eq!(
                refused(Some("1"), bad),
                "value is not a valid float",
                "{bad:?}"
            );
        }
        assert_eq!(
            refused(Some(&"1".repeat(MAX_TEXT)), "1"),
            "value is not a valid float"
        );
        for inf in ["inf", "+inf", "-Infinity", "INF"] {
            assert_eq!(
                refused(Some("1"), inf),
                "increment would produce NaN or Infinity"
            );
        }
        assert_eq!(
            refused(Some("1.1e4932"), "1.1e4932"),
            "increment would produce NaN or Infinity"
        );
    }
}
