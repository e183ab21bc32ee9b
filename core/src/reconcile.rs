//! Reconciliation of one order: its WooCommerce amounts against the X3 documents that carry its
//! reference. The host reads the documents (REST or GraphQL, field names as configured) and hands
//! over their values; every amount is computed and compared here, in exact decimals.

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use crate::plan::Error;

/// One line of an X3 document: item, quantity, gross price and its discounts (`DISCRGVAL1..3`),
/// as plain decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    pub item: String,
    pub quantity: Decimal,
    pub gross_price: Decimal,
    pub discounts: Vec<Decimal>,
}

/// One X3 document carrying the order's reference: its number, the header totals when the API
/// gives them (REST), and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub number: String,
    pub net_total: Option<Decimal>,
    pub gross_total: Option<Decimal>,
    pub lines: Vec<DocumentLine>,
}

/// What reconciliation finds wrong with an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// To be in X3 (the status map) and no document carries its reference.
    Missing,
    /// More than one document carries its reference.
    Duplicated,
    /// The total excluding tax differs by more than the tolerance.
    Total,
    /// The tax differs (only where X3 gives header totals).
    Tax,
    /// The shipping (lines of the shipping items) differs.
    Shipping,
}

/// The settings of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The order's reference in X3 (`CUSORDREF`), for the detail.
    pub reference: String,
    /// Whether the status map says the order is to be in X3.
    pub to_post: bool,
    /// Items whose lines are shipping.
    pub shipping_items: BTreeSet<String>,
    /// Largest difference that still matches (inclusive), ≥ 0.
    pub tolerance: Decimal,
    /// Currency decimals (at most four): each document line is rounded to them, as X3 rounds it.
    pub decimals: u8,
}

/// The comparison of one order: both sides' amounts (formatted to the currency's decimals), the
/// documents (sorted by number), what is wrong and a sentence per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub woo_total_excl_tax: String,
    pub woo_tax: String,
    pub woo_shipping: String,
    pub documents: Vec<String>,
    pub x3_total_excl_tax: Option<String>,
    pub x3_tax: Option<String>,
    pub x3_shipping: Option<String>,
    pub problems: Vec<Problem>,
    pub detail: String,
}

/// A document's amounts: (net, tax when the header has both totals, shipping).
fn document_amounts(d: &Document, rules: &Rules) -> (Decimal, Option<Decimal>, Decimal) {
    let mut sum = Decimal::ZERO;
    let mut shipping = Decimal::ZERO;
    for l in &d.lines {
        let price = l
            .discounts
            .iter()
            .fold(l.gross_price, |p, discount| p - discount);
        let amount = round(
            l.quantity.checked_mul(price).unwrap_or_default(),
            rules.decimals,
        );
        sum += amount;
        if rules.shipping_items.contains(&l.item) {
            shipping += amount;
        }
    }
    let tax = match (d.net_total, d.gross_total) {
        (Some(n), Some(g)) => Some(g - n),
        _ => None,
    };
    (d.net_total.unwrap_or(sum), tax, shipping)
}

/// An amount of the order body: a decimal string or a JSON number; absent or empty is zero.
fn money(order: &Value, key: &str) -> Result<Decimal, Error> {
    let bad = |v: &Value| Error::InvalidOrder(format!("{key}: not an amount: {v}"));
    match order.get(key) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Decimal::ZERO),
        Some(v @ Value::String(s)) => Decimal::from_str(s.trim()).map_err(|_| bad(v)),
        Some(v @ Value::Number(n)) => Decimal::from_str(&n.to_string()).map_err(|_| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

fn round(v: Decimal, decimals: u8) -> Decimal {
    v.round_dp_with_strategy(
        u32::from(decimals.min(4)),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// A plain decimal with exactly the currency's places; never `-0.00`.
fn fmt(v: Decimal, decimals: u8) -> String {
    let mut r = round(v, decimals);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r.rescale(u32::from(decimals.min(4)));
    r.to_string()
}

/// Compares one WooCommerce order (REST v3 JSON: `total`, `total_tax`, `shipping_total`,
/// `status`) with the documents carrying its reference. The order's total excluding tax is
/// `total - total_tax`; the first document (by number) is the one compared, a second one is
/// `duplicated`.
pub fn compare(order: &[u8], documents: &[Document], rules: &Rules) -> Result<Verdict, Error> {
    let v: Value = serde_json::from_slice(order).map_err(|e| Error::InvalidJson(e.to_string()))?;
    if !v.is_object() {
        return Err(Error::InvalidOrder("the order is not a JSON object".into()));
    }
    if rules.tolerance.is_sign_negative() {
        return Err(Error::InvalidSettings(format!(
            "tolerance: {} is below zero",
            rules.tolerance
        )));
    }
    let total = money(&v, "total")?;
    let tax = money(&v, "total_tax")?;
    let ship = money(&v, "shipping_total")?;
    let net = total - tax;
    let f = |d: Decimal| fmt(d, rules.decimals);
    let mut docs: Vec<&Document> = documents.iter().collect();
    docs.sort_by(|a, b| a.number.cmp(&b.number));
    let mut verdict = Verdict {
        woo_total_excl_tax: f(net),
        woo_tax: f(tax),
        woo_shipping: f(ship),
        documents: docs.iter().map(|d| d.number.clone()).collect(),
        x3_total_excl_tax: None,
        x3_tax: None,
        x3_shipping: None,
        problems: Vec::new(),
        detail: String::new(),
    };
    let mut details = Vec::new();
    let Some(first) = docs.first() else {
        if rules.to_post {
            verdict.problems.push(Problem::Missing);
            details.push(format!("no X3 document with CUSORDREF {}", rules.reference));
        } else {
            let status = v.get("status").and_then(Value::as_str).unwrap_or("");
            details.push(format!("not to be posted in status {status} (status map)"));
        }
        verdict.detail = details.join("; ");
        return Ok(verdict);
    };
    if docs.len() > 1 {
        verdict.problems.push(Problem::Duplicated);
        details.push(format!(
            "{} X3 documents carry {}",
            docs.len(),
            rules.reference
        ));
    }
    let (x3_net, x3_tax, x3_ship) = document_amounts(first, rules);
    verdict.x3_total_excl_tax = Some(f(x3_net));
    verdict.x3_tax = x3_tax.map(f);
    verdict.x3_shipping = Some(f(x3_ship));
    if (x3_net - net).abs() > rules.tolerance {
        verdict.problems.push(Problem::Total);
        details.push(format!(
            "total excl. tax {} in WooCommerce, {} in X3 {}",
            f(net),
            f(x3_net),
            first.number
        ));
    }
    if let Some(t) = x3_tax
        && (t - tax).abs() > rules.tolerance
    {
        verdict.problems.push(Problem::Tax);
        details.push(format!("tax {} in WooCommerce, {} in X3", f(tax), f(t)));
    }
    if (x3_ship - ship).abs() > rules.tolerance {
        verdict.problems.push(Problem::Shipping);
        details.push(format!(
            "shipping {} in WooCommerce, {} in X3",
            f(ship),
            f(x3_ship)
        ));
    }
    verdict.detail = details.join("; ");
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn rules(to_post: bool) -> Rules {
        Rules {
            reference: "WC-7".into(),
            to_post,
            shipping_items: ["SHIP".to_string()].into(),
            tolerance: d("0.01"),
            decimals: 2,
        }
    }

    fn doc(
        number: &str,
        net: Option<&str>,
        gross: Option<&str>,
        lines: &[(&str, &str, &str)],
    ) -> Document {
        Document {
            number: number.into(),
            net_total: net.map(d),
            gross_total: gross.map(d),
            lines: lines
                .iter()
                .map(|(item, q, p)| DocumentLine {
                    item: (*item).into(),
                    quantity: d(q),
                    gross_price: d(p),
                    discounts: Vec::new(),
                })
                .collect(),
        }
    }

    const ORDER: &[u8] =
        br#"{"id":7,"status":"processing","total":"26.00","total_tax":"4.00","shipping_total":"5.00"}"#;

    #[test]
    fn each_problem_is_named_once_and_tolerance_is_inclusive() {
        // Matches: net 22.00 (26 - 4), tax 4.00, shipping 5.00.
        let ok = doc(
            "SOH1",
            Some("22.00"),
            Some("26.00"),
            &[("MUG", "1", "17"), ("SHIP", "1", "5")],
        );
        let v = compare(ORDER, std::slice::from_ref(&ok), &rules(true)).unwrap();
        assert_eq!(v.problems, []);
        assert_eq!(
            (
                v.woo_total_excl_tax.as_str(),
                v.woo_tax.as_str(),
                v.woo_shipping.as_str()
            ),
            ("22.00", "4.00", "5.00")
        );
        assert_eq!(v.x3_tax.as_deref(), Some("4.00"));
        // One cent off is within the tolerance; two are not.
        let cent = doc("SOH1", Some("22.01"), Some("26.01"), &[("SHIP", "1", "5")]);
        assert_eq!(compare(ORDER, &[cent], &rules(true)).unwrap().problems, []);
        let two = doc(
            "SOH1",
            Some("22.02"),
            Some("26.00"),
            &[("SHIP", "1", "4.5")],
        );
        let v = compare(ORDER, &[two], &rules(true)).unwrap();
        assert_eq!(
            v.problems,
            [Problem::Total, Problem::Tax, Problem::Shipping]
        );
        assert_eq!(
            v.detail,
            "total excl. tax 22.00 in WooCommerce, 22.02 in X3 SOH1; tax 4.00 in WooCommerce, \
             3.98 in X3; shipping 5.00 in WooCommerce, 4.50 in X3"
        );
        // Two documents: duplicated, and the first by number is compared.
        let later = doc("SOH2", Some("99"), None, &[]);
        let v = compare(ORDER, &[later, ok], &rules(true)).unwrap();
        assert_eq!(v.problems, [Problem::Duplicated]);
        assert_eq!(v.documents, ["SOH1", "SOH2"]);
        assert!(
            v.detail.starts_with("2 X3 documents carry WC-7"),
            "{}",
            v.detail
        );
        // None: missing when it is to be posted, else only a note.
        let v = compare(ORDER, &[], &rules(true)).unwrap();
        assert_eq!(v.problems, [Problem::Missing]);
        assert_eq!(v.detail, "no X3 document with CUSORDREF WC-7");
        let v = compare(ORDER, &[], &rules(false)).unwrap();
        assert_eq!(v.problems, []);
        assert_eq!(
            v.detail,
            "not to be posted in status processing (status map)"
        );
    }

    #[test]
    fn document_amounts_come_from_lines_or_the_header() {
        // No header totals (GraphQL): the net is the lines' sum, each line rounded to the
        // currency after its discounts, and tax is not compared.
        let mut lines = doc(
            "SIH1",
            None,
            None,
            &[("MUG", "3", "3.335"), ("SHIP", "1", "5")],
        );
        lines.lines[0].discounts = vec![d("0.5"), d("0.001")];
        let (net, tax, ship) = document_amounts(&lines, &rules(true));
        // 3 × (3.335 − 0.501) = 8.502 → 8.50; + 5.
        assert_eq!((net, tax, ship), (d("13.50"), None, d("5")));
        // Header totals win over the lines' sum.
        let header = doc("SOH1", Some("20"), Some("24.2"), &[("MUG", "1", "1")]);
        assert_eq!(
            document_amounts(&header, &rules(true)),
            (d("20"), Some(d("4.2")), d("0"))
        );
    }

    #[test]
    fn amounts_are_exact_and_bad_input_is_an_error() {
        let numbers = br#"{"total":0.3,"total_tax":0.1,"shipping_total":null}"#;
        let v = compare(numbers, &[], &rules(true)).unwrap();
        assert_eq!(
            (
                v.woo_total_excl_tax.as_str(),
                v.woo_tax.as_str(),
                v.woo_shipping.as_str()
            ),
            ("0.20", "0.10", "0.00")
        );
        assert!(matches!(
            compare(b"{", &[], &rules(true)),
            Err(Error::InvalidJson(_))
        ));
        assert!(matches!(
            compare(br#"{"total":"12,5"}"#, &[], &rules(true)),
            Err(Error::InvalidOrder(m)) if m.starts_with("total")
        ));
        assert!(matches!(
            compare(b"[]", &[], &rules(true)),
            Err(Error::InvalidOrder(_))
        ));
        let mut negative = rules(true);
        negative.tolerance = d("-1");
        assert!(
            matches!(compare(ORDER, &[], &negative), Err(Error::InvalidSettings(m)) if m.contains("tolerance"))
        );
        // Never -0.00.
        let v = compare(br#"{"total":"-0.001"}"#, &[], &rules(true)).unwrap();
        assert_eq!(v.woo_total_excl_tax, "0.00");
    }
}
