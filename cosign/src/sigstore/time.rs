//! Instants as Sigstore states them: RFC 3339 strings in trusted roots (with or without a
//! fraction), Unix seconds in log entries, milliseconds in SCTs, ASN.1 times in certificates and
//! timestamps. All become [`Instant`], nanoseconds since the Unix epoch (UTC).

/// A point in time, UTC, nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i128);

/// Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Instant {
    /// From Unix seconds.
    pub fn from_unix_seconds(s: i64) -> Self {
        Instant(i128::from(s) * 1_000_000_000)
    }

    /// From Unix milliseconds (SCT timestamps).
    pub fn from_unix_millis(ms: u64) -> Self {
        Instant(i128::from(ms) * 1_000_000)
    }

    /// From a Rust duration since the epoch (x509 times).
    pub fn from_unix_duration(d: std::time::Duration) -> Self {
        Instant(d.as_nanos() as i128)
    }

    /// Now, from the system clock.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix_duration(d)
    }

    /// Whole Unix seconds (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000) as i64
    }

    fn from_parts(date: (i64, u32, u32), time: (u32, u32, u32), nanos: u32) -> Option<Self> {
        let (y, mo, d) = date;
        let (h, mi, s) = time;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
        Some(Instant(
            i128::from(secs) * 1_000_000_000 + i128::from(nanos),
        ))
    }

    /// A fraction `.ddd…` (up to nanoseconds; more digits are cut) as nanoseconds.
    fn fraction(frac: &str) -> Option<u32> {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut padded: String = frac.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        padded.parse().ok()
    }

    /// Parses RFC 3339: `2021-03-07T03:20:29Z`, `2022-12-31T23:59:59.999Z`,
    /// `2023-01-01T00:00:00+01:00`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let (date, rest) = text.split_once(['T', 't'])?;
        let mut dp = date.split('-');
        let y: i64 = i64::from(digits(dp.next()?)?);
        let mo = digits(dp.next()?)?;
        let d = digits(dp.next()?)?;
        if dp.next().is_some() || date.len() != 10 {
            return None;
        }
        let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else {
            let at = rest.rfind(['+', '-'])?;
            let (c, off) = rest.split_at(at);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (
                c,
                sign * (i64::from(digits(oh)?) * 3600 + i64::from(digits(om)?) * 60),
            )
        };
        let (hms, nanos) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, Self::fraction(frac)?),
            None => (clock, 0),
        };
        let mut tp = hms.split(':');
        let h = digits(tp.next()?)?;
        let mi = digits(tp.next()?)?;
        let s = digits(tp.next()?)?;
        if tp.next().is_some() || hms.len() != 8 {
            return None;
        }
        let t = Self::from_parts((y, mo, d), (h, mi, s), nanos)?;
        Some(Instant(t.0 - i128::from(offset) * 1_000_000_000))
    }

    /// Parses an ASN.1 GeneralizedTime body `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 allows the fraction,
    /// which the `der` crate does not).
    pub fn parse_generalized_time(text: &str) -> Option<Self> {
        let body = text.strip_suffix('Z')?;
        let (main, nanos) = match body.split_once('.') {
            Some((m, f)) => (m, Self::fraction(f)?),
            None => (body, 0),
        };
        if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| main[r].parse::<u32>().ok();
        Self::from_parts(
            (i64::from(n(0..4)?), n(4..6)?, n(6..8)?),
            (n(8..10)?, n(10..12)?, n(12..14)?),
            nanos,
        )
    }
}

impl std::fmt::Display for Instant {
    /// RFC 3339 in UTC, with the fraction only when there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000) as i64;
        let nanos = self.0.rem_euclid(1_000_000_000);
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = sigmirror_oci::timefmt::civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )?;
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// A validity window with optional, inclusive ends (what trusted roots give for keys and CAs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// The first instant inside, if bounded.
    pub start: Option<Instant>,
    /// The last instant inside, if bounded.
    pub end: Option<Instant>,
}

impl TimeRange {
    /// Whether `t` is inside (both ends inclusive).
    pub fn contains(&self, t: Instant) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.start {
            Some(s) => write!(f, "{s}")?,
            None => f.write_str("(unbounded)")?,
        }
        f.write_str("..")?;
        match self.end {
            Some(e) => write!(f, "{e}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print_alike() {
        let t = Instant::parse_rfc3339("2022-12-31T23:59:59.999Z").unwrap();
        assert_eq!(t.to_string(), "2022-12-31T23:59:59.999Z");
        assert_eq!(
            Instant::parse_rfc3339("2022-12-31T23:59:59.999000Z"),
            Some(t)
        );
        let plain = Instant::parse_rfc3339("2021-03-07T03:20:29Z").unwrap();
        assert_eq!(plain.unix_seconds(), 1_615_087_229);
        assert_eq!(
            Instant::parse_rfc3339("2021-03-07T04:20:29+01:00"),
            Some(plain)
        );
        assert_eq!(
            Instant::parse_generalized_time("20210307032029Z"),
            Some(plain)
        );
        assert_eq!(
            Instant::parse_generalized_time("20210307032029.5Z")
                .unwrap()
                .to_string(),
            "2021-03-07T03:20:29.5Z"
        );
        assert_eq!(Instant::from_unix_seconds(1_615_087_229), plain);
        assert_eq!(Instant::from_unix_millis(1_615_087_229_000), plain);
        for bad in [
            "",
            "2021-03-07",
            "2021-13-07T03:20:29Z",
            "2021-03-07T03:20Z",
            "x",
        ] {
            assert!(Instant::parse_rfc3339(bad).is_none(), "{bad}");
        }
        assert!(Instant::parse_generalized_time("210307032029Z").is_none());
    }

    #[test]
    fn windows_include_both_ends() {
        let a = Instant::from_unix_seconds(10);
        let b = Instant::from_unix_seconds(20);
        let r = TimeRange {
            start: Some(a),
            end: Some(b),
        };
        assert!(r.contains(a) && r.contains(b));
        assert!(!r.contains(Instant::from_unix_seconds(9)));
        assert!(!r.contains(Instant::from_unix_seconds(21)));
        assert!(TimeRange::default().contains(a));
    }
}
