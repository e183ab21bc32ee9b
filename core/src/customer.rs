//! Customers are matched by e-mail: WooCommerce's `customer_id` is 0 for guests and means nothing
//! to X3, while the billing e-mail is what a merchant's staff would search for.

use sha2::{Digest, Sha256};

/// The match key: trimmed and lower-cased (Unicode). Empty stays empty.
pub fn customer_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// RFC 4648 base 32 (upper case, no padding): only letters and digits, safe in any X3 code.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// SHA-256 of the key, for idempotency keys (hex) and customer codes (base 32).
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The X3 customer code (BPCNUM, 15 characters) for a match key: the prefix, then base 32 of the
/// key's SHA-256 up to 15 characters. The same e-mail always gives the same code, so creating a
/// customer twice fails on X3's primary key instead of making a twin.
pub fn customer_code(prefix: &str, key: &str) -> String {
    let digest = base32(&key_digest(key));
    let room = 15usize.saturating_sub(prefix.chars().count());
    format!("{prefix}{}", &digest[..room.min(digest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_trimmed_and_lower_cased_unicode_too() {
        assert_eq!(
            customer_key("  O'Brien+o2@Example.COM \n"),
            "o'brien+o2@example.com"
        );
        assert_eq!(customer_key("ZOË@ÉCOLE.FR"), "zoë@école.fr");
        assert_eq!(customer_key("   "), "");
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), want);
        }
    }

    #[test]
    fn code_is_stable_fifteen_characters_and_distinct_per_key() {
        let a = customer_code("W", "o'brien+o2@example.com");
        assert_eq!(a.len(), 15);
        assert!(a.starts_with('W'));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(a, customer_code("W", "o'brien+o2@example.com"));
        assert_ne!(a, customer_code("W", "obrien+o2@example.com"));
        assert_eq!(customer_code("", "x").len(), 15);
        assert_eq!(customer_code("WEBSH", "x").len(), 15);
    }
}
