//! The shop's data and the business rules that change it: catalogue, customers, checkout (totals,
//! coupon, shipping, tax, stock), status changes, refunds, trash, and the webhook registry with
//! its delivery queue. Everything here is plain data behind one mutex; no I/O.
//!
//! Every change that WooCommerce would announce through a hook calls [`State::emit`], which queues
//! a delivery for each *active* webhook on that topic unless one is already pending for the same
//! (webhook, resource id) — the Action Scheduler uniqueness of woocommerce.md §1.3.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// WooCommerce's registered order statuses (without `wc-`), plus `checkout-draft` and the
/// plugin statuses a real shop may have (woocommerce.md §2.6): statuses are open strings.
pub const ORDER_STATUSES: &[&str] = &[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
    "shipped",
    "partial-shipped",
    "delivered",
    "updated-tracking",
];

/// Money with 2 decimals, rounded half away from zero like PHP `round()`.
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `wc_format_decimal($x, 2)` as the REST API prints money: a string with exactly 2 decimals.
pub fn money(d: Decimal) -> String {
    let r = round2(d);
    let r = if r.is_zero() { Decimal::ZERO } else { r };
    format!("{r:.2}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: u64,
    pub key: String,
    pub value: String,
    pub display_key: String,
    pub display_value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub slug: String,
    /// `simple`, `variable` or `variation`.
    pub kind: String,
    pub parent_id: u64,
    pub sku: String,
    /// None for a variable parent (its price comes from the variations).
    pub price: Option<Decimal>,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub variations: Vec<u64>,
    /// Parent: (attribute name, options); variation: (attribute name, [chosen option]).
    pub attributes: Vec<(String, Vec<String>)>,
    pub total_sales: i64,
    pub date_created: i64,
    pub date_modified: i64,
    /// `publish`, `private`, `draft`, `pending` (and `future` for products).
    #[serde(default = "publish")]
    pub status: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub short_description: String,
    /// Public meta (`meta_data`): (id, key, value).
    #[serde(default)]
    pub meta: Vec<(u64, String, Value)>,
}

fn publish() -> String {
    "publish".into()
}

/// The statuses WooCommerce's products schema allows (`get_post_statuses()` + `future` for
/// products; variations only the first four).
pub const PRODUCT_STATUSES: [&str; 5] = ["draft", "pending", "private", "publish", "future"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Customer {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub username: String,
    pub billing: Map<String, Value>,
    pub shipping: Map<String, Value>,
    pub is_paying_customer: bool,
    pub date_created: i64,
    pub date_modified: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub id: u64,
    pub name: String,
    pub product_id: u64,
    pub variation_id: u64,
    pub quantity: i64,
    pub subtotal: Decimal,
    pub subtotal_tax: Decimal,
    pub total: Decimal,
    pub total_tax: Decimal,
    pub sku: String,
    pub parent_name: Option<String>,
    pub meta: Vec<Meta>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShippingLine {
    pub id: u64,
    pub method_title: String,
    pub method_id: String,
    pub instance_id: String,
    pub total: Decimal,
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CouponLine {
    pub id: u64,
    pub code: String,
    pub discount: Decimal,
    pub discount_tax: Decimal,
    pub discount_type: String,
    pub nominal_amount: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub status: String,
    pub currency: String,
    pub date_created: i64,
    pub date_modified: i64,
    pub date_paid: Option<i64>,
    pub date_completed: Option<i64>,
    pub customer_id: u64,
    pub order_key: String,
    pub billing: Map<String, Value>,
    pub shipping: Map<String, Value>,
    pub payment_method: String,
    pub payment_method_title: String,
    pub transaction_id: String,
    pub customer_ip_address: String,
    pub customer_user_agent: String,
    pub created_via: String,
    pub customer_note: String,
    pub meta: Vec<Meta>,
    pub lines: Vec<Line>,
    pub tax_line_id: Option<u64>,
    pub shipping_line: Option<ShippingLine>,
    pub coupon: Option<CouponLine>,
    /// Refund ids, newest first (as `get_refunds()` returns them).
    pub refunds: Vec<u64>,
    pub discount_total: Decimal,
    pub discount_tax: Decimal,
    pub shipping_total: Decimal,
    pub shipping_tax: Decimal,
    pub cart_tax: Decimal,
    pub total: Decimal,
    pub total_tax: Decimal,
    pub stock_reduced: bool,
    /// Status before trashing (`_wp_trash_meta_status`), restored by untrash.
    pub trashed_from: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundLine {
    pub id: u64,
    pub meta_id: u64,
    pub refunded_item_id: u64,
    pub name: String,
    pub product_id: u64,
    pub variation_id: u64,
    /// Negative, as WooCommerce stores refund items.
    pub quantity: i64,
    pub total: Decimal,
    pub total_tax: Decimal,
    pub sku: String,
    pub parent_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    pub id: u64,
    pub parent_id: u64,
    pub date_created: i64,
    pub amount: Decimal,
    pub reason: String,
    pub refunded_by: u64,
    pub refunded_payment: bool,
    pub lines: Vec<RefundLine>,
}

/// An order note: a WordPress comment of type `order_note` on the order (`add_order_note()`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub id: u64,
    pub order_id: u64,
    /// `comment_date_gmt`.
    pub date_created: i64,
    /// `comment_content`.
    pub note: String,
    /// Comment meta `is_customer_note`.
    pub customer_note: bool,
    /// `comment_author`: "WooCommerce" for the system, else the user's display name.
    pub author: String,
}

/// The `comment_author` of notes WooCommerce adds itself (`add_order_note()` without a user).
pub const SYSTEM_AUTHOR: &str = "WooCommerce";

/// `wc_get_order_status_name()`: the label of a registered status. The plugin statuses' labels
/// are ours (UNCONFIRMED); an unknown slug is shown as it is, as WooCommerce does.
pub fn status_name(status: &str) -> String {
    match status {
        "pending" => "Pending payment",
        "processing" => "Processing",
        "on-hold" => "On hold",
        "completed" => "Completed",
        "cancelled" => "Cancelled",
        "refunded" => "Refunded",
        "failed" => "Failed",
        "checkout-draft" => "Draft",
        "shipped" => "Shipped",
        "partial-shipped" => "Partially Shipped",
        "delivered" => "Delivered",
        "updated-tracking" => "Updated Tracking",
        other => other,
    }
    .to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub api_version: String,
    pub user_id: u64,
    pub failure_count: u32,
    pub pending_delivery: bool,
    pub date_created: i64,
    pub date_modified: i64,
}

/// One scheduled `woocommerce_deliver_webhook_async` action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub seq: u64,
    pub webhook_id: u64,
    pub resource_id: u64,
    pub scheduled_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    /// `percent` or `fixed_cart`.
    pub discount_type: String,
    pub amount: Decimal,
}

/// The whole shop. Serialised as-is to the optional state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub products: BTreeMap<u64, Product>,
    pub customers: BTreeMap<u64, Customer>,
    pub orders: BTreeMap<u64, Order>,
    pub refunds: BTreeMap<u64, Refund>,
    /// Order notes by comment id (absent from state files written before notes existed).
    #[serde(default)]
    pub notes: BTreeMap<u64, Note>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub coupons: Vec<Coupon>,
    pub queue: Vec<Pending>,
    pub deliveries: Vec<Value>,
    /// OAuth nonces seen, keyed by timestamp like WooCommerce's `nonces` column (so a second
    /// nonce with the same timestamp replaces the first, as in `check_oauth_timestamp_and_nonce`).
    pub nonces: BTreeMap<i64, String>,
    /// Posts share one ID sequence in WordPress (products, variations, orders, refunds).
    pub next_post_id: u64,
    pub next_item_id: u64,
    pub next_meta_id: u64,
    pub next_user_id: u64,
    pub next_webhook_id: u64,
    /// Comments have their own ID sequence in WordPress (`wp_comments`).
    #[serde(default = "first_comment_id")]
    pub next_comment_id: u64,
    pub next_seq: u64,
    pub rng: u64,
    pub clock_offset: i64,
}

/// Shop settings that shape computed orders (not persisted: they come from the config).
#[derive(Debug, Clone)]
pub struct Settings {
    pub tax_rate_percent: Decimal,
    pub flat_rate: Decimal,
    pub currency: String,
}

pub const TAX_RATE_ID: u64 = 1;

fn first_comment_id() -> u64 {
    1
}

fn addr(v: &Value, with_email: bool) -> Map<String, Value> {
    let keys: &[&str] = if with_email {
        &[
            "first_name",
            "last_name",
            "company",
            "address_1",
            "address_2",
            "city",
            "state",
            "postcode",
            "country",
            "email",
            "phone",
        ]
    } else {
        &[
            "first_name",
            "last_name",
            "company",
            "address_1",
            "address_2",
            "city",
            "state",
            "postcode",
            "country",
            "phone",
        ]
    };
    let mut m = Map::new();
    for k in keys {
        let val = match v.get(*k) {
            Some(Value::String(s)) => Value::String(s.clone()),
            Some(Value::Number(n)) => Value::String(n.to_string()),
            _ => Value::String(String::new()),
        };
        m.insert((*k).to_string(), val);
    }
    m
}

impl State {
    /// A fresh shop with the default catalogue (documented in docs/simulators.md (woo-sim)).
    pub fn new(now: i64) -> State {
        let mut s = State {
            products: BTreeMap::new(),
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            refunds: BTreeMap::new(),
            notes: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            coupons: vec![
                Coupon {
                    code: "save10".into(),
                    discount_type: "percent".into(),
                    amount: Decimal::new(10, 0),
                },
                Coupon {
                    code: "fiveoff".into(),
                    discount_type: "fixed_cart".into(),
                    amount: Decimal::new(5, 0),
                },
            ],
            queue: Vec::new(),
            deliveries: Vec::new(),
            nonces: BTreeMap::new(),
            next_post_id: 10,
            next_item_id: 1,
            next_meta_id: 100,
            next_user_id: 2,
            next_webhook_id: 1,
            next_comment_id: first_comment_id(),
            next_seq: 1,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (now as u64),
            clock_offset: 0,
        };
        let t = now - 86_400;
        s.add_simple("Woo T-shirt", "WOO-TSHIRT", "19.99", Some(100), t);
        s.add_simple("Woo Cap", "WOO-CAP", "15.00", None, t);
        s.add_simple("Café Mug", "WOO-MUG", "9.50", Some(50), t);
        let hoodie = s.post_id();
        let mut variations = Vec::new();
        for (colour, sku, stock) in [
            ("Red", "WOO-HOODIE-RED", 20),
            ("Blue", "WOO-HOODIE-BLUE", 5),
        ] {
            let id = s.post_id();
            variations.push(id);
            s.products.insert(
                id,
                Product {
                    id,
                    name: format!("Woo Hoodie - {colour}"),
                    slug: format!("woo-hoodie-{}", colour.to_lowercase()),
                    kind: "variation".into(),
                    parent_id: hoodie,
                    sku: sku.into(),
                    price: Some(Decimal::new(4700, 2)),
                    manage_stock: true,
                    stock_quantity: Some(stock),
                    variations: vec![],
                    attributes: vec![("Colour".into(), vec![colour.into()])],
                    total_sales: 0,
                    date_created: t,
                    date_modified: t,
                    status: publish(),
                    description: String::new(),
                    short_description: String::new(),
                    meta: Vec::new(),
                },
            );
        }
        s.products.insert(
            hoodie,
            Product {
                id: hoodie,
                name: "Woo Hoodie".into(),
                slug: "woo-hoodie".into(),
                kind: "variable".into(),
                parent_id: 0,
                sku: "WOO-HOODIE".into(),
                price: None,
                manage_stock: false,
                stock_quantity: None,
                variations,
                attributes: vec![("Colour".into(), vec!["Red".into(), "Blue".into()])],
                total_sales: 0,
                date_created: t,
                date_modified: t,
                status: publish(),
                description: String::new(),
                short_description: String::new(),
                meta: Vec::new(),
            },
        );
        s.add_simple("Gift wrapping", "", "3.00", None, t);
        let cid = s.next_user_id;
        s.next_user_id += 1;
        let billing = json!({"first_name":"Zoë","last_name":"Ørsted","company":"","address_1":"12 Rue de l'Église",
            "address_2":"","city":"Saint-Étienne","state":"","postcode":"42000","country":"FR",
            "email":"zoe@example.com","phone":"+33 4 77 00 00 00"});
        s.customers.insert(
            cid,
            Customer {
                id: cid,
                email: "zoe@example.com".into(),
                first_name: "Zoë".into(),
                last_name: "Ørsted".into(),
                username: "zoe".into(),
                billing: addr(&billing, true),
                shipping: addr(&billing, false),
                is_paying_customer: false,
                date_created: t,
                date_modified: t,
            },
        );
        s
    }

    /// A simple product, as a shop manager adds one in the admin; returns its id.
    pub fn add_simple(
        &mut self,
        name: &str,
        sku: &str,
        price: &str,
        stock: Option<i64>,
        t: i64,
    ) -> u64 {
        let id = self.post_id();
        let slug = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        self.products.insert(
            id,
            Product {
                id,
                name: name.into(),
                slug,
                kind: "simple".into(),
                parent_id: 0,
                sku: sku.into(),
                price: price.parse().ok(),
                manage_stock: stock.is_some(),
                stock_quantity: stock,
                variations: vec![],
                attributes: vec![],
                total_sales: 0,
                date_created: t,
                date_modified: t,
                status: publish(),
                description: String::new(),
                short_description: String::new(),
                meta: Vec::new(),
            },
        );
        id
    }

    pub fn post_id(&mut self) -> u64 {
        let id = self.next_post_id;
        self.next_post_id += 1;
        id
    }

    pub fn item_id(&mut self) -> u64 {
        let id = self.next_item_id;
        self.next_item_id += 1;
        id
    }

    pub fn meta_id(&mut self) -> u64 {
        let id = self.next_meta_id;
        self.next_meta_id += 1;
        id
    }

    pub fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// xorshift64*: reproducible enough for keys and generated secrets, no extra crate.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn random_string(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| alphabet[(self.random() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    /// `wp_generate_password(50, true, true)`: letters, digits, specials and extra specials,
    /// so generated secrets contain `& < > "`-like characters that break naive receivers.
    pub fn generate_secret(&mut self) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_ []{}<>~`+=,.;:/?|";
        self.random_string(50, CHARS)
    }

    /// Queue a delivery for every active webhook on `resource.event`, unless one is already
    /// pending for that webhook and resource (then the event coalesces into it).
    pub fn emit(&mut self, resource: &str, event: &str, id: u64, now: i64) {
        let topic = format!("{resource}.{event}");
        let hooks: Vec<u64> = self
            .webhooks
            .values()
            .filter(|w| w.status == "active" && w.topic == topic)
            .map(|w| w.id)
            .collect();
        for wid in hooks {
            let pending = self
                .queue
                .iter()
                .any(|p| p.webhook_id == wid && p.resource_id == id);
            if !pending {
                let seq = self.seq();
                self.queue.push(Pending {
                    seq,
                    webhook_id: wid,
                    resource_id: id,
                    scheduled_at: now,
                });
            }
        }
    }

    pub fn find_sku(&self, sku: &str) -> Option<&Product> {
        self.products
            .values()
            .find(|p| !p.sku.is_empty() && p.sku == sku && p.kind != "variable")
    }

    /// Create a customer (fires `customer.created`).
    pub fn create_customer(&mut self, id: Option<u64>, v: &Value, now: i64) -> Result<u64, String> {
        let id = match id {
            Some(id) if self.customers.contains_key(&id) => return Ok(id),
            Some(id) => id,
            None => self.next_user_id,
        };
        self.next_user_id = self.next_user_id.max(id + 1);
        let billing_src = v.get("billing").cloned().unwrap_or_else(|| v.clone());
        let str_of = |k: &str| -> String {
            v.get(k)
                .or_else(|| billing_src.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let email = str_of("email");
        let username = v
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                email
                    .split('@')
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("customer{id}"))
            });
        let shipping_src = v
            .get("shipping")
            .cloned()
            .unwrap_or_else(|| billing_src.clone());
        self.customers.insert(
            id,
            Customer {
                id,
                email,
                first_name: str_of("first_name"),
                last_name: str_of("last_name"),
                username,
                billing: addr(&billing_src, true),
                shipping: addr(&shipping_src, false),
                is_paying_customer: false,
                date_created: now,
                date_modified: now,
            },
        );
        self.emit("customer", "created", id, now);
        Ok(id)
    }

    /// `PUT /customers/<id>` (`WC_REST_Customers_V1_Controller::update_item`): `email`,
    /// `first_name`, `last_name` and the schema's `billing`/`shipping` fields, each only when
    /// given; the save moves `date_modified` and fires `customer.updated` (`profile_update` and
    /// `woocommerce_update_customer` in one request: one delivery per webhook). Refusals are
    /// WooCommerce's: `(status, code, message)`.
    pub fn update_customer(
        &mut self,
        id: u64,
        v: &Value,
        now: i64,
    ) -> Result<(), (u16, &'static str, String)> {
        let bad = |code, msg: &str| (400, code, msg.to_string());
        let Some(current) = self.customers.get(&id) else {
            return Err(bad("woocommerce_rest_invalid_id", "Invalid resource ID."));
        };
        let email = v.get("email").and_then(Value::as_str).map(str::trim);
        // `email_exists()` compares without case (MySQL's collation), the controller's `!==`
        // with it: the customer's own address in another case is refused too.
        if let Some(e) = email
            && !e.is_empty()
            && e != current.email
            && self
                .customers
                .values()
                .any(|c| c.email.eq_ignore_ascii_case(e))
        {
            return Err(bad(
                "woocommerce_rest_customer_invalid_email",
                "Email address is invalid.",
            ));
        }
        if let Some(u) = v.get("username").and_then(Value::as_str)
            && !u.is_empty()
            && u != current.username
        {
            return Err(bad(
                "woocommerce_rest_customer_invalid_argument",
                "Username isn't editable.",
            ));
        }
        let Some(c) = self.customers.get_mut(&id) else {
            return Err(bad("woocommerce_rest_invalid_id", "Invalid resource ID."));
        };
        if let Some(e) = email {
            c.email = e.to_string();
        }
        for (k, field) in [
            ("first_name", &mut c.first_name),
            ("last_name", &mut c.last_name),
        ] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                *field = s.trim().to_string();
            }
        }
        // Only the schema's fields, each only when given (`isset`): the rest stays.
        for (block, target) in [("billing", &mut c.billing), ("shipping", &mut c.shipping)] {
            let Some(given) = v.get(block).and_then(Value::as_object) else {
                continue;
            };
            for (k, val) in given {
                if !target.contains_key(k) {
                    continue;
                }
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                target.insert(k.clone(), Value::String(s));
            }
        }
        c.date_modified = now;
        self.emit("customer", "updated", id, now);
        Ok(())
    }

    /// A checkout (`POST /__sim/orders`) or REST create (`POST /orders`): builds lines from the
    /// catalogue, computes coupon, shipping and tax with exact decimals, reduces stock when the
    /// order is paid, and fires `order.created` then `order.updated` like WC's two saves.
    pub fn create_order(
        &mut self,
        v: &Value,
        created_via: &str,
        default_status: &str,
        settings: &Settings,
        now: i64,
    ) -> Result<u64, String> {
        let status = v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or(default_status)
            .trim_start_matches("wc-")
            .to_string();
        if status == "trash" || status.is_empty() {
            return Err(format!("invalid status: {status}"));
        }
        let lines_in = v
            .get("lines")
            .or_else(|| v.get("line_items"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if lines_in.is_empty() {
            return Err("an order needs at least one line (\"lines\")".into());
        }
        let rate = settings.tax_rate_percent / Decimal::new(100, 0);
        let mut lines = Vec::new();
        for l in &lines_in {
            let qty = l.get("quantity").and_then(Value::as_i64).unwrap_or(1);
            if qty <= 0 {
                return Err("quantity must be positive".into());
            }
            let product = if let Some(sku) = l.get("sku").and_then(Value::as_str) {
                self.find_sku(sku)
                    .cloned()
                    .ok_or_else(|| format!("unknown SKU: {sku}"))?
            } else {
                let vid = l.get("variation_id").and_then(Value::as_u64).unwrap_or(0);
                let pid = l.get("product_id").and_then(Value::as_u64).unwrap_or(0);
                let id = if vid > 0 { vid } else { pid };
                let p = self
                    .products
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("unknown product: {id}"))?;
                if p.kind == "variable" {
                    return Err(format!("product {id} is variable: give a variation_id"));
                }
                p
            };
            if product.manage_stock
                && matches!(status.as_str(), "processing" | "completed" | "on-hold")
                && product.stock_quantity.unwrap_or(0) < qty
            {
                return Err(format!(
                    "Not enough units of {} are available in stock to fulfil this order.",
                    product.name
                ));
            }
            let price = match l.get("price").or_else(|| l.get("unit_price")) {
                Some(Value::String(s)) => s.parse().map_err(|_| format!("bad price {s}"))?,
                Some(Value::Number(n)) => {
                    n.to_string().parse().map_err(|_| "bad price".to_string())?
                }
                _ => product.price.unwrap_or_default(),
            };
            let subtotal = price * Decimal::from(qty);
            let (product_id, variation_id, parent_name) = if product.kind == "variation" {
                let parent = self
                    .products
                    .get(&product.parent_id)
                    .map(|p| p.name.clone());
                (product.parent_id, product.id, parent)
            } else {
                (product.id, 0, None)
            };
            let id = self.item_id();
            let mut meta = Vec::new();
            if product.kind == "variation" {
                for (name, opts) in &product.attributes {
                    let mid = self.meta_id();
                    let val = opts.first().cloned().unwrap_or_default();
                    meta.push(Meta {
                        id: mid,
                        key: name.to_lowercase(),
                        value: val.clone(),
                        display_key: name.clone(),
                        display_value: val,
                    });
                }
            }
            lines.push((
                product.manage_stock,
                Line {
                    id,
                    name: product.name.clone(),
                    product_id,
                    variation_id,
                    quantity: qty,
                    subtotal,
                    subtotal_tax: round2(subtotal * rate),
                    total: subtotal,
                    total_tax: Decimal::ZERO,
                    sku: product.sku.clone(),
                    parent_name,
                    meta,
                },
            ));
        }
        // Coupon: percent applies per line; fixed_cart is spread by line subtotal, the rounding
        // remainder going to the last line, so the discounts always add up to the coupon amount.
        let mut coupon = None;
        if let Some(code) = v
            .get("coupon")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
        {
            let c = self
                .coupons
                .iter()
                .find(|c| c.code.eq_ignore_ascii_case(code))
                .cloned()
                .ok_or_else(|| format!("Coupon \"{code}\" does not exist!"))?;
            let sum: Decimal = lines.iter().map(|(_, l)| l.subtotal).sum();
            let n = lines.len();
            let mut left = c.amount.min(sum);
            for (i, (_, l)) in lines.iter_mut().enumerate() {
                let d = if c.discount_type == "percent" {
                    round2(l.subtotal * c.amount / Decimal::new(100, 0))
                } else if i + 1 == n {
                    left
                } else if sum.is_zero() {
                    Decimal::ZERO
                } else {
                    let d = round2(c.amount.min(sum) * l.subtotal / sum);
                    left -= d;
                    d
                };
                l.total = l.subtotal - d.min(l.subtotal);
            }
            coupon = Some(c);
        }
        for (_, l) in lines.iter_mut() {
            l.total_tax = round2(l.total * rate);
        }
        let method = v
            .get("shipping_method")
            .and_then(Value::as_str)
            .unwrap_or("flat_rate");
        let shipping_line = match method {
            "flat_rate" => Some(("Flat rate", "flat_rate", "1", settings.flat_rate)),
            "free_shipping" => Some(("Free shipping", "free_shipping", "2", Decimal::ZERO)),
            "local_pickup" => Some(("Local pickup", "local_pickup", "3", Decimal::ZERO)),
            "none" | "" => None,
            other => return Err(format!("unknown shipping_method: {other}")),
        };
        let shipping_line = shipping_line.map(|(title, mid, inst, cost)| ShippingLine {
            id: 0,
            method_title: title.into(),
            method_id: mid.into(),
            instance_id: inst.into(),
            total: cost,
            total_tax: round2(cost * rate),
        });
        let items_total: Decimal = lines.iter().map(|(_, l)| l.total).sum();
        let cart_tax: Decimal = lines.iter().map(|(_, l)| l.total_tax).sum();
        let discount_total: Decimal = lines.iter().map(|(_, l)| l.subtotal - l.total).sum();
        let discount_tax: Decimal = lines
            .iter()
            .map(|(_, l)| l.subtotal_tax - l.total_tax)
            .sum();
        let shipping_total = shipping_line.as_ref().map(|s| s.total).unwrap_or_default();
        let shipping_tax = shipping_line
            .as_ref()
            .map(|s| s.total_tax)
            .unwrap_or_default();
        let total_tax = cart_tax + shipping_tax;
        let total = items_total + shipping_total + total_tax;

        // Customer: registered when customer_id > 0 (created on first use, like "create an
        // account" at checkout), guest when 0.
        let billing_in = v.get("billing").cloned().unwrap_or_else(|| json!({}));
        let shipping_in = v
            .get("shipping")
            .cloned()
            .unwrap_or_else(|| billing_in.clone());
        let customer_id = v.get("customer_id").and_then(Value::as_u64).unwrap_or(0);
        if customer_id > 0 && !self.customers.contains_key(&customer_id) {
            self.create_customer(
                Some(customer_id),
                &json!({"billing": billing_in, "shipping": shipping_in}),
                now,
            )?;
        }

        let id = self.post_id();
        let lines: Vec<Line> = lines.into_iter().map(|(_, l)| l).collect();
        let coupon_line = match coupon {
            Some(c) => Some(CouponLine {
                id: 0,
                code: c.code.clone(),
                discount: discount_total,
                discount_tax,
                discount_type: c.discount_type.clone(),
                nominal_amount: c.amount,
            }),
            None => None,
        };
        let tax_line_id = if settings.tax_rate_percent.is_zero() {
            None
        } else {
            Some(self.item_id())
        };
        let mut shipping_line = shipping_line;
        if let Some(s) = shipping_line.as_mut() {
            s.id = self.item_id();
        }
        let mut coupon_line = coupon_line;
        if let Some(c) = coupon_line.as_mut() {
            c.id = self.item_id();
        }
        let key = format!(
            "wc_order_{}",
            self.random_string(
                13,
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            )
        );
        let s = |k: &str, d: &str| -> String {
            v.get(k).and_then(Value::as_str).unwrap_or(d).to_string()
        };
        let payment_method = s("payment_method", "bacs");
        let payment_method_title = s(
            "payment_method_title",
            match payment_method.as_str() {
                "bacs" => "Direct bank transfer",
                "cheque" => "Check payments",
                "cod" => "Cash on delivery",
                _ => "Credit card",
            },
        );
        let order = Order {
            id,
            status: "pending".into(),
            currency: settings.currency.clone(),
            date_created: now,
            date_modified: now,
            date_paid: None,
            date_completed: None,
            customer_id,
            order_key: key,
            billing: addr(&billing_in, true),
            shipping: addr(&shipping_in, false),
            payment_method,
            payment_method_title,
            transaction_id: s("transaction_id", ""),
            customer_ip_address: s("customer_ip_address", "127.0.0.1"),
            customer_user_agent: s("customer_user_agent", "woo-sim checkout"),
            created_via: created_via.into(),
            customer_note: s("customer_note", ""),
            meta: Vec::new(),
            lines,
            tax_line_id,
            shipping_line,
            coupon: coupon_line,
            refunds: Vec::new(),
            discount_total,
            discount_tax,
            shipping_total,
            shipping_tax,
            cart_tax,
            total,
            total_tax,
            stock_reduced: false,
            trashed_from: None,
        };
        self.orders.insert(id, order);
        if let Some(meta) = v.get("meta_data").and_then(Value::as_array) {
            self.set_meta(id, meta);
        }
        // WooCommerce saves the new order (woocommerce_new_order → order.created), then sets the
        // status / payment and saves again (woocommerce_update_order → order.updated).
        self.emit("order", "created", id, now);
        if status != "pending" {
            self.set_status(id, &status, now)?;
        } else {
            self.emit("order", "updated", id, now);
        }
        Ok(id)
    }

    fn set_meta(&mut self, id: u64, meta: &[Value]) {
        let mut new = Vec::new();
        for m in meta {
            let key = m
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if key.is_empty() {
                continue;
            }
            let value = match m.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            new.push((key, value));
        }
        for (key, value) in new {
            let mid = self.meta_id();
            if let Some(o) = self.orders.get_mut(&id) {
                if let Some(existing) = o.meta.iter_mut().find(|m| m.key == key) {
                    existing.value = value.clone();
                    existing.display_value = value;
                } else {
                    o.meta.push(Meta {
                        id: mid,
                        key: key.clone(),
                        value: value.clone(),
                        display_key: key,
                        display_value: value,
                    });
                }
            }
        }
    }

    /// `$order->update_status()` + save: dates, stock and the `order.updated` event.
    pub fn set_status(&mut self, id: u64, status: &str, now: i64) -> Result<(), String> {
        let status = status.trim_start_matches("wc-").to_string();
        if status.is_empty() || status == "trash" {
            return Err(format!("invalid status: {status:?}"));
        }
        let order = self.orders.get(&id).cloned().ok_or("Invalid ID.")?;
        if order.status == "trash" {
            return Err("the order is in the trash; untrash it first".into());
        }
        let paid = matches!(status.as_str(), "processing" | "completed");
        let reduce = matches!(status.as_str(), "processing" | "completed" | "on-hold");
        if reduce && !order.stock_reduced {
            for l in &order.lines {
                let pid = if l.variation_id > 0 {
                    l.variation_id
                } else {
                    l.product_id
                };
                if let Some(p) = self.products.get(&pid)
                    && p.manage_stock
                    && p.stock_quantity.unwrap_or(0) < l.quantity
                {
                    return Err(format!(
                        "Not enough units of {} are available in stock to fulfil this order.",
                        p.name
                    ));
                }
            }
        }
        let mut reduced_meta = Vec::new();
        if reduce && !order.stock_reduced {
            for l in &order.lines {
                let pid = if l.variation_id > 0 {
                    l.variation_id
                } else {
                    l.product_id
                };
                if let Some(p) = self.products.get_mut(&pid) {
                    p.total_sales += l.quantity;
                    if p.manage_stock {
                        p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) - l.quantity);
                        p.date_modified = now;
                        reduced_meta.push(l.id);
                    }
                }
            }
        }
        let restore = status == "cancelled" && order.stock_reduced;
        if restore {
            for l in &order.lines {
                let pid = if l.variation_id > 0 {
                    l.variation_id
                } else {
                    l.product_id
                };
                if let Some(p) = self.products.get_mut(&pid)
                    && p.manage_stock
                {
                    p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + l.quantity);
                    p.date_modified = now;
                }
            }
        }
        let mut meta_ids = Vec::new();
        for _ in &reduced_meta {
            meta_ids.push(self.meta_id());
        }
        let o = self.orders.get_mut(&id).ok_or("Invalid ID.")?;
        for (item, mid) in reduced_meta.iter().zip(meta_ids) {
            if let Some(l) = o.lines.iter_mut().find(|l| l.id == *item) {
                let q = l.quantity.to_string();
                l.meta.push(Meta {
                    id: mid,
                    key: "_reduced_stock".into(),
                    value: q.clone(),
                    display_key: "_reduced_stock".into(),
                    display_value: q,
                });
            }
        }
        if reduce {
            o.stock_reduced = true;
        }
        if restore {
            o.stock_reduced = false;
            for l in o.lines.iter_mut() {
                l.meta.retain(|m| m.key != "_reduced_stock");
            }
        }
        if paid && o.date_paid.is_none() {
            o.date_paid = Some(now);
        }
        if status == "completed" {
            o.date_completed = Some(now);
        }
        let from = std::mem::replace(&mut o.status, status.clone());
        o.date_modified = now;
        let cid = o.customer_id;
        if paid && let Some(c) = self.customers.get_mut(&cid) {
            c.is_paying_customer = true;
        }
        self.status_note(id, &from, &status, now);
        self.emit("order", "updated", id, now);
        Ok(())
    }

    /// `status_transition()`: a real change of status leaves a system note (no hook of its own).
    fn status_note(&mut self, id: u64, from: &str, to: &str, now: i64) {
        if from != to && !from.is_empty() {
            let text = format!(
                "Order status changed from {} to {}.",
                status_name(from),
                status_name(to)
            );
            let _ = self.add_note(id, &text, false, SYSTEM_AUTHOR, now);
        }
    }

    /// `$order->add_order_note()`: a comment on the order. It saves nothing on the order itself,
    /// so no `woocommerce_update_order` and no `order.updated` (a customer note fires
    /// `woocommerce_new_customer_note`, which only sends the customer an e-mail).
    pub fn add_note(
        &mut self,
        order_id: u64,
        note: &str,
        customer_note: bool,
        author: &str,
        now: i64,
    ) -> Result<u64, String> {
        if !self.orders.contains_key(&order_id) {
            return Err("Invalid order ID.".into());
        }
        let id = self.next_comment_id;
        self.next_comment_id += 1;
        self.notes.insert(
            id,
            Note {
                id,
                order_id,
                date_created: now,
                note: note.to_string(),
                customer_note,
                author: author.to_string(),
            },
        );
        Ok(id)
    }

    /// An order's notes, newest first (`get_comments()` orders by `comment_date_gmt` DESC, then
    /// by id in the same direction).
    pub fn notes_of(&self, order_id: u64) -> Vec<&Note> {
        let mut v: Vec<&Note> = self
            .notes
            .values()
            .filter(|n| n.order_id == order_id)
            .collect();
        v.sort_by_key(|n| std::cmp::Reverse((n.date_created, n.id)));
        v
    }

    /// REST `PUT /orders/<id>`: the fields a connector might change, then one save.
    pub fn update_order(&mut self, id: u64, v: &Value, now: i64) -> Result<(), String> {
        if !self.orders.contains_key(&id) {
            return Err("Invalid ID.".into());
        }
        {
            let o = self.orders.get_mut(&id).ok_or("Invalid ID.")?;
            for (k, field) in [("customer_note", 0), ("transaction_id", 1)] {
                if let Some(s) = v.get(k).and_then(Value::as_str) {
                    match field {
                        0 => o.customer_note = s.to_string(),
                        _ => o.transaction_id = s.to_string(),
                    }
                }
            }
            for (k, with_email) in [("billing", true), ("shipping", false)] {
                if let Some(Value::Object(m)) = v.get(k) {
                    let target = if with_email {
                        &mut o.billing
                    } else {
                        &mut o.shipping
                    };
                    for (mk, mv) in m {
                        if target.contains_key(mk) {
                            target.insert(mk.clone(), mv.clone());
                        }
                    }
                }
            }
            o.date_modified = now;
        }
        if let Some(meta) = v.get("meta_data").and_then(Value::as_array) {
            self.set_meta(id, meta);
        }
        let set_paid = v.get("set_paid").and_then(Value::as_bool).unwrap_or(false);
        match v.get("status").and_then(Value::as_str) {
            Some(s) => self.set_status(id, s, now),
            None if set_paid => self.set_status(id, "processing", now),
            None => {
                self.emit("order", "updated", id, now);
                Ok(())
            }
        }
    }

    /// Move to the trash (fires `order.deleted` with `{"id":N}`).
    pub fn trash(&mut self, id: u64, now: i64) -> Result<(), String> {
        let o = self.orders.get_mut(&id).ok_or("Invalid ID.")?;
        if o.status == "trash" {
            return Err("already trashed".into());
        }
        o.trashed_from = Some(o.status.clone());
        o.status = "trash".into();
        o.date_modified = now;
        self.emit("order", "deleted", id, now);
        Ok(())
    }

    /// Restore from the trash to the previous status (fires `order.restored`).
    pub fn untrash(&mut self, id: u64, now: i64) -> Result<(), String> {
        let o = self.orders.get_mut(&id).ok_or("Invalid ID.")?;
        if o.status != "trash" {
            return Err("the order is not in the trash".into());
        }
        o.status = o.trashed_from.take().unwrap_or_else(|| "pending".into());
        o.date_modified = now;
        self.emit("order", "restored", id, now);
        Ok(())
    }

    /// Permanent deletion: no hook WooCommerce maps to a topic fires (woocommerce.md §1.2).
    pub fn delete_permanently(&mut self, id: u64) -> Result<(), String> {
        let o = self.orders.remove(&id).ok_or("Invalid ID.")?;
        for r in o.refunds {
            self.refunds.remove(&r);
        }
        self.notes.retain(|_, n| n.order_id != id);
        Ok(())
    }

    /// `wc_create_refund()`: amount (or the sum of line refunds), optional restock, a full refund
    /// moves the order to `refunded`; fires `order.updated` for the parent order.
    pub fn refund(
        &mut self,
        id: u64,
        v: &Value,
        settings: &Settings,
        refunded_payment: bool,
        now: i64,
    ) -> Result<u64, (u16, String, String)> {
        let err500 = |m: &str| {
            (
                500,
                "woocommerce_rest_cannot_create_order_refund".to_string(),
                m.to_string(),
            )
        };
        let order = self.orders.get(&id).cloned().ok_or((
            404,
            "woocommerce_rest_shop_order_invalid_id".to_string(),
            "Invalid ID.".to_string(),
        ))?;
        let dec = |x: Option<&Value>| -> Result<Option<Decimal>, (u16, String, String)> {
            match x {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                    (
                        400,
                        "rest_invalid_param".to_string(),
                        format!("invalid amount {s}"),
                    )
                }),
                Some(Value::Number(n)) => n.to_string().parse().map(Some).map_err(|_| {
                    (
                        400,
                        "rest_invalid_param".to_string(),
                        "invalid amount".to_string(),
                    )
                }),
                Some(_) => Err((
                    400,
                    "rest_invalid_param".to_string(),
                    "invalid amount".to_string(),
                )),
            }
        };
        let rate = settings.tax_rate_percent / Decimal::new(100, 0);
        let mut rlines = Vec::new();
        let mut lines_sum = Decimal::ZERO;
        for li in v
            .get("line_items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let item = li
                .get("id")
                .and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()));
            let Some(line) = item
                .and_then(|i| order.lines.iter().find(|l| l.id == i))
                .cloned()
            else {
                continue;
            };
            let qty = li
                .get("quantity")
                .and_then(|x| x.as_i64().or_else(|| x.as_str()?.parse().ok()))
                .unwrap_or(0);
            let total = dec(li.get("refund_total"))?.unwrap_or_else(|| {
                if line.quantity > 0 {
                    round2(line.total * Decimal::from(qty) / Decimal::from(line.quantity))
                } else {
                    Decimal::ZERO
                }
            });
            let tax = match li.get("refund_tax").and_then(Value::as_array) {
                Some(arr) => {
                    let mut t = Decimal::ZERO;
                    for x in arr {
                        t += dec(x.get("refund_total"))?.unwrap_or_default();
                    }
                    t
                }
                None => round2(total * rate),
            };
            if qty == 0 && total.is_zero() && tax.is_zero() {
                continue;
            }
            lines_sum += total + tax;
            rlines.push((line, qty, total, tax));
        }
        let amount = match dec(v.get("amount"))? {
            Some(a) => a,
            None => lines_sum,
        };
        if amount < Decimal::ZERO {
            return Err((
                400,
                "woocommerce_rest_invalid_order_refund".into(),
                "Refund amount must be greater than zero.".into(),
            ));
        }
        let already: Decimal = order
            .refunds
            .iter()
            .filter_map(|r| self.refunds.get(r))
            .map(|r| r.amount)
            .sum();
        let remaining = order.total - already;
        if amount > remaining || amount.is_zero() && rlines.is_empty() {
            return Err(err500("Invalid refund amount."));
        }
        let rid = self.post_id();
        let mut lines = Vec::new();
        for (line, qty, total, tax) in &rlines {
            let lid = self.item_id();
            let mid = self.meta_id();
            lines.push(RefundLine {
                id: lid,
                meta_id: mid,
                refunded_item_id: line.id,
                name: line.name.clone(),
                product_id: line.product_id,
                variation_id: line.variation_id,
                quantity: -qty,
                total: -*total,
                total_tax: -*tax,
                sku: line.sku.clone(),
                parent_name: line.parent_name.clone(),
            });
        }
        let restock = v
            .get("restock")
            .or_else(|| v.get("api_restock"))
            .or_else(|| v.get("restock_items"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if restock {
            let mut restocked = Vec::new();
            for (line, qty, _, _) in &rlines {
                let pid = if line.variation_id > 0 {
                    line.variation_id
                } else {
                    line.product_id
                };
                if let Some(p) = self.products.get_mut(&pid)
                    && p.manage_stock
                    && *qty > 0
                {
                    p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + qty);
                    p.date_modified = now;
                    restocked.push((line.id, *qty));
                }
            }
            // wc_restock_refunded_items(): the order line keeps the running total in
            // `_restock_refunded_items` (shown in the REST line's meta_data like `_reduced_stock`).
            for (item, qty) in restocked {
                let mid = self.meta_id();
                if let Some(l) = self
                    .orders
                    .get_mut(&id)
                    .and_then(|o| o.lines.iter_mut().find(|l| l.id == item))
                {
                    let key = "_restock_refunded_items";
                    let before = l
                        .meta
                        .iter()
                        .find(|m| m.key == key)
                        .and_then(|m| m.value.parse::<i64>().ok())
                        .unwrap_or(0);
                    let v = (before + qty).to_string();
                    match l.meta.iter_mut().find(|m| m.key == key) {
                        Some(m) => {
                            m.value.clone_from(&v);
                            m.display_value = v;
                        }
                        None => l.meta.push(Meta {
                            id: mid,
                            key: key.into(),
                            value: v.clone(),
                            display_key: key.into(),
                            display_value: v,
                        }),
                    }
                }
            }
        }
        self.refunds.insert(
            rid,
            Refund {
                id: rid,
                parent_id: id,
                date_created: now,
                amount,
                reason: v
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                refunded_by: 1,
                refunded_payment,
                lines,
            },
        );
        let fully = remaining - amount <= Decimal::ZERO;
        if let Some(o) = self.orders.get_mut(&id) {
            o.refunds.insert(0, rid);
            o.date_modified = now;
        }
        if fully && order.status != "refunded" {
            // wc_order_fully_refunded() → update_status('refunded'); stock was handled above.
            if let Some(o) = self.orders.get_mut(&id) {
                o.status = "refunded".into();
            }
            self.status_note(id, &order.status, "refunded", now);
        }
        self.emit("order", "updated", id, now);
        Ok(rid)
    }

    /// `PUT /products/<id>` (or a variation): the fields a connector pushes; fires `product.updated`.
    pub fn update_product(&mut self, id: u64, v: &Value, now: i64) -> Result<(), String> {
        self.set_product_fields(id, v)?;
        let p = self.products.get_mut(&id).ok_or("Invalid ID.")?;
        p.date_modified = now;
        self.emit("product", "updated", id, now);
        Ok(())
    }

    /// The writable fields of a product or variation from a request body (no webhook).
    pub fn set_product_fields(&mut self, id: u64, v: &Value) -> Result<(), String> {
        let p = self.products.get_mut(&id).ok_or("Invalid ID.")?;
        if let Some(b) = v.get("manage_stock").and_then(Value::as_bool) {
            p.manage_stock = b;
        }
        match v.get("stock_quantity") {
            Some(Value::Number(n)) => {
                let q = n
                    .as_i64()
                    .or_else(|| n.as_f64().map(|f| f as i64))
                    .ok_or("stock_quantity must be an integer")?;
                p.stock_quantity = Some(q);
            }
            Some(Value::String(s)) => {
                p.stock_quantity = Some(
                    s.trim()
                        .parse()
                        .map_err(|_| "stock_quantity must be an integer")?,
                );
            }
            Some(Value::Null) => p.stock_quantity = None,
            _ => {}
        }
        for k in ["regular_price", "price"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                p.price = if s.is_empty() {
                    None
                } else {
                    Some(s.parse().map_err(|_| "bad price")?)
                };
            }
        }
        if let Some(s) = v.get("sku").and_then(Value::as_str) {
            p.sku = s.to_string();
        }
        if let Some(s) = v.get("name").and_then(Value::as_str) {
            p.name = s.to_string();
        }
        if let Some(s) = v.get("description").and_then(Value::as_str) {
            p.description = s.to_string();
        }
        if let Some(s) = v.get("short_description").and_then(Value::as_str) {
            p.short_description = s.to_string();
        }
        if let Some(s) = v.get("status").and_then(Value::as_str) {
            p.status = s.to_string();
        }
        for m in v
            .get("meta_data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(key) = m.get("key").and_then(Value::as_str) else {
                continue;
            };
            let value = m.get("value").cloned().unwrap_or(Value::Null);
            match p.meta.iter_mut().find(|(_, k, _)| k == key) {
                Some(e) => e.2 = value,
                None => {
                    let mid = self.next_meta_id;
                    self.next_meta_id += 1;
                    p.meta.push((mid, key.to_string(), value));
                }
            }
        }
        Ok(())
    }

    /// Checks a product update's `status` against the schema's enum before anything changes,
    /// as WordPress's REST argument validation does (`rest_invalid_param`).
    pub fn check_product_status(&self, id: u64, v: &Value) -> Result<(), String> {
        let Some(s) = v.get("status") else {
            return Ok(());
        };
        let variation = self
            .products
            .get(&id)
            .is_some_and(|p| p.kind == "variation");
        let allowed: &[&str] = if variation {
            &PRODUCT_STATUSES[..4]
        } else {
            &PRODUCT_STATUSES
        };
        match s.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            _ => Err(format!("status is not one of {}.", allowed.join(", "))),
        }
    }
}
