//! The control API under `/__sim/` (no auth): what a shopper or a shop manager would do in the
//! storefront and admin, plus the test levers (flush the queue, read the delivery log, move the
//! clock, reset). Request and answer shapes are listed in docs/simulators.md (woo-sim).

use super::{Inner, json_response, new_webhook, render, rest};
use crate::http::{Request, Response};
use serde_json::{Value, json};

fn bad(status: u16, msg: &str) -> Response {
    json_response(status, &json!({"error": msg}))
}

pub(crate) fn place_order(inner: &Inner, v: &Value) -> Result<Value, String> {
    let now = inner.now();
    let mut st = inner.lock();
    let id = st.create_order(v, "checkout", "processing", &inner.settings, now)?;
    rest::render_order(inner, &st, id).ok_or_else(|| "order vanished".to_string())
}

pub(crate) fn set_status(inner: &Inner, id: u64, status: &str) -> Result<Value, String> {
    let now = inner.now();
    let mut st = inner.lock();
    st.set_status(id, status, now)?;
    rest::render_order(inner, &st, id).ok_or_else(|| "Invalid ID.".to_string())
}

/// A refund from the admin screen: no gateway call unless `"api_refund": true`.
pub(crate) fn refund(inner: &Inner, id: u64, v: &Value) -> Result<Value, String> {
    let now = inner.now();
    let mut st = inner.lock();
    let api = v
        .get("api_refund")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let rid = st
        .refund(id, v, &inner.settings, api, now)
        .map_err(|(_, _, m)| m)?;
    let site = inner.site();
    let r = st.refunds.get(&rid).ok_or("refund vanished")?;
    Ok(render::refund(&site, r, false))
}

/// A shop manager adding simple products in the admin: one `{"name", "sku", "price", "stock"?,
/// "status"?, "description"?, "short_description"?, "meta_data"?}`, or `{"count": n,
/// "sku_prefix": "P", "price": "9.99", "stock": 5}` for a catalogue of n (SKUs P00001…).
/// Returns the new ids. Fires no webhook (woo-sim has no `product.created` deliveries).
pub(crate) fn add_products(inner: &Inner, v: &Value) -> Result<Vec<u64>, String> {
    let now = inner.now();
    let mut st = inner.lock();
    let mut ids = Vec::new();
    let s = |k: &str, d: &str| v.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let stock = v.get("stock").and_then(Value::as_i64);
    if let Some(n) = v.get("count").and_then(Value::as_u64) {
        let prefix = s("sku_prefix", "P");
        for i in 1..=n {
            let sku = format!("{prefix}{i:05}");
            if st.products.values().any(|p| p.sku == sku) {
                return Err(format!("Invalid or duplicated SKU: {sku}"));
            }
            let name = format!("Product {sku}");
            ids.push(st.add_simple(&name, &sku, &s("price", "9.99"), stock, now));
        }
        return Ok(ids);
    }
    let sku = s("sku", "");
    if !sku.is_empty() && st.products.values().any(|p| p.sku == sku) {
        return Err("Invalid or duplicated SKU.".into());
    }
    let id = st.add_simple(&s("name", "Product"), &sku, &s("price", ""), stock, now);
    if let Err(e) = st
        .check_product_status(id, v)
        .and_then(|()| st.set_product_fields(id, v))
    {
        st.products.remove(&id);
        return Err(e);
    }
    ids.push(id);
    Ok(ids)
}

pub(crate) fn handle(inner: &Inner, req: &Request) -> Response {
    let path = req.path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let body = || -> Result<Value, Response> {
        if req.body.is_empty() {
            Ok(json!({}))
        } else {
            req.json().map_err(|e| bad(400, &e))
        }
    };
    let id = |i: usize| segs.get(i).and_then(|s| s.parse::<u64>().ok());
    let r: Result<Response, Response> = (|| match (segs.as_slice(), req.method.as_str()) {
        (["orders"], "POST") => {
            let v = body()?;
            place_order(inner, &v)
                .map(|o| json_response(201, &o))
                .map_err(|e| bad(400, &e))
        }
        (["orders", _, "status"], "POST") if id(1).is_some() => {
            let v = body()?;
            let s = v
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(400, "status required"))?;
            set_status(inner, id(1).unwrap_or(0), s)
                .map(|o| json_response(200, &o))
                .map_err(|e| bad(if e == "Invalid ID." { 404 } else { 400 }, &e))
        }
        (["orders", _, "refunds"], "POST") if id(1).is_some() => {
            let v = body()?;
            refund(inner, id(1).unwrap_or(0), &v)
                .map(|r| json_response(201, &r))
                .map_err(|e| bad(if e == "Invalid ID." { 404 } else { 400 }, &e))
        }
        (["orders", _, "trash"], "POST") if id(1).is_some() => {
            let now = inner.now();
            let mut st = inner.lock();
            st.trash(id(1).unwrap_or(0), now)
                .map_err(|e| bad(400, &e))?;
            Ok(json_response(
                200,
                &rest::render_order(inner, &st, id(1).unwrap_or(0)).unwrap_or(Value::Null),
            ))
        }
        (["orders", _, "untrash"], "POST") if id(1).is_some() => {
            let now = inner.now();
            let mut st = inner.lock();
            st.untrash(id(1).unwrap_or(0), now)
                .map_err(|e| bad(400, &e))?;
            Ok(json_response(
                200,
                &rest::render_order(inner, &st, id(1).unwrap_or(0)).unwrap_or(Value::Null),
            ))
        }
        (["orders", _, "delete"], "POST") if id(1).is_some() => {
            // Permanent deletion from the admin ("Delete permanently"): no webhook fires.
            let mut st = inner.lock();
            st.delete_permanently(id(1).unwrap_or(0))
                .map_err(|e| bad(404, &e))?;
            Ok(json_response(200, &json!({"deleted": id(1)})))
        }
        (["customers"], "POST") => {
            let v = body()?;
            let now = inner.now();
            let mut st = inner.lock();
            let want = v.get("id").and_then(Value::as_u64);
            let cid = st
                .create_customer(want, &v, now)
                .map_err(|e| bad(400, &e))?;
            let c = st
                .customers
                .get(&cid)
                .ok_or_else(|| bad(500, "customer vanished"))?;
            Ok(json_response(201, &render::customer(&inner.site(), c)))
        }
        (["webhooks"], "GET") => {
            let st = inner.lock();
            let site = inner.site();
            let list: Vec<Value> = st
                .webhooks
                .values()
                .map(|w| render::webhook_internal(&site, w))
                .collect();
            Ok(json_response(200, &Value::Array(list)))
        }
        (["webhooks"], "POST") => {
            // Admin-screen creation: any status, no ping unless active (the admin pings on save).
            let v = body()?;
            let topic = v
                .get("topic")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let url = v
                .get("delivery_url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !rest::valid_topic(&topic) || !rest::valid_url(&url) {
                return Err(bad(400, "valid topic and delivery_url required"));
            }
            let now = inner.now();
            let w = {
                let mut st = inner.lock();
                let secret = match v.get("secret").and_then(Value::as_str) {
                    Some(s) if !s.is_empty() => s.to_string(),
                    _ => st.generate_secret(),
                };
                let name = v
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("Webhook")
                    .to_string();
                let mut w = new_webhook(&mut st, name, topic, url, secret, now);
                if let Some(s) = v.get("status").and_then(Value::as_str) {
                    w.status = s.to_string();
                }
                if let Some(n) = v.get("failure_count").and_then(Value::as_u64) {
                    w.failure_count = n as u32;
                }
                st.webhooks.insert(w.id, w.clone());
                w
            };
            if w.status == "active" {
                inner.ping(w.id);
            }
            let st = inner.lock();
            let w = st
                .webhooks
                .get(&w.id)
                .cloned()
                .ok_or_else(|| bad(500, "webhook vanished"))?;
            Ok(json_response(
                201,
                &render::webhook_internal(&inner.site(), &w),
            ))
        }
        (["flush"], "POST") => Ok(json_response(200, &Value::Array(inner.flush()))),
        (["queue"], "GET") => {
            let st = inner.lock();
            Ok(json_response(
                200,
                &serde_json::to_value(&st.queue).unwrap_or(Value::Null),
            ))
        }
        (["deliveries"], "GET") => {
            let st = inner.lock();
            Ok(json_response(200, &Value::Array(st.deliveries.clone())))
        }
        (["deliveries"], "DELETE") => {
            inner.lock().deliveries.clear();
            Ok(json_response(200, &json!({"cleared": true})))
        }
        (["clock"], "GET") => Ok(json_response(200, &clock_json(inner))),
        (["clock"], "POST") => {
            let v = body()?;
            if let Some(s) = v.get("set").and_then(Value::as_str) {
                let (digits, tz) = super::time::parse(s)
                    .ok_or_else(|| bad(400, "set: not an ISO 8601 date-time"))?;
                inner.clock.set(digits - tz.unwrap_or(0));
            }
            if let Some(n) = v.get("advance_secs").and_then(Value::as_i64) {
                inner.clock.advance(n);
            }
            Ok(json_response(200, &clock_json(inner)))
        }
        (["reset"], "POST") => {
            inner.clock.set_offset(0);
            let now = inner.now();
            *inner.lock() = super::model::State::new(now);
            Ok(json_response(200, &json!({"reset": true})))
        }
        (["stats"], "GET") => Ok(json_response(
            200,
            &json!({"rest_requests": inner.request_counts()}),
        )),
        (["products"], "POST") => {
            let v = body()?;
            add_products(inner, &v)
                .map(|ids| json_response(201, &json!({"ids": ids})))
                .map_err(|e| bad(400, &e))
        }
        (["state"], "GET") => {
            let st = inner.lock();
            Ok(json_response(
                200,
                &serde_json::to_value(&*st).unwrap_or(Value::Null),
            ))
        }
        _ => Err(bad(404, "no such control endpoint")),
    })();
    r.unwrap_or_else(|e| e)
}

fn clock_json(inner: &Inner) -> Value {
    let now = inner.now();
    json!({
        "now": super::time::format(now, 0) + "Z",
        "unix": now,
        "offset_secs": inner.clock.offset(),
    })
}
