//! `/wp-json/wc/v3/…`: the routes a connector uses, answered the way WordPress + WooCommerce 10
//! do — authentication first, then route matching (`rest_no_route`), then parameter validation
//! (`rest_invalid_param`), then the permission check (`woocommerce_rest_cannot_*`), then the work.

use super::model::{ORDER_STATUSES, State};
use super::{Inner, auth, json_response, new_webhook, render, time};
use crate::http::{Request, Response};
use serde_json::{Value, json};

fn err(status: u16, code: &str, message: &str) -> Response {
    json_response(status, &render::error(code, message, status))
}

/// WordPress's `rest_invalid_param` with `params` and `details` (WP ≥ 5.6 shape).
fn invalid_param(param: &str, code: &str, message: &str) -> Response {
    json_response(
        400,
        &json!({
            "code": "rest_invalid_param",
            "message": format!("Invalid parameter(s): {param}"),
            "data": {
                "status": 400,
                "params": {param: message},
                "details": {param: {"code": code, "message": message, "data": null}},
            },
        }),
    )
}

fn no_route() -> Response {
    err(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

/// What the route's permission callback is checking, for the 401 WooCommerce answers.
#[derive(Clone, Copy)]
enum Op {
    List,
    View,
    Create,
    Edit,
    Delete,
}

fn deny(op: Op) -> Response {
    let (code, msg) = match op {
        Op::List => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ),
        Op::View => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
        Op::Create => (
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        Op::Edit => (
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        Op::Delete => (
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        ),
    };
    err(401, code, msg)
}

struct Ctx<'a> {
    inner: &'a Inner,
    req: &'a Request,
    authed: bool,
}

impl Ctx<'_> {
    fn allow(&self, op: Op) -> Result<(), Response> {
        if self.authed { Ok(()) } else { Err(deny(op)) }
    }

    fn body(&self) -> Value {
        let is_form = self
            .req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let mut m = serde_json::Map::new();
            for (k, v) in self.req.form() {
                m.insert(k, Value::String(v));
            }
            return Value::Object(m);
        }
        let mut v = self.req.json().unwrap_or_else(|_| json!({}));
        // WP merges query parameters into the request params; body wins.
        if let Value::Object(m) = &mut v {
            for (k, val) in &self.req.query {
                if !k.starts_with("oauth_") && !m.contains_key(k) {
                    m.insert(k.clone(), Value::String(val.clone()));
                }
            }
        }
        v
    }
}

fn truthy(s: Option<&str>) -> bool {
    matches!(
        s.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes")
    )
}

pub(crate) fn handle(inner: &Inner, req: &Request) -> Response {
    let Some(route) = req.path.strip_prefix("/wp-json/") else {
        return no_route();
    };
    let route = route.trim_end_matches('/');
    let authed = if route.starts_with("wc/") || route.starts_with("wc-") {
        let now = inner.now();
        let home = inner.home().trim_end_matches('/').to_string();
        let keys = auth::Keys {
            consumer_key: &inner.cfg.consumer_key,
            consumer_secret: &inner.cfg.consumer_secret,
            permissions: &inner.cfg.key_permissions,
            https: inner.cfg.https_assumed,
            home: &home,
        };
        let mut st = inner.lock();
        match auth::authenticate(&keys, req, &mut st, now) {
            Ok(a) => a,
            Err(e) => return err(401, e.code, &e.message),
        }
    } else {
        false
    };
    let Some(rest) = route.strip_prefix("wc/v3") else {
        return no_route();
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let ctx = Ctx { inner, req, authed };
    let m = req.method.as_str();
    let id = |i: usize| segs.get(i).and_then(|s| s.parse::<u64>().ok());
    let edit = matches!(m, "PUT" | "POST" | "PATCH");
    inner.count_request(m, &segs);
    let r = match (segs.as_slice(), m) {
        (["orders"], "GET") => list_orders(&ctx),
        (["orders"], "POST") => create_order(&ctx),
        (["orders", _], "GET") if id(1).is_some() => get_order(&ctx, id(1).unwrap_or(0)),
        (["orders", _], _) if edit && id(1).is_some() => update_order(&ctx, id(1).unwrap_or(0)),
        (["orders", _], "DELETE") if id(1).is_some() => delete_order(&ctx, id(1).unwrap_or(0)),
        (["orders", _, "refunds"], "GET") if id(1).is_some() => list_refunds(&ctx, id(1)),
        (["orders", _, "refunds"], "POST") if id(1).is_some() => {
            create_refund(&ctx, id(1).unwrap_or(0))
        }
        (["orders", _, "refunds", _], "GET") if id(1).is_some() && id(3).is_some() => {
            get_refund(&ctx, id(1).unwrap_or(0), id(3).unwrap_or(0))
        }
        (["orders", _, "refunds", _], "DELETE") if id(1).is_some() && id(3).is_some() => {
            delete_refund(&ctx, id(1).unwrap_or(0), id(3).unwrap_or(0))
        }
        (["orders", _, "notes"], "GET") if id(1).is_some() => list_notes(&ctx, id(1).unwrap_or(0)),
        (["orders", _, "notes"], "POST") if id(1).is_some() => {
            create_note(&ctx, id(1).unwrap_or(0))
        }
        (["orders", _, "notes", _], "GET") if id(1).is_some() && id(3).is_some() => {
            get_note(&ctx, id(1).unwrap_or(0), id(3).unwrap_or(0))
        }
        (["orders", _, "notes", _], "DELETE") if id(1).is_some() && id(3).is_some() => {
            delete_note(&ctx, id(1).unwrap_or(0), id(3).unwrap_or(0))
        }
        (["refunds"], "GET") => list_refunds(&ctx, None),
        (["products"], "GET") => list_products(&ctx),
        (["products", _], "GET") if id(1).is_some() => get_product(&ctx, id(1).unwrap_or(0), None),
        (["products", "batch"], _) if edit => batch_products(&ctx, None),
        (["products", _, "variations", "batch"], _) if edit && id(1).is_some() => {
            batch_products(&ctx, id(1))
        }
        (["products", _], _) if edit && id(1).is_some() => {
            update_product(&ctx, id(1).unwrap_or(0), None)
        }
        (["products", _, "variations"], "GET") if id(1).is_some() => {
            list_variations(&ctx, id(1).unwrap_or(0))
        }
        (["products", _, "variations", _], "GET") if id(1).is_some() && id(3).is_some() => {
            get_product(&ctx, id(3).unwrap_or(0), id(1))
        }
        (["products", _, "variations", _], _) if edit && id(1).is_some() && id(3).is_some() => {
            update_product(&ctx, id(3).unwrap_or(0), id(1))
        }
        (["customers"], "GET") => list_customers(&ctx),
        (["customers", _], "GET") if id(1).is_some() => get_customer(&ctx, id(1).unwrap_or(0)),
        (["customers", _], _) if edit && id(1).is_some() => {
            update_customer(&ctx, id(1).unwrap_or(0))
        }
        (["webhooks"], "GET") => list_webhooks(&ctx),
        (["webhooks"], "POST") => create_webhook(&ctx),
        (["webhooks", _], "GET") if id(1).is_some() => get_webhook(&ctx, id(1).unwrap_or(0)),
        (["webhooks", _], _) if edit && id(1).is_some() => update_webhook(&ctx, id(1).unwrap_or(0)),
        (["webhooks", _], "DELETE") if id(1).is_some() => delete_webhook(&ctx, id(1).unwrap_or(0)),
        _ => Err(no_route()),
    };
    r.unwrap_or_else(|e| e)
}

type R = Result<Response, Response>;

/// `page` / `per_page` / `offset` validated like WP's schema (`per_page` 1..=100).
struct Paging {
    page: usize,
    per_page: usize,
    offset: Option<usize>,
}

fn int_param(req: &Request, name: &str) -> Result<Option<i64>, Response> {
    match req.param(name) {
        None => Ok(None),
        Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            invalid_param(
                name,
                "rest_invalid_type",
                &format!("{name} is not of type integer."),
            )
        }),
    }
}

fn paging(req: &Request) -> Result<Paging, Response> {
    let page = int_param(req, "page")?.unwrap_or(1);
    if page < 1 {
        return Err(invalid_param(
            "page",
            "rest_out_of_bounds",
            "page must be greater than or equal to 1",
        ));
    }
    let per_page = int_param(req, "per_page")?.unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        return Err(invalid_param(
            "per_page",
            "rest_out_of_bounds",
            "per_page must be between 1 (inclusive) and 100 (inclusive)",
        ));
    }
    let offset = int_param(req, "offset")?.map(|o| o.max(0) as usize);
    Ok(Paging {
        page: page as usize,
        per_page: per_page as usize,
        offset,
    })
}

fn enum_param<'a>(
    req: &'a Request,
    name: &str,
    allowed: &[&str],
    default: &'a str,
) -> Result<&'a str, Response> {
    let v = req.param(name).unwrap_or(default);
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(invalid_param(
            name,
            "rest_not_in_enum",
            &format!("{name} is not one of {}.", php_list(allowed)),
        ))
    }
}

/// `wp_sprintf_l`: "a, b, and c".
fn php_list(items: &[&str]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].to_string(),
        2 => format!("{} and {}", items[0], items[1]),
        n => format!("{}, and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// PHP `urlencode`: space as `+`, `-_.` kept, the rest `%XX`.
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `add_query_arg('page', n, add_query_arg(urlencode_deep($request->get_query_params()), rest_url(route)))`:
/// every query parameter is repeated, OAuth ones included (verified section), arrays as `a%5B0%5D`.
fn page_link(home: &str, route: &str, req: &Request, page: usize) -> String {
    let mut params: Vec<(String, Vec<(String, String)>, Option<String>)> = Vec::new();
    for (k, v) in &req.query {
        if let Some(name) = k.strip_suffix("[]") {
            match params.iter_mut().find(|p| p.0 == name) {
                Some(p) => {
                    let i = p.1.len();
                    p.1.push((i.to_string(), v.clone()));
                    p.2 = None;
                }
                None => params.push((name.to_string(), vec![("0".into(), v.clone())], None)),
            }
        } else {
            match params.iter_mut().find(|p| p.0 == *k) {
                Some(p) => {
                    p.1.clear();
                    p.2 = Some(v.clone());
                }
                None => params.push((k.clone(), Vec::new(), Some(v.clone()))),
            }
        }
    }
    match params.iter_mut().find(|p| p.0 == "page") {
        Some(p) => {
            p.1.clear();
            p.2 = Some(page.to_string());
        }
        None => params.push(("page".into(), Vec::new(), Some(page.to_string()))),
    }
    let mut parts = Vec::new();
    for (k, arr, scalar) in &params {
        match scalar {
            Some(v) => parts.push(format!("{}={}", urlencode(k), urlencode(v))),
            None => {
                for (i, v) in arr {
                    parts.push(format!("{}%5B{i}%5D={}", urlencode(k), urlencode(v)));
                }
            }
        }
    }
    format!("{home}wp-json/wc/v3/{route}?{}", parts.join("&"))
}

/// One page of a collection with `X-WP-Total`, `X-WP-TotalPages` and a prev/next-only `Link`.
fn page_of(ctx: &Ctx, route: &str, items: Vec<Value>, p: &Paging) -> Response {
    let total = items.len();
    let pages = total.div_ceil(p.per_page);
    let start = p.offset.unwrap_or((p.page - 1) * p.per_page);
    let slice: Vec<Value> = items.into_iter().skip(start).take(p.per_page).collect();
    let mut resp = json_response(200, &Value::Array(slice))
        .header("X-WP-Total", total.to_string())
        .header("X-WP-TotalPages", pages.to_string());
    let home = ctx.inner.home();
    let mut links = Vec::new();
    if p.page > 1 {
        let prev = (p.page - 1).min(pages.max(1));
        links.push(format!(
            "<{}>; rel=\"prev\"",
            page_link(home, route, ctx.req, prev)
        ));
    }
    if pages > p.page {
        links.push(format!(
            "<{}>; rel=\"next\"",
            page_link(home, route, ctx.req, p.page + 1)
        ));
    }
    if !links.is_empty() {
        resp = resp.header("Link", links.join(", "));
    }
    resp
}

fn id_list(req: &Request, name: &str) -> Vec<u64> {
    req.params(name)
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A date filter: the bound in the frame of the compared column (local or GMT).
fn date_param(req: &Request, name: &str, gmt: bool, offset: i64) -> Result<Option<i64>, Response> {
    let Some(s) = req.param(name).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let (digits, tz) =
        time::parse(s).ok_or_else(|| invalid_param(name, "rest_invalid_date", "Invalid date."))?;
    // A bare date is in the column's frame; an explicit offset is honoured (UNCONFIRMED, see docs).
    let unix = match tz {
        None if gmt => digits,
        None => digits - offset,
        Some(tz) => digits - tz,
    };
    Ok(Some(unix))
}

fn list_orders(ctx: &Ctx) -> R {
    let req = ctx.req;
    let p = paging(req)?;
    let mut statuses: Vec<String> = req
        .params("status")
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut allowed: Vec<&str> = vec!["any", "trash"];
    allowed.extend_from_slice(ORDER_STATUSES);
    for (i, s) in statuses.iter().enumerate() {
        if !allowed.contains(&s.as_str()) {
            let msg = format!("status[{i}] is not one of {}.", php_list(&allowed));
            return Err(invalid_param("status", "rest_not_in_enum", &msg));
        }
    }
    if statuses.is_empty() {
        statuses.push("any".into());
    }
    let order = enum_param(req, "order", &["asc", "desc"], "desc")?;
    let orderby = enum_param(
        req,
        "orderby",
        &["date", "id", "include", "title", "slug", "modified"],
        "date",
    )?;
    let gmt = truthy(req.param("dates_are_gmt"));
    let off = ctx.inner.cfg.utc_offset_minutes as i64 * 60;
    let after = date_param(req, "after", gmt, off)?;
    let before = date_param(req, "before", gmt, off)?;
    let mod_after = date_param(req, "modified_after", gmt, off)?;
    let mod_before = date_param(req, "modified_before", gmt, off)?;
    let customer = int_param(req, "customer")?;
    let include = id_list(req, "include");
    let exclude = id_list(req, "exclude");
    let search = req
        .param("search")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    ctx.allow(Op::List)?;
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    let any = statuses.iter().any(|s| s == "any");
    let mut orders: Vec<&super::model::Order> = st
        .orders
        .values()
        .filter(|o| {
            if any {
                o.status != "trash" || statuses.iter().any(|s| s == "trash")
            } else {
                statuses.contains(&o.status)
            }
        })
        .filter(|o| after.is_none_or(|a| o.date_created > a))
        .filter(|o| before.is_none_or(|b| o.date_created < b))
        .filter(|o| mod_after.is_none_or(|a| o.date_modified > a))
        .filter(|o| mod_before.is_none_or(|b| o.date_modified < b))
        .filter(|o| customer.is_none_or(|c| o.customer_id as i64 == c))
        .filter(|o| include.is_empty() || include.contains(&o.id))
        .filter(|o| !exclude.contains(&o.id))
        .filter(|o| {
            search.as_ref().is_none_or(|q| {
                let hay = format!(
                    "{} {} {} {}",
                    o.billing
                        .get("first_name")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    o.billing
                        .get("last_name")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    o.billing.get("email").and_then(Value::as_str).unwrap_or(""),
                    o.id
                )
                .to_lowercase();
                hay.contains(q.as_str())
            })
        })
        .collect();
    // `date`/`modified` get a secondary ID tiebreak for stable pages (woocommerce.md §2.3).
    orders.sort_by(|a, b| {
        let key = |o: &super::model::Order| match orderby {
            "modified" => (o.date_modified, o.id),
            "date" => (o.date_created, o.id),
            "include" => (
                include
                    .iter()
                    .position(|i| *i == o.id)
                    .unwrap_or(usize::MAX) as i64,
                o.id,
            ),
            _ => (o.id as i64, o.id),
        };
        key(a).cmp(&key(b))
    });
    if order == "desc" {
        orders.reverse();
    }
    let items = orders
        .into_iter()
        .map(|o| render::order(&site, &st, o))
        .collect();
    Ok(page_of(ctx, "orders", items, &p))
}

fn order_body(ctx: &Ctx, id: u64) -> Option<Value> {
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    st.orders.get(&id).map(|o| render::order(&site, &st, o))
}

fn invalid_order() -> Response {
    err(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
}

fn get_order(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::View)?;
    order_body(ctx, id)
        .map(|b| json_response(200, &b))
        .ok_or_else(invalid_order)
}

fn create_order(ctx: &Ctx) -> R {
    ctx.allow(Op::Create)?;
    let body = ctx.body();
    let now = ctx.inner.now();
    let id = {
        let mut st = ctx.inner.lock();
        st.create_order(&body, "rest-api", "pending", &ctx.inner.settings, now)
            .map_err(|e| err(400, "woocommerce_rest_invalid_order", &e))?
    };
    let b = order_body(ctx, id).ok_or_else(invalid_order)?;
    Ok(json_response(201, &b).header("Location", ctx.inner.site().rest(&format!("orders/{id}"))))
}

fn update_order(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::Edit)?;
    let body = ctx.body();
    if let Some(s) = body.get("status").and_then(Value::as_str)
        && !ORDER_STATUSES.contains(&s)
    {
        let msg = format!("status is not one of {}.", php_list(ORDER_STATUSES));
        return Err(invalid_param("status", "rest_not_in_enum", &msg));
    }
    let now = ctx.inner.now();
    {
        let mut st = ctx.inner.lock();
        if !st.orders.contains_key(&id) {
            return Err(invalid_order());
        }
        st.update_order(id, &body, now)
            .map_err(|e| err(400, "woocommerce_rest_shop_order_invalid_data", &e))?;
    }
    Ok(json_response(
        200,
        &order_body(ctx, id).ok_or_else(invalid_order)?,
    ))
}

fn delete_order(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::Delete)?;
    let force = truthy(ctx.req.param("force"));
    let now = ctx.inner.now();
    let before = order_body(ctx, id).ok_or_else(invalid_order)?;
    let mut st = ctx.inner.lock();
    if force {
        st.delete_permanently(id).map_err(|_| invalid_order())?;
        return Ok(json_response(200, &before));
    }
    if st.orders.get(&id).is_some_and(|o| o.status == "trash") {
        return Err(err(
            410,
            "woocommerce_rest_already_trashed",
            "The shop_order has already been deleted.",
        ));
    }
    st.trash(id, now).map_err(|_| invalid_order())?;
    drop(st);
    Ok(json_response(
        200,
        &order_body(ctx, id).ok_or_else(invalid_order)?,
    ))
}

fn list_refunds(ctx: &Ctx, order: Option<u64>) -> R {
    let p = paging(ctx.req)?;
    let order_dir = enum_param(ctx.req, "order", &["asc", "desc"], "desc")?;
    ctx.allow(Op::List)?;
    let st = ctx.inner.lock();
    if let Some(oid) = order
        && !st.orders.contains_key(&oid)
    {
        return Err(err(
            404,
            "woocommerce_rest_invalid_order_id",
            "Invalid order ID.",
        ));
    }
    let site = ctx.inner.site();
    let mut refunds: Vec<&super::model::Refund> = st
        .refunds
        .values()
        .filter(|r| order.is_none_or(|o| r.parent_id == o))
        .collect();
    refunds.sort_by_key(|r| (r.date_created, r.id));
    if order_dir == "desc" {
        refunds.reverse();
    }
    let items = refunds
        .into_iter()
        .map(|r| render::refund(&site, r, order.is_none()))
        .collect();
    let route = match order {
        Some(o) => format!("orders/{o}/refunds"),
        None => "refunds".to_string(),
    };
    Ok(page_of(ctx, &route, items, &p))
}

fn get_refund(ctx: &Ctx, oid: u64, rid: u64) -> R {
    ctx.allow(Op::View)?;
    let st = ctx.inner.lock();
    if !st.orders.contains_key(&oid) {
        return Err(err(
            404,
            "woocommerce_rest_invalid_order_id",
            "Invalid order ID.",
        ));
    }
    match st.refunds.get(&rid).filter(|r| r.parent_id == oid) {
        Some(r) => Ok(json_response(
            200,
            &render::refund(&ctx.inner.site(), r, false),
        )),
        None => Err(err(404, "woocommerce_rest_invalid_id", "Invalid ID.")),
    }
}

/// A DELETE without `force=true` on a route that cannot trash: 501 in WooCommerce's words
/// (`what` is the controller's plural, "Refunds", "Webhooks").
fn force_required(ctx: &Ctx, what: &str) -> Result<(), Response> {
    if truthy(ctx.req.param("force")) {
        Ok(())
    } else {
        Err(err(
            501,
            "woocommerce_rest_trash_not_supported",
            &format!("{what} do not support trashing."),
        ))
    }
}

fn delete_refund(ctx: &Ctx, oid: u64, rid: u64) -> R {
    ctx.allow(Op::Delete)?;
    force_required(ctx, "Refunds")?;
    let mut st = ctx.inner.lock();
    let Some(r) = st.refunds.get(&rid).filter(|r| r.parent_id == oid).cloned() else {
        return Err(err(404, "woocommerce_rest_invalid_id", "Invalid ID."));
    };
    let body = render::refund(&ctx.inner.site(), &r, false);
    st.refunds.remove(&rid);
    if let Some(o) = st.orders.get_mut(&oid) {
        o.refunds.retain(|x| *x != rid);
    }
    // WooCommerce 10.0 fires no order.updated here (woocommerce_delete_order_refund is 11.2+).
    Ok(json_response(200, &body))
}

fn create_refund(ctx: &Ctx, oid: u64) -> R {
    ctx.allow(Op::Create)?;
    let body = ctx.body();
    let api_refund = match body.get("api_refund") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => truthy(Some(s)),
        _ => true,
    };
    let now = ctx.inner.now();
    let rid = {
        let mut st = ctx.inner.lock();
        let Some(o) = st.orders.get(&oid) else {
            return Err(err(
                404,
                "woocommerce_rest_invalid_order_id",
                "Invalid order ID.",
            ));
        };
        // api_refund (default true) asks the gateway for the money back; the offline gateways
        // (bacs, cheque, cod) cannot, and wc_create_refund() then fails.
        let gateway_refunds = !matches!(o.payment_method.as_str(), "bacs" | "cheque" | "cod" | "");
        if api_refund && !gateway_refunds {
            return Err(err(
                500,
                "woocommerce_rest_cannot_create_order_refund",
                "The payment gateway for this order does not support automatic refunds.",
            ));
        }
        st.refund(oid, &body, &ctx.inner.settings, api_refund, now)
            .map_err(|(s, c, m)| err(s, &c, &m))?
    };
    let st = ctx.inner.lock();
    let r = st.refunds.get(&rid).ok_or_else(invalid_order)?;
    Ok(
        json_response(201, &render::refund(&ctx.inner.site(), r, false)).header(
            "Location",
            ctx.inner
                .site()
                .rest(&format!("orders/{oid}/refunds/{rid}")),
        ),
    )
}

/// `rest_is_boolean()` then `rest_sanitize_boolean()`: true/false, "true"/"false", "1"/"0", 1/0.
fn bool_param(body: &Value, name: &str) -> Result<bool, Response> {
    let bad = || {
        invalid_param(
            name,
            "rest_invalid_type",
            &format!("{name} is not of type boolean."),
        )
    };
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(bad()),
        },
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// PHP `empty()`: null, false, 0, "", "0" and [] are empty.
fn php_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// The 404 of the notes routes for an order that does not exist (`get_items` builds its code
/// from the post type; `create_item`/`get_item`/`delete_item` use `woocommerce_rest_order_…`).
fn invalid_note_order(listing: bool) -> Response {
    let code = if listing {
        "woocommerce_rest_shop_order_invalid_id"
    } else {
        "woocommerce_rest_order_invalid_id"
    };
    err(404, code, "Invalid order ID.")
}

/// `GET /orders/<id>/notes` (v2+): every note, newest first, no paging; `type` any, customer or
/// internal.
fn list_notes(ctx: &Ctx, oid: u64) -> R {
    let kind = enum_param(ctx.req, "type", &["any", "customer", "internal"], "any")?;
    ctx.allow(Op::List)?;
    let st = ctx.inner.lock();
    if !st.orders.contains_key(&oid) {
        return Err(invalid_note_order(true));
    }
    let site = ctx.inner.site();
    let items: Vec<Value> = st
        .notes_of(oid)
        .into_iter()
        .filter(|n| match kind {
            "customer" => n.customer_note,
            "internal" => !n.customer_note,
            _ => true,
        })
        .map(|n| render::note(&site, n))
        .collect();
    Ok(json_response(200, &Value::Array(items)))
}

/// `POST /orders/<id>/notes`: `note` is required (checked by WordPress before anything else),
/// `customer_note` and `added_by_user` are booleans. Adding a note saves nothing on the order:
/// no `order.updated` (woocommerce.md §2.5; `add_order_note()`).
fn create_note(ctx: &Ctx, oid: u64) -> R {
    let body = ctx.body();
    if body.get("note").is_none_or(Value::is_null) {
        return Err(json_response(
            400,
            &json!({"code": "rest_missing_callback_param",
                    "message": "Missing parameter(s): note",
                    "data": {"status": 400, "params": ["note"]}}),
        ));
    }
    let Some(text) = body.get("note").and_then(Value::as_str).map(str::to_string) else {
        return Err(invalid_param(
            "note",
            "rest_invalid_type",
            "note is not of type string.",
        ));
    };
    let customer_note = bool_param(&body, "customer_note")?;
    let by_user = bool_param(&body, "added_by_user")?;
    ctx.allow(Op::Create)?;
    if body.get("id").is_some_and(|v| !php_empty(v)) {
        return Err(err(
            400,
            "woocommerce_rest_shop_order_exists",
            "Cannot create existing shop_order.",
        ));
    }
    let now = ctx.inner.now();
    let mut st = ctx.inner.lock();
    if !st.orders.contains_key(&oid) {
        return Err(invalid_note_order(false));
    }
    // The key's user may edit orders, so `added_by_user` names it (ours: "admin").
    let author = if by_user {
        "admin"
    } else {
        super::model::SYSTEM_AUTHOR
    };
    let nid = st
        .add_note(oid, &text, customer_note, author, now)
        .map_err(|_| invalid_note_order(false))?;
    let site = ctx.inner.site();
    let n = st
        .notes
        .get(&nid)
        .ok_or_else(|| invalid_note_order(false))?;
    Ok(json_response(201, &render::note(&site, n))
        .header("Location", site.rest(&format!("orders/{oid}/notes/{nid}"))))
}

fn get_note(ctx: &Ctx, oid: u64, nid: u64) -> R {
    ctx.allow(Op::View)?;
    let st = ctx.inner.lock();
    if !st.orders.contains_key(&oid) {
        return Err(invalid_note_order(false));
    }
    match st.notes.get(&nid).filter(|n| n.order_id == oid) {
        Some(n) => Ok(json_response(200, &render::note(&ctx.inner.site(), n))),
        None => Err(err(
            404,
            "woocommerce_rest_invalid_id",
            "Invalid resource ID.",
        )),
    }
}

/// `DELETE /orders/<id>/notes/<nid>?force=true`; without `force` the controller answers with
/// the webhooks' wording, as WooCommerce does.
fn delete_note(ctx: &Ctx, oid: u64, nid: u64) -> R {
    ctx.allow(Op::Delete)?;
    force_required(ctx, "Webhooks")?;
    let mut st = ctx.inner.lock();
    if !st.orders.contains_key(&oid) {
        return Err(invalid_note_order(false));
    }
    let Some(n) = st.notes.get(&nid).filter(|n| n.order_id == oid).cloned() else {
        return Err(err(
            404,
            "woocommerce_rest_invalid_id",
            "Invalid resource ID.",
        ));
    };
    let body = render::note(&ctx.inner.site(), &n);
    st.notes.remove(&nid);
    Ok(json_response(200, &body))
}

fn list_products(ctx: &Ctx) -> R {
    let req = ctx.req;
    let p = paging(req)?;
    let order = enum_param(req, "order", &["asc", "desc"], "desc")?;
    let orderby = enum_param(
        req,
        "orderby",
        &[
            "date",
            "id",
            "include",
            "title",
            "slug",
            "modified",
            "price",
            "popularity",
            "rating",
            "menu_order",
        ],
        "date",
    )?;
    ctx.allow(Op::List)?;
    let skus: Vec<String> = req
        .param("sku")
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut v: Vec<String> = s.split(',').map(str::to_string).collect();
            v.push(s.to_string());
            v
        })
        .unwrap_or_default();
    let include = id_list(req, "include");
    let search = req
        .param("search")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let kind = req.param("type").filter(|s| !s.is_empty());
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    let mut items: Vec<&super::model::Product> = st
        .products
        .values()
        // `sku` searches variations too (post_type product + product_variation).
        .filter(|x| {
            if skus.is_empty() {
                x.kind != "variation"
            } else {
                skus.contains(&x.sku) && !x.sku.is_empty()
            }
        })
        .filter(|x| include.is_empty() || include.contains(&x.id))
        .filter(|x| kind.is_none_or(|k| x.kind == k))
        .filter(|x| {
            search
                .as_ref()
                .is_none_or(|q| x.name.to_lowercase().contains(q.as_str()))
        })
        .collect();
    items.sort_by(|a, b| {
        let key = |x: &super::model::Product| match orderby {
            "id" => (x.id as i64, String::new(), x.id),
            "title" | "slug" => (0, x.name.to_lowercase(), x.id),
            "modified" => (x.date_modified, String::new(), x.id),
            _ => (x.date_created, String::new(), x.id),
        };
        key(a).cmp(&key(b))
    });
    if order == "desc" {
        items.reverse();
    }
    let values = items
        .into_iter()
        .map(|x| render::product(&site, &st, x))
        .collect();
    Ok(page_of(ctx, "products", values, &p))
}

fn get_product(ctx: &Ctx, id: u64, parent: Option<u64>) -> R {
    ctx.allow(Op::View)?;
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    match (st.products.get(&id), parent) {
        (Some(x), None) => Ok(json_response(200, &render::product(&site, &st, x))),
        (Some(x), Some(pid)) if x.kind == "variation" && x.parent_id == pid => {
            Ok(json_response(200, &render::variation(&site, x)))
        }
        (_, None) => Err(err(
            404,
            "woocommerce_rest_product_invalid_id",
            "Invalid ID.",
        )),
        (_, Some(_)) => Err(err(
            404,
            "woocommerce_rest_product_variation_invalid_id",
            "Invalid ID.",
        )),
    }
}

fn update_product(ctx: &Ctx, id: u64, parent: Option<u64>) -> R {
    ctx.allow(Op::Edit)?;
    let body = ctx.body();
    let now = ctx.inner.now();
    {
        let mut st = ctx.inner.lock();
        let ok = match (st.products.get(&id), parent) {
            (Some(_), None) => true,
            (Some(x), Some(pid)) => x.kind == "variation" && x.parent_id == pid,
            _ => false,
        };
        if !ok {
            let code = if parent.is_some() {
                "woocommerce_rest_product_variation_invalid_id"
            } else {
                "woocommerce_rest_product_invalid_id"
            };
            return Err(err(404, code, "Invalid ID."));
        }
        if let Some(sku) = body.get("sku").and_then(Value::as_str)
            && !sku.is_empty()
            && st.products.values().any(|x| x.id != id && x.sku == sku)
        {
            return Err(err(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
            ));
        }
        st.check_product_status(id, &body)
            .map_err(|e| invalid_param("status", "rest_not_in_enum", &e))?;
        st.update_product(id, &body, now)
            .map_err(|e| invalid_param("stock_quantity", "rest_invalid_type", &e))?;
    }
    get_product(ctx, id, parent)
}

/// `POST /products/batch` and `/products/<id>/variations/batch` (`WC_REST_Controller::
/// batch_items`): more than 100 items in all → 413; each `update` item is applied as its own
/// `PUT`, and a failing one is answered in place as `{"id", "error": {code, message, data}}`
/// while the others go through. `create` and `delete` are not simulated: each such item is
/// answered with an error, never silently ignored.
fn batch_products(ctx: &Ctx, parent: Option<u64>) -> R {
    ctx.allow(Op::Edit)?;
    let body = ctx.body();
    let list = |k: &str| {
        body.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (create, update, delete) = (list("create"), list("update"), list("delete"));
    if create.len() + update.len() + delete.len() > 100 {
        return Err(err(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        ));
    }
    let item_error = |id: Value, code: &str, message: &str, status: u16| json!({"id": id, "error": {"code": code, "message": message, "data": {"status": status}}});
    let mut out = serde_json::Map::new();
    let now = ctx.inner.now();
    let mut updated = Vec::new();
    {
        let mut st = ctx.inner.lock();
        let site = ctx.inner.site();
        for item in &update {
            let id = item.get("id").and_then(Value::as_u64).unwrap_or(0);
            let ok = match (st.products.get(&id), parent) {
                (Some(x), None) => x.kind != "variation",
                (Some(x), Some(pid)) => x.kind == "variation" && x.parent_id == pid,
                _ => false,
            };
            if !ok {
                let code = if parent.is_some() {
                    "woocommerce_rest_product_variation_invalid_id"
                } else {
                    "woocommerce_rest_product_invalid_id"
                };
                updated.push(item_error(json!(id), code, "Invalid ID.", 400));
                continue;
            }
            if let Err(e) = st.check_product_status(id, item) {
                updated.push(item_error(json!(id), "rest_invalid_param", &e, 400));
                continue;
            }
            match st.update_product(id, item, now) {
                Ok(()) => {
                    let p = st.products.get(&id).cloned();
                    updated.push(match p {
                        Some(p) if parent.is_some() => render::variation(&site, &p),
                        Some(p) => render::product(&site, &st, &p),
                        None => Value::Null,
                    });
                }
                Err(e) => updated.push(item_error(json!(id), "rest_invalid_param", &e, 400)),
            }
        }
    }
    if !create.is_empty() {
        let errs = create
            .iter()
            .map(|_| {
                item_error(
                    json!(0),
                    "woo_sim_unsupported",
                    "woo-sim does not create products in a batch.",
                    501,
                )
            })
            .collect();
        out.insert("create".into(), Value::Array(errs));
    }
    if !update.is_empty() {
        out.insert("update".into(), Value::Array(updated));
    }
    if !delete.is_empty() {
        let errs = delete
            .iter()
            .map(|id| {
                item_error(
                    id.clone(),
                    "woo_sim_unsupported",
                    "woo-sim does not delete products in a batch.",
                    501,
                )
            })
            .collect();
        out.insert("delete".into(), Value::Array(errs));
    }
    Ok(json_response(200, &Value::Object(out)))
}

fn list_variations(ctx: &Ctx, pid: u64) -> R {
    let p = paging(ctx.req)?;
    ctx.allow(Op::List)?;
    let st = ctx.inner.lock();
    let Some(parent) = st.products.get(&pid) else {
        return Err(err(
            404,
            "woocommerce_rest_product_invalid_id",
            "Invalid ID.",
        ));
    };
    let site = ctx.inner.site();
    let mut ids = parent.variations.clone();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let items = ids
        .iter()
        .filter_map(|v| st.products.get(v))
        .map(|v| render::variation(&site, v))
        .collect();
    Ok(page_of(
        ctx,
        &format!("products/{pid}/variations"),
        items,
        &p,
    ))
}

fn list_customers(ctx: &Ctx) -> R {
    let req = ctx.req;
    let p = paging(req)?;
    let order = enum_param(req, "order", &["asc", "desc"], "asc")?;
    let orderby = enum_param(
        req,
        "orderby",
        &["id", "include", "name", "registered_date"],
        "name",
    )?;
    ctx.allow(Op::List)?;
    let email = req
        .param("email")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let search = req
        .param("search")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    let mut items: Vec<&super::model::Customer> = st
        .customers
        .values()
        .filter(|c| email.as_ref().is_none_or(|e| c.email.to_lowercase() == *e))
        .filter(|c| {
            search.as_ref().is_none_or(|q| {
                format!(
                    "{} {} {} {}",
                    c.first_name, c.last_name, c.email, c.username
                )
                .to_lowercase()
                .contains(q.as_str())
            })
        })
        .collect();
    items.sort_by(|a, b| {
        let key = |c: &super::model::Customer| match orderby {
            "name" => (c.username.to_lowercase(), c.id),
            "registered_date" => (format!("{:020}", c.date_created), c.id),
            _ => (String::new(), c.id),
        };
        key(a).cmp(&key(b))
    });
    if order == "desc" {
        items.reverse();
    }
    let values = items
        .into_iter()
        .map(|c| render::customer(&site, c))
        .collect();
    Ok(page_of(ctx, "customers", values, &p))
}

fn get_customer(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::View)?;
    let st = ctx.inner.lock();
    match st.customers.get(&id) {
        Some(c) => Ok(json_response(200, &render::customer(&ctx.inner.site(), c))),
        None => Err(err(
            404,
            "woocommerce_rest_invalid_id",
            "Invalid resource ID.",
        )),
    }
}

/// `PUT /customers/<id>`: WordPress checks the arguments against the schema first (`email` an
/// e-mail address, `billing`/`shipping` objects), then the controller refuses an unknown id, an
/// e-mail another customer has and a new username; the answer is the customer as `GET` shows it.
fn update_customer(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::Edit)?;
    let body = ctx.body();
    if let Some(e) = body.get("email") {
        let ok = e.as_str().is_some_and(is_email);
        if !ok {
            return Err(invalid_param(
                "email",
                "rest_invalid_email",
                "Invalid email address.",
            ));
        }
    }
    for block in ["billing", "shipping"] {
        if body.get(block).is_some_and(|b| !b.is_object()) {
            return Err(invalid_param(
                block,
                "rest_invalid_type",
                &format!("{block} is not of type object."),
            ));
        }
    }
    let now = ctx.inner.now();
    ctx.inner
        .lock()
        .update_customer(id, &body, now)
        .map_err(|(status, code, msg)| err(status, code, &msg))?;
    get_customer(ctx, id)
}

/// WordPress's `is_email()`, its structural checks: 6+ characters, one `@`, a local part, a
/// domain of at least two labels of letters, digits and hyphens.
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() >= 6
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `wc_is_webhook_valid_topic()` (woocommerce.md §1.2).
pub(crate) fn valid_topic(topic: &str) -> bool {
    if let Some(action) = topic.strip_prefix("action.") {
        return (action.starts_with("woocommerce_") || action.starts_with("wc_"))
            && !matches!(
                action,
                "woocommerce_login_credentials"
                    | "woocommerce_product_csv_importer_check_import_file_path"
                    | "woocommerce_webhook_should_deliver"
            );
    }
    match topic.split_once('.') {
        Some((r, e)) => {
            matches!(r, "coupon" | "customer" | "order" | "product")
                && matches!(e, "created" | "updated" | "deleted" | "restored")
        }
        None => false,
    }
}

/// `wc_is_valid_url()`: an absolute http(s) URL.
pub(crate) fn valid_url(url: &str) -> bool {
    super::deliver::parse_url(url).is_some() && !url.contains(char::is_whitespace)
}

fn list_webhooks(ctx: &Ctx) -> R {
    let req = ctx.req;
    let p = paging(req)?;
    let status = enum_param(
        req,
        "status",
        &["all", "active", "paused", "disabled"],
        "all",
    )?;
    let order = enum_param(req, "order", &["asc", "desc"], "desc")?;
    let orderby = enum_param(req, "orderby", &["date", "id", "title"], "date")?;
    ctx.allow(Op::List)?;
    let search = req
        .param("search")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let st = ctx.inner.lock();
    let site = ctx.inner.site();
    let mut items: Vec<&super::model::Webhook> = st
        .webhooks
        .values()
        .filter(|w| status == "all" || w.status == status)
        .filter(|w| {
            search
                .as_ref()
                .is_none_or(|q| w.name.to_lowercase().contains(q.as_str()))
        })
        .collect();
    items.sort_by(|a, b| {
        let key = |w: &super::model::Webhook| match orderby {
            "title" => (0, w.name.to_lowercase(), w.id),
            "id" => (w.id as i64, String::new(), w.id),
            _ => (w.date_created, String::new(), w.id),
        };
        key(a).cmp(&key(b))
    });
    if order == "desc" {
        items.reverse();
    }
    let values = items
        .into_iter()
        .map(|w| render::webhook(&site, w))
        .collect();
    Ok(page_of(ctx, "webhooks", values, &p))
}

/// GET/PUT of an unknown webhook: 400 "ID is invalid." from `prepare_item_for_response()`
/// (woocommerce.md §2.4); DELETE answers 404 "Invalid ID.".
fn invalid_webhook() -> Response {
    err(
        400,
        "woocommerce_rest_shop_webhook_invalid_id",
        "ID is invalid.",
    )
}

fn get_webhook(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::View)?;
    let st = ctx.inner.lock();
    match st.webhooks.get(&id) {
        Some(w) => Ok(json_response(200, &render::webhook(&ctx.inner.site(), w))),
        None => Err(invalid_webhook()),
    }
}

fn create_webhook(ctx: &Ctx) -> R {
    let body = ctx.body();
    let missing: Vec<&str> = ["topic", "delivery_url"]
        .into_iter()
        .filter(|k| body.get(*k).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        return Err(json_response(
            400,
            &json!({"code": "rest_missing_callback_param",
                    "message": format!("Missing parameter(s): {}", missing.join(", ")),
                    "data": {"status": 400, "params": missing}}),
        ));
    }
    ctx.allow(Op::Create)?;
    let topic = body
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    if topic.is_empty() || !valid_topic(&topic) {
        return Err(err(
            400,
            "woocommerce_rest_shop_webhook_invalid_topic",
            "Webhook topic is required and must be valid.",
        ));
    }
    let url = body
        .get("delivery_url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if url.is_empty() || !valid_url(&url) {
        return Err(err(
            400,
            "woocommerce_rest_shop_webhook_invalid_delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        ));
    }
    let now = ctx.inner.now();
    let w = {
        let mut st = ctx.inner.lock();
        let secret = match body.get("secret").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => st.generate_secret(),
        };
        let name = match body.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => format!(
                "Webhook created on {}",
                time::format_webhook_name_date(now, ctx.inner.cfg.utc_offset_minutes as i64 * 60)
            ),
        };
        // A `status` in the body is ignored: REST-created webhooks are always active (§1.9).
        new_webhook(&mut st, name, topic, url, secret, now)
    };
    let resp = json_response(201, &render::webhook(&ctx.inner.site(), &w)).header(
        "Location",
        ctx.inner.site().rest(&format!("webhooks/{}", w.id)),
    );
    // create_item() pings after preparing the response and ignores the result.
    ctx.inner.ping(w.id);
    Ok(resp)
}

fn update_webhook(ctx: &Ctx, id: u64) -> R {
    let body = ctx.body();
    if let Some(s) = body.get("status") {
        let s = s.as_str().unwrap_or("");
        if !matches!(s, "active" | "paused" | "disabled") {
            return Err(invalid_param(
                "status",
                "rest_not_in_enum",
                "status is not one of active, paused, and disabled.",
            ));
        }
    }
    ctx.allow(Op::Edit)?;
    if !ctx.inner.lock().webhooks.contains_key(&id) {
        return Err(invalid_webhook());
    }
    if let Some(t) = body.get("topic").and_then(Value::as_str)
        && !valid_topic(&t.to_lowercase())
    {
        return Err(err(
            400,
            "woocommerce_rest_shop_webhook_invalid_topic",
            "Webhook topic is required and must be valid.",
        ));
    }
    if let Some(u) = body.get("delivery_url").and_then(Value::as_str)
        && !valid_url(u)
    {
        return Err(err(
            400,
            "woocommerce_rest_shop_webhook_invalid_delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        ));
    }
    let now = ctx.inner.now();
    let url_changed = {
        let mut st = ctx.inner.lock();
        let w = st.webhooks.get_mut(&id).ok_or_else(invalid_webhook)?;
        let mut changed = false;
        if let Some(u) = body.get("delivery_url").and_then(Value::as_str)
            && u != w.delivery_url
        {
            w.delivery_url = u.to_string();
            changed = true;
        }
        if let Some(t) = body.get("topic").and_then(Value::as_str) {
            w.topic = t.to_lowercase();
        }
        if let Some(n) = body.get("name").and_then(Value::as_str) {
            w.name = n.to_string();
        }
        if let Some(s) = body.get("secret").and_then(Value::as_str)
            && !s.is_empty()
        {
            w.secret = s.to_string();
        }
        // Re-enabling does not touch failure_count (woocommerce.md §1.7).
        if let Some(s) = body.get("status").and_then(Value::as_str) {
            w.status = s.to_string();
        }
        w.date_modified = now;
        changed
    };
    ctx.inner.after_webhook_save(id, url_changed);
    let st = ctx.inner.lock();
    let w = st.webhooks.get(&id).ok_or_else(invalid_webhook)?;
    Ok(json_response(200, &render::webhook(&ctx.inner.site(), w)))
}

fn delete_webhook(ctx: &Ctx, id: u64) -> R {
    ctx.allow(Op::Delete)?;
    force_required(ctx, "Webhooks")?;
    let mut st = ctx.inner.lock();
    let w = st.webhooks.remove(&id).ok_or_else(|| {
        err(
            404,
            "woocommerce_rest_shop_webhook_invalid_id",
            "Invalid ID.",
        )
    })?;
    Ok(json_response(200, &render::webhook(&ctx.inner.site(), &w)))
}

/// Used by the control API to reach the same rendering as `GET /orders/<id>`.
pub(crate) fn render_order(inner: &Inner, st: &State, id: u64) -> Option<Value> {
    st.orders
        .get(&id)
        .map(|o| render::order(&inner.site(), st, o))
}
