//! Literals for X3 queries. Nothing else in ml-connector puts user text into a query: an e-mail
//! like `o'brien@example.com` must never end a string early.

/// An SData string literal: single quotes, a quote inside doubled (`'o''brien'`).
pub fn sdata_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            out.push('\'');
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

/// A string literal inside an Xtrem GraphQL filter string (a JavaScript object literal):
/// single quotes; backslash and quote escaped; control characters, and the line and paragraph
/// separators JavaScript treats as line ends, as `\uXXXX`.
pub fn graphql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdata_doubles_quotes_and_keeps_everything_else() {
        let cases = [
            ("o'brien@example.com", "'o''brien@example.com'"),
            ("''", "''''''"),
            ("", "''"),
            (
                "x' or 1 eq 1 or 'a' eq 'a",
                "'x'' or 1 eq 1 or ''a'' eq ''a'",
            ),
            ("Zoë 山田 @date@", "'Zoë 山田 @date@'"),
        ];
        for (v, want) in cases {
            assert_eq!(sdata_literal(v), want);
        }
    }

    #[test]
    fn graphql_escapes_quote_backslash_and_controls() {
        let cases = [
            ("o'brien@example.com", r"'o\'brien@example.com'"),
            (r"a\'b", r"'a\\\'b'"),
            ("line\nbreak\t\u{0}", r"'line\u000abreak\u0009\u0000'"),
            ("sep\u{2028}", r"'sep\u2028'"),
            ("}, _or:[{x:1}]", "'}, _or:[{x:1}]'"),
            ("Zoë", "'Zoë'"),
        ];
        for (v, want) in cases {
            assert_eq!(graphql_literal(v), want);
        }
    }

    /// Reads an SData literal back the way X3 does: the only escape is a doubled quote.
    fn sdata_unquote(lit: &str) -> Option<String> {
        let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                // A lone quote inside would end the literal early.
                if chars.next() != Some('\'') {
                    return None;
                }
            }
            out.push(c);
        }
        Some(out)
    }

    #[test]
    fn sdata_literal_round_trips_for_hostile_values() {
        for v in ["'", "''", "a'b'c", "' or ''='", "\u{0}'\n", "'''''''x"] {
            assert_eq!(sdata_unquote(&sdata_literal(v)).as_deref(), Some(v));
        }
    }
}
