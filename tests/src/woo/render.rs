//! REST bodies, key for key and in WooCommerce 10's order: orders follow the captured
//! `delivery-order.created.body` (a real `GET /orders/<id>`), the rest follow
//! `woocommerce-samples/` plus the modern fields listed in its SOURCES.md.

use super::model::{Customer, Note, Order, Product, Refund, State, TAX_RATE_ID, Webhook, money};
use super::time;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

/// What every renderer needs: the site URL (`home_url('/')`, trailing slash) and the site's
/// UTC offset for the non-`_gmt` dates.
pub struct Site<'a> {
    pub home: &'a str,
    pub utc_offset: i64,
    pub tax_rate_percent: Decimal,
    pub currency_symbol: &'a str,
}

impl Site<'_> {
    pub fn rest(&self, route: &str) -> String {
        format!("{}wp-json/wc/v3/{route}", self.home)
    }
    fn local(&self, t: i64) -> Value {
        Value::String(time::format(t, self.utc_offset))
    }
    fn local_opt(&self, t: Option<i64>) -> Value {
        t.map(|t| self.local(t)).unwrap_or(Value::Null)
    }
    fn gmt_opt(t: Option<i64>) -> Value {
        t.map(|t| Value::String(time::format(t, 0)))
            .unwrap_or(Value::Null)
    }
}

/// The WordPress REST error envelope `{code, message, data:{status}}` (woocommerce.md §2.2).
pub fn error(code: &str, message: &str, status: u16) -> Value {
    json!({"code": code, "message": message, "data": {"status": status}})
}

/// WP ≥ 6.7 adds `targetHints.allow` to `self` links (seen in the WooCommerce 10 capture).
fn self_link(href: String, allow: &[&str]) -> Value {
    json!([{"href": href, "targetHints": {"allow": allow}}])
}

const ALL_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// PHP `$total / $qty` on the stored strings: an int when both are integers and it divides
/// exactly (`47`), a float otherwise (`19.99`, `8.333333333333334`).
fn php_price(total: Decimal, qty: i64) -> Value {
    if qty == 0 {
        return json!(0);
    }
    let t = total.normalize();
    if t.fract().is_zero()
        && let Some(ti) = t.to_i64()
        && ti % qty == 0
    {
        return json!(ti / qty);
    }
    let f = t.to_f64().unwrap_or(0.0) / qty as f64;
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(json!(0))
}

fn decimal_number(d: Decimal) -> Value {
    let n = d.normalize();
    if n.fract().is_zero()
        && let Some(i) = n.to_i64()
    {
        return json!(i);
    }
    serde_json::Number::from_f64(n.to_f64().unwrap_or(0.0))
        .map(Value::Number)
        .unwrap_or(json!(0))
}

fn taxes(site: &Site, total: Decimal, subtotal: Option<Decimal>) -> Value {
    if site.tax_rate_percent.is_zero() {
        return json!([]);
    }
    json!([{
        "id": TAX_RATE_ID,
        "total": money(total),
        "subtotal": subtotal.map(money).unwrap_or_default(),
    }])
}

fn meta_list(meta: &[super::model::Meta], display: bool) -> Value {
    Value::Array(
        meta.iter()
            .map(|m| {
                if display {
                    json!({"id": m.id, "key": m.key, "value": m.value,
                           "display_key": m.display_key, "display_value": m.display_value})
                } else {
                    json!({"id": m.id, "key": m.key, "value": m.value})
                }
            })
            .collect(),
    )
}

/// `is_editable`: `wc_is_order_status` editable list (pending, on-hold, auto-draft) plus drafts.
fn is_editable(status: &str) -> bool {
    matches!(
        status,
        "pending" | "on-hold" | "auto-draft" | "checkout-draft"
    )
}

pub fn order(site: &Site, st: &State, o: &Order) -> Value {
    let mut m = Map::new();
    let id = o.id;
    m.insert("id".into(), json!(id));
    m.insert("parent_id".into(), json!(0));
    m.insert("status".into(), json!(o.status));
    m.insert("currency".into(), json!(o.currency));
    m.insert("version".into(), json!(super::WC_VERSION));
    m.insert("prices_include_tax".into(), json!(false));
    m.insert("date_created".into(), site.local(o.date_created));
    m.insert("date_modified".into(), site.local(o.date_modified));
    m.insert("discount_total".into(), json!(money(o.discount_total)));
    m.insert("discount_tax".into(), json!(money(o.discount_tax)));
    m.insert("shipping_total".into(), json!(money(o.shipping_total)));
    m.insert("shipping_tax".into(), json!(money(o.shipping_tax)));
    m.insert("cart_tax".into(), json!(money(o.cart_tax)));
    m.insert("total".into(), json!(money(o.total)));
    m.insert("total_tax".into(), json!(money(o.total_tax)));
    m.insert("customer_id".into(), json!(o.customer_id));
    m.insert("order_key".into(), json!(o.order_key));
    m.insert("billing".into(), Value::Object(o.billing.clone()));
    m.insert("shipping".into(), Value::Object(o.shipping.clone()));
    m.insert("payment_method".into(), json!(o.payment_method));
    m.insert("payment_method_title".into(), json!(o.payment_method_title));
    m.insert("transaction_id".into(), json!(o.transaction_id));
    m.insert("customer_ip_address".into(), json!(o.customer_ip_address));
    m.insert("customer_user_agent".into(), json!(o.customer_user_agent));
    m.insert("created_via".into(), json!(o.created_via));
    m.insert("customer_note".into(), json!(o.customer_note));
    m.insert("date_completed".into(), site.local_opt(o.date_completed));
    m.insert("date_paid".into(), site.local_opt(o.date_paid));
    m.insert("cart_hash".into(), json!(""));
    m.insert("number".into(), json!(id.to_string()));
    m.insert("meta_data".into(), meta_list(&o.meta, false));
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "product_id": l.product_id,
                "variation_id": l.variation_id,
                "quantity": l.quantity,
                "tax_class": "",
                "subtotal": money(l.subtotal),
                "subtotal_tax": money(l.subtotal_tax),
                "total": money(l.total),
                "total_tax": money(l.total_tax),
                "taxes": taxes(site, l.total_tax, Some(l.subtotal_tax)),
                "meta_data": meta_list(&l.meta, true),
                "sku": l.sku,
                "price": php_price(l.total, l.quantity),
                // Captured quirk: a product without image gives "" as id, a variation 0.
                "image": if l.variation_id > 0 { json!({"id": 0, "src": ""}) } else { json!({"id": "", "src": ""}) },
                "parent_name": l.parent_name,
            })
        })
        .collect();
    m.insert("line_items".into(), Value::Array(lines));
    let tax_lines = match o.tax_line_id {
        Some(tid) => json!([{
            "id": tid,
            "rate_code": "TVA-1",
            "rate_id": TAX_RATE_ID,
            "label": "TVA",
            "compound": false,
            "tax_total": money(o.cart_tax),
            "shipping_tax_total": money(o.shipping_tax),
            "rate_percent": decimal_number(site.tax_rate_percent),
            "meta_data": [],
        }]),
        None => json!([]),
    };
    m.insert("tax_lines".into(), tax_lines);
    let shipping_lines = match &o.shipping_line {
        Some(s) => json!([{
            "id": s.id,
            "method_title": s.method_title,
            "method_id": s.method_id,
            "instance_id": s.instance_id,
            "total": money(s.total),
            "total_tax": money(s.total_tax),
            "taxes": taxes(site, s.total_tax, None),
            "tax_status": "taxable",
            "meta_data": [],
        }]),
        None => json!([]),
    };
    m.insert("shipping_lines".into(), shipping_lines);
    m.insert("fee_lines".into(), json!([]));
    let coupon_lines = match &o.coupon {
        Some(c) => json!([{
            "id": c.id,
            "code": c.code,
            "discount": money(c.discount),
            "discount_tax": money(c.discount_tax),
            "discount_type": c.discount_type,
            "nominal_amount": decimal_number(c.nominal_amount),
            "free_shipping": false,
            "meta_data": [],
        }]),
        None => json!([]),
    };
    m.insert("coupon_lines".into(), coupon_lines);
    let refunds: Vec<Value> = o
        .refunds
        .iter()
        .filter_map(|r| st.refunds.get(r))
        .map(|r| json!({"id": r.id, "reason": r.reason, "total": format!("-{}", money(r.amount))}))
        .collect();
    m.insert("refunds".into(), Value::Array(refunds));
    m.insert(
        "payment_url".into(),
        json!(format!(
            "{}checkout/order-pay/{id}/?pay_for_order=true&key={}",
            site.home, o.order_key
        )),
    );
    m.insert("is_editable".into(), json!(is_editable(&o.status)));
    let needs_payment =
        matches!(o.status.as_str(), "pending" | "failed") && o.total > Decimal::ZERO;
    m.insert("needs_payment".into(), json!(needs_payment));
    // needs_processing: true unless every item is virtual and downloadable; the catalogue has
    // only physical goods.
    m.insert("needs_processing".into(), json!(true));
    m.insert(
        "date_created_gmt".into(),
        json!(time::format(o.date_created, 0)),
    );
    m.insert(
        "date_modified_gmt".into(),
        json!(time::format(o.date_modified, 0)),
    );
    m.insert("date_completed_gmt".into(), Site::gmt_opt(o.date_completed));
    m.insert("date_paid_gmt".into(), Site::gmt_opt(o.date_paid));
    m.insert("currency_symbol".into(), json!(site.currency_symbol));
    let mut links = Map::new();
    links.insert(
        "self".into(),
        self_link(site.rest(&format!("orders/{id}")), ALL_METHODS),
    );
    links.insert("collection".into(), json!([{"href": site.rest("orders")}]));
    links.insert(
        "email_templates".into(),
        json!([{"embeddable": true, "href": site.rest(&format!("orders/{id}/actions/email_templates"))}]),
    );
    if o.customer_id > 0 {
        links.insert(
            "customer".into(),
            json!([{"href": site.rest(&format!("customers/{}", o.customer_id))}]),
        );
    }
    m.insert("_links".into(), Value::Object(links));
    Value::Object(m)
}

/// A refund; `with_parent` adds `parent_id` as `GET /refunds` does.
pub fn refund(site: &Site, r: &Refund, with_parent: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    if with_parent {
        m.insert("parent_id".into(), json!(r.parent_id));
    }
    m.insert("date_created".into(), site.local(r.date_created));
    m.insert(
        "date_created_gmt".into(),
        json!(time::format(r.date_created, 0)),
    );
    m.insert("amount".into(), json!(money(r.amount)));
    m.insert("reason".into(), json!(r.reason));
    m.insert("refunded_by".into(), json!(r.refunded_by));
    m.insert("refunded_payment".into(), json!(r.refunded_payment));
    m.insert("meta_data".into(), json!([]));
    let lines: Vec<Value> = r
        .lines
        .iter()
        .map(|l| {
            let item = l.refunded_item_id.to_string();
            json!({
                "id": l.id,
                "name": l.name,
                "product_id": l.product_id,
                "variation_id": l.variation_id,
                "quantity": l.quantity,
                "tax_class": "",
                "subtotal": money(l.total),
                "subtotal_tax": money(l.total_tax),
                "total": money(l.total),
                "total_tax": money(l.total_tax),
                "taxes": taxes(site, l.total_tax, Some(l.total_tax)),
                "meta_data": [{"id": l.meta_id, "key": "_refunded_item_id", "value": item,
                               "display_key": "_refunded_item_id", "display_value": item}],
                "sku": l.sku,
                // Negative like total and quantity (woocommerce.md §2.5, refunds-list sample).
                "price": php_price(l.total, l.quantity.abs()),
                "image": if l.variation_id > 0 { json!({"id": 0, "src": ""}) } else { json!({"id": "", "src": ""}) },
                "parent_name": l.parent_name,
            })
        })
        .collect();
    m.insert("line_items".into(), Value::Array(lines));
    let base = format!("orders/{}/refunds", r.parent_id);
    m.insert(
        "_links".into(),
        json!({
            "self": self_link(site.rest(&format!("{base}/{}", r.id)), &["GET", "DELETE"]),
            "collection": [{"href": site.rest(&base)}],
            "up": [{"href": site.rest(&format!("orders/{}", r.parent_id))}],
        }),
    );
    Value::Object(m)
}

/// An order note as `WC_REST_Order_Notes_Controller::prepare_item_for_response()` (v3) gives it:
/// `added_by_user` is an input only (its schema context is `edit`, and the response data never
/// holds it). `author` is `system` only when the comment author equals
/// `__('woocommerce')` — case-sensitively, so WooCommerce's own "WooCommerce" is shown as it is
/// (derived from the source; UNCONFIRMED on a running shop).
pub fn note(site: &Site, n: &Note) -> Value {
    let base = format!("orders/{}/notes", n.order_id);
    let author = if n.author == "woocommerce" {
        "system"
    } else {
        n.author.as_str()
    };
    json!({
        "id": n.id,
        "author": author,
        "date_created": site.local(n.date_created),
        "date_created_gmt": time::format(n.date_created, 0),
        "note": n.note,
        "customer_note": n.customer_note,
        "_links": {
            "self": self_link(site.rest(&format!("{base}/{}", n.id)), &["GET", "DELETE"]),
            "collection": [{"href": site.rest(&base)}],
            "up": [{"href": site.rest(&format!("orders/{}", n.order_id))}],
        },
    })
}

fn price_html(site: &Site, price: Option<Decimal>) -> String {
    match price {
        Some(p) => format!(
            "<span class=\"woocommerce-Price-amount amount\"><bdi>{}&nbsp;<span class=\"woocommerce-Price-currencySymbol\">{}</span></bdi></span>",
            money(p).replace('.', ","),
            site.currency_symbol
        ),
        None => String::new(),
    }
}

/// Concatenate two JSON objects, keys in order (json! alone hits the macro recursion limit).
fn merge(a: Value, b: Value) -> Value {
    let mut m = match a {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Value::Object(bm) = b {
        m.extend(bm);
    }
    Value::Object(m)
}

fn stock_status(p: &Product) -> &'static str {
    if p.manage_stock && p.stock_quantity.unwrap_or(0) <= 0 {
        "outofstock"
    } else {
        "instock"
    }
}

/// A product (simple, variable, or a variation when fetched through `/products`).
pub fn product(site: &Site, st: &State, p: &Product) -> Value {
    let price = if p.kind == "variable" {
        p.variations
            .iter()
            .filter_map(|v| st.products.get(v).and_then(|v| v.price))
            .min()
    } else {
        p.price
    };
    let permalink = format!("{}product/{}/", site.home, p.slug);
    let attributes: Vec<Value> = if p.kind == "variation" {
        p.attributes
            .iter()
            .map(|(n, o)| json!({"id": 0, "name": n, "option": o.first().cloned().unwrap_or_default()}))
            .collect()
    } else {
        p.attributes
            .iter()
            .map(|(n, o)| json!({"id": 0, "name": n, "position": 0, "visible": true, "variation": true, "options": o}))
            .collect()
    };
    let a = json!({
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "permalink": permalink,
        "date_created": site.local(p.date_created),
        "date_created_gmt": time::format(p.date_created, 0),
        "date_modified": site.local(p.date_modified),
        "date_modified_gmt": time::format(p.date_modified, 0),
        "type": p.kind,
        "status": p.status,
        "featured": false,
        "catalog_visibility": "visible",
        "description": p.description,
        "short_description": p.short_description,
        "sku": p.sku,
        "price": price.map(money).unwrap_or_default(),
        "regular_price": if p.kind == "variable" { String::new() } else { p.price.map(money).unwrap_or_default() },
        "sale_price": "",
        "date_on_sale_from": null,
        "date_on_sale_from_gmt": null,
        "date_on_sale_to": null,
        "date_on_sale_to_gmt": null,
        "price_html": price_html(site, price),
        "on_sale": false,
        "purchasable": price.is_some(),
        "total_sales": p.total_sales,
        "virtual": false,
        "downloadable": false,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
    });
    let b = json!({
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity,
        "stock_status": stock_status(p),
        "backorders": "no",
        "backorders_allowed": false,
        "backordered": false,
        "sold_individually": false,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": true,
        "shipping_taxable": true,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": true,
        "average_rating": "0.00",
        "rating_count": 0,
        "related_ids": [],
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": p.parent_id,
        "purchase_note": "",
        "categories": [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}],
        "tags": [],
        "images": [],
        "attributes": attributes,
        "default_attributes": [],
        "variations": p.variations,
        "grouped_products": [],
        "menu_order": 0,
        "meta_data": product_meta(p),
        "_links": {
            "self": self_link(site.rest(&format!("products/{}", p.id)), ALL_METHODS),
            "collection": [{"href": site.rest("products")}],
        },
    });
    merge(a, b)
}

/// A product's public meta as `meta_data` lists it.
fn product_meta(p: &Product) -> Value {
    Value::Array(
        p.meta
            .iter()
            .map(|(id, k, v)| json!({"id": id, "key": k, "value": v}))
            .collect(),
    )
}

/// A variation as `/products/<pid>/variations/<vid>` answers (woocommerce-samples shape).
pub fn variation(site: &Site, p: &Product) -> Value {
    let base = format!("products/{}/variations", p.parent_id);
    let attrs: Vec<Value> = p
        .attributes
        .iter()
        .map(|(n, o)| json!({"id": 0, "name": n, "option": o.first().cloned().unwrap_or_default()}))
        .collect();
    let first_opt = p
        .attributes
        .first()
        .and_then(|(n, o)| Some((n.to_lowercase(), o.first()?.clone())));
    let permalink = match first_opt {
        Some((n, o)) => format!("{}product/{}/?attribute_{n}={o}", site.home, p.slug),
        None => format!("{}product/{}/", site.home, p.slug),
    };
    let a = json!({
        "id": p.id,
        "date_created": site.local(p.date_created),
        "date_created_gmt": time::format(p.date_created, 0),
        "date_modified": site.local(p.date_modified),
        "date_modified_gmt": time::format(p.date_modified, 0),
        "description": p.description,
        "permalink": permalink,
        "sku": p.sku,
        "price": p.price.map(money).unwrap_or_default(),
        "regular_price": p.price.map(money).unwrap_or_default(),
        "sale_price": "",
        "date_on_sale_from": null,
        "date_on_sale_from_gmt": null,
        "date_on_sale_to": null,
        "date_on_sale_to_gmt": null,
        "on_sale": false,
        "status": p.status,
        "purchasable": p.price.is_some(),
        "virtual": false,
        "downloadable": false,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
    });
    let b = json!({
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity,
        "stock_status": stock_status(p),
        "backorders": "no",
        "backorders_allowed": false,
        "backordered": false,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_class": "",
        "shipping_class_id": 0,
        "image": null,
        "attributes": attrs,
        "menu_order": 0,
        "meta_data": product_meta(p),
        "_links": {
            "self": self_link(site.rest(&format!("{base}/{}", p.id)), ALL_METHODS),
            "collection": [{"href": site.rest(&base)}],
            "up": [{"href": site.rest(&format!("products/{}", p.parent_id))}],
        },
    });
    merge(a, b)
}

pub fn customer(site: &Site, c: &Customer) -> Value {
    json!({
        "id": c.id,
        "date_created": site.local(c.date_created),
        "date_created_gmt": time::format(c.date_created, 0),
        "date_modified": site.local(c.date_modified),
        "date_modified_gmt": time::format(c.date_modified, 0),
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "role": "customer",
        "username": c.username,
        "billing": c.billing,
        "shipping": c.shipping,
        "is_paying_customer": c.is_paying_customer,
        "avatar_url": "https://secure.gravatar.com/avatar/?s=96&d=mm&r=g",
        "meta_data": [],
        "_links": {
            "self": self_link(site.rest(&format!("customers/{}", c.id)), ALL_METHODS),
            "collection": [{"href": site.rest("customers")}],
        },
    })
}

/// Hooks per topic in WooCommerce 10.0 (`get_topic_hooks()`, woocommerce.md §1.2, the
/// `@77ab3bf5` column: no `woocommerce_delete_order_refund` before 11.2).
pub fn topic_hooks(topic: &str) -> Vec<String> {
    if let Some(action) = topic.strip_prefix("action.") {
        return vec![action.to_string()];
    }
    let h: &[&str] = match topic {
        "coupon.created" => &[
            "woocommerce_process_shop_coupon_meta",
            "woocommerce_new_coupon",
        ],
        "coupon.updated" => &[
            "woocommerce_process_shop_coupon_meta",
            "woocommerce_update_coupon",
        ],
        "coupon.deleted" | "product.deleted" => &["wp_trash_post"],
        "coupon.restored" | "product.restored" => &["untrashed_post"],
        "customer.created" => &[
            "user_register",
            "woocommerce_created_customer",
            "woocommerce_new_customer",
        ],
        "customer.updated" => &["profile_update", "woocommerce_update_customer"],
        "customer.deleted" => &["delete_user"],
        "order.created" => &["woocommerce_new_order"],
        "order.updated" => &["woocommerce_update_order", "woocommerce_order_refunded"],
        "order.deleted" => &["wp_trash_post", "woocommerce_trash_order"],
        "order.restored" => &["untrashed_post", "woocommerce_untrash_order"],
        "product.created" => &[
            "woocommerce_process_product_meta",
            "woocommerce_new_product",
            "woocommerce_new_product_variation",
        ],
        "product.updated" => &[
            "woocommerce_process_product_meta",
            "woocommerce_update_product",
            "woocommerce_update_product_variation",
        ],
        _ => &[],
    };
    h.iter().map(|s| s.to_string()).collect()
}

/// The REST webhook body (no `secret`, no `api_version`, no `failure_count`: woocommerce.md §2.4).
pub fn webhook(site: &Site, w: &Webhook) -> Value {
    let (resource, event) = w.topic.split_once('.').unwrap_or((&w.topic, ""));
    json!({
        "id": w.id,
        "name": w.name,
        "status": w.status,
        "topic": w.topic,
        "resource": resource,
        "event": event,
        "hooks": topic_hooks(&w.topic),
        "delivery_url": w.delivery_url,
        "date_created": site.local(w.date_created),
        "date_created_gmt": time::format(w.date_created, 0),
        "date_modified": site.local(w.date_modified),
        "date_modified_gmt": time::format(w.date_modified, 0),
        "_links": {
            "self": self_link(site.rest(&format!("webhooks/{}", w.id)), ALL_METHODS),
            "collection": [{"href": site.rest("webhooks")}],
        },
    })
}

/// The control API's view of a webhook: the REST body plus what WooCommerce keeps internally.
pub fn webhook_internal(site: &Site, w: &Webhook) -> Value {
    let mut v = webhook(site, w);
    if let Some(m) = v.as_object_mut() {
        m.insert("secret".into(), json!(w.secret));
        m.insert("api_version".into(), json!(w.api_version));
        m.insert("failure_count".into(), json!(w.failure_count));
        m.insert("pending_delivery".into(), json!(w.pending_delivery));
        m.insert("user_id".into(), json!(w.user_id));
    }
    v
}
