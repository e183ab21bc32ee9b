//! Text for the HTML the status page and the jobs' status sections render: times, and the text
//! WooCommerce sends already HTML-encoded. The escaping itself is the templates' (`maud`): no
//! value is escaped by hand.

use std::borrow::Cow;

/// `2026-05-01 12:34:56 UTC`.
pub fn utc(ms: i64) -> String {
    format!("{} UTC", crate::dates::format_utc(ms.div_euclid(1000), ' '))
}

/// Text WooCommerce sends HTML-encoded, as a person reads it: product and line names come from
/// WordPress with entities in them (`Ship Your Idea &ndash; Color: Black`, `Fish &amp; Chips`).
/// Decoded once here, the template escapes the result again on output; without this, the page
/// showed `&ndash;` literally. Text that is not encoded (`A < B`) passes through unchanged.
pub fn woo_text(s: &str) -> Cow<'_, str> {
    html_escape::decode_html_entities(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woocommerce_entities_are_decoded_once() {
        assert_eq!(
            woo_text("Ship Your Idea &ndash; Color: Black"),
            "Ship Your Idea – Color: Black"
        );
        assert_eq!(
            woo_text("Fish &amp; Chips &#8217;n&#x27; more"),
            "Fish & Chips ’n' more"
        );
        // One pass: `&amp;lt;` is the text `&lt;`, not `<`.
        assert_eq!(woo_text("&amp;lt;b&amp;gt;"), "&lt;b&gt;");
        assert_eq!(woo_text("A < B & C"), "A < B & C");
    }
}
