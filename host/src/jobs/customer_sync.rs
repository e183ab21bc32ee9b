//! WooCommerce → X3 customers (`[master-data] customer-addresses`, docs/master-data.md): a
//! registered customer's changed billing or shipping address (`customer.updated`) is written to
//! the addresses the host created for that customer in X3 (`BIL`, `SHP`).
//!
//! The intake stores each `customer.updated` as a job (`customer_updates` in the store: the
//! newest revision per customer, an older one never replaces a newer one). One worker thread
//! takes due jobs, and for each:
//!
//! 1. finds the X3 customer: the one this WooCommerce customer's order was posted to (the store's
//!    link), else by e-mail — the cache while its match is young enough, else an X3 look-up —
//!    trying the customer's previous e-mail before the new one when it changed. None found: a
//!    guest's e-mail, or a customer who never ordered: nothing to update, said on the status page;
//! 2. reads the customer's addresses from X3 and compares the host's (`BIL` ← billing, `SHP` ←
//!    shipping) field by field: lines, postal code, city, state, country, phone, e-mail, each cut
//!    to X3's length as a create cuts it. Equal → no write;
//! 3. otherwise sends one update (REST `PUT BPCUSTOMER('code')…$edit` with the address
//!    collection, GraphQL `update(data:)`) and reads the answer: X3 must show what was sent.
//!
//! Exactly once without a ledger: the write is idempotent and always preceded by a read, so a
//! re-delivery, a retry after a lost answer or a restart finds X3 equal and writes nothing.
//! Transient failures retry with backoff through the order workers' breaker; a refusal needs a
//! person, with X3's message. Nothing flows back: the update moves the customer's `UPDDATTIM`,
//! and `[x3-poll] customers` only lists changes — it never writes to WooCommerce.
//!
//! The X3 names come from the wire table (`crate::wire::Names`); the address codes `BIL` and
//! `SHP` are the ones the core gives the addresses it creates (docs/x3-wire-format.md).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use crate::clients::x3::{ApiMode, LookupRequest, X3Error};
use crate::component::CoreRuntime;
use crate::html::utc;
use crate::jobs::pipeline::{Pipeline, current};
use crate::store::{CustomerFinish, CustomerUpdateRow, Store, now_ms};
use crate::wire::Names;

/// The address codes the core gives the addresses it creates: billing, and shipping when the
/// order's shipping address differed.
pub const BILLING: &str = "BIL";
pub const SHIPPING: &str = "SHP";

/// X3's lengths for the address fields, as the core cuts them on create (`FIELD_LIMITS` in
/// core/src/plan.rs; the lengths are UNCONFIRMED defaults, docs/x3-wire-format.md). The same
/// cut on both sides, so a value cut once compares equal afterwards.
const LIMITS: [(&str, usize); 7] = [
    ("lines", 50),
    ("zip", 10),
    ("city", 40),
    ("state", 35),
    ("country", 3),
    ("phone", 20),
    ("email", 80),
];

/// How long the worker sleeps when nothing is due.
const IDLE: Duration = Duration::from_millis(200);
/// Rows on the status page.
const RECENT: usize = 5;

fn limit(field: &str) -> usize {
    LIMITS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or(usize::MAX, |(_, n)| *n)
}

// ---------------------------------------------------------------------------------------------
// What WooCommerce says

/// One address of a WooCommerce customer (the fields X3's addresses take).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WooAddress {
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    /// None when the address has no `phone` field at all (WooCommerce before 5.6 had none on
    /// shipping addresses).
    pub phone: Option<String>,
}

impl WooAddress {
    fn from_json(v: &Value) -> WooAddress {
        let s = |k: &str| match &v[k] {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        WooAddress {
            address_1: s("address_1"),
            address_2: s("address_2"),
            city: s("city"),
            state: s("state"),
            postcode: s("postcode"),
            country: s("country"),
            phone: v.get("phone").map(|_| s("phone")),
        }
    }

    /// No address at all (a customer who never gave a shipping address).
    fn is_empty(&self) -> bool {
        [
            &self.address_1,
            &self.address_2,
            &self.city,
            &self.postcode,
            &self.country,
        ]
        .iter()
        .all(|s| s.is_empty())
    }
}

/// A `customer.updated` payload (the body of `GET /customers/<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WooCustomer {
    pub id: u64,
    /// The billing e-mail, else the account's: orders are matched to X3 by the billing e-mail.
    pub email: String,
    pub billing: WooAddress,
    pub shipping: WooAddress,
    pub modified_gmt: Option<String>,
}

impl WooCustomer {
    /// None for a body that is not a customer (no positive `id`, no `billing`).
    pub fn parse(body: &[u8]) -> Option<WooCustomer> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let id = v["id"].as_u64().filter(|id| *id > 0)?;
        if !v["billing"].is_object() {
            return None;
        }
        let email = [&v["billing"]["email"], &v["email"]]
            .iter()
            .filter_map(|e| e.as_str())
            .map(str::trim)
            .find(|e| !e.is_empty())
            .unwrap_or("")
            .to_string();
        Some(WooCustomer {
            id,
            email,
            billing: WooAddress::from_json(&v["billing"]),
            shipping: WooAddress::from_json(&v["shipping"]),
            modified_gmt: v["date_modified_gmt"].as_str().map(str::to_string),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// What X3 has, and what to change

/// The names of the customer fields the sync reads and writes, for the API in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub code: String,
    pub addresses: String,
    pub address_code: String,
    pub lines: String,
    pub zip: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub phone: String,
    /// The e-mail on each address (`BPADDRESS.WEB`), or none when it is on the header.
    pub address_email: Option<String>,
    /// The e-mail on the header, when the e-mail path is a plain field.
    pub header_email: Option<String>,
    /// Read (GraphQL selects what it echoes back), never changed.
    pub description: String,
    pub is_default: String,
}

impl Fields {
    pub fn of(names: &Names, api: ApiMode) -> Fields {
        let side = match api {
            ApiMode::Rest => "rest",
            ApiMode::Graphql => "graphql",
        };
        let n = |k: &str| names.get(&format!("{side}.customer.{k}")).to_string();
        let path = n("email-path");
        let (address_email, header_email) = match path.split_once('.') {
            Some((_, field)) => (Some(field.to_string()), None),
            None => (None, Some(path.clone())),
        };
        Fields {
            code: n("code"),
            addresses: n("addresses"),
            address_code: n("address.code"),
            lines: n("address.lines"),
            zip: n("address.zip"),
            city: n("address.city"),
            state: n("address.state"),
            country: n("address.country"),
            phone: n("address.phone"),
            address_email,
            header_email,
            description: n("address.description"),
            is_default: n("address.is-default"),
        }
    }
}

/// An X3 customer as read: the header e-mail (when the e-mail path is a header field) and every
/// address under the API's own names, in X3's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct X3Customer {
    pub code: String,
    pub header_email: Option<String>,
    pub addresses: Vec<Map<String, Value>>,
}

impl X3Customer {
    /// A REST record (`$details`, or the answer to a `PUT`) or a GraphQL node. GraphQL
    /// collections are connections (`addresses { query { edges { node } } }`, x3-api.md §3.3);
    /// a plain list is taken too. A reference read as an object gives its code.
    pub fn from_record(f: &Fields, v: &Value) -> Option<X3Customer> {
        let obj = v.as_object()?;
        let code = text(obj.get(&f.code));
        let lines: Vec<Value> = match &v[f.addresses.as_str()] {
            Value::Array(a) => a.clone(),
            Value::Object(_) => v[f.addresses.as_str()]["query"]["edges"]
                .as_array()
                .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let addresses = lines
            .into_iter()
            .filter_map(|l| match l {
                Value::Object(m) => Some(
                    m.into_iter()
                        .map(|(k, v)| match v {
                            Value::Object(r) if r.contains_key("code") => {
                                (k, r.get("code").cloned().unwrap_or(Value::Null))
                            }
                            v => (k, v),
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        Some(X3Customer {
            code,
            header_email: f.header_email.as_ref().map(|h| text(obj.get(h))),
            addresses,
        })
    }

    fn address(&self, f: &Fields, code: &str) -> Option<usize> {
        self.addresses
            .iter()
            .position(|a| text(a.get(&f.address_code)) == code)
    }
}

/// A field as text: strings as they are, numbers printed, anything else empty.
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// One field that differs: `BIL.CTY` from what X3 has to what WooCommerce has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub address: String,
    pub field: String,
}

/// What one revision asks of X3.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Every address as read, the host's with their changes.
    pub addresses: Vec<Map<String, Value>>,
    /// The new header e-mail, when it is on the header and differs.
    pub header_email: Option<String>,
    pub changes: Vec<Change>,
    /// Values cut to X3's lengths (`BIL.CTY`), as a create reports them.
    pub shortened: Vec<String>,
    /// What was not done and why (an address X3 does not have).
    pub notes: Vec<String>,
}

/// Cuts a value to `max` characters, recording the cut under `name`.
fn fit(value: &str, max: usize, name: String, shortened: &mut Vec<String>) -> String {
    if value.chars().count() <= max {
        return value.to_string();
    }
    shortened.push(name);
    value
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Compares the X3 customer's `BIL` and `SHP` addresses with the WooCommerce customer's
/// billing and shipping addresses; `key` is the e-mail match key (what a create writes). Only
/// fields that differ change; the third address line, descriptions, flags and every other
/// address stay as X3 has them.
pub fn plan_update(f: &Fields, x3: &X3Customer, woo: &WooCustomer, key: &str) -> Update {
    let mut u = Update {
        addresses: x3.addresses.clone(),
        ..Update::default()
    };
    let mut ship = woo.shipping.clone();
    if ship.phone.is_none() {
        // As a create does: a shipping address without a phone field gets the billing phone.
        ship.phone.clone_from(&woo.billing.phone);
    }
    let wanted: [(&str, &WooAddress, bool); 2] = [
        (BILLING, &woo.billing, true),
        (SHIPPING, &ship, !woo.shipping.is_empty()),
    ];
    for (code, a, given) in wanted {
        let Some(i) = x3.address(f, code) else {
            if code == BILLING || given && !same_place(&woo.shipping, &woo.billing) {
                u.notes.push(format!(
                    "X3 customer {} has no {code} address: the {} address was not written",
                    x3.code,
                    if code == BILLING {
                        "billing"
                    } else {
                        "shipping"
                    }
                ));
            }
            continue;
        };
        if !given {
            continue;
        }
        let addr = &mut u.addresses[i];
        // Lines: the first two are WooCommerce's; the third is X3's own (a create leaves it
        // empty, a person may have filled it).
        let mut lines: Vec<String> = addr
            .get(&f.lines)
            .and_then(Value::as_array)
            .map(|l| l.iter().map(|v| text(Some(v))).collect())
            .unwrap_or_default();
        lines.resize(lines.len().max(3), String::new());
        let old_lines = lines.clone();
        for (n, value) in [&a.address_1, &a.address_2].into_iter().enumerate() {
            lines[n] = fit(
                value,
                limit("lines"),
                format!("{code}.{}[{n}]", f.lines),
                &mut u.shortened,
            );
        }
        if lines != old_lines {
            addr.insert(f.lines.clone(), json!(lines));
            u.changes.push(Change {
                address: code.to_string(),
                field: f.lines.clone(),
            });
        }
        for (field, kind, value) in [
            (&f.zip, "zip", &a.postcode),
            (&f.city, "city", &a.city),
            (&f.state, "state", &a.state),
            (&f.country, "country", &a.country),
            (&f.phone, "phone", &a.phone.clone().unwrap_or_default()),
        ] {
            let v = fit(
                value,
                limit(kind),
                format!("{code}.{field}"),
                &mut u.shortened,
            );
            set(addr, code, field, v, &mut u.changes);
        }
        if let Some(field) = &f.address_email {
            let v = fit(
                key,
                limit("email"),
                format!("{code}.{field}"),
                &mut u.shortened,
            );
            set(addr, code, field, v, &mut u.changes);
        }
    }
    if let Some(field) = &f.header_email {
        let v = fit(key, limit("email"), field.clone(), &mut u.shortened);
        if x3.header_email.as_deref().unwrap_or("") != v {
            u.header_email = Some(v);
            u.changes.push(Change {
                address: String::new(),
                field: field.clone(),
            });
        }
    }
    u
}

/// Sets one field of an address when X3 has another value, recording the change.
fn set(
    addr: &mut Map<String, Value>,
    code: &str,
    field: &str,
    value: String,
    changes: &mut Vec<Change>,
) {
    if text(addr.get(field)) != value {
        addr.insert(field.to_string(), Value::String(value));
        changes.push(Change {
            address: code.to_string(),
            field: field.to_string(),
        });
    }
}

/// The same rule as the core's for "the shipping address is the billing address".
fn same_place(a: &WooAddress, b: &WooAddress) -> bool {
    let norm = |s: &str| s.trim().to_lowercase();
    norm(&a.address_1) == norm(&b.address_1)
        && norm(&a.address_2) == norm(&b.address_2)
        && norm(&a.postcode) == norm(&b.postcode)
        && norm(&a.city) == norm(&b.city)
        && norm(&a.country) == norm(&b.country)
}

/// The changes in words, field names only (`BIL: CTY, POSCOD; SHP: CTY`): addresses are the
/// shopper's, and the status page and the log need to say what moved, not where they live.
pub fn describe(changes: &[Change]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut last = None;
    for c in changes {
        let head = if c.address.is_empty() {
            "header"
        } else {
            c.address.as_str()
        };
        if last == Some(head) {
            if let Some(s) = out.last_mut() {
                let _ = write!(s, ", {}", c.field);
            }
        } else {
            out.push(format!("{head}: {}", c.field));
            last = Some(head);
        }
    }
    out.join("; ")
}

/// A line to send back: what was read, less reference objects and other nested values (X3's
/// computed `*_REF` companions are not writable).
fn writable(line: &Map<String, Value>) -> Map<String, Value> {
    line.iter()
        .filter(|(_, v)| !v.is_object())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The worker

/// How one attempt ended.
enum Step {
    Done(CustomerFinish),
    /// Try again later; X3's `Retry-After` is a floor.
    Retry(String, Option<Duration>),
}

pub struct CustomerSync {
    store: Arc<Store>,
    core: Arc<CoreRuntime>,
    pipeline: Arc<Pipeline>,
}

/// Starts the worker when `[master-data] customer-addresses` is on; it stops with the order
/// workers (`Pipeline::stop`).
pub fn spawn(
    cfg: &crate::config::Config,
    store: &Arc<Store>,
    pipeline: &Arc<Pipeline>,
    core: &Arc<CoreRuntime>,
) -> Option<std::thread::JoinHandle<()>> {
    if !cfg.master_data.customer_addresses {
        return None;
    }
    let sync = CustomerSync::new(Arc::clone(store), Arc::clone(core), Arc::clone(pipeline));
    Some(std::thread::spawn(move || sync.run()))
}

impl CustomerSync {
    pub fn new(store: Arc<Store>, core: Arc<CoreRuntime>, pipeline: Arc<Pipeline>) -> Self {
        CustomerSync {
            store,
            core,
            pipeline,
        }
    }

    pub fn run(&self) {
        info!("customer addresses: WooCommerce customer.updated → X3 addresses");
        while !self.pipeline.stopping() {
            match self.next_due() {
                Ok(Some(id)) => {
                    if let Err(e) = self.process(id) {
                        warn!("customer {id}: could not record progress: {e:#}");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                Ok(None) => std::thread::sleep(IDLE),
                Err(e) => {
                    warn!("reading the customer queue failed: {e:#}");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Runs every due job until none is left (tests).
    pub fn drain(&self) -> Result<()> {
        while let Some(id) = self.next_due()? {
            self.process(id)?;
        }
        Ok(())
    }

    fn next_due(&self) -> Result<Option<u64>> {
        let now = now_ms();
        let Some(id) = self.store.due_customer_updates(now, 1)?.first().copied() else {
            return Ok(None);
        };
        // The order workers' breaker: a dead X3 is probed, not hammered, by either.
        if !self.pipeline.breaker.allow(now) {
            return Ok(None);
        }
        Ok(Some(id))
    }

    /// One attempt at one customer's newest revision.
    pub fn process(&self, customer_id: u64) -> Result<()> {
        let Some(row) = self.store.load_customer_update(customer_id)? else {
            return Ok(());
        };
        if !row.dirty {
            return Ok(());
        }
        let finish = match self.attempt(&row)? {
            Step::Done(f) => f,
            Step::Retry(error, retry_after) => self.retry(&row, error, retry_after),
        };
        if finish.state == "attention" {
            warn!(
                "customer {customer_id}: needs attention: {}",
                finish.last_error.as_deref().unwrap_or("")
            );
        }
        self.store
            .finish_customer_update(customer_id, row.rev, &finish)
    }

    fn retry(
        &self,
        row: &CustomerUpdateRow,
        error: String,
        retry_after: Option<Duration>,
    ) -> CustomerFinish {
        let retry = &self.pipeline.retry;
        let horizon = i64::try_from(retry.horizon_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let first = row.first_failure_at.unwrap_or_else(now_ms);
        if retry.horizon_secs > 0 && now_ms() - first > horizon {
            return CustomerFinish {
                state: "failed".into(),
                detail: Some(format!("gave up after retrying: {error}")),
                last_error: Some(error),
                ..CustomerFinish::default()
            };
        }
        if row.attempts == 0 {
            info!("customer {}: will retry: {error}", row.customer_id);
        }
        let floor = retry_after.map_or(0, |d| {
            now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
        CustomerFinish {
            state: "retrying".into(),
            retry_at: Some(self.pipeline.backoff(row.attempts).max(floor)),
            last_error: Some(error),
            ..CustomerFinish::default()
        }
    }

    /// One attempt at one customer update: finds the X3 customer, writes what changed, and
    /// checks that X3 shows it.
    fn attempt(&self, row: &CustomerUpdateRow) -> Result<Step> {
        let s = match self.subject(row)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let (woo, key) = (&s.woo, &s.key);
        let found = match self.find(&s.names, &s.f, woo.id, s.link.as_ref(), &s.previous, key)? {
            Ok(found) => found,
            Err(step) => return Ok(step),
        };
        let Some((code, x3c, how)) = found else {
            return Ok(Step::Done(not_found(&s)));
        };
        let update = plan_update(&s.f, &x3c, woo, key);
        let notes = notes(&update);
        if update.changes.is_empty() {
            self.settle(woo.id, key, &s.previous, &code)?;
            return Ok(Step::Done(CustomerFinish {
                state: "unchanged".into(),
                detail: Some(format!(
                    "X3 customer {code} ({how}) already has these addresses{notes}"
                )),
                applied_modified_gmt: woo.modified_gmt.clone(),
                email_key: Some(key.clone()),
                x3_code: Some(code),
                ..CustomerFinish::default()
            }));
        }
        let what = format!("customer update {code}");
        let shown = match self.write_and_read_back(&s, &code, &update, &what)? {
            Ok(shown) => shown,
            Err(step) => return Ok(step),
        };
        let left = plan_update(&s.f, &shown, woo, key).changes;
        if !left.is_empty() {
            return Ok(Step::Done(CustomerFinish {
                x3_code: Some(code.clone()),
                wrote: true,
                ..needs_person(format!(
                    "X3 answered the {what} but does not show {}: the representation may not \
                     take these fields",
                    describe(&left)
                ))
            }));
        }
        info!(
            "customer {}: X3 customer {code} updated ({})",
            woo.id,
            describe(&update.changes)
        );
        self.settle(woo.id, key, &s.previous, &code)?;
        Ok(Step::Done(CustomerFinish {
            state: "updated".into(),
            detail: Some(format!(
                "X3 customer {code} ({how}) updated: {}{notes}",
                describe(&update.changes)
            )),
            applied_modified_gmt: woo.modified_gmt.clone(),
            email_key: Some(key.clone()),
            x3_code: Some(code),
            wrote: true,
            ..CustomerFinish::default()
        }))
    }

    /// The update's customer with the X3 names in force and the e-mail keys to match it by, or
    /// how the attempt ends without one (not a customer, no e-mail, the core failing).
    fn subject(&self, row: &CustomerUpdateRow) -> Result<std::result::Result<Subject, Step>> {
        let body = row.body.clone().unwrap_or_default();
        let Some(woo) = WooCustomer::parse(&body) else {
            return Ok(Err(attention(
                "the delivery is not a WooCommerce customer (no id or billing address)".into(),
            )));
        };
        let settings = current(&self.pipeline.settings);
        let names = match Names::resolve(&self.core, &settings) {
            Ok(n) => n,
            Err(e) => return Ok(Err(attention(format!("the X3 names in force: {e:#}")))),
        };
        let api = self.pipeline.x3().api_mode();
        let f = Fields::of(&names, api);
        let email = woo.email.clone();
        let key = match self.core.orders().customer_key(&email) {
            Ok(k) => k,
            // A trap on this input: it would trap again, so a person looks, as for an order.
            Err(e) => {
                return Ok(Err(attention(format!(
                    "the core failed on this customer: {e:#}"
                ))));
            }
        };
        if key.is_empty() {
            return Ok(Err(Step::Done(CustomerFinish {
                state: "unknown".into(),
                detail: Some("the customer has no e-mail: no X3 customer to match".into()),
                applied_modified_gmt: woo.modified_gmt.clone(),
                ..CustomerFinish::default()
            })));
        }
        let link = self.store.woo_customer(woo.id)?;
        // E-mails this customer had before, when they differ from the current one: X3 still
        // knows the customer by them until this update is written.
        let mut previous: Vec<String> = Vec::new();
        for k in [row.email_key.clone(), link.as_ref().map(|l| l.0.clone())]
            .into_iter()
            .flatten()
        {
            if k != key && !previous.contains(&k) {
                previous.push(k);
            }
        }
        Ok(Ok(Subject {
            woo,
            names,
            f,
            api,
            key,
            previous,
            link,
        }))
    }

    /// Writes the update and returns the customer as X3 shows it after (read again when the
    /// answer does not show it, or when X3 refused with a 500 that may follow a commit); the
    /// attempt's step when it ends here.
    fn write_and_read_back(
        &self,
        s: &Subject,
        code: &str,
        update: &Update,
        what: &str,
    ) -> Result<std::result::Result<X3Customer, Step>> {
        let (names, f) = (&s.names, &s.f);
        let answer = match self.write(names, f, s.api, code, update) {
            Ok(answer) => {
                self.pipeline.breaker.success();
                self.pipeline.health.record_x3(None);
                answer
            }
            Err(e @ X3Error::Refused { .. }) => {
                // A refusal answered 500 may still follow a commit: one look before deciding.
                self.pipeline.breaker.success();
                self.pipeline.health.record_x3(None);
                match self.read(names, f, code)? {
                    Ok(Some(now)) if plan_update(f, &now, &s.woo, &s.key).changes.is_empty() => {
                        Some(now)
                    }
                    Ok(_) => {
                        return Ok(Err(Step::Done(CustomerFinish {
                            x3_code: Some(code.to_string()),
                            ..needs_person(format!("X3 refused the {what}: {e}"))
                        })));
                    }
                    Err(step) => return Ok(Err(step)),
                }
            }
            Err(e) => return Ok(Err(self.failure(what, &e))),
        };
        // X3 leaves alone what its representation does not take: the answer must show it.
        match answer {
            Some(a) => Ok(Ok(a)),
            None => match self.read(names, f, code)? {
                Ok(Some(a)) => Ok(Ok(a)),
                Ok(None) => Ok(Err(attention(format!(
                    "X3 customer {code} was gone right after its update"
                )))),
                Err(step) => Ok(Err(step)),
            },
        }
    }

    /// X3 now has this revision: the new e-mail matches the customer, the old ones do not.
    fn settle(&self, customer_id: u64, key: &str, previous: &[String], code: &str) -> Result<()> {
        for old in previous {
            self.store.forget_customer(old)?;
        }
        self.store.remember_customer(key, code)?;
        self.store.link_woo_customer(customer_id, key, code)
    }

    /// The X3 customer to update, read, and how it was found.
    #[allow(clippy::type_complexity)]
    fn find(
        &self,
        names: &Names,
        f: &Fields,
        customer_id: u64,
        link: Option<&(String, String)>,
        previous: &[String],
        key: &str,
    ) -> Result<std::result::Result<Option<(String, X3Customer, String)>, Step>> {
        if let Some((_, code)) = link {
            match self.read(names, f, code)? {
                Ok(Some(c)) => return Ok(Ok(Some((code.clone(), c, "posted to before".into())))),
                Ok(None) => self.store.unlink_woo_customer(customer_id)?,
                Err(step) => return Ok(Err(step)),
            }
        }
        let ttl = self.pipeline.customer_cache_ms();
        for k in previous.iter().map(String::as_str).chain([key]) {
            let how = if k == key {
                "matched by e-mail"
            } else {
                "matched by the previous e-mail"
            };
            if let Some(code) = self.store.fresh_customer_code(k, ttl)? {
                match self.read(names, f, &code)? {
                    Ok(Some(c)) => return Ok(Ok(Some((code, c, how.into())))),
                    Ok(None) => self.store.forget_customer(k)?,
                    Err(step) => return Ok(Err(step)),
                }
            }
            let found = match self.lookup(names, k)? {
                Ok(found) => found,
                Err(step) => return Ok(Err(step)),
            };
            let Some(code) = found else { continue };
            self.store.remember_customer(k, &code)?;
            match self.read(names, f, &code)? {
                Ok(Some(c)) => return Ok(Ok(Some((code, c, how.into())))),
                Ok(None) => continue,
                Err(step) => return Ok(Err(step)),
            }
        }
        Ok(Ok(None))
    }

    /// The lowest X3 customer code with this e-mail (any case), as orders choose it.
    fn lookup(
        &self,
        names: &Names,
        key: &str,
    ) -> Result<std::result::Result<Option<String>, Step>> {
        let upper = key.to_uppercase();
        // The core's own rule for its customer look-up, run natively.
        let regex = mlc_core::plan::case_insensitive_regex(key);
        let o = self.core.orders();
        let literals = o
            .sdata_literal(&upper)
            .and_then(|sdata| Ok((sdata, o.graphql_literal(&regex)?)));
        let (sdata, literal) = match literals {
            Ok(l) => l,
            Err(e) => {
                return Ok(Err(attention(format!(
                    "the core failed on this customer's e-mail: {e:#}"
                ))));
            }
        };
        let gql_path = names.get("graphql.customer.email-path");
        let filter = match gql_path.split_once('.') {
            Some((coll, prop)) => format!("{{{coll}:{{_atLeast:1,{prop}:{{_regex:{literal}}}}}}}"),
            None => format!("{{{gql_path}:{{_regex:{literal}}}}}"),
        };
        let (package, node) = names.node("graphql.customer.node");
        let gcode = names.get("graphql.customer.code");
        let query = format!(
            "query FindCustomer($filter: String) {{ {package} {{ {node} {{ query(first: 50, \
             filter: $filter) {{ edges {{ node {{ {gcode} }} }} }} }} }} }}"
        );
        let rest_where = format!(
            "upper({}) eq {sdata}",
            names.get("rest.customer.email-path")
        );
        let vars = json!({ "filter": filter }).to_string();
        let req = LookupRequest {
            rest_class: names.get("rest.customer.class"),
            rest_representation: names.get("rest.customer.representation"),
            rest_where: &rest_where,
            graphql_query: &query,
            graphql_variables: &vars,
            rest_key_field: names.get("rest.customer.code"),
            graphql_key_field: gcode,
            rest_check_field: "",
            graphql_check_path: "",
        };
        Ok(
            match self.x3_call("customer lookup", || self.pipeline.x3().lookup(&req)) {
                Ok(found) => Ok(found.into_iter().map(|f| f.key).min()),
                Err(step) => Err(step),
            },
        )
    }

    /// The customer with its addresses; None when X3 has no customer of that code.
    fn read(
        &self,
        names: &Names,
        f: &Fields,
        code: &str,
    ) -> Result<std::result::Result<Option<X3Customer>, Step>> {
        let x3 = self.pipeline.x3();
        let read = || match x3.api_mode() {
            ApiMode::Rest => x3
                .details_rest(
                    names.get("rest.customer.class"),
                    names.get("rest.customer.representation"),
                    code,
                )
                .map(|v| v.and_then(|v| X3Customer::from_record(f, &v))),
            ApiMode::Graphql => {
                let (package, node) = names.node("graphql.customer.node");
                let query = format!(
                    "query ReadCustomer($id: Id!) {{ {package} {{ {node} {{ read(_id: $id) {{ {} }} }} }} }}",
                    graphql_selection(f)
                );
                x3.graphql(&query, &json!({ "id": code })).map(|data| {
                    let v = &data[package][node]["read"];
                    (!v.is_null())
                        .then(|| X3Customer::from_record(f, v))
                        .flatten()
                })
            }
        };
        Ok(self.x3_call("customer read", read))
    }

    /// Sends the update; returns the customer as X3 answered it (None when the answer does not
    /// show it, to be read again).
    fn write(
        &self,
        names: &Names,
        f: &Fields,
        api: ApiMode,
        code: &str,
        u: &Update,
    ) -> crate::clients::x3::Result<Option<X3Customer>> {
        let x3 = self.pipeline.x3();
        // The whole collection goes back, every address as read with the host's changed: a
        // collection given in an update replaces the lines (docs/master-data.md), so sending
        // only the changed address would drop the others.
        let lines: Vec<Value> = u
            .addresses
            .iter()
            .map(|a| Value::Object(writable(a)))
            .collect();
        match api {
            ApiMode::Rest => {
                let mut body = Map::new();
                body.insert(f.addresses.clone(), Value::Array(lines));
                if let (Some(field), Some(v)) = (&f.header_email, &u.header_email) {
                    body.insert(field.clone(), json!(v));
                }
                let answer = x3.update_rest(
                    names.get("rest.customer.class"),
                    names.get("rest.customer.representation"),
                    code,
                    &Value::Object(body),
                )?;
                Ok(X3Customer::from_record(f, &answer).filter(|c| !c.addresses.is_empty()))
            }
            ApiMode::Graphql => {
                let (package, node) = names.node("graphql.customer.node");
                let mut data = Map::new();
                data.insert(f.code.clone(), json!(code));
                data.insert(f.addresses.clone(), Value::Array(lines));
                if let (Some(field), Some(v)) = (&f.header_email, &u.header_email) {
                    data.insert(field.clone(), json!(v));
                }
                let mutation = format!(
                    "mutation UpdateCustomer($data: {}!) {{ {package} {{ {node} {{ update(data: $data) {{ {} }} }} }} }}",
                    names.get("graphql.customer.input"),
                    graphql_selection(f)
                );
                let data = x3.graphql(&mutation, &json!({ "data": Value::Object(data) }))?;
                let v = &data[package][node]["update"];
                Ok(X3Customer::from_record(f, v).filter(|c| !c.addresses.is_empty()))
            }
        }
    }

    /// One X3 call through the breaker and the health record; a failure becomes the step.
    #[allow(clippy::result_large_err)]
    fn x3_call<T>(
        &self,
        what: &str,
        f: impl FnOnce() -> crate::clients::x3::Result<T>,
    ) -> std::result::Result<T, Step> {
        match f() {
            Ok(v) => {
                self.pipeline.breaker.success();
                self.pipeline.health.record_x3(None);
                self.pipeline.health.clear_x3_config(what);
                Ok(v)
            }
            Err(e) => Err(self.failure(what, &e)),
        }
    }

    /// What an X3 failure means for the job, as for orders: X3 answering "no" needs a person;
    /// X3 not answering is retried.
    fn failure(&self, what: &str, e: &X3Error) -> Step {
        let p = &self.pipeline;
        match e {
            X3Error::Rejected { .. } | X3Error::Refused { .. } | X3Error::Config(_) => {
                p.breaker.success();
                p.health
                    .record_x3(matches!(e, X3Error::Config(_)).then(|| e.to_string()));
                attention(format!("{what}: {e}"))
            }
            X3Error::Misconfigured { message } => {
                p.breaker.success();
                p.health.record_x3(None);
                if p.health.record_x3_config(what, message) {
                    warn!("X3 configuration: {what}: {message}");
                }
                attention(format!("{what}: {e}"))
            }
            X3Error::Transient { retry_after, .. } => {
                p.health.record_x3(Some(e.to_string()));
                p.breaker.failure(now_ms());
                Step::Retry(format!("{what}: {e}"), *retry_after)
            }
            X3Error::Unknown { .. } | X3Error::Auth { .. } => {
                p.health.record_x3(Some(e.to_string()));
                p.breaker.failure(now_ms());
                Step::Retry(format!("{what}: {e}"), None)
            }
        }
    }
}

/// What one attempt at a customer update works with: the WooCommerce customer, the X3 names and
/// fields in force, and the e-mail keys that match it to an X3 customer.
struct Subject {
    woo: WooCustomer,
    names: Names,
    f: Fields,
    api: ApiMode,
    /// The current e-mail's key (never empty).
    key: String,
    /// The keys of e-mails the customer had before, when they differ from the current one.
    previous: Vec<String>,
    /// The X3 customer this WooCommerce customer was posted to before: (e-mail key, code).
    link: Option<(String, String)>,
}

/// A customer no X3 customer matches: nothing to update.
fn not_found(s: &Subject) -> CustomerFinish {
    CustomerFinish {
        state: "unknown".into(),
        detail: Some(format!(
            "no X3 customer has this customer's e-mail: nothing to update (a customer \
             who has not ordered yet, or one X3 keeps under another e-mail){}",
            if s.previous.is_empty() {
                ""
            } else {
                "; their previous e-mail was tried too"
            }
        )),
        email_key: Some(s.key.clone()),
        applied_modified_gmt: s.woo.modified_gmt.clone(),
        ..CustomerFinish::default()
    }
}

/// An update's notes for the timeline's detail (`; ` before each), the fields cut to X3's
/// lengths among them; empty without notes.
fn notes(update: &Update) -> String {
    let mut notes = update.notes.clone();
    if !update.shortened.is_empty() {
        notes.push(format!(
            "cut to X3's lengths: {}",
            update.shortened.join(", ")
        ));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join("; "))
    }
}

fn attention(message: String) -> Step {
    Step::Done(needs_person(message))
}

fn needs_person(message: String) -> CustomerFinish {
    CustomerFinish {
        state: "attention".into(),
        detail: Some(message.clone()),
        last_error: Some(message),
        ..CustomerFinish::default()
    }
}

/// What a GraphQL read or update selects: the code, the header e-mail when there is one, and
/// every address property the sync knows (an update sends them all back).
fn graphql_selection(f: &Fields) -> String {
    let mut props = vec![
        "_id",
        f.address_code.as_str(),
        f.description.as_str(),
        f.lines.as_str(),
        f.zip.as_str(),
        f.city.as_str(),
        f.state.as_str(),
        f.country.as_str(),
        f.phone.as_str(),
    ];
    if let Some(e) = &f.address_email {
        props.push(e);
    }
    props.push(f.is_default.as_str());
    let header = f
        .header_email
        .as_ref()
        .map(|h| format!(" {h}"))
        .unwrap_or_default();
    format!(
        "{}{header} {} {{ query(first: 50) {{ edges {{ node {{ {} }} }} }} }}",
        f.code,
        f.addresses,
        props.join(" ")
    )
}

// ---------------------------------------------------------------------------------------------
// Status

/// `/api/status` → `customer_updates`.
pub fn status_json(store: &Store, enabled: bool) -> Value {
    let (by_state, queued) = store.customer_update_counts().unwrap_or_default();
    let count = |states: &[&str]| -> i64 {
        by_state
            .iter()
            .filter(|(s, _)| states.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    let recent: Vec<Value> = store
        .recent_customer_updates(RECENT)
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            json!({
                "customer_id": r.customer_id,
                "state": r.state,
                "x3_code": r.x3_code,
                "detail": r.detail,
                "last_error": r.last_error,
                "revision": r.modified_gmt,
                "applied_revision": r.applied_modified_gmt,
                "writes": r.writes,
                "updated_at": r.updated_at,
            })
        })
        .collect();
    json!({
        "enabled": enabled,
        "waiting": queued,
        "applied": count(&["updated", "unchanged"]),
        "updated": count(&["updated"]),
        "unchanged": count(&["unchanged"]),
        "no_x3_customer": count(&["unknown"]),
        "attention": count(&["attention", "failed"]),
        "recent": recent,
    })
}

/// The status page's "Customer addresses → X3" section.
pub fn status_html(store: &Store, enabled: bool) -> Markup {
    if !enabled {
        return html! {
            section id="customer-updates" {
                h2 { "Customer addresses → X3" }
                p class="muted" {
                    "Off (" code { "[master-data] customer-addresses" } "): WooCommerce customer \
                     changes are stored, not sent to X3."
                }
            }
        };
    }
    let s = status_json(store, enabled);
    let n = |k: &str| s[k].as_i64().unwrap_or(0);
    let recent = s["recent"].as_array().cloned().unwrap_or_default();
    html! {
        section id="customer-updates" {
            h2 { "Customer addresses → X3" }
            p {
                (n("applied")) " applied (" (n("updated")) " written, " (n("unchanged"))
                " already equal) · " (n("waiting")) " waiting · " (n("attention"))
                " needing attention · " (n("no_x3_customer")) " with no X3 customer"
            }
            @if !recent.is_empty() {
                table {
                    tr {
                        th { "Customer" } th { "State" } th { "X3 customer" } th { "Revision" }
                        th { "When" } th { "What" }
                    }
                    @for r in &recent {
                        tr {
                            td { (r["customer_id"]) }
                            td { (r["state"].as_str().unwrap_or("")) }
                            td { (r["x3_code"].as_str().unwrap_or("—")) }
                            td { (r["revision"].as_str().unwrap_or("—")) }
                            td { (utc(r["updated_at"].as_i64().unwrap_or(0))) }
                            td class="msg" {
                                (r["last_error"]
                                    .as_str()
                                    .or_else(|| r["detail"].as_str())
                                    .unwrap_or(""))
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rest_fields() -> Fields {
        Fields {
            code: "BPCNUM".into(),
            addresses: "BPADDRESS".into(),
            address_code: "BPAADD".into(),
            lines: "BPAADDLIG".into(),
            zip: "POSCOD".into(),
            city: "CTY".into(),
            state: "SAT".into(),
            country: "CRY".into(),
            phone: "TEL".into(),
            address_email: Some("WEB".into()),
            header_email: None,
            description: "BPADES".into(),
            is_default: "BPAADDFLG".into(),
        }
    }

    fn x3_customer(addresses: Value) -> X3Customer {
        X3Customer::from_record(
            &rest_fields(),
            &json!({"BPCNUM": "WANNA", "BPADDRESS": addresses}),
        )
        .unwrap()
    }

    fn bil(city: &str) -> Value {
        json!({"$uuid": "u1", "BPAADD": "BIL", "BPADES": "Billing",
               "BPAADDLIG": ["1 Rue Haute", "", "c/o reception"], "POSCOD": "69001", "CTY": city,
               "SAT": "", "CRY": "FR", "TEL": "+33 1", "WEB": "anna@example.com", "BPAADDFLG": 2})
    }

    fn woo(city: &str) -> WooCustomer {
        WooCustomer::parse(
            json!({"id": 7, "email": "Anna@Example.com", "date_modified_gmt": "2026-11-27T10:00:00",
                   "billing": {"address_1": "1 Rue Haute", "address_2": "", "city": city,
                               "state": "", "postcode": "69001", "country": "FR",
                               "email": "anna@example.com", "phone": "+33 1"},
                   "shipping": {"address_1": "", "address_2": "", "city": "", "state": "",
                                "postcode": "", "country": "", "phone": ""}})
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn equal_addresses_ask_for_no_write() {
        let u = plan_update(
            &rest_fields(),
            &x3_customer(json!([bil("Lyon")])),
            &woo("Lyon"),
            "anna@example.com",
        );
        assert!(u.changes.is_empty(), "{u:?}");
        assert!(u.notes.is_empty(), "no shipping address given: none needed");
    }

    #[test]
    fn only_the_fields_that_differ_change_and_the_third_line_stays() {
        let mut w = woo("Nice");
        w.billing.address_1 = "9 Quai Bas".into();
        let x3 = x3_customer(json!([bil("Lyon"),
            {"BPAADD": "OFC", "BPAADDLIG": ["Office", "", ""], "CTY": "Paris"}]));
        let u = plan_update(&rest_fields(), &x3, &w, "anna@example.com");
        assert_eq!(describe(&u.changes), "BIL: BPAADDLIG, CTY");
        let a = &u.addresses[0];
        assert_eq!(a["BPAADDLIG"], json!(["9 Quai Bas", "", "c/o reception"]));
        assert_eq!(
            (a["CTY"].as_str(), a["POSCOD"].as_str()),
            (Some("Nice"), Some("69001"))
        );
        assert_eq!(a["$uuid"], "u1", "the line is the one read");
        assert_eq!(
            u.addresses[1]["CTY"], "Paris",
            "an address the host did not create stays"
        );
        assert_eq!(u.addresses.len(), 2, "every address goes back");
    }

    #[test]
    fn a_distinct_shipping_address_goes_to_shp_with_the_billing_phone_when_it_has_none() {
        let mut w = woo("Lyon");
        // No phone field on the shipping address (WooCommerce before 5.6): the billing phone.
        w.shipping = WooAddress {
            address_1: "5 Allée Verte".into(),
            city: "Grenoble".into(),
            postcode: "38000".into(),
            country: "FR".into(),
            phone: None,
            ..WooAddress::default()
        };
        let shp = json!({"BPAADD": "SHP", "BPAADDLIG": ["old", "", ""], "CTY": "Lyon", "POSCOD": "69001",
                         "CRY": "FR", "TEL": "+33 1", "WEB": "anna@example.com", "SAT": ""});
        let u = plan_update(
            &rest_fields(),
            &x3_customer(json!([bil("Lyon"), shp])),
            &w,
            "anna@example.com",
        );
        assert_eq!(describe(&u.changes), "SHP: BPAADDLIG, POSCOD, CTY");
        assert_eq!(u.addresses[1]["TEL"], "+33 1");
        // Without an SHP in X3 (created when shipping was billing): said, not invented.
        let u = plan_update(
            &rest_fields(),
            &x3_customer(json!([bil("Lyon")])),
            &w,
            "anna@example.com",
        );
        assert!(u.changes.is_empty());
        assert_eq!(u.notes.len(), 1, "{:?}", u.notes);
        assert!(u.notes[0].contains("no SHP address"), "{:?}", u.notes);
    }

    #[test]
    fn a_changed_email_is_written_as_its_match_key_and_long_values_are_cut_as_a_create_cuts_them() {
        let mut w = woo("Lyon");
        w.billing.city = "Saint-Rémy-de-Provence-sur-la-Très-Longue-Rivière".into();
        let u = plan_update(
            &rest_fields(),
            &x3_customer(json!([bil("Lyon")])),
            &w,
            "anna@new.example",
        );
        assert_eq!(describe(&u.changes), "BIL: CTY, WEB");
        assert_eq!(u.addresses[0]["WEB"], "anna@new.example");
        assert_eq!(u.addresses[0]["CTY"].as_str().unwrap().chars().count(), 40);
        assert_eq!(u.shortened, vec!["BIL.CTY"]);
        // Cut once, equal afterwards: no write every time the same value comes back.
        let again = plan_update(
            &rest_fields(),
            &X3Customer {
                addresses: u.addresses.clone(),
                ..x3_customer(json!([]))
            },
            &w,
            "anna@new.example",
        );
        assert!(again.changes.is_empty(), "{again:?}");
    }

    #[test]
    fn a_header_email_path_writes_the_header_not_the_addresses() {
        let mut f = rest_fields();
        f.address_email = None;
        f.header_email = Some("WEB".into());
        let x3 = X3Customer::from_record(
            &f,
            &json!({"BPCNUM": "WANNA", "WEB": "anna@example.com", "BPADDRESS": [bil("Lyon")]}),
        )
        .unwrap();
        let u = plan_update(&f, &x3, &woo("Lyon"), "anna@new.example");
        assert_eq!(u.header_email.as_deref(), Some("anna@new.example"));
        assert_eq!(describe(&u.changes), "header: WEB");
        assert_eq!(u.addresses[0]["WEB"], "anna@example.com");
    }

    #[test]
    fn graphql_connections_and_references_read_as_plain_addresses() {
        let mut f = rest_fields();
        f.code = "code".into();
        f.addresses = "addresses".into();
        f.address_code = "code".into();
        f.city = "city".into();
        f.country = "country".into();
        let v = json!({"code": "WANNA", "addresses": {"query": {"edges": [
            {"node": {"_id": "a1", "code": "BIL", "city": "Lyon", "country": {"code": "FR"}}}]}}});
        let c = X3Customer::from_record(&f, &v).unwrap();
        assert_eq!(c.code, "WANNA");
        assert_eq!(c.addresses[0]["country"], "FR");
        assert_eq!(c.address(&f, BILLING), Some(0));
        assert!(
            writable(
                &json!({"a": 1, "CRY_REF": {"x": 1}})
                    .as_object()
                    .unwrap()
                    .clone()
            )
            .get("CRY_REF")
            .is_none()
        );
    }

    #[test]
    fn a_body_that_is_not_a_customer_is_recognised() {
        assert!(WooCustomer::parse(b"{\"id\":0,\"billing\":{}}").is_none());
        assert!(WooCustomer::parse(b"{\"id\":3}").is_none());
        assert!(WooCustomer::parse(b"not json").is_none());
        let c = WooCustomer::parse(br#"{"id":3,"email":" Bob@X.com ","billing":{"email":""}}"#)
            .unwrap();
        assert_eq!(
            c.email, "Bob@X.com",
            "the account e-mail when billing has none"
        );
    }
}
