//! The WooCommerce REST client: orders, refunds, webhooks, products and stock over
//! `{site}/wp-json/wc/v3`, synchronous on `ureq`, shared by the host's threads (`WooClient` is
//! `Send + Sync`; one connection pool behind it).
//!
//! Facts it relies on (`../shared/reference/woocommerce.md`, its "Verified" section first):
//! - Over plain HTTP WooCommerce accepts only OAuth 1.0a one-legged (Basic and query-string keys
//!   are ignored and the request fails later with 401 `woocommerce_rest_cannot_view`); over
//!   HTTPS Basic is the simple choice. [`WooAuth::Auto`] picks by the site URL's scheme.
//! - The OAuth base string covers `home_url(path)`: the site URL as WordPress knows it, so
//!   requests go to exactly `{site_url}wp-json/wc/v3/…` and redirects are not followed (a
//!   redirect to another scheme or host would invalidate the signature anyway).
//! - `Link` headers repeat the OAuth parameters of the request: page URLs are built here, with
//!   `X-WP-TotalPages` telling when to stop.
//! - Errors are `{code,message,data:{status}}`; a 404 `woocommerce_rest_shop_order_invalid_id`
//!   means the order is gone for good, a 404 `rest_no_route` means this is not the REST API we
//!   think it is — the two must not be confused.
//!
//! Secrets: the consumer secret, OAuth signatures and Basic credentials never enter an error,
//! a `Debug` output or a log line. URLs in messages are printed without their query string.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How requests authenticate (woocommerce.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WooAuth {
    /// `https` site URL ⇒ Basic; `http` ⇒ OAuth 1.0a one-legged (the only thing WooCommerce
    /// accepts over plain HTTP, verified section).
    #[default]
    Auto,
    /// OAuth 1.0a one-legged, HMAC-SHA256, parameters in the query string.
    OAuth1,
    /// HTTP Basic with the consumer key as user name (HTTPS, or a proxy WordPress trusts).
    Basic,
    /// `?consumer_key=…&consumer_secret=…` for servers that strip `Authorization` (HTTPS only).
    QueryString,
}

/// Where the shop is and how to reach it.
#[derive(Clone)]
pub struct WooSettings {
    /// WordPress's home URL, e.g. `https://shop.example/`; the REST base is
    /// `{site}/wp-json/wc/v3`.
    pub site_url: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub auth: WooAuth,
    /// PEM file of the CA(s) to trust *instead of* the public web roots (an internal CA).
    pub ca_file: Option<PathBuf>,
    /// Whole-request limit. Creating a webhook waits for WooCommerce's ping (up to 5 s), so
    /// keep this well above that.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl WooSettings {
    /// Settings with `Auto` auth, no custom CA, 30 s per request and 10 s to connect.
    pub fn new(site_url: &str, consumer_key: &str, consumer_secret: &str) -> WooSettings {
        WooSettings {
            site_url: site_url.to_string(),
            consumer_key: consumer_key.to_string(),
            consumer_secret: consumer_secret.to_string(),
            auth: WooAuth::Auto,
            ca_file: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for WooSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WooSettings")
            .field("site_url", &self.site_url)
            .field("consumer_key", &key_hint(&self.consumer_key))
            .field("consumer_secret", &"<redacted>")
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Enough of a consumer key to tell two apart in a log, not enough to use it.
fn key_hint(key: &str) -> String {
    let head: String = key.chars().take(7).collect();
    format!("{head}…")
}

#[derive(Debug, thiserror::Error)]
pub enum WooError {
    /// Worth retrying later: connection refused/reset, timeout, TLS failure, 5xx, 429, a body
    /// that is not the JSON WooCommerce sends.
    #[error("{0}")]
    Transient(String),
    /// 401/403 with WooCommerce's code and message (e.g. woocommerce_rest_authentication_error).
    #[error("WooCommerce refused the credentials (HTTP {status} {code}): {message}")]
    Auth {
        status: u16,
        code: String,
        message: String,
    },
    /// Any other 4xx: code and message from the `{code,message,data}` body (code empty when the
    /// body was not WooCommerce's JSON).
    #[error("WooCommerce rejected the request (HTTP {status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// Our settings cannot work: bad site URL, unreadable CA file, a redirect to elsewhere.
    #[error("WooCommerce settings: {0}")]
    Config(String),
}

pub type Result<T, E = WooError> = std::result::Result<T, E>;

/// One page of `GET /orders`.
#[derive(Debug, Clone)]
pub struct OrdersPage {
    /// Each order's raw JSON, re-serialised compactly from the list body (key order kept).
    pub orders: Vec<Vec<u8>>,
    /// `X-WP-Total` (falls back to what this page shows when a proxy strips the header).
    pub total: u64,
    /// `X-WP-TotalPages` (same fallback).
    pub total_pages: u64,
}

/// A webhook as the REST API shows it (the secret is never returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: u64,
    pub name: String,
    /// `active`, `paused` or `disabled` (disabled = by WooCommerce after repeated failures).
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
}

/// A sellable item for mapping coverage: a simple product (`variation_id` 0) or a variation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    pub product_id: u64,
    pub variation_id: u64,
    /// None when the product has no SKU (it cannot be mapped by SKU).
    pub sku: Option<String>,
    pub name: String,
}

/// The authentication actually used, `Auto` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    OAuth1,
    Basic,
    QueryString,
}

impl Mode {
    fn describe(self) -> &'static str {
        match self {
            Mode::OAuth1 => "OAuth 1.0a",
            Mode::Basic => "Basic auth",
            Mode::QueryString => "query-string keys",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A response, whatever its status.
struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }

    /// `(code, message)` of a WordPress error body, if it is one.
    fn wp_error(&self) -> Option<(String, String)> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        let code = v.get("code")?.as_str()?.to_string();
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Some((code, message))
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("no content type")
    }
}

/// Largest response body read (a page of 100 orders is well under 1 MB).
const BODY_LIMIT: u64 = 64 * 1024 * 1024;
/// WooCommerce's `per_page` maximum (§2.3).
const MAX_PER_PAGE: u32 = 100;
/// A bound on "all pages" loops, so a server that lies about `X-WP-TotalPages` cannot spin us.
const MAX_PAGES: u32 = 10_000;
/// Items per batch request: WooCommerce refuses more than 100 (`woocommerce_rest_batch_items_limit`).
const BATCH_LIMIT: usize = 100;

/// The WooCommerce REST client. Cheap to share: `&WooClient` from any thread.
pub struct WooClient {
    agent: ureq::Agent,
    /// `scheme://host[:port]/path/` as normalised from `site_url`.
    site: String,
    /// `{site}wp-json/wc/v3/`.
    rest: String,
    /// `host[:port]` for messages.
    authority: String,
    https: bool,
    key: String,
    secret: String,
    mode: Mode,
    nonce_counter: AtomicU64,
}

impl fmt::Debug for WooClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WooClient")
            .field("rest", &self.rest)
            .field("consumer_key", &key_hint(&self.key))
            .field("consumer_secret", &"<redacted>")
            .field("auth", &self.mode)
            .finish()
    }
}

impl WooClient {
    pub fn new(settings: WooSettings) -> Result<WooClient, WooError> {
        let (site, authority, https) = normalise_site(&settings.site_url)?;
        if settings.consumer_key.trim().is_empty() || settings.consumer_secret.trim().is_empty() {
            return Err(WooError::Config(
                "the consumer key and secret must not be empty".into(),
            ));
        }
        let mode = match settings.auth {
            WooAuth::Auto if https => Mode::Basic,
            WooAuth::Auto | WooAuth::OAuth1 => Mode::OAuth1,
            WooAuth::Basic => Mode::Basic,
            WooAuth::QueryString => Mode::QueryString,
        };
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &settings.ca_file {
            tls = tls.root_certs(load_ca(path)?);
        }
        let config = ureq::Agent::config_builder()
            // 4xx/5xx bodies carry WooCommerce's code and message: read them, don't error.
            .http_status_as_error(false)
            // A redirect would change the URL the OAuth signature covers, and could carry
            // credentials elsewhere: report it instead of following it.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(settings.timeout))
            .timeout_connect(Some(settings.connect_timeout))
            .user_agent(concat!("ml-connector/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(tls.build())
            .build();
        Ok(WooClient {
            agent: config.new_agent(),
            rest: format!("{site}wp-json/wc/v3/"),
            site,
            authority,
            https,
            key: settings.consumer_key.trim().to_string(),
            secret: settings.consumer_secret.trim().to_string(),
            mode,
            nonce_counter: AtomicU64::new(0),
        })
    }

    /// The site URL as used for requests and OAuth signatures (normalised, trailing slash).
    pub fn site_url(&self) -> &str {
        &self.site
    }

    /// GET /orders/<id>: Ok(Some(raw body bytes exactly as received)), Ok(None) for 404
    /// `woocommerce_rest_shop_order_invalid_id` (deleted for good, or a refund's id).
    pub fn get_order(&self, id: u64) -> Result<Option<Vec<u8>>, WooError> {
        let path = format!("orders/{id}");
        let r = self.call(Method::Get, &path, &[], None)?;
        if self.is_gone(&r, &["woocommerce_rest_shop_order_invalid_id"]) {
            return Ok(None);
        }
        let r = self.ok(Method::Get, &path, r)?;
        self.expect_json(&path, &r, |v| v.is_object())?;
        Ok(Some(r.body))
    }

    /// One page of `GET /orders?modified_after=…&dates_are_gmt=true&orderby=modified&order=asc`
    /// (all statuses). `after_gmt` is GMT without offset, e.g. `2026-11-27T08:00:00`; the bound
    /// is exclusive. `page` starts at 1; `per_page` is clamped to WooCommerce's 1..=100.
    pub fn orders_modified_after(
        &self,
        after_gmt: &str,
        page: u32,
        per_page: u32,
    ) -> Result<OrdersPage, WooError> {
        self.orders_modified_after_in(after_gmt, "any", page, per_page)
    }

    /// As [`WooClient::orders_modified_after`], for one status (`any` leaves out `trash`, as in
    /// WordPress; ask for `trash` separately).
    pub fn orders_modified_after_in(
        &self,
        after_gmt: &str,
        status: &str,
        page: u32,
        per_page: u32,
    ) -> Result<OrdersPage, WooError> {
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let page = page.max(1);
        let query = [
            ("modified_after", after_gmt.to_string()),
            ("dates_are_gmt", "true".to_string()),
            ("orderby", "modified".to_string()),
            ("order", "asc".to_string()),
            ("per_page", per_page.to_string()),
            ("page", page.to_string()),
            ("status", status.to_string()),
        ];
        let (items, total, total_pages) = self.page("orders", &query, page, per_page)?;
        Ok(OrdersPage {
            orders: items.iter().map(compact).collect(),
            total,
            total_pages,
        })
    }

    /// Every refund of an order (all pages), each as compact raw JSON.
    pub fn list_refunds(&self, order_id: u64) -> Result<Vec<Vec<u8>>, WooError> {
        let items = self.all(&format!("orders/{order_id}/refunds"), &[])?;
        Ok(items.iter().map(compact).collect())
    }

    /// `GET /orders/<id>/refunds/<rid>`: the raw body, or None when the refund or its order
    /// does not exist (any more).
    pub fn get_refund(&self, order_id: u64, refund_id: u64) -> Result<Option<Vec<u8>>, WooError> {
        let path = format!("orders/{order_id}/refunds/{refund_id}");
        let r = self.call(Method::Get, &path, &[], None)?;
        if self.is_gone(
            &r,
            &[
                "woocommerce_rest_invalid_id",
                "woocommerce_rest_invalid_order_id",
                "woocommerce_rest_shop_order_refund_invalid_id",
            ],
        ) {
            return Ok(None);
        }
        let r = self.ok(Method::Get, &path, r)?;
        self.expect_json(&path, &r, |v| v.is_object())?;
        Ok(Some(r.body))
    }

    /// Every webhook of the shop, whatever its status (all pages).
    pub fn list_webhooks(&self) -> Result<Vec<Webhook>, WooError> {
        self.all("webhooks", &[])?
            .iter()
            .map(|v| self.webhook(v))
            .collect()
    }

    /// `POST /webhooks`: WooCommerce creates it `active` and pings `delivery_url` before
    /// answering (§1.8). The secret signs deliveries and is never returned.
    pub fn create_webhook(
        &self,
        name: &str,
        topic: &str,
        delivery_url: &str,
        secret: &str,
    ) -> Result<Webhook, WooError> {
        let body = json!({
            "name": name,
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret,
        });
        let v = self.json(Method::Post, "webhooks", &[], Some(&body))?;
        self.webhook(&v)
    }

    /// `PUT /webhooks/<id>` with `status` `active`, `paused` or `disabled`. Re-enabling keeps
    /// WooCommerce's failure count (§1.7).
    pub fn set_webhook_status(&self, id: u64, status: &str) -> Result<Webhook, WooError> {
        let body = json!({ "status": status });
        let v = self.json(Method::Put, &format!("webhooks/{id}"), &[], Some(&body))?;
        self.webhook(&v)
    }

    /// `PUT /webhooks/<id>` with some of `name`, `delivery_url`, `secret`, `status`: repairs a
    /// webhook in place (its id, and so the deliveries already queued, are kept).
    pub fn update_webhook(&self, id: u64, changes: &Value) -> Result<Webhook, WooError> {
        let v = self.json(Method::Put, &format!("webhooks/{id}"), &[], Some(changes))?;
        self.webhook(&v)
    }

    /// `DELETE /webhooks/<id>?force=true` (webhooks cannot be trashed). A webhook already gone
    /// counts as deleted, so cleaning up can be re-run.
    pub fn delete_webhook(&self, id: u64) -> Result<(), WooError> {
        let path = format!("webhooks/{id}");
        let r = self.call(Method::Delete, &path, &[("force", "true".into())], None)?;
        if self.is_gone(&r, &["woocommerce_rest_shop_webhook_invalid_id"]) {
            return Ok(());
        }
        self.ok(Method::Delete, &path, r).map(drop)
    }

    /// The product or variation whose SKU is exactly `sku` (WooCommerce's `sku` filter also
    /// finds variations), or None.
    pub fn find_product_by_sku(&self, sku: &str) -> Result<Option<Value>, WooError> {
        if sku.is_empty() {
            return Ok(None);
        }
        let items = self.all("products", &[("sku", sku.to_string())])?;
        Ok(items
            .into_iter()
            .find(|v| v.get("sku").and_then(Value::as_str) == Some(sku)))
    }

    /// Every order (all statuses but trash, all pages) created strictly between `after_gmt` and
    /// `before_gmt` (GMT, `2026-11-01T00:00:00`), oldest first, each as parsed JSON.
    pub fn orders_created_between(
        &self,
        after_gmt: &str,
        before_gmt: &str,
    ) -> Result<Vec<Value>, WooError> {
        self.all(
            "orders",
            &[
                ("after", after_gmt.to_string()),
                ("before", before_gmt.to_string()),
                ("dates_are_gmt", "true".to_string()),
                ("orderby", "date".to_string()),
                ("order", "asc".to_string()),
                ("status", "any".to_string()),
            ],
        )
    }

    /// Set the stock of a simple product (`variation_id` 0) or of a variation. Also turns on
    /// `manage_stock`, without which WooCommerce ignores `stock_quantity`.
    pub fn set_stock(
        &self,
        product_id: u64,
        variation_id: u64,
        quantity: i64,
    ) -> Result<(), WooError> {
        let path = if variation_id == 0 {
            format!("products/{product_id}")
        } else {
            format!("products/{product_id}/variations/{variation_id}")
        };
        let body = json!({ "manage_stock": true, "stock_quantity": quantity });
        self.json(Method::Put, &path, &[], Some(&body)).map(drop)
    }

    /// The products and variations whose SKU is one of `skus` (WooCommerce's `sku` filter takes
    /// a comma-separated list and searches variations too), read 100 SKUs per request, in the
    /// `edit` context (the stored text, not the shop's rendering of it). A SKU
    /// with a comma cannot be asked this way: it is read on its own.
    pub fn products_by_skus(&self, skus: &[String]) -> Result<Vec<Value>, WooError> {
        let (plain, odd): (Vec<&String>, Vec<&String>) = skus
            .iter()
            .filter(|s| !s.is_empty())
            .partition(|s| !s.contains(','));
        let mut out = Vec::new();
        for chunk in plain.chunks(MAX_PER_PAGE as usize) {
            let list = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            for v in self.all("products", &[("sku", list), ("context", "edit".into())])? {
                if chunk
                    .iter()
                    .any(|s| v.get("sku").and_then(Value::as_str) == Some(s.as_str()))
                {
                    out.push(v);
                }
            }
        }
        for sku in odd {
            out.extend(self.find_product_by_sku(sku)?);
        }
        Ok(out)
    }

    /// The products with these ids (`include`), 100 per request; ids that are not products
    /// (deleted, or a variation) are simply absent.
    pub fn products_by_ids(&self, ids: &[u64]) -> Result<Vec<Value>, WooError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_PER_PAGE as usize) {
            let list = chunk
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            out.extend(self.all("products", &[("include", list), ("context", "edit".into())])?);
        }
        Ok(out)
    }

    /// The variable products (`type=variable`), each with its `variations` ids.
    pub fn variable_products(&self) -> Result<Vec<Value>, WooError> {
        self.all(
            "products",
            &[("type", "variable".into()), ("context", "edit".into())],
        )
    }

    /// Every variation of a variable product.
    pub fn variations_of(&self, product_id: u64) -> Result<Vec<Value>, WooError> {
        self.all(
            &format!("products/{product_id}/variations"),
            &[("context", "edit".into())],
        )
    }

    /// `POST /products/batch` (`parent` None) or `/products/<parent>/variations/batch` with up to
    /// 100 `update` items. WooCommerce answers 200 with each item's result in place: the product
    /// as saved, or `{"id", "error": {"code", "message"}}` for one it refused. Returns, per item
    /// sent, None when saved or the refusal's message.
    pub fn batch_update(
        &self,
        parent: Option<u64>,
        updates: &[Value],
    ) -> Result<Vec<Option<String>>, WooError> {
        let path = match parent {
            None => "products/batch".to_string(),
            Some(p) => format!("products/{p}/variations/batch"),
        };
        let mut out = Vec::with_capacity(updates.len());
        for chunk in updates.chunks(BATCH_LIMIT) {
            let v = self.json(Method::Post, &path, &[], Some(&json!({ "update": chunk })))?;
            let answered = v.get("update").and_then(Value::as_array);
            for (i, _) in chunk.iter().enumerate() {
                let item = answered.and_then(|a| a.get(i));
                out.push(match item {
                    Some(r) if r.get("error").is_some() => Some(format!(
                        "{}: {}",
                        r["error"]["code"].as_str().unwrap_or("error"),
                        r["error"]["message"].as_str().unwrap_or("refused")
                    )),
                    Some(_) => None,
                    None => Some("not in WooCommerce's answer".into()),
                });
            }
        }
        Ok(out)
    }

    /// The catalogue for mapping coverage: every product that is sold as itself (simple and
    /// plugin types) and every variation of variable products; not variable parents, grouped
    /// or external products, which never appear as an order line of their own.
    pub fn catalogue(&self) -> Result<Vec<CatalogueItem>, WooError> {
        let mut out = Vec::new();
        for p in self.all("products", &[])? {
            let id = p.get("id").and_then(Value::as_u64).unwrap_or(0);
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let kind = p.get("type").and_then(Value::as_str).unwrap_or("simple");
            let has_variations = p
                .get("variations")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if kind == "variable" || has_variations {
                for v in self.all(&format!("products/{id}/variations"), &[])? {
                    out.push(CatalogueItem {
                        product_id: id,
                        variation_id: v.get("id").and_then(Value::as_u64).unwrap_or(0),
                        sku: sku_of(&v),
                        name: variation_name(name, &v),
                    });
                }
            } else if !matches!(kind, "grouped" | "external") {
                out.push(CatalogueItem {
                    product_id: id,
                    variation_id: 0,
                    sku: sku_of(&p),
                    name: name.to_string(),
                });
            }
        }
        Ok(out)
    }

    /// Connection test for `ml-connector ping`: Ok with what works, or the precise reason it
    /// does not (DNS, refused, TLS, wrong key or secret, read-only key, not a WooCommerce site).
    /// Reads one order list page and probes write permission on a route that does not exist,
    /// so nothing in the shop changes.
    pub fn ping(&self) -> Result<String, WooError> {
        let r = self.call(Method::Get, "orders", &[("per_page", "1".into())], None)?;
        if r.status == 404 {
            return Err(self.not_woocommerce(&r));
        }
        if matches!(r.status, 401 | 403) {
            return Err(self.auth_verdict(&r));
        }
        let r = self.ok(Method::Get, "orders", r)?;
        let orders = self.expect_json("orders", &r, |v| v.is_array())?;
        let count = r
            .header_u64("x-wp-total")
            .unwrap_or(orders.as_array().map_or(0, |a| a.len() as u64));
        // WooCommerce checks the key's permission for the method before routing
        // (`check_user_permissions` on `rest_pre_dispatch`): a write key gets 404 here, a
        // read-only key 401 — and no route means nothing is written.
        let probe = "ml-connector-write-probe";
        let w = self.call(Method::Post, probe, &[], Some(&json!({})))?;
        match w.status {
            404 => {}
            401 | 403 => {
                let (code, said) = w.wp_error().unwrap_or_default();
                return Err(WooError::Auth {
                    status: w.status,
                    code,
                    message: self.scrub(&format!(
                        "the API key can read but not write ({said}): ml-connector needs a \
                         Read/Write key to register webhooks and update stock"
                    )),
                });
            }
            _ => return Err(self.error_for(Method::Post, probe, &w)),
        }
        Ok(format!(
            "WooCommerce REST API v3 at {}: the key reads and writes ({}{}); {count} order{} in \
             the shop",
            self.rest,
            self.mode.describe(),
            if self.https { "" } else { " over plain HTTP" },
            if count == 1 { "" } else { "s" },
        ))
    }

    // ---- verdicts -------------------------------------------------------------------------

    /// A 404 on `/orders`: WordPress without WooCommerce (`rest_no_route`) or no WordPress.
    fn not_woocommerce(&self, r: &Reply) -> WooError {
        match r.wp_error() {
            Some((code, message)) => WooError::Rejected {
                status: 404,
                message: self.scrub(&format!(
                    "not a WooCommerce site: {}orders answered {code} ({message}); is \
                     WooCommerce active, and is site_url WordPress's home URL?",
                    self.rest
                )),
                code,
            },
            None => WooError::Rejected {
                status: 404,
                code: String::new(),
                message: format!(
                    "not a WooCommerce site: {}orders answered 404 with {} and no WordPress \
                     error body (wrong site_url, or plain permalinks without /wp-json/)",
                    self.rest,
                    r.content_type()
                ),
            },
        }
    }

    /// A 401/403 on `/orders`, explained.
    fn auth_verdict(&self, r: &Reply) -> WooError {
        let (code, message) = r.wp_error().unwrap_or_else(|| {
            (
                String::new(),
                format!("HTTP {} with {}", r.status, r.content_type()),
            )
        });
        let why = if message.contains("Consumer key is invalid") {
            "wrong consumer key".to_string()
        } else if message.contains("Consumer secret is invalid") || message.contains("signature") {
            format!(
                "wrong consumer secret (or site_url is not exactly WordPress's home URL {}, \
                 which the OAuth signature covers)",
                self.site
            )
        } else if message.contains("timestamp") {
            "this machine's clock differs from the shop's by more than 15 minutes".into()
        } else if message.contains("read permissions") {
            "the API key cannot read (write-only key)".into()
        } else if code.starts_with("woocommerce_rest_cannot_") && self.mode != Mode::OAuth1 {
            if self.https {
                "the keys were not recognised: unknown consumer key, or the server strips the \
                 Authorization header (try auth = query-string)"
                    .into()
            } else {
                format!(
                    "the keys were ignored: over plain HTTP WooCommerce accepts only OAuth \
                     1.0a, not {} (use auth = oauth1 or an https site_url)",
                    self.mode.describe()
                )
            }
        } else if code.starts_with("woocommerce_rest_cannot_") {
            "the key's user may not manage WooCommerce".into()
        } else {
            "credentials refused".into()
        };
        WooError::Auth {
            status: r.status,
            message: self.scrub(&format!("{why} — WooCommerce said: {message}")),
            code,
        }
    }

    // ---- requests -------------------------------------------------------------------------

    fn webhook(&self, v: &Value) -> Result<Webhook, WooError> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let id = v.get("id").and_then(Value::as_u64).ok_or_else(|| {
            WooError::Transient("a webhook in WooCommerce's answer has no numeric id".into())
        })?;
        Ok(Webhook {
            id,
            name: s("name"),
            status: s("status"),
            topic: s("topic"),
            delivery_url: s("delivery_url"),
        })
    }

    /// Every item of a collection, page by page (100 per page) until `X-WP-TotalPages`.
    fn all(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, WooError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("per_page", MAX_PER_PAGE.to_string()));
            q.push(("page", page.to_string()));
            let (items, _, pages) = self.page(path, &q, page, MAX_PER_PAGE)?;
            let empty = items.is_empty();
            out.extend(items);
            if empty || u64::from(page) >= pages {
                break;
            }
        }
        Ok(out)
    }

    /// One page of a collection: the items, `X-WP-Total` and `X-WP-TotalPages`.
    fn page(
        &self,
        path: &str,
        query: &[(&str, String)],
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<Value>, u64, u64), WooError> {
        let r = self.call(Method::Get, path, query, None)?;
        let r = self.ok(Method::Get, path, r)?;
        let v = self.expect_json(path, &r, Value::is_array)?;
        let Value::Array(items) = v else {
            unreachable!("expect_json checked it is an array")
        };
        // Fallback when a proxy strips the headers: a full page means "maybe more".
        let seen = u64::from(page - 1) * u64::from(per_page) + items.len() as u64;
        let guess_pages = if items.len() as u64 >= u64::from(per_page) {
            u64::from(page) + 1
        } else {
            u64::from(page)
        };
        let total = r.header_u64("x-wp-total").unwrap_or(seen);
        let pages = r.header_u64("x-wp-totalpages").unwrap_or(guess_pages);
        Ok((items, total, pages))
    }

    /// A request whose 2xx body is JSON: the parsed value.
    fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, WooError> {
        let r = self.call(method, path, query, body)?;
        let r = self.ok(method, path, r)?;
        self.expect_json(path, &r, |_| true)
    }

    fn expect_json(
        &self,
        path: &str,
        r: &Reply,
        shape: impl Fn(&Value) -> bool,
    ) -> Result<Value, WooError> {
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(v) if shape(&v) => Ok(v),
            // A PHP notice printed before the JSON, a cache or maintenance page: usually
            // fixed on the shop's side, so worth retrying.
            _ => Err(WooError::Transient(format!(
                "{}{path} answered HTTP {} with {} that is not the JSON WooCommerce sends ({} \
                 bytes)",
                self.rest,
                r.status,
                r.content_type(),
                r.body.len()
            ))),
        }
    }

    /// A 404 whose WooCommerce code says the resource does not exist.
    fn is_gone(&self, r: &Reply, codes: &[&str]) -> bool {
        r.status == 404
            && r.wp_error()
                .is_some_and(|(code, _)| codes.contains(&code.as_str()))
    }

    /// 2xx passes; anything else becomes the matching error.
    fn ok(&self, method: Method, path: &str, r: Reply) -> Result<Reply, WooError> {
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(self.error_for(method, path, &r))
        }
    }

    fn error_for(&self, method: Method, path: &str, r: &Reply) -> WooError {
        let status = r.status;
        let what = format!("{} {}{path}", method.as_str(), self.rest);
        if (300..400).contains(&status) {
            let to = r
                .header("location")
                .map(|l| l.split('?').next().unwrap_or_default().to_string())
                .unwrap_or_else(|| "nowhere".into());
            return WooError::Config(format!(
                "{what} was redirected ({status}) to {to}: set site_url to the address \
                 WordPress reports as its home URL"
            ));
        }
        let (code, message) = match r.wp_error() {
            Some((c, m)) => (c, self.scrub(&m)),
            None => (
                String::new(),
                format!("{what}: HTTP {status} with {}", r.content_type()),
            ),
        };
        match status {
            401 | 403 => WooError::Auth {
                status,
                code,
                message,
            },
            429 | 500..=599 => WooError::Transient(format!(
                "{what} answered HTTP {status}{}: {message}",
                if code.is_empty() {
                    String::new()
                } else {
                    format!(" {code}")
                }
            )),
            _ => WooError::Rejected {
                status,
                code,
                message,
            },
        }
    }

    /// Send one request, authenticated; any HTTP status is a `Reply`, transport failures are
    /// errors.
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, WooError> {
        let endpoint = format!("{}{path}", self.rest);
        let mut params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        let mut authorization = None;
        match self.mode {
            Mode::OAuth1 => {
                let oauth = self.oauth_params(method.as_str(), &endpoint, &params);
                params.extend(oauth);
            }
            Mode::QueryString => {
                params.push(("consumer_key".into(), self.key.clone()));
                params.push(("consumer_secret".into(), self.secret.clone()));
            }
            Mode::Basic => {
                let pair = format!("{}:{}", self.key, self.secret);
                authorization = Some(format!("Basic {}", B64.encode(pair)));
            }
        }
        let url = if params.is_empty() {
            endpoint
        } else {
            let q: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", rawurlencode(k), rawurlencode(v)))
                .collect();
            format!("{endpoint}?{}", q.join("&"))
        };
        let payload = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let result = match method {
            Method::Get => with_auth(self.agent.get(&url), &authorization).call(),
            Method::Delete => with_auth(self.agent.delete(&url), &authorization).call(),
            Method::Post => with_auth(self.agent.post(&url), &authorization)
                .content_type("application/json")
                .send(payload.as_deref().unwrap_or(&b"{}"[..])),
            Method::Put => with_auth(self.agent.put(&url), &authorization)
                .content_type("application/json")
                .send(payload.as_deref().unwrap_or(&b"{}"[..])),
        };
        let what = format!("{} {}{path}", method.as_str(), self.rest);
        let resp = result.map_err(|e| self.transport_error(&what, e))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .into_with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| self.transport_error(&what, e))?;
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// The OAuth 1.0a one-legged parameters for a request (§2.1): HMAC-SHA256 over
    /// `METHOD&rawurlencode(url)&rawurlencode(sorted k=v joined by &)`, key `secret&`.
    fn oauth_params(
        &self,
        method: &str,
        endpoint: &str,
        query: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut oauth = vec![
            ("oauth_consumer_key".to_string(), self.key.clone()),
            ("oauth_nonce".to_string(), self.nonce()),
            (
                "oauth_signature_method".to_string(),
                "HMAC-SHA256".to_string(),
            ),
            ("oauth_timestamp".to_string(), unix_now().to_string()),
        ];
        let signature = oauth_signature(method, endpoint, query, &oauth, &self.secret);
        oauth.push(("oauth_signature".to_string(), signature));
        oauth
    }

    /// Unique per request and per process: WooCommerce refuses a nonce seen in the last 15
    /// minutes for the key, and several hosts may share one key.
    fn nonce(&self) -> String {
        let n = self.nonce_counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut h = Sha256::new();
        h.update(format!("{nanos}:{n}:{}:{:p}", std::process::id(), self));
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A transport failure, named precisely and without the request's query string.
    fn transport_error(&self, what: &str, e: ureq::Error) -> WooError {
        use std::io::ErrorKind;
        let host = &self.authority;
        let msg = match &e {
            ureq::Error::HostNotFound => {
                format!("{what}: cannot resolve {host} (DNS): check site_url")
            }
            ureq::Error::Timeout(t) => format!("{what}: timed out ({t}) talking to {host}"),
            ureq::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => {
                    format!("{what}: connection to {host} refused: nothing is listening there")
                }
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe => {
                    format!("{what}: connection reset by {host}")
                }
                ErrorKind::UnexpectedEof => {
                    format!("{what}: {host} closed the connection without an answer")
                }
                ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                    format!("{what}: timed out talking to {host}")
                }
                ErrorKind::InvalidData if self.https => {
                    format!("{what}: TLS with {host} failed: {io} (an internal CA? set ca_file)")
                }
                _ => format!("{what}: network error with {host}: {io}"),
            },
            ureq::Error::Tls(m) => format!("{what}: TLS with {host} failed: {m}"),
            ureq::Error::Rustls(r) => {
                format!("{what}: TLS with {host} failed: {r} (an internal CA? set ca_file)")
            }
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                return WooError::Config(format!("{what}: invalid request URL"));
            }
            ureq::Error::BodyExceedsLimit(n) => {
                format!("{what}: answer larger than {n} bytes")
            }
            other => format!("{what}: {other}"),
        };
        WooError::Transient(self.scrub(&msg))
    }

    /// Last line of defence for anything that echoes a request: remove the secret, the
    /// Basic credentials and every OAuth signature.
    fn scrub(&self, text: &str) -> String {
        let mut s = text.to_string();
        for needle in [
            self.secret.clone(),
            rawurlencode(&self.secret),
            B64.encode(format!("{}:{}", self.key, self.secret)),
        ] {
            if !needle.is_empty() {
                s = s.replace(&needle, "<redacted>");
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some(i) = rest.find("oauth_signature=") {
            let start = i + "oauth_signature=".len();
            out.push_str(&rest[..start]);
            out.push_str("<redacted>");
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .unwrap_or(tail.len());
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    // ---- orders completed from X3 (docs/master-data.md) ------------------------------------

    /// `PUT /orders/<id>` with only `status`: the order as WooCommerce answers it. The save fires
    /// `order.updated` like any other (woocommerce.md §2.6).
    pub fn set_order_status(&self, id: u64, status: &str) -> Result<Value, WooError> {
        let body = json!({ "status": status });
        let path = format!("orders/{id}");
        let v = self.json(Method::Put, &path, &[], Some(&body))?;
        if !v.is_object() {
            return Err(WooError::Transient(format!(
                "{}{path} answered a PUT with JSON that is not an order",
                self.rest
            )));
        }
        Ok(v)
    }

    /// `GET /orders/<id>/notes`: every note of the order, newest first (the route has no
    /// paging), or None when the order does not exist (any more).
    pub fn order_notes(&self, id: u64) -> Result<Option<Vec<Value>>, WooError> {
        let path = format!("orders/{id}/notes");
        let r = self.call(Method::Get, &path, &[], None)?;
        if self.is_gone(
            &r,
            &[
                "woocommerce_rest_shop_order_invalid_id",
                "woocommerce_rest_order_invalid_id",
            ],
        ) {
            return Ok(None);
        }
        let r = self.ok(Method::Get, &path, r)?;
        match self.expect_json(&path, &r, Value::is_array)? {
            Value::Array(items) => Ok(Some(items)),
            _ => Ok(Some(Vec::new())),
        }
    }

    /// `POST /orders/<id>/notes`: a private note (`customer_note` false) or one the customer
    /// sees and is e-mailed. Adding a note fires no webhook (it does not save the order).
    pub fn add_order_note(
        &self,
        id: u64,
        note: &str,
        customer_note: bool,
    ) -> Result<Value, WooError> {
        let body = json!({ "note": note, "customer_note": customer_note });
        self.json(
            Method::Post,
            &format!("orders/{id}/notes"),
            &[],
            Some(&body),
        )
    }
}

fn with_auth<B>(
    rb: ureq::RequestBuilder<B>,
    authorization: &Option<String>,
) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(a) => rb.header("Authorization", a),
        None => rb,
    }
}

/// `scheme://host[:port]/path/`, lower-cased scheme and host, default port dropped, trailing
/// slash; plus `host[:port]` and whether it is HTTPS.
fn normalise_site(raw: &str) -> Result<(String, String, bool), WooError> {
    let raw = raw.trim();
    let bad = |why: &str| WooError::Config(format!("site_url {raw:?}: {why}"));
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("must start with https:// or http://"))?;
    let scheme = scheme.to_ascii_lowercase();
    let https = match scheme.as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(bad("must start with https:// or http://")),
    };
    if rest.contains(['?', '#']) {
        return Err(bad("must not contain a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host (and no user:password@)"));
    }
    let mut authority = authority.to_ascii_lowercase();
    let default_port = if https { ":443" } else { ":80" };
    if let Some(h) = authority.strip_suffix(default_port) {
        authority = h.to_string();
    }
    let mut path = path.to_string();
    // Someone pasting the REST base instead of the site: take the site.
    if let Some(i) = path.find("/wp-json") {
        path.truncate(i);
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    Ok((format!("{scheme}://{authority}{path}"), authority, https))
}

fn load_ca(path: &std::path::Path) -> Result<ureq::tls::RootCerts, WooError> {
    let pem = std::fs::read(path)
        .map_err(|e| WooError::Config(format!("ca_file {}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(WooError::Config(format!("ca_file {}: {e}", path.display())));
            }
        }
    }
    if certs.is_empty() {
        return Err(WooError::Config(format!(
            "ca_file {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// PHP `rawurlencode` / RFC 3986: unreserved characters stay, every other byte is `%XX`.
fn rawurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signature WooCommerce's `check_oauth_signature()` recomputes: parameters (query and
/// oauth, not the body) sorted by key (`strcmp`, then value for repeated keys), each `k=v`
/// RFC 3986-encoded and joined by `&`, the whole encoded again.
fn oauth_signature(
    method: &str,
    endpoint: &str,
    query: &[(String, String)],
    oauth: &[(String, String)],
    secret: &str,
) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .chain(oauth)
        .map(|(k, v)| (rawurlencode(k), rawurlencode(v)))
        .collect();
    pairs.sort();
    let normalised: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        rawurlencode(endpoint),
        rawurlencode(&normalised.join("&"))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(base.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn compact(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn sku_of(v: &Value) -> Option<String> {
    v.get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// WooCommerce 10 variations carry a `name`; older ones do not: parent name and options then.
fn variation_name(parent: &str, v: &Value) -> String {
    if let Some(n) = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return n.to_string();
    }
    let options: Vec<&str> = v
        .get("attributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("option").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if options.is_empty() {
        parent.to_string()
    } else {
        format!("{parent} - {}", options.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_url_is_normalised_for_the_signature() {
        let (s, a, h) = normalise_site(" HTTPS://Shop.Example:443/wp-json/wc/v3 ").expect("valid");
        assert_eq!(
            (s.as_str(), a.as_str(), h),
            ("https://shop.example/", "shop.example", true)
        );
        let (s, _, h) = normalise_site("http://127.0.0.1:8080/shop").expect("valid");
        assert_eq!((s.as_str(), h), ("http://127.0.0.1:8080/shop/", false));
        assert!(normalise_site("ftp://x/").is_err());
        assert!(normalise_site("shop.example").is_err());
    }

    #[test]
    fn rawurlencode_keeps_only_unreserved() {
        assert_eq!(rawurlencode("a b+c/~é:"), "a%20b%2Bc%2F~%C3%A9%3A");
    }

    #[test]
    fn scrub_removes_signatures_and_secret() {
        let c = WooClient::new(WooSettings::new("http://x/", "ck_1", "cs_secret")).expect("valid");
        let s = c.scrub("GET /x?oauth_signature=abc%2B&b=1 cs_secret");
        assert!(!s.contains("abc") && !s.contains("cs_secret"), "{s}");
    }
}
