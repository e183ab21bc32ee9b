//! Bytes exactly as PHP's `json_encode($value)` with no flags (what `wp_json_encode` calls), so
//! webhook bodies and REST answers can be signed and compared byte for byte with a real WooCommerce
//! (woocommerce.md §1.5, verified against `woocommerce-captures/`).
//!
//! PHP differs from serde_json in three ways that break signatures when a receiver re-serialises:
//! `/` is escaped as `\/`, every non-ASCII character is written as `\uXXXX` (UTF-16 surrogate pairs
//! above U+FFFF, lowercase hex), and floats use `serialize_precision = -1` (shortest round-trip
//! digits, `47` rather than `47.0`, exponent form `1.0e+25` outside PHP's plain range).

use serde_json::Value;

/// Encode like PHP `json_encode($v)`; serde_json's `preserve_order` keeps the key order given.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(&mut out, v);
    out.into_bytes()
}

/// Same as [`encode`], as a `String` (the output is always ASCII).
pub fn encode_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&php_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
        }
    }
    out.push('"');
}

/// PHP's `php_gcvt(d, 17, '.', 'e')` in `serialize_precision = -1` mode: the shortest digits that
/// round-trip, plain notation while the decimal exponent is in -3..=17, else `d.ddde±x`.
pub fn php_float(d: f64) -> String {
    if !d.is_finite() {
        // json_encode fails with "Inf and NaN cannot be JSON encoded" and writes 0 on partial output.
        return "0".to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like zend_dtoa mode 0.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let decpt = exp + 1; // position of the decimal point relative to the digits
    let mut out = String::new();
    if d < 0.0 {
        out.push('-');
    }
    if if decpt < 0 { decpt < -3 } else { decpt > 17 } {
        let mut chars = digits.chars();
        out.push(chars.next().unwrap_or('0'));
        out.push('.');
        let rest: String = chars.collect();
        out.push_str(if rest.is_empty() { "0" } else { &rest });
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.abs().to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let decpt = decpt as usize;
        if digits.len() <= decpt {
            out.push_str(&digits);
            for _ in digits.len()..decpt {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_php_serialize_precision_minus_one() {
        let cases = [
            (47.0, "47"),
            (19.99, "19.99"),
            (8.333333333333334, "8.333333333333334"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-5"),
            (1e25, "1.0e+25"),
            (1.5e17, "1.5e+17"),
            (1e16, "10000000000000000"),
            (1e18, "1.0e+18"),
            (-9.0, "-9"),
            (-2.5, "-2.5"),
            (0.5, "0.5"),
            (123456.789, "123456.789"),
        ];
        for (f, want) in cases {
            assert_eq!(php_float(f), want, "{f}");
        }
    }

    #[test]
    fn strings_escape_slash_and_non_ascii_with_surrogates() {
        let v = json!({"a/b": "Zoë 山 😀 \"q\" \\ \n\u{1}\u{7f}"});
        assert_eq!(
            encode_string(&v),
            r#"{"a\/b":"Zo\u00eb \u5c71 \ud83d\ude00 \"q\" \\ \n\u0001"#.to_string() + "\u{7f}\"}"
        );
    }

    #[test]
    fn empty_containers_and_scalars() {
        let v =
            json!({"l": [], "o": {}, "n": null, "t": true, "i": -3, "u": 18446744073709551615u64});
        assert_eq!(
            encode_string(&v),
            r#"{"l":[],"o":{},"n":null,"t":true,"i":-3,"u":18446744073709551615}"#
        );
    }
}
