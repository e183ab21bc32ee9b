//! The calendar date of a WooCommerce or X3 date-time, checked: `2026-02-30` is not a date.

/// `YYYY-MM-DD` of a date or date-time (`YYYY-MM-DDThh:mm:ss`, no zone), when the first ten
/// characters are a date that exists.
pub fn date_part(date: &str) -> Option<String> {
    let d = date.get(..10)?;
    let b = d.as_bytes();
    let shape = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| d[r].parse::<u32>().ok();
    let (y, m, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_days_the_month_has_are_dates() {
        assert_eq!(
            date_part("2026-11-27T09:01:01").as_deref(),
            Some("2026-11-27")
        );
        assert_eq!(date_part("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(date_part("2000-02-29").as_deref(), Some("2000-02-29"));
        for bad in [
            "2026-02-29",
            "2026-02-30T00:00:00",
            "1900-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-1-05",
            "",
        ] {
            assert_eq!(date_part(bad), None, "{bad}");
        }
    }
}
