//! STIX 2.1 timestamps (STIX 2.1 §2.16).
//!
//! A STIX timestamp is an RFC 3339 timestamp restricted to the form
//! `YYYY-MM-DDTHH:mm:ss[.s+]Z`: UTC only, an uppercase `T` and `Z`, no
//! numeric offset, and — if a decimal point is present — at least one
//! fractional digit.
//!
//! Decisions documented here:
//! * Dates are checked for real: month 01–12, the day must exist in that
//!   month (leap years per the Gregorian rules), hour 00–23, minute 00–59.
//! * **Leap seconds (`:60`) are rejected.** RFC 3339 allows them, but a
//!   microsecond count cannot represent them unambiguously, and the OASIS
//!   `stix2-validator` rejects them as well (its date parser refuses second 60).
//! * Any number of fractional digits is accepted; digits beyond the sixth
//!   (microseconds) are truncated for [`Timestamp::micros`], while
//!   [`Timestamp::text`] keeps the input exactly.
//! * Years 0000–9999 are accepted.

use std::fmt;

/// An RFC 3339 UTC timestamp as STIX requires ("YYYY-MM-DDTHH:MM:SS[.s+]Z",
/// uppercase T and Z, no offsets).
///
/// Ordering and equality are by `micros` first, then by `text`, so two
/// spellings of the same instant (`...00Z` and `...00.000Z`) compare by
/// instant but are still distinct values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Microseconds since the Unix epoch; fractional digits beyond 6 are truncated.
    pub micros: i64,
    /// The timestamp exactly as given.
    pub text: String,
}

impl Timestamp {
    /// Number of digits after the decimal point in [`Timestamp::text`]
    /// (0 when there is no fractional part).
    pub fn fraction_digits(&self) -> usize {
        fraction_digits(&self.text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a string is not a STIX timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimestampError {
    /// The text does not have the shape `YYYY-MM-DDTHH:mm:ss[.s+]Z`.
    Syntax {
        /// The offending input (shortened if very long).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The text has the right shape but names a date or time that does not exist.
    OutOfRange {
        /// The offending input (shortened if very long).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Syntax { text, reason } => write!(
                f,
                "'{text}' is not a STIX timestamp (expected YYYY-MM-DDTHH:mm:ss[.s+]Z in UTC): {reason}"
            ),
            TimestampError::OutOfRange { text, reason } => {
                write!(f, "'{text}' is not a valid date/time: {reason}")
            }
        }
    }
}

impl std::error::Error for TimestampError {}

/// Longest input echoed back in error messages.
const MAX_ECHO: usize = 80;

fn echo(s: &str) -> String {
    if s.len() <= MAX_ECHO {
        return s.to_owned();
    }
    let mut end = MAX_ECHO;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses a STIX timestamp. See the module documentation for the exact rules.
pub fn parse_timestamp(s: &str) -> Result<Timestamp, TimestampError> {
    let micros = parse_micros(s)?;
    Ok(Timestamp {
        micros,
        text: s.to_owned(),
    })
}

/// Like [`parse_timestamp`] but only returns the instant, without allocating.
pub fn parse_micros(s: &str) -> Result<i64, TimestampError> {
    let b = s.as_bytes();
    let syntax = |reason: &'static str| TimestampError::Syntax {
        text: echo(s),
        reason,
    };
    if b.len() < 20 {
        return Err(syntax("too short"));
    }
    let digits = |range: std::ops::Range<usize>| -> Result<u32, TimestampError> {
        let mut v: u32 = 0;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return Err(syntax("expected a digit"));
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Ok(v)
    };
    let year = digits(0..4)?;
    if b[4] != b'-' {
        return Err(syntax("expected '-' after the year"));
    }
    let month = digits(5..7)?;
    if b[7] != b'-' {
        return Err(syntax("expected '-' after the month"));
    }
    let day = digits(8..10)?;
    if b[10] != b'T' {
        return Err(syntax("expected an uppercase 'T' between date and time"));
    }
    let hour = digits(11..13)?;
    if b[13] != b':' {
        return Err(syntax("expected ':' after the hour"));
    }
    let minute = digits(14..16)?;
    if b[16] != b':' {
        return Err(syntax("expected ':' after the minute"));
    }
    let second = digits(17..19)?;
    let mut pos = 19;
    let mut frac_micros: u32 = 0;
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            if pos - start < 6 {
                frac_micros = frac_micros * 10 + u32::from(b[pos] - b'0');
            }
            pos += 1;
        }
        let n = pos - start;
        if n == 0 {
            return Err(syntax(
                "a decimal point must be followed by at least one digit",
            ));
        }
        for _ in n..6 {
            frac_micros *= 10;
        }
    }
    if pos >= b.len() {
        return Err(syntax("missing the 'Z' (UTC) designator"));
    }
    if b[pos] != b'Z' {
        return Err(syntax(
            "the time must end with an uppercase 'Z' (UTC); offsets are not allowed",
        ));
    }
    if pos + 1 != b.len() {
        return Err(syntax("unexpected characters after 'Z'"));
    }
    let range = |reason: &'static str| TimestampError::OutOfRange {
        text: echo(s),
        reason,
    };
    if !(1..=12).contains(&month) {
        return Err(range("month must be 01-12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(range("day does not exist in that month"));
    }
    if hour > 23 {
        return Err(range("hour must be 00-23"));
    }
    if minute > 59 {
        return Err(range("minute must be 00-59"));
    }
    if second == 60 {
        return Err(range("leap seconds (second 60) are not supported"));
    }
    if second > 59 {
        return Err(range("second must be 00-59"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
    Ok(secs * 1_000_000 + i64::from(frac_micros))
}

/// Number of fractional-second digits of a timestamp-shaped string (0 if none).
pub(crate) fn fraction_digits(s: &str) -> usize {
    let b = s.as_bytes();
    if b.len() > 20 && b[19] == b'.' {
        b[20..].iter().take_while(|c| c.is_ascii_digit()).count()
    } else {
        0
    }
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // m is 1..=12 and d is 1..=31 by construction.
    (y, m as u32, d as u32)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`
/// (always six fractional digits — the TAXII 2.1 `date_added` format).
///
/// Years outside 0000–9999 are printed with as many digits as needed
/// (and a leading `-` for years before year 0); such values never come
/// from [`parse_timestamp`].
pub fn format_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3_600, (sod % 3_600) / 60, sod % 60);
    if y < 0 {
        format!(
            "-{:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z",
            -y
        )
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Timestamp {
        match parse_timestamp(s) {
            Ok(t) => t,
            Err(e) => panic!("{s} should parse: {e}"),
        }
    }

    fn bad(s: &str) -> TimestampError {
        match parse_timestamp(s) {
            Ok(t) => panic!("{s} should be rejected, got {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn epoch_and_simple_values() {
        assert_eq!(ok("1970-01-01T00:00:00Z").micros, 0);
        assert_eq!(ok("1970-01-01T00:00:01Z").micros, 1_000_000);
        assert_eq!(ok("1969-12-31T23:59:59Z").micros, -1_000_000);
        assert_eq!(ok("2000-01-01T00:00:00Z").micros, 946_684_800_000_000);
        assert_eq!(ok("2024-01-01T00:00:00.000Z").micros, 1_704_067_200_000_000);
        assert_eq!(ok("0000-01-01T00:00:00Z").micros, -62_167_219_200_000_000);
        assert_eq!(
            ok("9999-12-31T23:59:59.999999Z").micros,
            253_402_300_799_999_999
        );
    }

    #[test]
    fn fractional_digits() {
        let t = ok("2024-01-01T00:00:00.1Z");
        assert_eq!(t.text, "2024-01-01T00:00:00.1Z");
        assert_eq!(t.micros, 1_704_067_200_100_000);
        assert_eq!(t.fraction_digits(), 1);
        assert_eq!(ok("2024-01-01T00:00:00.123Z").micros % 1_000_000, 123_000);
        assert_eq!(
            ok("2024-01-01T00:00:00.123456Z").micros % 1_000_000,
            123_456
        );
        // Beyond microseconds: truncated, not rounded; text preserved.
        let t = ok("2024-01-01T00:00:00.123456789Z");
        assert_eq!(t.micros % 1_000_000, 123_456);
        assert_eq!(t.text, "2024-01-01T00:00:00.123456789Z");
        assert_eq!(t.fraction_digits(), 9);
        let t = ok("2024-01-01T00:00:00.9999999999999999999999Z");
        assert_eq!(t.micros % 1_000_000, 999_999);
        assert_eq!(ok("2024-01-01T00:00:00Z").fraction_digits(), 0);
    }

    #[test]
    fn leap_years() {
        ok("2024-02-29T00:00:00Z");
        ok("2000-02-29T00:00:00Z");
        ok("1600-02-29T12:00:00Z");
        assert!(matches!(
            bad("2023-02-29T00:00:00Z"),
            TimestampError::OutOfRange { .. }
        ));
        assert!(matches!(
            bad("1900-02-29T00:00:00Z"),
            TimestampError::OutOfRange { .. }
        ));
        assert!(matches!(
            bad("2100-02-29T00:00:00Z"),
            TimestampError::OutOfRange { .. }
        ));
        assert_eq!(
            ok("2024-03-01T00:00:00Z").micros - ok("2024-02-28T00:00:00Z").micros,
            2 * 86_400_000_000
        );
    }

    #[test]
    fn bad_dates() {
        for s in [
            "2024-02-30T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-32T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-01-01T23:59:61Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(
                matches!(bad(s), TimestampError::OutOfRange { .. }),
                "{s} should be out of range"
            );
        }
    }

    #[test]
    fn bad_syntax() {
        for s in [
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00Z",
            "24-01-01T00:00:00Z",
            "2024-1-01T00:00:00Z",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01T00:00:00.12a3Z",
            " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z ",
            "+2024-01-01T00:00:00Z",
            "2024/01/01T00:00:00Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert!(
                matches!(bad(s), TimestampError::Syntax { .. }),
                "{s:?} should be a syntax error"
            );
        }
    }

    #[test]
    fn error_messages_are_clear() {
        let msg = bad("2024-01-01T00:00:00+01:00").to_string();
        assert!(msg.contains("2024-01-01T00:00:00+01:00"), "{msg}");
        assert!(msg.contains("'Z'"), "{msg}");
        let msg = bad("2024-02-30T00:00:00Z").to_string();
        assert!(msg.contains("day does not exist"), "{msg}");
        let long = "x".repeat(10_000);
        assert!(bad(&long).to_string().len() < 300);
    }

    #[test]
    fn ordering() {
        let a = ok("2024-01-01T00:00:00Z");
        let b = ok("2024-01-01T00:00:00.000001Z");
        assert!(a < b);
        let c = ok("2024-01-01T00:00:00.000Z");
        assert_eq!(a.micros, c.micros);
        assert_ne!(a, c);
    }

    #[test]
    fn format_roundtrip() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_micros(1_704_067_200_000_000),
            "2024-01-01T00:00:00.000000Z"
        );
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            format_micros(951_782_400_000_001),
            "2000-02-29T00:00:00.000001Z"
        );
        for s in [
            "2024-02-29T13:14:15.161718Z",
            "1999-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "1969-07-20T20:17:40.000000Z",
        ] {
            assert_eq!(format_micros(ok(s).micros), s);
        }
        // Every day over a few centuries round-trips through the civil conversion.
        let mut day = days_from_civil(1890, 1, 1);
        let end = days_from_civil(2110, 12, 31);
        while day <= end {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            day += 1;
        }
        // Extreme values do not panic.
        let _ = format_micros(i64::MAX);
        let _ = format_micros(i64::MIN);
    }
}
