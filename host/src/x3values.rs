//! X3's numbers and datetimes as text: decimals (`rust_decimal`, four places, as X3 keeps them)
//! and `UPDDATTIM` stamps in seconds, shared by the X3 polling, the catalogue and the reconciliation.

use rust_decimal::prelude::ToPrimitive as _;
use rust_decimal::{Decimal, RoundingStrategy};
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

/// An X3 quantity or amount (a JSON number or string), to four decimals ([`parse_decimal`]).
pub fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => parse_decimal(&n.to_string()),
        Value::String(s) => parse_decimal(s),
        _ => None,
    }
}

/// `"12.3456"` → 12.3456: digits, a sign and one point, nothing else (no exponent). X3 keeps
/// four decimals; a fifth is rounded half away from zero.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let s = s.trim();
    let neg = s.starts_with('-');
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let text = format!(
        "{}{}.{}",
        if neg { "-" } else { "" },
        if int.is_empty() { "0" } else { int },
        if frac.is_empty() { "0" } else { frac }
    );
    Decimal::from_str_exact(&text).ok().map(|d| round(d, 4))
}

/// Rounded to `dp` decimals, half away from zero (X3's and WooCommerce's rounding).
pub fn round(v: Decimal, dp: u32) -> Decimal {
    v.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// A plain decimal with exactly `decimals` places (at most four), rounded half away from zero.
pub fn fmt_decimal(v: Decimal, decimals: u8) -> String {
    let d = u32::from(decimals.min(4));
    let mut r = round(v, d);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r.rescale(d);
    r.to_string()
}

/// Whole units for WooCommerce's integer `stock_quantity`: fractions of a stock unit cannot be
/// sold, so they are dropped (floor).
pub fn whole_units(v: Decimal) -> i64 {
    v.floor().to_i64().unwrap_or(if v.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
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
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(parse_decimal("12.3456"), Some(d("12.3456")));
        assert_eq!(parse_decimal("12.34565"), Some(d("12.3457")));
        assert_eq!(parse_decimal("-12.34565"), Some(d("-12.3457")));
        assert_eq!(parse_decimal("-0.5"), Some(d("-0.5")));
        assert_eq!(parse_decimal("+7"), Some(d("7")));
        assert_eq!(parse_decimal(".5"), Some(d("0.5")));
        for bad in ["1e3", "", ".", "-", "1.2.3", "1,5", " 1 2", "0x10"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(parse_decimal(&"9".repeat(40)), None, "beyond 28 digits");
        assert_eq!(decimal(&json!(100_000)), Some(d("100000")));
        assert_eq!(decimal(&json!(2.5)), Some(d("2.5")));
        assert_eq!(decimal(&json!("3.10")), Some(d("3.1")));
        assert_eq!(decimal(&json!(null)), None);
        assert_eq!(fmt_decimal(d("12.3456"), 2), "12.35");
        assert_eq!(fmt_decimal(d("-12.3456"), 2), "-12.35");
        assert_eq!(fmt_decimal(d("12.345"), 2), "12.35");
        assert_eq!(fmt_decimal(d("0.0005"), 0), "0");
        assert_eq!(fmt_decimal(d("-0.001"), 2), "0.00");
        assert_eq!(fmt_decimal(d("7"), 2), "7.00");
        assert_eq!(fmt_decimal(d("1.5"), 9), "1.5000");
        assert_eq!(whole_units(d("12.9999")), 12);
        assert_eq!(whole_units(d("-0.0001")), -1);
    }
}
