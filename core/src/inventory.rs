//! What a status change means for X3 stock.
//!
//! WooCommerce has no core `shipped` or `delivered` status, plugins add their own, and webhooks
//! coalesce (a delivery can jump from `pending` straight to `completed`). So statuses map to
//! ordered *stages* — posted < shipped < delivered — and a change produces an intent for every
//! stage passed, each keyed per order so that the same webhook arriving three times is one
//! action in the ledger.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid status map: {0}")]
    InvalidStatusMap(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    None,
    Posted,
    Shipped,
    Delivered,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRule {
    pub status: String,
    pub stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentKind {
    Post,
    Allocate,
    Ship,
    Deliver,
    Cancel,
    Restock,
}

impl IntentKind {
    pub(crate) fn slug(self) -> &'static str {
        match self {
            IntentKind::Post => "post",
            IntentKind::Allocate => "allocate",
            IntentKind::Ship => "ship",
            IntentKind::Deliver => "deliver",
            IntentKind::Cancel => "cancel",
            IntentKind::Restock => "restock",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockIntent {
    pub kind: IntentKind,
    pub idempotency_key: String,
    pub line_id: Option<u64>,
    pub quantity: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transition {
    pub intents: Vec<StockIntent>,
    pub attention: Option<String>,
}

/// The default map (`woocommerce.md` §2.6): processing and on-hold post the order; completed —
/// which the popular shipment-tracking plugin relabels "Shipped" — and plugin `shipped` ship it;
/// `delivered` records delivery; `cancelled` cancels. `partial-shipped` stays posted: a partial
/// shipment is not the whole order leaving the warehouse.
pub fn default_status_map() -> Vec<StatusRule> {
    [
        ("processing", Stage::Posted),
        ("on-hold", Stage::Posted),
        ("partial-shipped", Stage::Posted),
        ("completed", Stage::Shipped),
        ("shipped", Stage::Shipped),
        ("delivered", Stage::Delivered),
        ("cancelled", Stage::Cancelled),
    ]
    .into_iter()
    .map(|(status, stage)| StatusRule {
        status: status.into(),
        stage,
    })
    .collect()
}

/// A map is valid when every status is a non-empty slug listed once.
pub fn validate_status_map(rules: &[StatusRule]) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        let status = r.status.trim();
        if status.is_empty() || status.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::InvalidStatusMap(format!(
                "rule {}: {:?} is not a status slug",
                i + 1,
                r.status
            )));
        }
        if status.starts_with("wc-") {
            return Err(Error::InvalidStatusMap(format!(
                "rule {}: write {:?} without the wc- prefix, as the REST API does",
                i + 1,
                r.status
            )));
        }
        if rules[..i].iter().any(|o| o.status.trim() == status) {
            return Err(Error::InvalidStatusMap(format!(
                "rule {}: {status:?} is mapped twice",
                i + 1
            )));
        }
    }
    Ok(())
}

pub(crate) fn stage_of(rules: &[StatusRule], status: &str) -> Stage {
    let status = status.trim();
    let status = status.strip_prefix("wc-").unwrap_or(status);
    rules
        .iter()
        .find(|r| r.status.trim() == status)
        .map_or(Stage::None, |r| r.stage)
}

/// The intents for a move from `previous` (none: first seen) to `current`.
pub fn transition(
    store_id: &str,
    order_id: u64,
    previous: Option<&str>,
    current: &str,
    rules: &[StatusRule],
    allocate_on_post: bool,
) -> Result<Transition> {
    validate_status_map(rules)?;
    let from = previous.map_or(Stage::None, |p| stage_of(rules, p));
    let to = stage_of(rules, current);
    let intent = |kind: IntentKind| StockIntent {
        kind,
        idempotency_key: format!("{store_id}/order/{order_id}/{}", kind.slug()),
        line_id: None,
        quantity: None,
    };
    let mut t = Transition::default();
    match (from, to) {
        (Stage::Cancelled, to) if to != Stage::Cancelled && to != Stage::None => {
            t.attention = Some(format!(
                "order {order_id} moved from {:?} to {current:?} after being cancelled: \
                 X3 is not changed automatically",
                previous.unwrap_or_default()
            ));
        }
        (Stage::Cancelled, _) => {}
        (_, Stage::Cancelled) => {
            if from >= Stage::Shipped {
                t.attention = Some(format!(
                    "order {order_id} was cancelled after it shipped: record a return in X3"
                ));
            } else if from == Stage::Posted {
                t.intents.push(intent(IntentKind::Cancel));
            }
            // Cancelled before it was ever posted: there is nothing in X3 to cancel.
        }
        (from, to) if to > from => {
            for stage in [Stage::Posted, Stage::Shipped, Stage::Delivered] {
                if stage > from && stage <= to {
                    match stage {
                        Stage::Posted => {
                            t.intents.push(intent(IntentKind::Post));
                            if allocate_on_post {
                                t.intents.push(intent(IntentKind::Allocate));
                            }
                        }
                        Stage::Shipped => t.intents.push(intent(IntentKind::Ship)),
                        _ => t.intents.push(intent(IntentKind::Deliver)),
                    }
                }
            }
        }
        // Backward or sideways: X3 keeps what already happened.
        _ => {}
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &Transition) -> Vec<IntentKind> {
        t.intents.iter().map(|i| i.kind).collect()
    }

    #[test]
    fn stages_between_are_filled_in_and_backward_moves_do_nothing() {
        use IntentKind::*;
        let map = default_status_map();
        let cases: &[(Option<&str>, &str, bool, &[IntentKind])] = &[
            (None, "pending", false, &[]),
            (None, "processing", false, &[Post]),
            (None, "processing", true, &[Post, Allocate]),
            (Some("pending"), "completed", false, &[Post, Ship]),
            (Some("processing"), "completed", false, &[Ship]),
            (Some("processing"), "shipped", false, &[Ship]),
            (Some("completed"), "delivered", false, &[Deliver]),
            (None, "delivered", false, &[Post, Ship, Deliver]),
            (Some("completed"), "processing", false, &[]),
            (Some("processing"), "on-hold", false, &[]),
            (Some("processing"), "partial-shipped", false, &[]),
            (Some("processing"), "cancelled", false, &[Cancel]),
            (Some("pending"), "cancelled", false, &[]),
            (Some("processing"), "refunded", false, &[]),
            (Some("wc-processing"), "wc-completed", false, &[Ship]),
            (Some("processing"), "some-plugin-status", false, &[]),
        ];
        for (prev, cur, alloc, want) in cases {
            let t = transition("s1", 39, *prev, cur, &map, *alloc).unwrap();
            assert_eq!(kinds(&t), *want, "{prev:?} -> {cur}");
            assert_eq!(t.attention, None, "{prev:?} -> {cur}");
        }
    }

    #[test]
    fn keys_are_per_order_and_intent_so_repeats_collapse() {
        let map = default_status_map();
        let a = transition("s1", 39, Some("processing"), "completed", &map, false).unwrap();
        let b = transition("s1", 39, None, "completed", &map, false).unwrap();
        assert_eq!(a.intents[0].idempotency_key, "s1/order/39/ship");
        assert_eq!(b.intents[1].idempotency_key, a.intents[0].idempotency_key);
        let other = transition("s2", 39, Some("processing"), "completed", &map, false).unwrap();
        assert_ne!(
            other.intents[0].idempotency_key,
            a.intents[0].idempotency_key
        );
    }

    #[test]
    fn cancelling_after_shipment_asks_a_person() {
        let map = default_status_map();
        let t = transition("s", 7, Some("completed"), "cancelled", &map, false).unwrap();
        assert!(t.intents.is_empty());
        assert!(t.attention.unwrap().contains("after it shipped"));
        let t = transition("s", 7, Some("cancelled"), "processing", &map, false).unwrap();
        assert!(t.intents.is_empty());
        assert!(t.attention.unwrap().contains("after being cancelled"));
    }

    #[test]
    fn custom_maps_are_validated() {
        let rule = |s: &str, stage| StatusRule {
            status: s.into(),
            stage,
        };
        let shipped_plugin = vec![
            rule("processing", Stage::Posted),
            rule("awaiting-shipment", Stage::Posted),
            rule("sent", Stage::Shipped),
        ];
        let t = transition(
            "s",
            1,
            Some("awaiting-shipment"),
            "sent",
            &shipped_plugin,
            false,
        )
        .unwrap();
        assert_eq!(kinds(&t), vec![IntentKind::Ship]);
        for (bad, want) in [
            (vec![rule("", Stage::Posted)], "not a status slug"),
            (vec![rule("on hold", Stage::Posted)], "not a status slug"),
            (
                vec![rule("wc-processing", Stage::Posted)],
                "without the wc- prefix",
            ),
            (
                vec![rule("a", Stage::Posted), rule("a", Stage::Shipped)],
                "mapped twice",
            ),
        ] {
            match transition("s", 1, None, "a", &bad, false) {
                Err(Error::InvalidStatusMap(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
