//! Calendar arithmetic for the few places that print or read a UTC time (no date crate needed):
//! Howard Hinnant's `days_from_civil` / `civil_from_days`, proleptic Gregorian, any year; and
//! the one parser of dates and times every input goes through ([`parse_utc`]), which refuses a
//! day the month does not have (`2026-02-30`).

/// Days since 1970-01-01 of a date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD{sep}HH:MM:SS` for Unix seconds (UTC).
pub fn format_utc(unix_secs: i64, sep: char) -> String {
    let (y, m, d) = civil_from_days(unix_secs.div_euclid(86_400));
    let rem = unix_secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether `y` is a leap year (Gregorian).
pub fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1–12) of year `y`; 0 for a month that does not exist.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// A calendar date that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: i64,
    pub day: i64,
}

impl Date {
    /// `None` for a month or a day that does not exist (`2026-02-30`, `2026-13-01`).
    pub fn new(year: i64, month: i64, day: i64) -> Option<Date> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// `YYYY-MM-DD`, digits exactly.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?)
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }
}

/// Only ASCII digits (no sign, no spaces), as a number.
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Unix seconds of a date or date and time, and whether it was a date alone. Accepted:
/// `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM` or `HH:MM:SS`, a fraction (ignored),
/// and `Z` or an offset `±HH:MM`; no zone means UTC. The date must exist, the hour be 0–23,
/// minutes 0–59 and seconds 0–60 (a leap second counts as the next second's start).
pub fn parse_utc(s: &str) -> Option<(i64, bool)> {
    let s = s.trim();
    let date = Date::parse(s.get(..10)?)?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some((date.days() * 86_400, true));
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let time = match time.split_once('.') {
        Some((t, frac)) if digits(frac).is_some() => t,
        Some(_) => return None,
        None => time,
    };
    let mut parts = time.split(':');
    let two = |p: Option<&str>| p.filter(|p| p.len() == 2).and_then(digits);
    let h = two(parts.next())?;
    let mi = two(parts.next())?;
    let se = match parts.next() {
        Some(p) => two(Some(p))?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let offset = match zone {
        "" | "Z" => 0,
        z if z.len() == 6 && z.as_bytes()[3] == b':' => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = (two(z.get(1..3))?, two(z.get(4..6))?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some((
        date.days() * 86_400 + h * 3600 + mi * 60 + se - offset,
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_eras_and_leap_days() {
        for (y, m, d, days) in [
            (1970, 1, 1, 0),
            (2000, 2, 29, 11_016),
            (1900, 3, 1, -25_508),
            (2100, 2, 28, 47_540),
        ] {
            assert_eq!(days_from_civil(y, m, d), days);
            assert_eq!(civil_from_days(days), (y, m, d));
        }
        assert_eq!(format_utc(1_795_770_061, 'T'), "2026-11-27T09:01:01");
    }

    #[test]
    fn only_days_the_month_has_are_dates() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2026, 2, 29).is_none());
        assert!(Date::new(2026, 2, 30).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2026, 4, 31).is_none());
        assert!(Date::new(2026, 13, 1).is_none());
        assert!(Date::new(2026, 1, 0).is_none());
        assert_eq!(Date::parse("2026-12-31").map(Date::days), Some(20_818));
        for bad in [
            "2026-1-05",
            "2026-01-5",
            "+026-01-05",
            "2026/01/05",
            "2026-02-30",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn one_parser_reads_dates_times_fractions_and_offsets() {
        let t = 1_795_770_061; // 2026-11-27T09:01:01Z
        assert_eq!(parse_utc("2026-11-27T09:01:01Z"), Some((t, false)));
        assert_eq!(parse_utc(" 2026-11-27 09:01:01 "), Some((t, false)));
        assert_eq!(parse_utc("2026-11-27T09:01:01.250Z"), Some((t, false)));
        assert_eq!(parse_utc("2026-11-27T10:01:01+01:00"), Some((t, false)));
        assert_eq!(parse_utc("2026-11-27T08:01:01-01:00"), Some((t, false)));
        assert_eq!(parse_utc("2026-11-27T09:01"), Some((t - 1, false)));
        assert_eq!(parse_utc("2026-11-27"), Some((t - 9 * 3600 - 61, true)));
        for bad in [
            "",
            "2026-02-30",
            "2026-02-30T00:00:00Z",
            "2026-11-27T24:00:00",
            "2026-11-27T9:01:01",
            "2026-11-27T09:01:01:00",
            "2026-11-27T09:01:01Q",
            "2026-11-27T09:01:01+1:00",
            "2026-11-27T09:01:01.x",
            "2026-11-27X09:01:01",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
