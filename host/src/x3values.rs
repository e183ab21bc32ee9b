//! X3's numbers and datetimes as text: decimals in ten-thousandths (`dec4`) and `UPDDATTIM`
//! stamps in seconds, shared by the X3 polling, the catalogue and the reconciliation.

use std::fmt::Write as _;

use serde_json::Value;

/// Seconds since the epoch of an X3 datetime: `2026-11-27T10:00:00Z` (also with fractions, a
/// `+00:00` offset or none; X3's exact JSON format is UNCONFIRMED, §1.5).
pub fn stamp_secs(s: &str) -> Option<i64> {
    match crate::dates::parse_utc(s)? {
        (secs, false) => Some(secs),
        (_, true) => None,
    }
}

/// `2026-11-27T10:00:00Z`.
pub fn fmt_stamp(secs: i64) -> String {
    format!("{}Z", crate::dates::format_utc(secs, 'T'))
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/// The WooCommerce order id in a `CUSORDREF`: prefix + digits. Credit notes (`…R<refund>`) and
/// other references are not orders.
pub fn order_id_of(reference: &str, prefix: &str) -> Option<u64> {
    let rest = reference.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// An X3 quantity or amount (JSON number or string) in ten-thousandths.
pub fn dec4(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => parse_dec4(&n.to_string()),
        Value::String(s) => parse_dec4(s),
        _ => None,
    }
}

/// `"12.3456"` → 123456; more than 4 decimals are rounded half away from zero.
pub fn parse_dec4(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = 0i64;
    for (i, c) in frac.bytes().take(4).enumerate() {
        f += i64::from(c - b'0') * 10i64.pow(3 - i as u32);
    }
    if frac.len() > 4 && frac.as_bytes()[4] >= b'5' {
        f += 1;
    }
    let v = int.checked_mul(10_000)?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// A ten-thousandths value as a plain decimal with `decimals` places.
pub fn fmt_dec4(v: i64, decimals: u8) -> String {
    let d = u32::from(decimals.min(4));
    let scale = 10i64.pow(4 - d);
    let r = round_div(v, scale);
    let neg = r < 0;
    let r = r.abs();
    let unit = 10i64.pow(d);
    let mut s = format!("{}{}", if neg { "-" } else { "" }, r / unit);
    if d > 0 {
        let _ = write!(s, ".{:0width$}", r % unit, width = d as usize);
    }
    s
}

/// Division rounding half away from zero.
pub fn round_div(v: i64, by: i64) -> i64 {
    let q = v / by;
    let r = v % by;
    if r.abs() * 2 >= by { q + v.signum() } else { q }
}

/// Whole units for WooCommerce's integer `stock_quantity`: fractions of a stock unit cannot be
/// sold, so they are dropped (floor).
pub fn whole_units(v: i64) -> i64 {
    v.div_euclid(10_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamps_round_trip_and_accept_x3_variants() {
        let s = stamp_secs("2026-11-27T10:00:05Z").unwrap();
        assert_eq!(fmt_stamp(s), "2026-11-27T10:00:05Z");
        assert_eq!(stamp_secs("2026-11-27T10:00:05.123Z"), Some(s));
        assert_eq!(stamp_secs("2026-11-27T11:00:05+01:00"), Some(s));
        assert_eq!(stamp_secs("2026-11-27T10:00:05"), Some(s));
        assert_eq!(stamp_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(stamp_secs("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-27",
            "2026-11-27T10:00:05Q",
            "x",
        ] {
            assert_eq!(stamp_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn references_name_orders_only_with_the_prefix_and_digits() {
        assert_eq!(order_id_of("WC-42", "WC-"), Some(42));
        assert_eq!(order_id_of("WC-42R7", "WC-"), None, "a credit note");
        assert_eq!(order_id_of("XX-42", "WC-"), None);
        assert_eq!(order_id_of("WC-", "WC-"), None);
        assert_eq!(order_id_of("WC--1", "WC-"), None);
    }

    #[test]
    fn decimals_parse_exactly_and_round_half_away() {
        assert_eq!(parse_dec4("12.3456"), Some(123_456));
        assert_eq!(parse_dec4("12.34565"), Some(123_457));
        assert_eq!(parse_dec4("-0.5"), Some(-5000));
        assert_eq!(parse_dec4("7"), Some(70_000));
        assert_eq!(parse_dec4(".5"), Some(5000));
        assert_eq!(parse_dec4("1e3"), None);
        assert_eq!(parse_dec4(""), None);
        assert_eq!(dec4(&json!(100_000)), Some(1_000_000_000));
        assert_eq!(dec4(&json!(2.5)), Some(25_000));
        assert_eq!(fmt_dec4(123_456, 2), "12.35");
        assert_eq!(fmt_dec4(-123_456, 2), "-12.35");
        assert_eq!(fmt_dec4(5, 0), "0");
        assert_eq!(whole_units(129_999), 12);
        assert_eq!(whole_units(-1), -1);
    }
}
