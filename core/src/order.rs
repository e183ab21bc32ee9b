//! The WooCommerce order as the core sees it: REST v3 JSON (`GET /wc/v3/orders/<id>`, which is
//! also the webhook body), parsed tolerantly (unknown fields ignored, modern and 3.0-era shapes
//! alike) and strictly where it matters (ids, quantities, money).
//!
//! Money is [`Decimal`], parsed from WooCommerce's strings. Line `price` is a PHP float that can be
//! `8.333333333333334`, so it is not read at all: the unit price is derived from `total`.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::webhook::{as_rest_error, is_legacy, json_id, parse_json};

/// Why a body is not an order the core can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the body is not JSON: {0}")]
    InvalidJson(String),
    #[error("legacy_v3 order body: set the webhook's API version to WP REST API Integration v3")]
    LegacyPayload,
    #[error("WooCommerce answered with an error instead of an order: {0}")]
    RestError(String),
    #[error("invalid order: {0}")]
    InvalidOrder(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    /// WooCommerce sends `null` for orders created without one.
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Address {
    /// `first last`, trimmed; empty when both are.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_string()
    }

    /// True when no street, city or postcode is set (WooCommerce sends empty strings).
    pub fn is_empty(&self) -> bool {
        self.address_1.trim().is_empty()
            && self.city.trim().is_empty()
            && self.postcode.trim().is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tax {
    pub rate_id: u64,
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub id: u64,
    pub name: String,
    pub product_id: u64,
    /// 0 when the line is not a variation.
    pub variation_id: u64,
    /// `None` when WooCommerce has no SKU (empty string or null).
    pub sku: Option<String>,
    /// Positive in orders; negative in refunds.
    pub quantity: i64,
    /// Excl. tax, before coupons.
    pub subtotal: Decimal,
    /// Excl. tax, after coupons.
    pub total: Decimal,
    pub total_tax: Decimal,
    pub taxes: Vec<Tax>,
    /// Units put back in stock by refunds so far (meta `_restock_refunded_items`, which
    /// `wc_restock_refunded_items()` adds up on the order line); 0 when absent.
    pub restocked: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingLine {
    pub id: u64,
    pub method_id: String,
    pub method_title: String,
    pub total: Decimal,
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    pub id: u64,
    pub name: String,
    pub total: Decimal,
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponLine {
    pub id: u64,
    pub code: String,
    pub discount: Decimal,
    pub discount_tax: Decimal,
}

/// A refund as listed on the order: `{id, reason, total}` with a negative total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRef {
    pub id: u64,
    pub reason: String,
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub number: String,
    /// An open string: core statuses and whatever plugins register (`shipped`, `delivered`, …).
    pub status: String,
    pub currency: String,
    /// Site-local time, `YYYY-MM-DDThh:mm:ss` (no zone).
    pub date_created: String,
    pub date_created_gmt: String,
    pub date_modified_gmt: String,
    pub prices_include_tax: bool,
    /// 0 for a guest.
    pub customer_id: u64,
    pub customer_note: String,
    pub billing: Address,
    pub shipping: Address,
    pub line_items: Vec<LineItem>,
    pub shipping_lines: Vec<ShippingLine>,
    pub fee_lines: Vec<FeeLine>,
    pub coupon_lines: Vec<CouponLine>,
    pub refunds: Vec<RefundRef>,
    pub discount_total: Decimal,
    pub shipping_total: Decimal,
    pub total_tax: Decimal,
    pub total: Decimal,
}

/// A refund in full (`GET /orders/<id>/refunds/<rid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: u64,
    /// Positive.
    pub amount: Decimal,
    pub reason: String,
    /// Site-local `YYYY-MM-DDThh:mm:ss`; empty when absent.
    pub date_created: String,
    /// Negative quantities and totals, as WooCommerce reports them.
    pub line_items: Vec<RefundLine>,
    /// Refunded shipping, when WooCommerce lists it (newer versions, UNCONFIRMED): negative totals.
    pub shipping_lines: Vec<RefundShipping>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundShipping {
    pub id: u64,
    /// The order's shipping line this refunds (meta `_refunded_item_id`), when present.
    pub refunded_item_id: Option<u64>,
    pub method_id: String,
    pub total: Decimal,
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub id: u64,
    /// The order line this refunds (meta `_refunded_item_id`), when present.
    pub refunded_item_id: Option<u64>,
    pub product_id: u64,
    pub variation_id: u64,
    pub sku: Option<String>,
    /// Negative or zero.
    pub quantity: i64,
    pub total: Decimal,
    pub total_tax: Decimal,
}

/// Reads fields of one JSON object, naming the path of anything wrong.
struct Obj<'a> {
    path: String,
    map: &'a serde_json::Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(path: impl Into<String>, v: &'a Value) -> Result<Self> {
        let path = path.into();
        let map = v
            .as_object()
            .ok_or_else(|| Error::InvalidOrder(format!("{path}: not an object")))?;
        Ok(Obj { path, map })
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn id(&self, key: &str) -> Result<u64> {
        let v = self
            .get(key)
            .ok_or_else(|| Error::InvalidOrder(format!("{}: missing", self.at(key))))?;
        json_id(v).ok_or_else(|| Error::InvalidOrder(format!("{}: not an id: {v}", self.at(key))))
    }

    fn id_or_zero(&self, key: &str) -> Result<u64> {
        if self.get(key).is_none() {
            return Ok(0);
        }
        self.id(key)
    }

    fn text(&self, key: &str) -> String {
        match self.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    /// Money: a decimal string (or, tolerated, a JSON number); absent or empty is zero.
    fn money(&self, key: &str) -> Result<Decimal> {
        let bad = |v: &Value| Error::InvalidOrder(format!("{}: not an amount: {v}", self.at(key)));
        match self.get(key) {
            None => Ok(Decimal::ZERO),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(Decimal::ZERO),
            Some(v @ Value::String(s)) => s.trim().parse::<Decimal>().map_err(|_| bad(v)),
            // The number's own text, not an f64, so `0.1` stays exactly 0.1.
            Some(v @ Value::Number(n)) => n.to_string().parse::<Decimal>().map_err(|_| bad(v)),
            Some(v) => Err(bad(v)),
        }
    }

    /// A whole quantity. WooCommerce quantities are integers; a fractional one is refused
    /// rather than rounded.
    fn quantity(&self, key: &str) -> Result<i64> {
        let v = self
            .get(key)
            .ok_or_else(|| Error::InvalidOrder(format!("{}: missing", self.at(key))))?;
        let bad = || Error::InvalidOrder(format!("{}: not a whole number: {v}", self.at(key)));
        match v {
            Value::Number(n) => n.as_i64().ok_or_else(bad),
            Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    fn array(&self, key: &str) -> Result<Vec<Obj<'a>>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Obj::new(format!("{}[{i}]", self.at(key)), v))
                .collect(),
            Some(v) => Err(Error::InvalidOrder(format!(
                "{}: not an array: {v}",
                self.at(key)
            ))),
        }
    }

    fn address(&self, key: &str) -> Result<Address> {
        match self.get(key) {
            None => Ok(Address::default()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::InvalidOrder(format!("{}: {e}", self.at(key)))),
        }
    }
}

fn sku_of(o: &Obj<'_>) -> Option<String> {
    let sku = o.text("sku");
    let sku = sku.trim();
    (!sku.is_empty()).then(|| sku.to_string())
}

fn refunded_item_id(o: &Obj<'_>) -> Result<Option<u64>> {
    Ok(o.array("meta_data")?
        .iter()
        .find(|m| m.text("key") == "_refunded_item_id")
        .and_then(|m| m.get("value").and_then(json_id)))
}

/// A whole quantity kept in a line's meta (`_restock_refunded_items`); 0 when absent.
fn meta_quantity(o: &Obj<'_>, key: &str) -> Result<i64> {
    match o.array("meta_data")?.iter().find(|m| m.text("key") == key) {
        Some(m) => m.quantity("value"),
        None => Ok(0),
    }
}

fn taxes_of(o: &Obj<'_>) -> Result<Vec<Tax>> {
    o.array("taxes")?
        .iter()
        .map(|t| {
            Ok(Tax {
                rate_id: t.id_or_zero("id")?,
                total: t.money("total")?,
            })
        })
        .collect()
}

/// Parses the body into JSON and refuses what is not an order resource at all.
fn order_json(body: &[u8]) -> Result<Value> {
    let value = parse_json(body).map_err(Error::InvalidJson)?;
    if is_legacy(&value) {
        return Err(Error::LegacyPayload);
    }
    if let Some(e) = as_rest_error(&value) {
        let status = e.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        return Err(Error::RestError(format!(
            "{}: {}{status}",
            e.code, e.message
        )));
    }
    Ok(value)
}

impl Order {
    /// Parses an order body. Lines must have positive whole quantities.
    pub fn parse(body: &[u8]) -> Result<Order> {
        let value = order_json(body)?;
        let o = Obj::new("", &value)?;
        let line_items = o
            .array("line_items")?
            .iter()
            .map(|l| {
                let quantity = l.quantity("quantity")?;
                if quantity <= 0 {
                    return Err(Error::InvalidOrder(format!(
                        "{}: must be positive, is {quantity}",
                        l.at("quantity")
                    )));
                }
                Ok(LineItem {
                    id: l.id("id")?,
                    name: l.text("name"),
                    product_id: l.id_or_zero("product_id")?,
                    variation_id: l.id_or_zero("variation_id")?,
                    sku: sku_of(l),
                    quantity,
                    subtotal: l.money("subtotal")?,
                    total: l.money("total")?,
                    total_tax: l.money("total_tax")?,
                    taxes: taxes_of(l)?,
                    restocked: meta_quantity(l, "_restock_refunded_items")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let shipping_lines = o
            .array("shipping_lines")?
            .iter()
            .map(|s| {
                Ok(ShippingLine {
                    id: s.id("id")?,
                    method_id: s.text("method_id"),
                    method_title: s.text("method_title"),
                    total: s.money("total")?,
                    total_tax: s.money("total_tax")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let fee_lines = o
            .array("fee_lines")?
            .iter()
            .map(|f| {
                Ok(FeeLine {
                    id: f.id("id")?,
                    name: f.text("name"),
                    total: f.money("total")?,
                    total_tax: f.money("total_tax")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let coupon_lines = o
            .array("coupon_lines")?
            .iter()
            .map(|c| {
                Ok(CouponLine {
                    id: c.id("id")?,
                    code: c.text("code"),
                    discount: c.money("discount")?,
                    discount_tax: c.money("discount_tax")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let refunds = o
            .array("refunds")?
            .iter()
            .map(|r| {
                // Docs-era bodies name the reason `refund` (samples/SOURCES.md caveat 2).
                let reason = match r.get("reason") {
                    Some(_) => r.text("reason"),
                    None => r.text("refund"),
                };
                Ok(RefundRef {
                    id: r.id("id")?,
                    reason,
                    total: r.money("total")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let id = o.id("id")?;
        if id == 0 {
            return Err(Error::InvalidOrder("id: 0 is not an order id".into()));
        }
        let number = match o.text("number") {
            n if n.is_empty() => id.to_string(),
            n => n,
        };
        Ok(Order {
            id,
            number,
            status: o.text("status"),
            currency: o.text("currency"),
            date_created: o.text("date_created"),
            date_created_gmt: o.text("date_created_gmt"),
            date_modified_gmt: o.text("date_modified_gmt"),
            prices_include_tax: o.get("prices_include_tax").and_then(Value::as_bool) == Some(true),
            customer_id: o.id_or_zero("customer_id")?,
            customer_note: o.text("customer_note"),
            billing: o.address("billing")?,
            shipping: o.address("shipping")?,
            line_items,
            shipping_lines,
            fee_lines,
            coupon_lines,
            refunds,
            discount_total: o.money("discount_total")?,
            shipping_total: o.money("shipping_total")?,
            total_tax: o.money("total_tax")?,
            total: o.money("total")?,
        })
    }
}

impl Refund {
    /// Parses a refund body (`/orders/<id>/refunds/<rid>`).
    pub fn parse(body: &[u8]) -> Result<Refund> {
        let value = order_json(body)?;
        let o = Obj::new("", &value)?;
        let line_items = o
            .array("line_items")?
            .iter()
            .map(|l| {
                let quantity = l.quantity("quantity")?;
                if quantity > 0 {
                    return Err(Error::InvalidOrder(format!(
                        "{}: a refunded quantity is zero or negative, is {quantity}",
                        l.at("quantity")
                    )));
                }
                let refunded_item_id = refunded_item_id(l)?;
                Ok(RefundLine {
                    id: l.id("id")?,
                    refunded_item_id,
                    product_id: l.id_or_zero("product_id")?,
                    variation_id: l.id_or_zero("variation_id")?,
                    sku: sku_of(l),
                    quantity,
                    total: l.money("total")?,
                    total_tax: l.money("total_tax")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let shipping_lines = o
            .array("shipping_lines")?
            .iter()
            .map(|s| {
                Ok(RefundShipping {
                    id: s.id("id")?,
                    refunded_item_id: refunded_item_id(s)?,
                    method_id: s.text("method_id"),
                    total: s.money("total")?,
                    total_tax: s.money("total_tax")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Refund {
            id: o.id("id")?,
            amount: o.money("amount")?,
            reason: o.text("reason"),
            date_created: o.text("date_created"),
            line_items,
            shipping_lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn docs_sample_order_parses_with_exact_money() {
        let o = Order::parse(&testdata::sample("order.wc-v3.json")).unwrap();
        assert_eq!(o.id, 727);
        assert_eq!(o.status, "processing");
        assert_eq!(o.currency, "USD");
        assert_eq!(o.total, d("29.35"));
        assert_eq!(o.billing.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(o.line_items.len(), 2);
        let l = &o.line_items[1];
        assert_eq!((l.product_id, l.variation_id, l.quantity), (22, 23, 1));
        assert_eq!(l.sku.as_deref(), Some("Bar3"));
        assert_eq!(
            l.taxes,
            vec![Tax {
                rate_id: 75,
                total: d("0.9")
            }]
        );
        // The first line's SKU is "": no SKU.
        assert_eq!(o.line_items[0].sku, None);
        assert_eq!(o.shipping_lines[0].method_id, "flat_rate");
        assert_eq!(o.shipping_lines[0].total, d("10.00"));
    }

    #[test]
    fn captured_woocommerce_10_order_parses() {
        let (_, body) = testdata::capture("delivery-order.created");
        let o = Order::parse(&body).unwrap();
        assert_eq!(o.id, 39);
        assert_eq!(o.billing.first_name, "Zoë");
        assert_eq!(o.billing.last_name, "Ørsted 山田");
        assert_eq!(o.billing.email.as_deref(), Some("o'brien+o2@example.com"));
        assert_eq!(o.line_items[1].variation_id, 17);
        assert_eq!(o.line_items[1].total, d("94.00"));
        assert_eq!(o.date_created, "2026-11-27T09:59:06");
    }

    #[test]
    fn docs_list_refunds_with_legacy_reason_key_parse() {
        let list: Value =
            serde_json::from_slice(&testdata::sample("orders-list.wc-v3.json")).unwrap();
        let with_refund = list
            .as_array()
            .unwrap()
            .iter()
            .map(|o| Order::parse(o.to_string().as_bytes()).unwrap())
            .find(|o| !o.refunds.is_empty())
            .expect("the docs list has an order with refunds");
        assert!(with_refund.refunds.iter().all(|r| r.total < Decimal::ZERO));
    }

    #[test]
    fn legacy_and_error_bodies_are_refused_with_their_own_errors() {
        assert_eq!(
            Order::parse(&testdata::sample("order.legacy-v3.json")),
            Err(Error::LegacyPayload)
        );
        assert_eq!(
            Order::parse(br#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}"#),
            Err(Error::RestError(
                "woocommerce_rest_shop_order_invalid_id: Invalid ID. (HTTP 404)".into()
            ))
        );
        assert!(matches!(Order::parse(b"nope"), Err(Error::InvalidJson(_))));
    }

    #[test]
    fn bad_quantities_and_amounts_name_their_field() {
        let base: Value = serde_json::from_slice(&testdata::sample("order.wc-v3.json")).unwrap();
        let cases = [
            (
                "/line_items/0/quantity",
                serde_json::json!(1.5),
                "line_items[0].quantity: not a whole number",
            ),
            (
                "/line_items/0/quantity",
                serde_json::json!(-2),
                "line_items[0].quantity: must be positive",
            ),
            (
                "/line_items/1/quantity",
                serde_json::json!(0),
                "line_items[1].quantity: must be positive",
            ),
            (
                "/line_items/0/total",
                serde_json::json!("12,50"),
                "line_items[0].total: not an amount",
            ),
            (
                "/line_items/0/total",
                serde_json::json!("1e400"),
                "line_items[0].total: not an amount",
            ),
            (
                "/line_items/0/product_id",
                serde_json::json!("abc"),
                "line_items[0].product_id: not an id",
            ),
            (
                "/line_items",
                serde_json::json!({}),
                "line_items: not an array",
            ),
            ("/id", serde_json::json!(0), "id: 0 is not an order id"),
            ("/billing", serde_json::json!({"email": 5}), "billing:"),
        ];
        for (pointer, value, want) in cases {
            let mut v = base.clone();
            *v.pointer_mut(pointer).unwrap() = value;
            match Order::parse(v.to_string().as_bytes()) {
                Err(Error::InvalidOrder(m)) => assert!(m.starts_with(want), "{pointer}: {m}"),
                other => panic!("{pointer}: {other:?}"),
            }
        }
    }

    #[test]
    fn money_as_json_number_is_read_from_its_text_not_a_float() {
        let mut v: Value = serde_json::from_slice(&testdata::sample("order.wc-v3.json")).unwrap();
        v["line_items"][0]["total"] = serde_json::json!(0.1);
        let o = Order::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(o.line_items[0].total, d("0.1"));
    }

    #[test]
    fn unknown_fields_and_nulls_are_tolerated() {
        let mut v: Value = serde_json::from_slice(&testdata::sample("order.wc-v3.json")).unwrap();
        v["cost_of_goods_sold"] = serde_json::json!({"total": 3});
        v["billing"]["email"] = Value::Null;
        v["line_items"][0]["sku"] = Value::Null;
        v["shipping"] = Value::Null;
        let o = Order::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(o.billing.email, None);
        assert_eq!(o.line_items[0].sku, None);
        assert!(o.shipping.is_empty());
    }

    #[test]
    fn refund_lines_carry_the_refunded_item() {
        let body = br#"{"id":900,"amount":"23.50","reason":"damaged","line_items":[
            {"id":901,"product_id":13,"variation_id":0,"sku":"RW-TSHIRT","quantity":-1,"total":"-19.99",
             "meta_data":[{"id":1,"key":"_refunded_item_id","value":"69"}]}]}"#;
        let r = Refund::parse(body).unwrap();
        assert_eq!(r.amount, d("23.50"));
        assert_eq!(r.line_items[0].refunded_item_id, Some(69));
        assert_eq!(r.line_items[0].quantity, -1);
        let sample = Refund::parse(&testdata::sample("refund.wc-v3.json")).unwrap();
        assert_eq!((sample.id, sample.amount), (726, d("10.00")));
        assert!(matches!(
            Refund::parse(br#"{"id":1,"amount":"1","line_items":[{"id":2,"quantity":3}]}"#),
            Err(Error::InvalidOrder(_))
        ));
    }
}
