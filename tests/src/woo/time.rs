//! The simulated clock and WordPress date formats.
//!
//! The clock runs at real speed from an adjustable offset (`POST /__sim/clock`), so OAuth
//! timestamps, `date_modified` and Delivery-IDs (unix second) all move together. Dates are
//! rendered like `wc_rest_prepare_date_response()`: `Y-m-d\TH:i:s`, no timezone designator,
//! site-local for `date_*` and UTC for `date_*_gmt` (woocommerce-samples/SOURCES.md caveat 7).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Simulated wall clock: real time plus an offset in seconds.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    pub fn real_now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    /// Simulated unix time in seconds.
    pub fn now(&self) -> i64 {
        Self::real_now() + self.offset.load(Ordering::SeqCst)
    }

    pub fn set(&self, unix: i64) {
        self.offset.store(unix - Self::real_now(), Ordering::SeqCst);
    }

    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }

    pub fn set_offset(&self, off: i64) {
        self.offset.store(off, Ordering::SeqCst);
    }
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's civil_from_days.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Y-m-d\TH:i:s` of a unix time shifted by `offset_secs` (0 for the `_gmt` fields).
pub fn format(unix: i64, offset_secs: i64) -> String {
    let t = unix + offset_secs;
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// `M d, Y @ h:i A` (the default webhook name's date format).
pub fn format_webhook_name_date(unix: i64, offset_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = unix + offset_secs;
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let h = s / 3600;
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    format!(
        "{} {d:02}, {y} @ {h12:02}:{:02} {}",
        MONTHS[(mo - 1) as usize],
        (s / 60) % 60,
        if h < 12 { "AM" } else { "PM" }
    )
}

/// Parse an ISO 8601 / RFC 3339 date-time (`2026-11-27T10:00:00`, optional fraction, optional
/// `Z` or `±HH:MM`). Returns the unix time the wall-clock digits denote in UTC, and the explicit
/// offset if one was given, so callers decide which frame a bare date belongs to.
pub fn parse(s: &str) -> Option<(i64, Option<i64>)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        // Date only (`2026-11-27`) is accepted by rest_parse_date as midnight.
        if b.len() == 10 {
            return parse(&format!("{s}T00:00:00"));
        }
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(|c| c.is_ascii_digit()).count();
        rest = &r[n..];
    }
    let tz = if rest.is_empty() {
        None
    } else if rest == "Z" || rest == "z" {
        Some(0)
    } else if (rest.starts_with('+') || rest.starts_with('-')) && rest.len() == 6 {
        let sign = if rest.starts_with('-') { -1 } else { 1 };
        let hh: i64 = rest.get(1..3)?.parse().ok()?;
        let mm: i64 = rest.get(4..6)?.parse().ok()?;
        Some(sign * (hh * 3600 + mm * 60))
    } else {
        return None;
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se, tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let (t, tz) = parse("2026-11-27T08:59:06").expect("parse");
        assert_eq!(tz, None);
        assert_eq!(format(t, 0), "2026-11-27T08:59:06");
        assert_eq!(format(t, 3600), "2026-11-27T09:59:06");
        assert_eq!(
            parse("2026-11-27T09:59:06+01:00"),
            Some((t + 3600, Some(3600)))
        );
        assert_eq!(
            parse("2024-02-29T00:00:00Z")
                .map(|x| format(x.0, 0))
                .as_deref(),
            Some("2024-02-29T00:00:00")
        );
        assert!(parse("yesterday").is_none());
        assert_eq!(format_webhook_name_date(t, 0), "Nov 27, 2026 @ 08:59 AM");
    }
}
