//! The where/filter escaping: whatever the text, the literal is one string token that reads
//! back as the text — it cannot end early and let the rest be read as query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlc_core::literal::{graphql_literal, sdata_literal};

/// Reads an SData literal back; `None` if it is not exactly one quoted token.
fn read_sdata(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Inside the token a quote only comes doubled.
            if chars.next()? != '\'' {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

/// Reads a single-quoted JavaScript string literal back; `None` if it is not exactly one token.
fn read_js(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut units: Vec<u16> = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => return None,
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => return None,
            '\\' => match chars.next()? {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                'u' => {
                    let hex: String = (0..4).map(|_| chars.next()).collect::<Option<_>>()?;
                    units.push(u16::from_str_radix(&hex, 16).ok()?);
                    // A surrogate pair is two escapes in a row.
                    if !(0xd800..0xdc00).contains(&units[0]) {
                        out.push_str(&String::from_utf16(&units).ok()?);
                        units.clear();
                    } else if units.len() == 2 {
                        out.push_str(&String::from_utf16(&units).ok()?);
                        units.clear();
                    }
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    units.is_empty().then_some(out)
}

fuzz_target!(|text: &str| {
    let s = sdata_literal(text);
    assert_eq!(read_sdata(&s).as_deref(), Some(text), "sdata {s:?}");
    let g = graphql_literal(text);
    assert_eq!(read_js(&g).as_deref(), Some(text), "graphql {g:?}");
});
