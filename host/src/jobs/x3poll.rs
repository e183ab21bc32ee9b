//! Polling Sage X3 for changes, since X3 sends no webhooks (docs/x3-polling.md).
//!
//! A background thread of `serve` asks X3, every `interval-secs`, for the records changed since
//! a watermark: REST `where=UPDDATTIM ge @…Z@` ordered by `UPDDATTIM`, GraphQL a `filter` on
//! `_updateStamp` (x3-api.md §8). One watermark per part, in the store's `kv` table, advanced
//! only after what was read has been stored (and pushed), and read back with an overlap so a
//! change stamped in the same second as the last one seen — or committed a little late — is read
//! again rather than missed. Re-reading is harmless: every step below is idempotent.
//!
//! Parts:
//! - `orders`, `invoices`, `deliveries`: for our orders (`CUSORDREF` = reference prefix + order
//!   id) the X3 document numbers, order/delivery/invoice status, invoices and deliveries, kept in
//!   the `x3_orders` table and shown on the order's status page and in the admin API.
//! - `stock` (off unless `stock = true`): the quantity per item, summed over the configured
//!   sites, pushed to the WooCommerce products and variations the mapping table maps to that item
//!   (by SKU or product id), only where WooCommerce manages stock and only when it differs.
//! - `customers`: changed `BPCUSTOMER` records are noticed, logged and listed.
//!
//! With `[master-data] complete-orders`, each delivery of one of our orders that X3 shows
//! validated is handed to [`crate::jobs::master_orders`], which completes the WooCommerce order.
//!
//! A failure (X3 or WooCommerce unreachable, refused) is recorded in the poll status and the
//! part is tried again at the next interval from the same watermark.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::x3::{ApiMode, X3Client};
use crate::component::{CoreRuntime, orders};
use crate::config::x3poll::X3PollFile;
use crate::html::{utc, woo_text};
use crate::jobs::catalogue::{Target, reverse_mapping};
use crate::jobs::pipeline::Pipeline;
use crate::store::{Store, X3OrderState, now_ms};
use crate::wire::{Field, Names, canonical_graphql, canonical_rest};
use crate::x3values::{decimal, fmt_stamp, order_id_of, stamp_secs, whole_units};

// ---------------------------------------------------------------------------------------------
// Timestamps

/// Where a poll starts reading: `overlap` seconds before the watermark, inclusive (`ge`), so
/// the second of the watermark itself — which may hold changes not seen yet — is read again.
pub fn read_from(watermark: i64, overlap: i64) -> i64 {
    watermark - overlap.max(0)
}

/// The watermark after applying `rows`: their newest stamp, never moving back (rows re-read by
/// the overlap are older), and unchanged when nothing was read.
pub fn advance(watermark: i64, rows: &[Row]) -> i64 {
    rows.iter()
        .filter_map(|r| r.get("UPDDATTIM").and_then(Value::as_str))
        .filter_map(stamp_secs)
        .fold(watermark, i64::max)
}

// ---------------------------------------------------------------------------------------------
// Reading X3

/// One record normalised to REST field codes, plus `UPDDATTIM`.
pub type Row = BTreeMap<String, Value>;

/// Where one kind of record is read from, in both APIs (names as `[x3.wire]` has them).
pub struct Source {
    pub rest_class: String,
    pub rest_representation: String,
    pub gql_package: String,
    pub gql_node: String,
    /// Read under their default REST codes, whatever the site calls them.
    pub fields: Vec<Field>,
}

/// (REST key, GraphQL key) of the wire names each part reads.
const ORDER_FIELDS: &[(&str, &str)] = &[
    ("rest.order.key", "graphql.order.key"),
    ("rest.order.reference", "graphql.order.reference"),
    ("rest.order.status", "graphql.order.status"),
    (
        "rest.order.delivery-status",
        "graphql.order.delivery-status",
    ),
];
const INVOICE_FIELDS: &[(&str, &str)] = &[
    ("rest.invoice.key", "graphql.invoice.key"),
    ("rest.invoice.reference", "graphql.invoice.reference"),
];
const DELIVERY_FIELDS: &[(&str, &str)] = &[
    ("rest.delivery.key", "graphql.delivery.key"),
    ("rest.delivery.order", "graphql.delivery.order"),
];
/// A delivery's validation flag (`CFMFLG` / `isValidated`), read for `complete-orders`.
const VALIDATED_FIELD: (&str, &str) = ("rest.delivery.validated", "graphql.delivery.validated");
const STOCK_FIELDS: &[(&str, &str)] = &[
    ("rest.stock.site", "graphql.stock.site"),
    ("rest.stock.item", "graphql.stock.item"),
    ("rest.stock.quantity", "graphql.stock.quantity"),
    ("rest.stock.allocated", "graphql.stock.allocated"),
];
const PRICE_FIELDS: &[(&str, &str)] = &[
    ("rest.price-list.key", "graphql.price-list.key"),
    ("rest.price-list.item", "graphql.price-list.item"),
    ("rest.price-list.price", "graphql.price-list.price"),
    ("rest.price-list.start", "graphql.price-list.start"),
    ("rest.price-list.end", "graphql.price-list.end"),
];
const PRODUCT_FIELDS: &[(&str, &str)] = &[
    ("rest.product.key", "graphql.product.key"),
    ("rest.product.name", "graphql.product.name"),
    ("rest.product.description2", "graphql.product.description2"),
    ("rest.product.description3", "graphql.product.description3"),
    ("rest.product.status", "graphql.product.status"),
    ("rest.product.base-price", "graphql.product.base-price"),
];
const CUSTOMER_FIELDS: &[(&str, &str)] = &[("rest.customer.code", "graphql.customer.code")];

/// GraphQL page size when polling.
const GQL_PAGE: usize = 100;
/// The most records one part reads in one poll, whatever `max-rows` says (see `run_part`).
const MAX_READ: usize = 1_000_000;

/// Reads records of `src` matching a REST `where` / GraphQL `filter`, at most `limit`, in
/// update order when `by_stamp`.
pub fn fetch(
    x3: &X3Client,
    api: ApiMode,
    src: &Source,
    rest_where: &str,
    gql_filter: &str,
    by_stamp: bool,
    limit: usize,
) -> crate::clients::x3::Result<Vec<Row>> {
    match api {
        ApiMode::Rest => {
            let rows = x3.query_rest(
                &src.rest_class,
                &src.rest_representation,
                Some(rest_where),
                by_stamp.then_some("UPDDATTIM asc"),
                limit,
            )?;
            Ok(rows
                .into_iter()
                .filter_map(|r| match r {
                    Value::Object(m) => Some(canonical_rest(m, &src.fields).into_iter().collect()),
                    _ => None,
                })
                .collect())
        }
        ApiMode::Graphql => {
            let selection: Vec<&str> = src.fields.iter().map(|f| f.graphql.as_str()).collect();
            let query = format!(
                "query($filter: String, $after: String, $orderBy: String) {{ {} {{ {} {{ \
                 query(first: {GQL_PAGE}, after: $after, filter: $filter, orderBy: $orderBy) {{ \
                 edges {{ cursor node {{ _updateStamp {} }} }} pageInfo {{ endCursor hasNextPage }} \
                 }} }} }} }}",
                src.gql_package,
                src.gql_node,
                selection.join(" ")
            );
            let mut out = Vec::new();
            let mut after = Value::Null;
            while out.len() < limit {
                let vars = json!({
                    "filter": gql_filter,
                    "after": after,
                    "orderBy": if by_stamp { "{_updateStamp:1}" } else { "{_id:1}" },
                });
                let data = x3.graphql(&query, &vars)?;
                let conn = &data[src.gql_package.as_str()][src.gql_node.as_str()]["query"];
                let edges = conn["edges"].as_array().cloned().unwrap_or_default();
                for e in &edges {
                    let node = &e["node"];
                    let mut row: Row = canonical_graphql(node, &src.fields).into_iter().collect();
                    row.insert("UPDDATTIM".into(), node["_updateStamp"].clone());
                    out.push(row);
                }
                let more = conn["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
                let cursor = conn["pageInfo"]["endCursor"].clone();
                if !more || edges.is_empty() || cursor.is_null() || cursor == after {
                    break;
                }
                after = cursor;
            }
            out.truncate(limit);
            Ok(out)
        }
    }
}

fn text(row: &Row, field: &str) -> Option<String> {
    match row.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(row: &Row, field: &str) -> Option<i64> {
    match row.get(field)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The poller

/// What one poll did, kept in `kv` (`x3poll.status`) for the status page and `/api/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PollStatus {
    pub last_poll_at: Option<i64>,
    /// The last poll in which every part succeeded.
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    /// Per part: what went wrong at the last failure.
    pub errors: BTreeMap<String, String>,
    pub parts: BTreeMap<String, PartStatus>,
    /// Stock pushed to WooCommerce (newest last, at most 50 kept).
    pub stock_pushed: Vec<Value>,
    /// X3 items whose stock changed but that reach no WooCommerce product, and why (last poll
    /// that had any).
    pub stock_unmatched: Vec<String>,
    /// Mapped products left alone because WooCommerce does not manage their stock.
    pub stock_unmanaged: Vec<String>,
    /// Stock changes WooCommerce refused (last poll that pushed stock).
    #[serde(default)]
    pub stock_refused: Vec<String>,
    /// Item data (name, description, status, price) pushed to WooCommerce: one entry per
    /// product changed, with each field's old and new value (newest last, at most 50 kept).
    #[serde(default)]
    pub products_pushed: Vec<Value>,
    /// Changed X3 items that reach no WooCommerce product (last poll that had any).
    #[serde(default)]
    pub products_unmatched: Vec<String>,
    /// Product changes WooCommerce refused, with its message (last poll of items).
    #[serde(default)]
    pub products_refused: Vec<String>,
    /// Customers changed in X3 (code and stamp, newest last, at most 50 kept).
    pub customers_changed: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartStatus {
    pub watermark: Option<String>,
    /// Records read at the last successful poll of this part.
    pub read: usize,
    pub at: Option<i64>,
    pub ok: bool,
}

const STATUS_KEY: &str = "x3poll.status";
/// Entries of one list shown on the status page; `/api/status` has them all.
const LIST_MAX: usize = 20;
const KEEP: usize = 50;

pub fn load_status(store: &Store) -> PollStatus {
    store
        .kv_get(STATUS_KEY)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The background poller of `serve`.
pub struct Poller {
    pub cfg: X3PollFile,
    /// `[master-data]`: whether item data is pushed, what is shop-owned, which stock quantity,
    /// whether validated deliveries complete WooCommerce orders.
    pub master: crate::config::master::MasterDataFile,
    pub store: Arc<Store>,
    pub pipeline: Arc<Pipeline>,
    pub core: Arc<CoreRuntime>,
    pub api: ApiMode,
}

impl Poller {
    /// Polls at once, then every interval, until the pipeline stops.
    pub fn run(&self) {
        info!(
            "x3 polling every {} s (orders: {}, items: {}, stock: {} {}, customers: {})",
            self.cfg.interval_secs,
            self.cfg.orders,
            self.master.products,
            self.cfg.stock,
            self.master.stock_quantity,
            self.cfg.customers
        );
        while !self.pipeline.stopping() {
            self.poll_once();
            let until = now_ms() + i64::try_from(self.cfg.interval_secs * 1000).unwrap_or(60_000);
            while !self.pipeline.stopping() && now_ms() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// One poll of every enabled part; returns (and stores) the status.
    pub fn poll_once(&self) -> PollStatus {
        let mut st = load_status(&self.store);
        let settings = self
            .pipeline
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let now = now_ms();
        st.last_poll_at = Some(now);
        let mut failed = false;
        let mut parts: Vec<&str> = Vec::new();
        if self.cfg.orders {
            parts.extend(["orders", "invoices", "deliveries"]);
        }
        if self.master.products {
            parts.push("items");
            if self.master.price_list.is_some() {
                parts.push("prices");
            }
        }
        if self.cfg.stock {
            parts.push("stock");
        }
        if self.cfg.customers {
            parts.push("customers");
        }
        for part in parts {
            match self.run_part(part, &settings, &mut st) {
                Ok((read, watermark)) => {
                    st.errors.remove(part);
                    st.parts.insert(
                        part.to_string(),
                        PartStatus {
                            watermark: Some(watermark),
                            read,
                            at: Some(now),
                            ok: true,
                        },
                    );
                }
                Err(e) => {
                    failed = true;
                    let msg = format!("{e:#}");
                    warn!("x3 polling, {part}: {msg} (tried again at the next poll)");
                    st.errors.insert(part.to_string(), msg);
                    if let Some(p) = st.parts.get_mut(part) {
                        p.ok = false;
                    }
                }
            }
        }
        if failed {
            st.last_failure_at = Some(now);
        } else {
            st.last_success_at = Some(now);
        }
        if let Ok(text) = serde_json::to_string(&st)
            && let Err(e) = self.store.kv_set(STATUS_KEY, &text)
        {
            warn!("x3 polling: could not store the poll status: {e:#}");
        }
        st
    }

    fn source(&self, part: &str, names: &Names) -> Source {
        let (doc, fields) = match part {
            "orders" => ("order", ORDER_FIELDS),
            "invoices" => ("invoice", INVOICE_FIELDS),
            "deliveries" => ("delivery", DELIVERY_FIELDS),
            "stock" => ("stock", STOCK_FIELDS),
            "items" => ("product", PRODUCT_FIELDS),
            "prices" => ("price-list", PRICE_FIELDS),
            _ => ("customer", CUSTOMER_FIELDS),
        };
        let (package, node) = names.node(&format!("graphql.{doc}.node"));
        let mut fields: Vec<Field> = fields.iter().map(|(r, g)| names.field(r, g)).collect();
        if part == "deliveries" && self.master.complete_orders {
            // Selected only when it is used: a site without the property polls as before.
            fields.push(names.field(VALIDATED_FIELD.0, VALIDATED_FIELD.1));
        }
        Source {
            rest_class: names.get(&format!("rest.{doc}.class")).to_string(),
            rest_representation: names.get(&format!("rest.{doc}.representation")).to_string(),
            gql_package: package.to_string(),
            gql_node: node.to_string(),
            fields,
        }
    }

    fn graphql_literal(&self, v: &str) -> Result<String> {
        self.core.orders().graphql_literal(v)
    }

    fn sdata_literal(&self, v: &str) -> Result<String> {
        self.core.orders().sdata_literal(v)
    }

    /// `values` as the comma-separated literals of an `in (…)` list: (REST, GraphQL).
    fn literal_lists<S: AsRef<str>>(&self, values: &[S]) -> Result<(String, String)> {
        let mut rest = Vec::with_capacity(values.len());
        let mut graphql = Vec::with_capacity(values.len());
        for v in values {
            rest.push(self.sdata_literal(v.as_ref())?);
            graphql.push(self.graphql_literal(v.as_ref())?);
        }
        Ok((rest.join(","), graphql.join(",")))
    }

    /// Reads one part from its watermark, applies it, then advances the watermark. Returns the
    /// records read and the watermark now stored.
    fn run_part(
        &self,
        part: &str,
        settings: &orders::Settings,
        st: &mut PollStatus,
    ) -> Result<(usize, String)> {
        let key = format!("x3poll.watermark.{part}");
        let stored = self.store.kv_get(&key)?.and_then(|t| stamp_secs(&t));
        let lookback = i64::try_from(self.cfg.initial_lookback_secs).unwrap_or(86_400);
        let watermark = stored.unwrap_or_else(|| now_ms() / 1000 - lookback);
        if stored.is_none() {
            // Kept before the first read: should that read fail, the next poll (or the next
            // start) resumes from here instead of from a later "now − lookback".
            self.store.kv_set(&key, &fmt_stamp(watermark))?;
        }
        let overlap = i64::try_from(self.cfg.overlap_secs).unwrap_or(0);
        let since = fmt_stamp(read_from(watermark, overlap));
        let names = Names::resolve(&self.core, settings)?;
        let src = self.source(part, &names);
        let rest_where = format!("UPDDATTIM ge @{since}@");
        let gql_filter = self
            .cfg
            .graphql_since_filter
            .replace("{since}", &self.graphql_literal(&since)?);
        let x3 = self.pipeline.x3();
        let started = std::time::Instant::now();
        // A full read whose newest stamp does not pass the watermark (more changes in the
        // overlap window than max-rows, e.g. a mass stock update stamped in one second) would be
        // read again and again: read more at once instead, up to a hard bound.
        let mut limit = self.cfg.max_rows;
        let rows = loop {
            let rows = fetch(&x3, self.api, &src, &rest_where, &gql_filter, true, limit)
                .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
            if rows.len() < limit || advance(watermark, &rows) > watermark || limit >= MAX_READ {
                break rows;
            }
            limit = limit.saturating_mul(4).min(MAX_READ);
        };
        if rows.len() >= limit {
            info!(
                "x3 polling, {part}: {} records changed, more than max-rows; the rest at the next poll",
                rows.len()
            );
        }
        let read_in = started.elapsed();
        match part {
            "orders" | "invoices" => self.apply_documents(part, &rows, settings)?,
            "deliveries" => self.apply_deliveries(&rows, &src, &x3)?,
            "stock" => self.apply_stock(&rows, &src, &x3, &names, st)?,
            "items" => self.apply_items(&rows, st)?,
            "prices" => self.apply_prices(&rows, &src, &x3, &names, st)?,
            _ => self.apply_customers(&rows, stored, st),
        }
        if !rows.is_empty() {
            info!(
                "x3 polling, {part}: {} changed records read in {} ms, applied in {} ms",
                rows.len(),
                read_in.as_millis(),
                (started.elapsed() - read_in).as_millis()
            );
        }
        // Everything read is applied: the watermark may move to the newest stamp seen.
        let text = fmt_stamp(advance(watermark, &rows));
        self.store.kv_set(&key, &text)?;
        Ok((rows.len(), text))
    }

    /// Sales orders and invoices carrying one of our references.
    fn apply_documents(&self, part: &str, rows: &[Row], settings: &orders::Settings) -> Result<()> {
        let (key_field, invoice) = if part == "orders" {
            ("SOHNUM", false)
        } else {
            ("NUM", true)
        };
        let invoice_kind = settings.document_kind == orders::DocumentKind::Invoice;
        for row in rows {
            let Some(reference) = text(row, "CUSORDREF") else {
                continue;
            };
            let Some(order_id) = order_id_of(&reference, &settings.reference_prefix) else {
                continue;
            };
            let Some(number) = text(row, key_field) else {
                continue;
            };
            let before = self.store.x3_order(order_id)?;
            let mut s = before.clone().unwrap_or_else(|| X3OrderState {
                order_id,
                reference: reference.clone(),
                ..X3OrderState::default()
            });
            let mut events = Vec::new();
            if invoice {
                if !s.invoices.contains(&number) {
                    s.invoices.push(number.clone());
                    events.push(format!("invoice {number} in X3"));
                }
                if let Some(v) = int(row, "INVSTA") {
                    s.invoice_status = Some(v);
                }
            }
            if (!invoice || invoice_kind) && !s.documents.contains(&number) {
                s.documents.push(number.clone());
                if !invoice {
                    events.push(format!("sales order {number} in X3"));
                }
            }
            if !invoice {
                let (ord, dlv) = (int(row, "ORDSTA"), int(row, "DLVSTA"));
                if dlv.is_some() && dlv != s.delivery_status {
                    events.push(format!(
                        "{number}: delivery status {}",
                        delivery_status_text(dlv)
                    ));
                    s.delivery_status = dlv;
                }
                if ord.is_some() && ord != s.order_status {
                    if s.order_status.is_some() || ord != Some(1) {
                        events.push(format!("{number}: order status {}", order_status_text(ord)));
                    }
                    s.order_status = ord;
                }
                if let Some(v) = int(row, "INVSTA") {
                    s.invoice_status = Some(v);
                }
            }
            if let Some(stamp) = text(row, "UPDDATTIM")
                && s.x3_updated.as_deref().is_none_or(|old| {
                    stamp_secs(old).unwrap_or(0) <= stamp_secs(&stamp).unwrap_or(0)
                })
            {
                s.x3_updated = Some(stamp);
            }
            s.seen_at = now_ms();
            self.store.x3_order_save(&s)?;
            if self.store.load_order(order_id)?.is_some() {
                for e in events {
                    self.store.timeline_add(order_id, "x3", &e)?;
                }
            }
        }
        Ok(())
    }

    /// Deliveries of our sales orders (the order number is on the header, else on the lines).
    fn apply_deliveries(&self, rows: &[Row], src: &Source, x3: &X3Client) -> Result<()> {
        let complete = self.master.complete_orders;
        for row in rows {
            let Some(number) = text(row, "SDHNUM") else {
                continue;
            };
            // Under its default code whatever the site calls it (`rest.delivery.validated`).
            let mut validated = crate::jobs::master_orders::validated_of(row.get("CFMFLG"));
            let mut orders_of = BTreeSet::new();
            let header_order = text(row, "SOHNUM");
            // A query facet may show neither the order nor the flag: `$details` does.
            let need_details = header_order.is_none()
                || (complete && validated == crate::jobs::master_orders::Validated::Unknown);
            if let Some(soh) = header_order {
                orders_of.insert(soh);
            }
            if need_details
                && self.api == ApiMode::Rest
                && let Some(d) = x3
                    .details_rest(&src.rest_class, &src.rest_representation, &number)
                    .map_err(|e| anyhow::anyhow!("X3: {e}"))?
            {
                if orders_of.is_empty() {
                    for l in d["SDELIVERYD"].as_array().into_iter().flatten() {
                        if let Some(s) = l["SOHNUM"].as_str() {
                            orders_of.insert(s.to_string());
                        }
                    }
                }
                if complete
                    && validated == crate::jobs::master_orders::Validated::Unknown
                    && let Value::Object(m) = d
                {
                    let d = canonical_rest(m, &src.fields);
                    validated = crate::jobs::master_orders::validated_of(d.get("CFMFLG"));
                }
            }
            for soh in orders_of {
                let Some(order_id) = self.store.order_of_document(&soh)? else {
                    continue;
                };
                let mut s = self.store.x3_order(order_id)?.unwrap_or(X3OrderState {
                    order_id,
                    documents: vec![soh.clone()],
                    ..X3OrderState::default()
                });
                if !s.deliveries.contains(&number) {
                    s.deliveries.push(number.clone());
                    s.seen_at = now_ms();
                    self.store.x3_order_save(&s)?;
                    if self.store.load_order(order_id)?.is_some() {
                        self.store.timeline_add(
                            order_id,
                            "x3",
                            &format!("delivery {number} of {soh}"),
                        )?;
                    }
                }
                if complete {
                    crate::jobs::master_orders::on_delivery(
                        &self.pipeline,
                        order_id,
                        &soh,
                        &number,
                        validated,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn apply_customers(&self, rows: &[Row], previous: Option<i64>, st: &mut PollStatus) {
        for row in rows {
            let stamp = text(row, "UPDDATTIM").unwrap_or_default();
            // The overlap re-reads a few; only what is newer than the last watermark is news.
            if previous.is_some_and(|p| stamp_secs(&stamp).is_none_or(|s| s <= p)) {
                continue;
            }
            let code = text(row, "BPCNUM").unwrap_or_default();
            info!("x3: customer {code} changed in X3 ({stamp})");
            st.customers_changed
                .push(json!({ "code": code, "x3_updated": stamp }));
        }
        let n = st.customers_changed.len();
        if n > KEEP {
            st.customers_changed.drain(..n - KEEP);
        }
    }

    /// Sums the stock of every changed item over the configured sites and pushes it to the
    /// WooCommerce products mapped to it.
    fn apply_stock(
        &self,
        rows: &[Row],
        src: &Source,
        x3: &X3Client,
        names: &Names,
        st: &mut PollStatus,
    ) -> Result<()> {
        let sites = &self.cfg.stock_sites;
        let touched: BTreeSet<String> = rows
            .iter()
            .filter(|r| sites.is_empty() || text(r, "STOFCY").is_some_and(|s| sites.contains(&s)))
            .filter_map(|r| text(r, "ITMREF"))
            .collect();
        if touched.is_empty() {
            return Ok(());
        }
        let reverse = self.reverse_mapping();
        let mut unmatched = Vec::new();
        let mut unmanaged = Vec::new();
        let items: Vec<&String> = touched
            .iter()
            .filter(|i| {
                let known = reverse.contains_key(*i);
                if !known {
                    unmatched.push(format!("{i}: no mapping row names a product"));
                }
                known
            })
            .collect();
        let totals = self.stock_totals(&items, src, x3, names)?;
        let data: BTreeMap<String, crate::jobs::catalogue::ItemData> = items
            .iter()
            .map(|i| {
                let qty = whole_units(totals.get(*i).copied().unwrap_or_default()).max(0);
                (
                    (*i).clone(),
                    crate::jobs::catalogue::ItemData {
                        stock: Some(qty),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let woo = self.pipeline.woo();
        let out = crate::jobs::catalogue::push(&woo, &self.master, &reverse, &data)?;
        for p in &out.pushed {
            let to = &p["fields"]["stock_quantity"][1];
            info!(
                "x3 stock: {} = {to} → WooCommerce {} (was {})",
                p["item"].as_str().unwrap_or(""),
                p["target"].as_str().unwrap_or(""),
                p["fields"]["stock_quantity"][0]
            );
            st.stock_pushed.push(json!({
                "at": p["at"], "item": p["item"], "target": p["target"],
                "product_id": p["product_id"], "variation_id": p["variation_id"],
                "from": p["fields"]["stock_quantity"][0], "to": to,
            }));
        }
        unmatched.extend(out.unmatched);
        unmanaged.extend(out.unmanaged);
        for u in &unmatched {
            info!("x3 stock: {u} (not pushed)");
        }
        for r in &out.refused {
            warn!("x3 stock: WooCommerce refused {r}");
        }
        st.stock_unmatched = unmatched;
        st.stock_unmanaged = unmanaged;
        st.stock_refused = out.refused;
        let n = st.stock_pushed.len();
        if n > KEEP {
            st.stock_pushed.drain(..n - KEEP);
        }
        Ok(())
    }

    /// The items' current stock for sale, summed over the configured sites (less what X3 has
    /// allocated, when the shop sells what is available), read fresh from X3 100 items at a time.
    fn stock_totals(
        &self,
        items: &[&String],
        src: &Source,
        x3: &X3Client,
        names: &Names,
    ) -> Result<BTreeMap<String, rust_decimal::Decimal>> {
        let sites = &self.cfg.stock_sites;
        // Current totals, read fresh: a change at one site needs the other sites' quantities.
        let mut totals: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
        for chunk in items.chunks(100) {
            let (rest_items, gql_items) = self.literal_lists(chunk)?;
            // The site's names for item and site ([x3.wire]); rows come back under the defaults.
            let (r_item, r_site) = (names.get("rest.stock.item"), names.get("rest.stock.site"));
            let (g_item, g_site) = (
                names.get("graphql.stock.item"),
                names.get("graphql.stock.site"),
            );
            let mut rest_where = format!("{r_item} in ({rest_items})");
            let mut gql_filter = format!("{{{g_item}:{{_in:[{gql_items}]}}}}");
            if !sites.is_empty() {
                let (rs, gs) = self.literal_lists(sites)?;
                rest_where = format!("{rest_where} and {r_site} in ({rs})");
                gql_filter = format!("{{{g_item}:{{_in:[{gql_items}]}},{g_site}:{{_in:[{gs}]}}}}");
            }
            let found = fetch(x3, self.api, src, &rest_where, &gql_filter, false, 100_000)
                .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
            let available = self.master.stock_quantity == "available";
            for r in &found {
                if let (Some(item), Some(q)) =
                    (text(r, "ITMREF"), r.get("QTYSTU").and_then(decimal))
                {
                    // Allocated units are promised to X3 orders: not for sale in the shop.
                    let allocated = if available {
                        r.get("CUMALLQTY").and_then(decimal).unwrap_or_default()
                    } else {
                        rust_decimal::Decimal::ZERO
                    };
                    *totals.entry(item).or_default() += q - allocated;
                }
            }
        }
        Ok(totals)
    }

    /// Items changed in X3: their name, descriptions, status and (without a price list) base
    /// price, pushed to the WooCommerce products mapped to them.
    fn apply_items(&self, rows: &[Row], st: &mut PollStatus) -> Result<()> {
        let reverse = self.reverse_mapping();
        // Only items the shop sells: X3's item master is usually far larger than the shop, and
        // an item no mapping row names is not news.
        let mut data = BTreeMap::new();
        for row in rows {
            let Some(item) = text(row, "ITMREF").filter(|i| reverse.contains_key(i)) else {
                continue;
            };
            data.insert(item, self.item_data(row));
        }
        if data.is_empty() {
            return Ok(());
        }
        let out = self.push_products("items", &reverse, &data, st)?;
        st.products_unmatched = out.unmatched;
        st.products_refused = out.refused;
        Ok(())
    }

    /// Price list lines changed in X3: for each item of the configured list whose lines changed,
    /// the price of its line valid today (the latest start on or before today, not ended; no
    /// dates = always), pushed as the products' regular price. An item with no line valid
    /// today keeps the shop's price.
    fn apply_prices(
        &self,
        rows: &[Row],
        src: &Source,
        x3: &X3Client,
        names: &Names,
        st: &mut PollStatus,
    ) -> Result<()> {
        let Some(list) = self.master.price_list.as_deref() else {
            return Ok(());
        };
        let touched: BTreeSet<String> = rows
            .iter()
            .filter(|r| text(r, "PLI").as_deref() == Some(list))
            .filter_map(|r| text(r, "PLICRI1"))
            .collect();
        let reverse = self.reverse_mapping();
        // Lines of items the shop does not sell are not news.
        let touched: BTreeSet<String> = touched
            .into_iter()
            .filter(|i| reverse.contains_key(i))
            .collect();
        if touched.is_empty() {
            return Ok(());
        }
        let today = crate::dates::format_utc(now_ms() / 1000, 'T')
            .get(..10)
            .unwrap_or_default()
            .to_string();
        let items: Vec<&String> = touched.iter().collect();
        // Every line of those items in the list, read again: the change may be a line that
        // starts later, and the one valid today is another.
        let mut best: BTreeMap<String, (String, rust_decimal::Decimal)> = BTreeMap::new();
        for chunk in items.chunks(100) {
            let (rest_items, gql_items) = self.literal_lists(chunk)?;
            let rest_where = format!(
                "{} eq {} and {} in ({rest_items})",
                names.get("rest.price-list.key"),
                self.sdata_literal(list)?,
                names.get("rest.price-list.item"),
            );
            let gql_filter = format!(
                "{{{}:{{_eq:{}}},{}:{{_in:[{gql_items}]}}}}",
                names.get("graphql.price-list.key"),
                self.graphql_literal(list)?,
                names.get("graphql.price-list.item"),
            );
            let found = fetch(x3, self.api, src, &rest_where, &gql_filter, false, 100_000)
                .map_err(|e| anyhow::anyhow!("X3: {e}"))?;
            for r in &found {
                let (Some(item), Some(price)) =
                    (text(r, "PLICRI1"), r.get("PRI").and_then(decimal))
                else {
                    continue;
                };
                let start = text(r, "PLISTRDAT").unwrap_or_default();
                let end = text(r, "PLIENDDAT").unwrap_or_else(|| "9999-12-31".into());
                if start.as_str() > today.as_str() || end.as_str() < today.as_str() {
                    continue;
                }
                if best.get(&item).is_none_or(|(s, _)| *s <= start) {
                    best.insert(item, (start, price));
                }
            }
        }
        let data: BTreeMap<String, crate::jobs::catalogue::ItemData> = best
            .into_iter()
            .map(|(item, (_, price))| {
                (
                    item,
                    crate::jobs::catalogue::ItemData {
                        price: Some(price),
                        ..Default::default()
                    },
                )
            })
            .collect();
        if data.is_empty() {
            return Ok(());
        }
        let out = self.push_products(&format!("price list {list}"), &reverse, &data, st)?;
        st.products_refused.extend(out.refused);
        Ok(())
    }

    /// The mapping table in force, read backwards (X3 item → products).
    fn reverse_mapping(&self) -> BTreeMap<String, Vec<Target>> {
        let m = self
            .pipeline
            .mapping
            .read()
            .unwrap_or_else(|e| e.into_inner());
        reverse_mapping(&m)
    }

    /// Pushes item data to WooCommerce, logs each product changed (`what`: the part) and each
    /// refusal, and keeps the changes for the status page; the caller keeps what was not pushed.
    fn push_products(
        &self,
        what: &str,
        reverse: &BTreeMap<String, Vec<Target>>,
        data: &BTreeMap<String, crate::jobs::catalogue::ItemData>,
        st: &mut PollStatus,
    ) -> Result<crate::jobs::catalogue::Outcome> {
        let woo = self.pipeline.woo();
        let mut out = crate::jobs::catalogue::push(&woo, &self.master, reverse, data)?;
        for p in &out.pushed {
            info!(
                "x3 {what}: {} → WooCommerce {}: {}",
                p["item"].as_str().unwrap_or(""),
                p["target"].as_str().unwrap_or(""),
                p["fields"]
            );
        }
        for r in &out.refused {
            warn!("x3 {what}: WooCommerce refused {r}");
        }
        st.products_pushed.append(&mut out.pushed);
        let n = st.products_pushed.len();
        if n > KEEP {
            st.products_pushed.drain(..n - KEEP);
        }
        Ok(out)
    }

    /// What an ITMMASTER record says for the shop.
    fn item_data(&self, row: &Row) -> crate::jobs::catalogue::ItemData {
        let descriptions: Vec<String> = ["DES2AXX", "DES3AXX"]
            .iter()
            .filter_map(|f| text(row, f))
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        let status = int(row, "ITMSTA");
        crate::jobs::catalogue::ItemData {
            name: text(row, "DES1AXX").map(|n| n.trim().to_string()),
            // Both empty: the shop's short description stays (X3 has nothing to say).
            description: (!descriptions.is_empty()).then(|| descriptions.join(" ")),
            blocked: status.map(|s| (!self.master.active_item_statuses.contains(&s)).then_some(s)),
            price: if self.master.price_list.is_none() {
                row.get("BASPRI")
                    .and_then(decimal)
                    .filter(|p| p.is_sign_positive() && !p.is_zero())
            } else {
                None
            },
            stock: None,
        }
    }
}

/// Starts the poller thread when `[x3-poll]` is present and enabled.
pub fn spawn(
    cfg: &crate::config::Config,
    store: &Arc<Store>,
    pipeline: &Arc<Pipeline>,
    core: &Arc<CoreRuntime>,
) -> Option<std::thread::JoinHandle<()>> {
    let poll = cfg.x3_poll.clone().filter(|p| p.enabled)?;
    let poller = Poller {
        cfg: poll,
        master: cfg.master_data.clone(),
        store: Arc::clone(store),
        pipeline: Arc::clone(pipeline),
        core: Arc::clone(core),
        api: match cfg.x3.api {
            crate::config::ApiMode::Rest => ApiMode::Rest,
            crate::config::ApiMode::Graphql => ApiMode::Graphql,
        },
    };
    Some(std::thread::spawn(move || poller.run()))
}

// ---------------------------------------------------------------------------------------------
// Display

pub fn delivery_status_text(v: Option<i64>) -> String {
    match v {
        Some(1) => "1 (not delivered)".into(),
        Some(2) => "2 (partly delivered)".into(),
        Some(3) => "3 (delivered)".into(),
        Some(n) => n.to_string(),
        None => "—".into(),
    }
}

pub fn order_status_text(v: Option<i64>) -> String {
    match v {
        Some(1) => "1 (open)".into(),
        Some(2) => "2 (closed)".into(),
        Some(n) => n.to_string(),
        None => "—".into(),
    }
}

/// The order's X3 state for the admin API (`null` when the poller has not seen it).
pub fn order_json(store: &Store, order_id: u64) -> Result<Value> {
    Ok(match store.x3_order(order_id)? {
        Some(s) => serde_json::to_value(s)?,
        None => Value::Null,
    })
}

/// The order page's "In X3" section.
pub fn order_html(store: &Store, order_id: u64) -> Result<Markup> {
    let seen = store.x3_order(order_id)?;
    let list = |v: &[String]| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.join(", ")
        }
    };
    Ok(html! {
        section id="x3-state" {
            h2 { "In X3 (polled)" }
            @match seen {
                None => p class="muted" {
                    "Not seen by X3 polling (off, or nothing changed in X3 since)."
                },
                Some(s) => dl class="card" {
                    dt { "Reference" } dd { (s.reference) }
                    dt { "Sales documents" } dd { (list(&s.documents)) }
                    dt { "Order status" } dd { (order_status_text(s.order_status)) }
                    dt { "Delivery status" } dd { (delivery_status_text(s.delivery_status)) }
                    dt { "Deliveries" } dd { (list(&s.deliveries)) }
                    dt { "Invoices" } dd { (list(&s.invoices)) }
                    dt { "Invoice status" }
                    dd { (s.invoice_status.map_or("—".into(), |v| v.to_string())) }
                    dt { "Changed in X3" } dd { (s.x3_updated.as_deref().unwrap_or("—")) }
                    dt { "Seen" } dd { (utc(s.seen_at)) }
                },
            }
        }
    })
}

/// `/api/status` → `x3_poll`: the poll status, `null` when polling never ran.
pub fn status_json(store: &Store) -> Value {
    match store.kv_get(STATUS_KEY) {
        Ok(Some(_)) => {
            let mut v = serde_json::to_value(load_status(store)).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert(
                    "orders_from_x3".into(),
                    crate::jobs::master_orders::status_json(store),
                );
            }
            v
        }
        _ => Value::Null,
    }
}

/// The status page's "X3 polling" section.
pub fn status_html(store: &Store) -> Markup {
    if !matches!(store.kv_get(STATUS_KEY), Ok(Some(_))) {
        return html! {
            section id="x3-poll" {
                h2 { "X3 polling" }
                p class="muted" { "Off (no " code { "[x3-poll]" } " section) or not run yet." }
            }
        };
    }
    let s = load_status(store);
    let t = |v: Option<i64>| v.map_or_else(|| "—".to_string(), utc);
    let unpushed = s.stock_unmatched.len() + s.stock_unmanaged.len();
    let changed = |p: &Value| {
        p["fields"]
            .as_object()
            .map(|f| {
                f.iter()
                    .map(|(k, v)| format!("{k}: {} → {}", v[0], v[1]))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    html! {
        section id="x3-poll" {
            h2 { "X3 polling" }
            p {
                "Last poll " (t(s.last_poll_at)) " · last complete " (t(s.last_success_at))
                " · last failure " (t(s.last_failure_at))
            }
            table {
                tr { th { "Part" } th { "Watermark (X3 time)" } th { "Read" } th { "State" } }
                @for (name, p) in &s.parts {
                    tr {
                        td { (name) }
                        td { (p.watermark.as_deref().unwrap_or("—")) }
                        td { (p.read) }
                        td class="msg" {
                            @match s.errors.get(name) {
                                Some(e) => { "failing: " (e) },
                                None => "ok",
                            }
                        }
                    }
                }
                @for (name, e) in s.errors.iter().filter(|(n, _)| !s.parts.contains_key(*n)) {
                    tr { td { (name) } td { "—" } td { "—" } td class="msg" { "failing: " (e) } }
                }
            }
            @if unpushed > 0 {
                p { "Stock not pushed:" }
                ul class="notes" {
                    @for u in s.stock_unmatched.iter().chain(&s.stock_unmanaged).take(LIST_MAX) {
                        // They name WooCommerce products as WordPress encodes them.
                        li { (woo_text(u)) }
                    }
                    @if unpushed > LIST_MAX {
                        li {
                            "… and " (unpushed - LIST_MAX) " more (" code { "/api/status" }
                            " lists them all)"
                        }
                    }
                }
            }
            @if !s.stock_refused.is_empty() || !s.products_refused.is_empty() {
                p { "WooCommerce refused:" }
                ul class="notes" {
                    @for u in s.stock_refused.iter().chain(&s.products_refused) { li { (u) } }
                }
            }
            @if !s.products_unmatched.is_empty() {
                p { "Items not pushed:" }
                ul class="notes" {
                    @for u in s.products_unmatched.iter().take(LIST_MAX) { li { (u) } }
                    @if s.products_unmatched.len() > LIST_MAX {
                        li {
                            "… and " (s.products_unmatched.len() - LIST_MAX) " more ("
                            code { "/api/status" } " lists them all)"
                        }
                    }
                }
            }
            @if !s.products_pushed.is_empty() {
                table id="products-pushed" {
                    tr { th { "Item" } th { "Product" } th { "Changed" } }
                    @for p in s.products_pushed.iter().rev().take(10) {
                        tr {
                            td { (p["item"].as_str().unwrap_or("")) }
                            // A WooCommerce product name, HTML-encoded as WordPress keeps it.
                            td { (woo_text(p["target"].as_str().unwrap_or(""))) }
                            td class="msg" { (changed(p)) }
                        }
                    }
                }
            }
            @if let Some(last) = s.stock_pushed.last() {
                p class="muted" {
                    "Last stock pushed: " (last["item"].as_str().unwrap_or("")) " = "
                    (last["to"].to_string()) " → " (woo_text(last["target"].as_str().unwrap_or("")))
                }
            }
            (crate::jobs::master_orders::status_html(store))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_moves_to_the_newest_stamp_and_the_next_read_includes_its_second() {
        let at = |t: &str| -> Row { [("UPDDATTIM".to_string(), json!(t))].into() };
        let w = stamp_secs("2026-11-27T10:00:00Z").unwrap();
        // Nothing read: unchanged.
        assert_eq!(advance(w, &[]), w);
        // Re-read rows (overlap) are older: never backwards; unreadable stamps are ignored.
        let rows = [
            at("2026-11-27T09:59:58Z"),
            at("garbage"),
            at("2026-11-27T10:00:07Z"),
        ];
        let w2 = advance(w, &rows);
        assert_eq!(fmt_stamp(w2), "2026-11-27T10:00:07Z");
        // A change stamped later in that same second 10:00:07 is read by the next poll (ge).
        assert!(read_from(w2, 0) <= stamp_secs("2026-11-27T10:00:07Z").unwrap());
        assert_eq!(fmt_stamp(read_from(w2, 5)), "2026-11-27T10:00:02Z");
        assert_eq!(read_from(w2, -3), w2, "a negative overlap is none");
    }

    #[test]
    fn what_polling_learns_is_stored_and_found_by_document_number() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.x3_order(5).unwrap(), None);
        let mut s = X3OrderState {
            order_id: 5,
            reference: "WC-5".into(),
            documents: vec!["SOHFR011000001".into()],
            delivery_status: Some(1),
            seen_at: 1,
            ..X3OrderState::default()
        };
        store.x3_order_save(&s).unwrap();
        s.delivery_status = Some(3);
        s.deliveries.push("SDHFR011000001".into());
        store.x3_order_save(&s).unwrap();
        assert_eq!(store.x3_order(5).unwrap(), Some(s));
        assert_eq!(store.order_of_document("SOHFR011000001").unwrap(), Some(5));
        // A number that only contains another one is not it.
        assert_eq!(store.order_of_document("SOHFR01100000").unwrap(), None);
        assert_eq!(order_json(&store, 5).unwrap()["delivery_status"], 3);
        assert!(
            order_html(&store, 5)
                .unwrap()
                .into_string()
                .contains("3 (delivered)")
        );
        assert_eq!(order_json(&store, 6).unwrap(), Value::Null);
    }
}
