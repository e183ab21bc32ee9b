//! What makes a revision of a WooCommerce resource (an order, a customer) distinct, and which of
//! two is newer. WooCommerce's `date_modified_gmt` has one-second resolution, so a checkout paid
//! in the same second as it was placed is a second revision with the same time: the body tells
//! them apart. Deliveries come late, twice and out of order; an older revision never replaces a
//! newer one.
//!
//! The host runs these natively where it stores a delivery (on the intake's path, like the
//! signature check) and where the REST catch-up stores what the webhooks missed.

/// The inbox key of one delivered revision: a second delivery with the same key is a duplicate.
/// `source` is the webhook id (`-` when the header is missing) or `catch-up`; `digest` is a hash
/// of the body (the first bytes of the verified HMAC, or of its SHA-256), written in hex.
pub fn delivery_key(
    source: &str,
    resource: &str,
    id: u64,
    event: &str,
    modified_gmt: Option<&str>,
    digest: &[u8],
) -> String {
    let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    match modified_gmt {
        Some(m) => format!("{source}/{resource}/{id}/{event}/{m}/{digest}"),
        None => format!("{source}/{resource}/{id}/{event}/{digest}"),
    }
}

/// Whether an incoming revision replaces the stored one. `stored`: the stored revision's
/// `date_modified_gmt` (`None`: nothing stored, or stored without a time); `same_body`: the
/// incoming body is byte for byte the stored one. A later time wins; the same time wins only
/// with another body (the same second's second revision); a revision without a time never
/// replaces one with a time.
pub fn is_newer(stored: Option<&str>, incoming: Option<&str>, same_body: bool) -> bool {
    match (stored, incoming) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(old), Some(new)) => new > old || (new == old && !same_body),
    }
}

/// Whether an order read over REST is the revision already stored. The REST list re-encodes
/// bodies, so the bytes cannot be compared: the time and the status are. A stored revision
/// without a time is never taken for it.
pub fn is_same_listed(
    stored_modified: Option<&str>,
    stored_status: Option<&str>,
    modified: Option<&str>,
    status: &str,
) -> bool {
    stored_modified.is_some() && stored_modified == modified && stored_status == Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_source_resource_event_time_and_body() {
        assert_eq!(
            delivery_key(
                "15",
                "order",
                39,
                "updated",
                Some("2026-11-27T08:59:07"),
                &[0xab, 0x01]
            ),
            "15/order/39/updated/2026-11-27T08:59:07/ab01"
        );
        assert_eq!(
            delivery_key("-", "customer", 7, "updated", None, &[0xff]),
            "-/customer/7/updated/ff"
        );
        // Another body in the same second is another key.
        assert_ne!(
            delivery_key(
                "15",
                "order",
                39,
                "updated",
                Some("2026-11-27T08:59:07"),
                &[1]
            ),
            delivery_key(
                "15",
                "order",
                39,
                "updated",
                Some("2026-11-27T08:59:07"),
                &[2]
            )
        );
    }

    #[test]
    fn a_later_time_or_the_same_second_with_another_body_is_newer() {
        let (t1, t2) = ("2026-11-27T10:00:00", "2026-11-27T10:00:01");
        assert!(is_newer(None, Some(t1), false));
        assert!(is_newer(None, None, true));
        assert!(is_newer(Some(t1), Some(t2), true));
        assert!(!is_newer(Some(t2), Some(t1), false), "older never wins");
        assert!(
            is_newer(Some(t1), Some(t1), false),
            "same second, other body"
        );
        assert!(
            !is_newer(Some(t1), Some(t1), true),
            "the same revision again"
        );
        assert!(
            !is_newer(Some(t1), None, false),
            "no time never replaces a time"
        );
    }

    #[test]
    fn a_listed_order_is_the_stored_revision_by_time_and_status() {
        let t = Some("2026-11-27T10:00:00");
        assert!(is_same_listed(t, Some("processing"), t, "processing"));
        assert!(
            !is_same_listed(t, Some("pending"), t, "processing"),
            "same second, paid"
        );
        assert!(!is_same_listed(
            t,
            Some("processing"),
            Some("2026-11-27T10:00:01"),
            "processing"
        ));
        assert!(!is_same_listed(
            None,
            Some("processing"),
            None,
            "processing"
        ));
    }
}
