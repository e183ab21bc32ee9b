//! Text for the HTML the status page and the jobs' status sections render: escaping and times.

use std::fmt;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

pub struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
}

/// `2026-05-01 12:34:56 UTC`.
pub fn utc(ms: i64) -> String {
    format!("{} UTC", crate::dates::format_utc(ms.div_euclid(1000), ' '))
}
