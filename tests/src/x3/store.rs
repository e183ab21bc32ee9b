//! The record store and X3's business rules. Records are kept as REST field codes (the `$details`
//! form, x3-api.md §1.5) in one place, whichever API wrote them; REST and GraphQL both read and
//! write through `create`, `update` and `delete` here, so the rules apply the same way to both.
//!
//! Rules (x3-api.md §5, §10 items 11–12): mandatory fields per object, references that must
//! exist, auto-numbered documents and lines 1000, 2000…, `CUSORDREF` deliberately *not* unique,
//! deliveries and stock movements validated at once (stock decreases or grows line by line, order
//! `DLVSTA` 1 → 2 → 3), every effect applied only after every check passed. A delivery entered
//! by X3 staff may wait unvalidated (`CFMFLG` 1): it holds its quantities on the order lines but
//! moves no stock until it is validated.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::schema::{CUSTOMER_HEADER_EMAIL, CollDef, FieldDef, Kind, NodeDef, STOCK, Ty};
use super::util::{decimal_json, is_date, is_datetime, iso, to_decimal, uuid};

pub type Rec = Map<String, Value>;

/// Why a write was refused; REST turns it into a status (`business_error_status` or 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrKind {
    /// A business rule said no (mandatory field, unknown reference, duplicate key, stock…):
    /// X3 answers these with HTTP 500 and `$diagnoses` (x3-api.md §1.3, §7, §10 item 13).
    Business,
    /// The record named by the URL or `_id` does not exist.
    NotFound,
}

/// A refused write: what kind of refusal, and the message both APIs show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BizErr {
    pub kind: ErrKind,
    pub message: String,
}

pub fn bad(message: impl Into<String>) -> BizErr {
    BizErr {
        kind: ErrKind::Business,
        message: message.into(),
    }
}

pub fn not_found(message: impl Into<String>) -> BizErr {
    BizErr {
        kind: ErrKind::NotFound,
        message: message.into(),
    }
}

pub type BizResult<T> = Result<T, BizErr>;

/// The business switches of `X3Config` the store applies (see docs/simulators.md (x3-sim)).
#[derive(Debug, Clone, Default)]
pub struct Opts {
    pub allow_negative_stock: bool,
    /// The customer carries a header `WEB` (custom representations); standard X3 keeps e-mails
    /// on the address lines only (§5.1).
    pub customer_header_email: bool,
    /// Header fields a `$edit` (or GraphQL `update`) silently leaves unchanged, as when the
    /// representation does not expose them as writable (`ignored_edit_fields`).
    pub ignored_edit: BTreeSet<(Kind, String)>,
    /// Let clients create, edit and delete STOCK lines directly (`stock_writes`).
    pub stock_writes: bool,
}

/// All records, by kind and key (key components joined by `~`, as in REST URLs, x3-api.md §1.1).
#[derive(Debug, Default)]
pub struct Store {
    pub recs: BTreeMap<Kind, BTreeMap<String, Rec>>,
    /// Next number per document prefix (`SOHFR011` → 3).
    pub counters: BTreeMap<String, u64>,
    /// When non-empty, a customer's `BCGCOD` must be one of these (X3 checks it exists, §5.1).
    pub categories: BTreeSet<String>,
    pub opts: Opts,
}

pub fn key_of(def: &NodeDef, rec: &Rec) -> String {
    def.keys
        .iter()
        .map(|k| scalar_str(rec.get(*k)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("~")
}

/// Order two keys as X3 orders them: component by component, integer components (`STOCOU`) as
/// numbers, so `FR011~2` comes before `FR011~10` — the order `Store::all` gives.
pub fn key_cmp(def: &NodeDef, a: &str, b: &str) -> std::cmp::Ordering {
    let (mut xa, mut xb) = (a.split('~'), b.split('~'));
    for k in def.keys {
        let (Some(x), Some(y)) = (xa.next(), xb.next()) else {
            break;
        };
        let numeric = def.field(k).is_some_and(|f| f.ty == Ty::Int);
        let o = match (numeric, x.parse::<i64>(), y.parse::<i64>()) {
            (true, Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    xa.next().cmp(&xb.next())
}

/// A field as text (strings as they are, numbers printed), `None` when absent, null or empty.
pub fn scalar_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(rec: &Rec, code: &str, what: &str) -> BizResult<String> {
    scalar_str(rec.get(code)).ok_or_else(|| bad(format!("{code}: {what} is mandatory")))
}

fn dec(rec: &Rec, code: &str) -> Decimal {
    rec.get(code).and_then(to_decimal).unwrap_or_default()
}

fn int(rec: &Rec, code: &str) -> i64 {
    rec.get(code).and_then(Value::as_i64).unwrap_or(0)
}

/// What a JSON value is, for messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The type of a field as messages name it: its `$type` and its limit.
fn type_name(ty: Ty) -> String {
    match ty {
        Ty::Str(n) => format!("{} of at most {n} characters", ty.sdata_type()),
        Ty::Arr(n, len) => format!(
            "{} of at most {n} strings of at most {len} characters",
            ty.sdata_type()
        ),
        Ty::Date => format!("{} (YYYY-MM-DD)", ty.sdata_type()),
        Ty::DateTime => format!("{} (YYYY-MM-DDThh:mm:ssZ)", ty.sdata_type()),
        Ty::Int | Ty::Dec => ty.sdata_type().to_string(),
    }
}

/// A string within a maximum length (characters, as X3 counts them).
fn bounded(s: &str, max: usize, ty: Ty, code: &str) -> BizResult<Value> {
    let len = s.chars().count();
    if len > max {
        return Err(bad(format!(
            "{code}: {len} characters exceed the maximum length {max} ({})",
            type_name(ty)
        )));
    }
    Ok(Value::String(s.to_string()))
}

/// Convert one client value to the stored form of a field type. X3 types every property
/// (`$prototypes`, x3-api.md §1.1): a value of another JSON type or beyond the field's length is
/// refused, naming the field, its type and its limit. Numbers may come as numeric strings (as
/// Xtrem clients send decimals, §3.5); nothing else is coerced.
fn convert(ty: Ty, v: &Value, code: &str) -> BizResult<Value> {
    let wrong = || {
        bad(format!(
            "{code}: {} expected, got {}",
            type_name(ty),
            json_kind(v)
        ))
    };
    match ty {
        Ty::Str(n) => match v {
            Value::String(s) => bounded(s, n, ty, code),
            _ => Err(wrong()),
        },
        Ty::Date => {
            let s = v.as_str().ok_or_else(wrong)?;
            // The import format is YYYYMMDD (x3-api.md §5.3); JSON uses YYYY-MM-DD.
            let s = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
                format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])
            } else {
                s.to_string()
            };
            if is_date(&s) {
                Ok(Value::String(s))
            } else {
                Err(bad(format!("{code}: {} expected, got {v}", type_name(ty))))
            }
        }
        Ty::DateTime => match v.as_str() {
            Some(s) if is_datetime(s) => Ok(Value::String(s.to_string())),
            _ => Err(wrong()),
        },
        Ty::Int => match v {
            Value::Number(_) | Value::String(_) => match to_decimal(v) {
                Some(d) if d.fract().is_zero() => Ok(decimal_json(d)),
                _ => Err(bad(format!("{code}: {} expected, got {v}", type_name(ty)))),
            },
            _ => Err(wrong()),
        },
        Ty::Dec => match v {
            Value::Number(_) | Value::String(_) => to_decimal(v)
                .map(decimal_json)
                .ok_or_else(|| bad(format!("{code}: {} expected, got {v}", type_name(ty)))),
            _ => Err(wrong()),
        },
        Ty::Arr(n, len) => {
            let items = v.as_array().ok_or_else(wrong)?;
            if items.len() > n {
                return Err(bad(format!(
                    "{code}: {} elements, at most {n} ({})",
                    items.len(),
                    type_name(ty)
                )));
            }
            // A dimensioned field always has all its elements (`BPAADDLIG` 0..2).
            let mut out = Vec::with_capacity(n);
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => {
                        out.push(bounded(s, len, Ty::Str(len), &format!("{code}[{i}]"))?)
                    }
                    _ => {
                        return Err(bad(format!(
                            "{code}[{i}]: a string of at most {len} characters ({}) expected, got {}",
                            type_name(ty),
                            json_kind(item)
                        )));
                    }
                }
            }
            out.resize(n, Value::String(String::new()));
            Ok(Value::Array(out))
        }
    }
}

/// Mandatory fields of a record (header or line) that are absent or empty.
fn check_mandatory(fields: &[FieldDef], rec: &Rec, what: &str) -> BizResult<()> {
    for f in fields.iter().filter(|f| f.mandatory) {
        let given = match rec.get(f.code) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !given {
            return Err(bad(format!(
                "{}: mandatory field{what} ({})",
                f.code,
                type_name(f.ty)
            )));
        }
    }
    Ok(())
}

/// Mandatory fields of the header and of every line.
fn check_mandatory_all(def: &NodeDef, rec: &Rec) -> BizResult<()> {
    check_mandatory(def.fields, rec, "")?;
    for c in def.collections {
        // Every document of the simulator needs a line; a customer needs an address (§5.1).
        if lines(rec, c.code).is_empty() {
            return Err(bad(format!("{}: at least one line is mandatory", c.code)));
        }
        for (n, l) in lines(rec, c.code).into_iter().enumerate() {
            check_mandatory(c.line.fields, l, &format!(" on {} line {}", c.code, n + 1))?;
        }
    }
    Ok(())
}

/// Check and convert a client body: unknown properties are refused (so a misspelt field code in
/// the connector fails loudly instead of being dropped), `$…` keys are ignored (template keys may
/// be echoed back, x3-api.md §1.2), computed fields are ignored, null means "not given".
fn normalize(
    fields: &[FieldDef],
    colls: &[CollDef],
    read_only: &[&str],
    input: &Map<String, Value>,
) -> BizResult<Rec> {
    let mut out = Rec::new();
    for (k, v) in input {
        if k.starts_with('$') || read_only.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        if let Some(fd) = fields.iter().find(|f| f.code == k) {
            out.insert(k.clone(), convert(fd.ty, v, k)?);
        } else if let Some(cd) = colls.iter().find(|c| c.code == k) {
            let arr = v
                .as_array()
                .ok_or_else(|| bad(format!("{k}: array of lines expected")))?;
            let mut lines = Vec::new();
            for line in arr {
                let obj = line
                    .as_object()
                    .ok_or_else(|| bad(format!("{k}: each line must be an object")))?;
                let mut l = Rec::new();
                l.insert("$uuid".into(), Value::String(uuid()));
                l.extend(normalize(cd.line.fields, &[], cd.line.read_only, obj)?);
                lines.push(Value::Object(l));
            }
            out.insert(k.clone(), Value::Array(lines));
        } else {
            return Err(bad(format!("{k}: unknown property")));
        }
    }
    Ok(out)
}

/// Rebuild a record in schema order (`$uuid`, fields, collections) so output order is stable.
fn ordered(def: &NodeDef, rec: Rec) -> Rec {
    let mut out = Rec::new();
    if let Some(u) = rec.get("$uuid") {
        out.insert("$uuid".into(), u.clone());
    }
    for f in def.fields {
        if let Some(v) = rec.get(f.code) {
            out.insert(f.code.into(), v.clone());
        }
    }
    for c in def.collections {
        if let Some(v) = rec.get(c.code) {
            out.insert(c.code.into(), v.clone());
        }
    }
    out
}

fn lines_mut<'a>(rec: &'a mut Rec, code: &str) -> Vec<&'a mut Rec> {
    match rec.get_mut(code) {
        Some(Value::Array(a)) => a.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => Vec::new(),
    }
}

fn lines<'a>(rec: &'a Rec, code: &str) -> Vec<&'a Rec> {
    match rec.get(code) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// Give lines without a number the next multiple of 1000 (X3 numbers SOPLIN 1000, 2000…, §5.3).
fn number_lines(rec: &mut Rec, coll: &str, field: &str) -> BizResult<()> {
    let mut seen = BTreeSet::new();
    for l in lines(rec, coll) {
        if let Some(n) = l.get(field).and_then(Value::as_i64)
            && (n <= 0 || !seen.insert(n))
        {
            return Err(bad(format!(
                "{field}: line number {n} is invalid or repeated"
            )));
        }
    }
    let mut next = seen.iter().max().map_or(1000, |m| (m / 1000 + 1) * 1000);
    for l in lines_mut(rec, coll) {
        if !l.contains_key(field) {
            l.insert(field.into(), Value::from(next));
            next += 1000;
        }
    }
    Ok(())
}

/// What a validated document does once every check has passed.
enum Effect {
    None,
    /// Take (item, status, quantity) from a site's stock; deliver order lines.
    Delivery {
        site: String,
        take: Vec<(String, String, Decimal)>,
        per_line: BTreeMap<(String, i64), Decimal>,
    },
    /// Take (item, status, quantity) from a site's stock.
    Issue {
        site: String,
        take: Vec<(String, String, Decimal)>,
    },
    /// Add (item, status, location, quantity) to a site's stock.
    Receipt {
        site: String,
        moves: Vec<(String, String, Option<String>, Decimal)>,
    },
}

/// The stock status deliveries take from and receipts default to (`A`, accepted).
pub const STATUS_A: &str = "A";

/// `CFMFLG` of a delivery: X3's yes/no local menu (1 no, 2 yes).
pub const NOT_VALIDATED: i64 = 1;
pub const VALIDATED: i64 = 2;

/// A new stock line: status `A`, no quantity, nothing allocated.
fn stock_defaults(rec: &mut Rec) {
    rec.entry("STA")
        .or_insert_with(|| Value::String(STATUS_A.into()));
    rec.entry("QTYSTU").or_insert(Value::from(0));
    rec.entry("CUMALLQTY").or_insert(Value::from(0));
}

impl Store {
    pub fn new(opts: Opts) -> Store {
        Store {
            opts,
            ..Store::default()
        }
    }

    /// The object's description as this simulator's switches shape it.
    pub fn def(&self, kind: Kind) -> &'static NodeDef {
        match kind {
            Kind::Customer if self.opts.customer_header_email => &CUSTOMER_HEADER_EMAIL,
            k => k.def(),
        }
    }

    pub fn get(&self, kind: Kind, key: &str) -> Option<&Rec> {
        self.recs.get(&kind)?.get(key)
    }

    /// Every record of a kind in key order; STOCK by site, then counter as a number (`FR011~2`
    /// before `FR011~10`).
    pub fn all(&self, kind: Kind) -> Vec<&Rec> {
        let mut v: Vec<&Rec> = self
            .recs
            .get(&kind)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        if kind == Kind::Stock {
            v.sort_by(|a, b| {
                scalar_str(a.get("STOFCY"))
                    .cmp(&scalar_str(b.get("STOFCY")))
                    .then(int(a, "STOCOU").cmp(&int(b, "STOCOU")))
            });
        }
        v
    }

    fn exists(&self, kind: Kind, key: &str) -> bool {
        self.get(kind, key).is_some()
    }

    /// The next document number of a prefix (`SOHFR011000001`), skipping numbers a client gave.
    fn next_number(&mut self, kind: Kind, prefix: &str) -> String {
        loop {
            let c = self.counters.entry(prefix.to_string()).or_insert(0);
            *c += 1;
            let n = format!("{prefix}{:06}", *c);
            if !self.exists(kind, &n) {
                return n;
            }
        }
    }

    /// Give a document its number unless the client did: prefix + site + 6-digit counter.
    fn number_document(
        &mut self,
        kind: Kind,
        rec: &mut Rec,
        field: &str,
        prefix: &str,
        site: &str,
    ) {
        if scalar_str(rec.get(field)).is_none() {
            let site = scalar_str(rec.get(site)).unwrap_or_default();
            let n = self.next_number(kind, &format!("{prefix}{site}"));
            rec.insert(field.into(), Value::String(n));
        }
    }

    fn put(&mut self, kind: Kind, key: String, rec: Rec) {
        let rec = ordered(self.def(kind), rec);
        self.recs.entry(kind).or_default().insert(key, rec);
    }

    /// Create a record from a client body; returns its key.
    pub fn create(
        &mut self,
        kind: Kind,
        input: &Map<String, Value>,
        now: i64,
    ) -> BizResult<String> {
        let def = self.def(kind);
        let mut rec = normalize(def.fields, def.collections, def.read_only, input)?;
        check_mandatory_all(def, &rec)?;
        // A key the client gave must be new before anything else is looked at.
        if def.keys.iter().all(|k| scalar_str(rec.get(*k)).is_some()) {
            self.refuse_existing(kind, &key_of(def, &rec))?;
        }
        let mut effect = Effect::None;
        match kind {
            Kind::Customer => {
                self.check_customer(&rec)?;
                rec.entry("BPCSTA").or_insert(Value::from(2));
            }
            Kind::Item => {}
            Kind::PriceList => self.check_price_line(&rec)?,
            Kind::Stock => {
                self.stock_writable()?;
                let site = required(&rec, "STOFCY", "stock site")?;
                let itm = required(&rec, "ITMREF", "product")?;
                if !self.exists(Kind::Item, &itm) {
                    return Err(bad(format!("ITMREF: product {itm} does not exist")));
                }
                stock_defaults(&mut rec);
                if !rec.contains_key("STOCOU") {
                    rec.insert("STOCOU".into(), Value::from(self.next_stocou(&site)));
                }
            }
            Kind::Order => {
                self.check_order(&rec)?;
                number_lines(&mut rec, "SOHSOP", "SOPLIN")?;
                for l in lines_mut(&mut rec, "SOHSOP") {
                    l.insert("DLVQTY".into(), Value::from(0));
                }
                rec.insert("ORDSTA".into(), Value::from(1));
                rec.insert("DLVSTA".into(), Value::from(1));
                self.number_document(kind, &mut rec, "SOHNUM", "SOH", "SALFCY");
            }
            Kind::Invoice => {
                self.check_invoice(&rec)?;
                number_lines(&mut rec, "SINVOICED", "SIDLIN")?;
                self.number_document(kind, &mut rec, "NUM", "SIH", "SALFCY");
            }
            Kind::Delivery => {
                // Validated at once; its stock and order effects apply once it is stored.
                number_lines(&mut rec, "SDELIVERYD", "SDDLIN")?;
                effect = self.plan_delivery(&mut rec, None, true)?;
                rec.insert("CFMFLG".into(), Value::from(VALIDATED));
                self.number_document(kind, &mut rec, "SDHNUM", "SDH", "SALFCY");
            }
            Kind::Receipt | Kind::Issue => {
                number_lines(&mut rec, "SMVTD", "VCRLIN")?;
                effect = self.plan_movement(kind, &mut rec)?;
                let prefix = if kind == Kind::Receipt { "SMR" } else { "SMI" };
                self.number_document(kind, &mut rec, "VCRNUM", prefix, "STOFCY");
            }
        }
        let key = key_of(def, &rec);
        self.refuse_existing(kind, &key)?;
        rec.insert("$uuid".into(), Value::String(uuid()));
        rec.insert("CREDATTIM".into(), Value::String(iso(now)));
        rec.insert("UPDDATTIM".into(), Value::String(iso(now)));
        self.put(kind, key.clone(), rec);
        self.apply(effect, now);
        Ok(key)
    }

    fn refuse_existing(&self, kind: Kind, key: &str) -> BizResult<()> {
        if self.exists(kind, key) {
            return Err(bad(format!(
                "{}: {key} Record already exists",
                self.def(kind).keys.join("~")
            )));
        }
        Ok(())
    }

    fn check_customer(&self, rec: &Rec) -> BizResult<()> {
        let cat = required(rec, "BCGCOD", "customer category")?;
        if !self.categories.is_empty() && !self.categories.contains(&cat) {
            return Err(bad(format!("BCGCOD: category {cat} does not exist")));
        }
        required(rec, "BPCNUM", "customer code")?;
        required(rec, "BPRNAM", "company name")?;
        let addrs = lines(rec, "BPADDRESS");
        if addrs.is_empty() {
            // "At least one address must already exist to define the invoice customer address" (§5.1).
            return Err(bad("BPADDRESS: at least one address is mandatory"));
        }
        let mut codes = BTreeSet::new();
        for a in &addrs {
            let code = required(a, "BPAADD", "address code")?;
            if !codes.insert(code.clone()) {
                return Err(bad(format!("BPAADD: address {code} repeated")));
            }
        }
        for f in ["BPAINV", "BPAADD", "BPDADD"] {
            if let Some(c) = scalar_str(rec.get(f))
                && !codes.contains(&c)
            {
                return Err(bad(format!("{f}: address {c} is not in BPADDRESS")));
            }
        }
        Ok(())
    }

    fn check_doc_lines(&self, rec: &Rec, coll: &str) -> BizResult<()> {
        let ls = lines(rec, coll);
        if ls.is_empty() {
            return Err(bad(format!("{coll}: at least one line is mandatory")));
        }
        for l in ls {
            let itm = required(l, "ITMREF", "product")?;
            if !self.exists(Kind::Item, &itm) {
                return Err(bad(format!("ITMREF: product {itm} does not exist")));
            }
            let qty = l.get("QTY").and_then(to_decimal);
            if qty.is_none_or(|q| q <= Decimal::ZERO) {
                return Err(bad(format!("QTY: quantity must be greater than 0 ({itm})")));
            }
        }
        Ok(())
    }

    fn check_order(&self, rec: &Rec) -> BizResult<()> {
        for (c, w) in [
            ("SALFCY", "sales site"),
            ("SOHTYP", "order type"),
            ("ORDDAT", "order date"),
            ("STOFCY", "shipment site"),
            ("CUR", "currency"),
        ] {
            required(rec, c, w)?;
        }
        let bpc = required(rec, "BPCORD", "sold-to customer")?;
        if !self.exists(Kind::Customer, &bpc) {
            return Err(bad(format!("BPCORD: customer {bpc} does not exist")));
        }
        if let Some(s) = rec.get("ORDSTA").and_then(Value::as_i64)
            && s != 1
            && s != 2
        {
            return Err(bad("ORDSTA: 1 (open) or 2 (closed) expected"));
        }
        self.check_doc_lines(rec, "SOHSOP")
    }

    fn check_invoice(&self, rec: &Rec) -> BizResult<()> {
        for (c, w) in [
            ("SIVTYP", "invoice type"),
            ("SALFCY", "sales site"),
            ("CUR", "currency"),
            ("INVDAT", "invoice date"),
        ] {
            required(rec, c, w)?;
        }
        let bpc = required(rec, "BPCINV", "bill-to customer")?;
        if !self.exists(Kind::Customer, &bpc) {
            return Err(bad(format!("BPCINV: customer {bpc} does not exist")));
        }
        self.check_doc_lines(rec, "SINVOICED")
    }

    /// Check a delivery (GESSDH, x3-api.md §5.4) and complete it from its order (`SOHNUM`,
    /// `SALFCY`); nothing changes here. `apply` then takes the stock and updates the orders.
    /// What unvalidated deliveries other than `except` hold is not left to deliver; the stock is
    /// checked only when the delivery is to be validated (`with_stock`).
    fn plan_delivery(
        &self,
        rec: &mut Rec,
        except: Option<&str>,
        with_stock: bool,
    ) -> BizResult<Effect> {
        let stofcy = required(rec, "STOFCY", "shipment site")?;
        let bpc = required(rec, "BPCORD", "sold-to customer")?;
        required(rec, "DLVDAT", "delivery date")?;
        let header_soh = scalar_str(rec.get("SOHNUM"));
        if lines(rec, "SDELIVERYD").is_empty() {
            return Err(bad("SDELIVERYD: at least one line is mandatory"));
        }
        // (order, order line) → quantity, and item → quantity, checked before anything changes.
        let mut per_line: BTreeMap<(String, i64), Decimal> = BTreeMap::new();
        let mut per_item: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut first_order: Option<Rec> = None;
        for l in lines_mut(rec, "SDELIVERYD") {
            let soh = scalar_str(l.get("SOHNUM"))
                .or_else(|| header_soh.clone())
                .ok_or_else(|| bad("SOHNUM: sales order is mandatory"))?;
            let order = self
                .get(Kind::Order, &soh)
                .ok_or_else(|| bad(format!("SOHNUM: order {soh} does not exist")))?;
            if int(order, "ORDSTA") == 2 {
                return Err(bad(format!("SOHNUM: order {soh} is closed")));
            }
            if scalar_str(order.get("BPCORD")).as_deref() != Some(bpc.as_str()) {
                return Err(bad(format!(
                    "BPCORD: order {soh} belongs to another customer"
                )));
            }
            let soplin = l
                .get("SOPLIN")
                .and_then(Value::as_i64)
                .ok_or_else(|| bad("SOPLIN: order line is mandatory"))?;
            let ol = lines(order, "SOHSOP")
                .into_iter()
                .find(|ol| int(ol, "SOPLIN") == soplin)
                .ok_or_else(|| bad(format!("SOPLIN: order {soh} has no line {soplin}")))?;
            let itm = scalar_str(ol.get("ITMREF")).unwrap_or_default();
            if let Some(given) = scalar_str(l.get("ITMREF"))
                && given != itm
            {
                return Err(bad(format!(
                    "ITMREF: {given} is not the product of order line {soh} {soplin}"
                )));
            }
            let qty = l.get("QTY").and_then(to_decimal).unwrap_or_default();
            if qty <= Decimal::ZERO {
                return Err(bad(format!("QTY: quantity must be greater than 0 ({itm})")));
            }
            let planned = per_line.entry((soh.clone(), soplin)).or_default();
            *planned += qty;
            let remaining =
                dec(ol, "QTY") - dec(ol, "DLVQTY") - self.held_by_unvalidated(&soh, soplin, except);
            if *planned > remaining {
                return Err(bad(format!(
                    "QTY: {planned} exceeds the quantity left to deliver on {soh} {soplin} ({remaining})"
                )));
            }
            *per_item.entry(itm.clone()).or_default() += qty;
            if first_order.is_none() {
                first_order = Some(order.clone());
            }
            l.insert("SOHNUM".into(), Value::String(soh));
            l.insert("ITMREF".into(), Value::String(itm));
        }
        if with_stock {
            for (itm, need) in &per_item {
                self.check_stock(&stofcy, itm, STATUS_A, *need)?;
            }
        }
        if let Some(o) = first_order {
            if header_soh.is_none()
                && let Some(n) = o.get("SOHNUM")
            {
                rec.insert("SOHNUM".into(), n.clone());
            }
            if scalar_str(rec.get("SALFCY")).is_none()
                && let Some(s) = o.get("SALFCY")
            {
                rec.insert("SALFCY".into(), s.clone());
            }
        }
        let take = per_item
            .into_iter()
            .map(|(itm, q)| (itm, STATUS_A.to_string(), q))
            .collect();
        Ok(Effect::Delivery {
            site: stofcy,
            take,
            per_line,
        })
    }

    /// The quantity of order line (`soh`, `soplin`) on deliveries not validated yet, but `except`.
    fn held_by_unvalidated(&self, soh: &str, soplin: i64, except: Option<&str>) -> Decimal {
        let def = self.def(Kind::Delivery);
        self.all(Kind::Delivery)
            .into_iter()
            .filter(|d| int(d, "CFMFLG") == NOT_VALIDATED)
            .filter(|d| except.is_none_or(|k| key_of(def, d) != k))
            .flat_map(|d| {
                let header = scalar_str(d.get("SOHNUM"));
                lines(d, "SDELIVERYD")
                    .into_iter()
                    .filter(move |l| {
                        scalar_str(l.get("SOHNUM"))
                            .or_else(|| header.clone())
                            .as_deref()
                            == Some(soh)
                            && int(l, "SOPLIN") == soplin
                    })
                    .map(|l| dec(l, "QTY"))
            })
            .sum()
    }

    /// A delivery entered in X3 itself (`/__sim/deliveries`), as a warehouse clerk does: the same
    /// checks as through the API, but left unvalidated (`CFMFLG` 1) unless `validated`. An
    /// unvalidated delivery holds its quantities and moves no stock; [`Store::validate_delivery`]
    /// does that later. Returns its key.
    pub fn create_delivery_in_x3(
        &mut self,
        input: &Map<String, Value>,
        validated: bool,
        now: i64,
    ) -> BizResult<String> {
        if validated {
            return self.create(Kind::Delivery, input, now);
        }
        let def = self.def(Kind::Delivery);
        let mut rec = normalize(def.fields, def.collections, def.read_only, input)?;
        check_mandatory_all(def, &rec)?;
        if def.keys.iter().all(|k| scalar_str(rec.get(*k)).is_some()) {
            self.refuse_existing(Kind::Delivery, &key_of(def, &rec))?;
        }
        number_lines(&mut rec, "SDELIVERYD", "SDDLIN")?;
        self.plan_delivery(&mut rec, None, false)?;
        rec.insert("CFMFLG".into(), Value::from(NOT_VALIDATED));
        self.number_document(Kind::Delivery, &mut rec, "SDHNUM", "SDH", "SALFCY");
        let key = key_of(def, &rec);
        self.refuse_existing(Kind::Delivery, &key)?;
        rec.insert("$uuid".into(), Value::String(uuid()));
        rec.insert("CREDATTIM".into(), Value::String(iso(now)));
        rec.insert("UPDDATTIM".into(), Value::String(iso(now)));
        self.put(Kind::Delivery, key.clone(), rec);
        Ok(key)
    }

    /// Validates a delivery entered unvalidated: its order must still take it and the stock must
    /// be there; then the stock is issued, the order lines delivered, and the delivery's
    /// `CFMFLG` becomes 2 with a new `UPDDATTIM` (so a poll sees it change).
    pub fn validate_delivery(&mut self, key: &str, now: i64) -> BizResult<()> {
        let mut rec = self
            .get(Kind::Delivery, key)
            .cloned()
            .ok_or_else(|| not_found(format!("{key}: Record does not exist")))?;
        if int(&rec, "CFMFLG") != NOT_VALIDATED {
            return Err(bad(format!("{key}: the delivery is already validated")));
        }
        let effect = self.plan_delivery(&mut rec, Some(key), true)?;
        rec.insert("CFMFLG".into(), Value::from(VALIDATED));
        rec.insert("UPDDATTIM".into(), Value::String(iso(now)));
        self.put(Kind::Delivery, key.to_string(), rec);
        self.apply(effect, now);
        Ok(())
    }

    /// Delivered quantities go onto the order lines and the order's DLVSTA moves 1 → 2 → 3.
    fn deliver_lines(&mut self, per_line: BTreeMap<(String, i64), Decimal>, stamp: &Value) {
        let orders = self.recs.entry(Kind::Order).or_default();
        for ((soh, soplin), qty) in per_line {
            if let Some(o) = orders.get_mut(&soh) {
                for ol in lines_mut(o, "SOHSOP") {
                    if int(ol, "SOPLIN") == soplin {
                        let done = dec(ol, "DLVQTY") + qty;
                        ol.insert("DLVQTY".into(), decimal_json(done));
                    }
                }
                let ls = lines(o, "SOHSOP");
                let all = ls.iter().all(|l| dec(l, "DLVQTY") >= dec(l, "QTY"));
                let any = ls.iter().any(|l| dec(l, "DLVQTY") > Decimal::ZERO);
                let sta = if all {
                    3
                } else if any {
                    2
                } else {
                    1
                };
                o.insert("DLVSTA".into(), Value::from(sta));
                o.insert("UPDDATTIM".into(), stamp.clone());
            }
        }
    }

    /// Check a stock movement (miscellaneous receipt or issue): existing items, quantities > 0,
    /// status `A` unless given; an issue must find the stock (unless `allow_negative_stock`).
    fn plan_movement(&self, kind: Kind, rec: &mut Rec) -> BizResult<Effect> {
        let site = required(rec, "STOFCY", "stock site")?;
        let mut moves = Vec::new();
        let mut need: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for l in lines_mut(rec, "SMVTD") {
            let itm = required(l, "ITMREF", "product")?;
            if !self.exists(Kind::Item, &itm) {
                return Err(bad(format!("ITMREF: product {itm} does not exist")));
            }
            let qty = l.get("QTYSTU").and_then(to_decimal).unwrap_or_default();
            if qty <= Decimal::ZERO {
                return Err(bad(format!(
                    "QTYSTU: quantity must be greater than 0 ({itm})"
                )));
            }
            let sta = scalar_str(l.get("STA")).unwrap_or_else(|| STATUS_A.to_string());
            l.insert("STA".into(), Value::String(sta.clone()));
            *need.entry((itm.clone(), sta.clone())).or_default() += qty;
            moves.push((itm, sta, scalar_str(l.get("LOC")), qty));
        }
        if kind == Kind::Issue {
            for ((itm, sta), q) in &need {
                self.check_stock(&site, itm, sta, *q)?;
            }
            let take = need.into_iter().map(|((i, st), q)| (i, st, q)).collect();
            return Ok(Effect::Issue { site, take });
        }
        Ok(Effect::Receipt { site, moves })
    }

    /// Carry out what a validated document does to stock and orders (all checks passed).
    fn apply(&mut self, effect: Effect, now: i64) {
        let stamp = Value::String(iso(now));
        match effect {
            Effect::None => {}
            Effect::Delivery {
                site,
                take,
                per_line,
            } => {
                for (itm, sta, q) in take {
                    self.take_stock(&site, &itm, &sta, q, &stamp);
                }
                self.deliver_lines(per_line, &stamp);
            }
            Effect::Issue { site, take } => {
                for (itm, sta, q) in take {
                    self.take_stock(&site, &itm, &sta, q, &stamp);
                }
            }
            Effect::Receipt { site, moves } => {
                for (itm, sta, loc, q) in moves {
                    self.add_stock(&site, &itm, &sta, loc.as_deref(), q, &stamp);
                }
            }
        }
    }

    /// Direct STOCK writes are refused unless `stock_writes`: X3 changes stock lines only
    /// through stock transactions (deliveries, receipts, issues, §5.4).
    fn stock_writable(&self) -> BizResult<()> {
        if self.opts.stock_writes {
            Ok(())
        } else {
            Err(bad(
                "STOCK: stock lines change only through stock movements (deliveries, miscellaneous receipts and issues)",
            ))
        }
    }

    /// The next stock-line counter of a site (1, 2, …).
    fn next_stocou(&self, site: &str) -> i64 {
        self.all(Kind::Stock)
            .iter()
            .filter(|r| scalar_str(r.get("STOFCY")).as_deref() == Some(site))
            .map(|r| int(r, "STOCOU"))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Keys of the stock lines of (site, item, status), in STOCOU order.
    fn stock_lines(&self, site: &str, item: &str, status: &str) -> Vec<String> {
        self.all(Kind::Stock)
            .into_iter()
            .filter(|r| {
                scalar_str(r.get("STOFCY")).as_deref() == Some(site)
                    && scalar_str(r.get("ITMREF")).as_deref() == Some(item)
                    && scalar_str(r.get("STA")).as_deref().unwrap_or(STATUS_A) == status
            })
            .map(|r| key_of(&STOCK, r))
            .collect()
    }

    /// What a line can give: physical less allocated, never below zero.
    fn line_available(rec: &Rec) -> Decimal {
        (dec(rec, "QTYSTU") - dec(rec, "CUMALLQTY")).max(Decimal::ZERO)
    }

    /// Refuse taking `need` of an item from a site's lines of a status when they hold less
    /// (unless `allow_negative_stock`).
    fn check_stock(&self, site: &str, item: &str, status: &str, need: Decimal) -> BizResult<()> {
        if self.opts.allow_negative_stock {
            return Ok(());
        }
        let have: Decimal = self
            .stock_lines(site, item, status)
            .iter()
            .filter_map(|k| self.get(Kind::Stock, k))
            .map(Store::line_available)
            .sum();
        if have < need {
            return Err(bad(format!(
                "Insufficient stock for {item} on site {site}: {have} available, {need} required"
            )));
        }
        Ok(())
    }

    /// Take `need` from the lines of (site, item, status) in STOCOU order; what they cannot give
    /// (only with `allow_negative_stock`) comes off the first line, created if there is none.
    fn take_stock(&mut self, site: &str, item: &str, status: &str, need: Decimal, stamp: &Value) {
        let keys = self.stock_lines(site, item, status);
        let mut left = need;
        for k in &keys {
            if left <= Decimal::ZERO {
                break;
            }
            if let Some(r) = self.recs.get_mut(&Kind::Stock).and_then(|m| m.get_mut(k)) {
                let take = Store::line_available(r).min(left);
                if take > Decimal::ZERO {
                    let q = dec(r, "QTYSTU") - take;
                    r.insert("QTYSTU".into(), decimal_json(q));
                    r.insert("UPDDATTIM".into(), stamp.clone());
                    left -= take;
                }
            }
        }
        if left > Decimal::ZERO {
            let key = match keys.first() {
                Some(k) => k.clone(),
                None => self.new_stock_line(site, item, status, None, stamp),
            };
            if let Some(r) = self
                .recs
                .get_mut(&Kind::Stock)
                .and_then(|m| m.get_mut(&key))
            {
                let q = dec(r, "QTYSTU") - left;
                r.insert("QTYSTU".into(), decimal_json(q));
                r.insert("UPDDATTIM".into(), stamp.clone());
            }
        }
    }

    /// Add `qty` to the first line of (site, item, status) by STOCOU, or to a new line with the
    /// next counter (and `loc`).
    fn add_stock(
        &mut self,
        site: &str,
        item: &str,
        status: &str,
        loc: Option<&str>,
        qty: Decimal,
        stamp: &Value,
    ) {
        let key = match self.stock_lines(site, item, status).first() {
            Some(k) => k.clone(),
            None => self.new_stock_line(site, item, status, loc, stamp),
        };
        if let Some(r) = self
            .recs
            .get_mut(&Kind::Stock)
            .and_then(|m| m.get_mut(&key))
        {
            let q = dec(r, "QTYSTU") + qty;
            r.insert("QTYSTU".into(), decimal_json(q));
            r.insert("UPDDATTIM".into(), stamp.clone());
        }
    }

    fn new_stock_line(
        &mut self,
        site: &str,
        item: &str,
        status: &str,
        loc: Option<&str>,
        stamp: &Value,
    ) -> String {
        let mut s = Rec::new();
        s.insert("$uuid".into(), Value::String(uuid()));
        s.insert("STOFCY".into(), Value::String(site.into()));
        s.insert("STOCOU".into(), Value::from(self.next_stocou(site)));
        s.insert("ITMREF".into(), Value::String(item.into()));
        if let Some(l) = loc {
            s.insert("LOC".into(), Value::String(l.into()));
        }
        s.insert("STA".into(), Value::String(status.into()));
        stock_defaults(&mut s);
        s.insert("CREDATTIM".into(), stamp.clone());
        s.insert("UPDDATTIM".into(), stamp.clone());
        let key = key_of(&STOCK, &s);
        self.put(Kind::Stock, key.clone(), s);
        key
    }

    /// Partial update (`$edit` PUT, x3-api.md §1.2: "missing properties did not change").
    /// Collections given replace the old lines.
    pub fn update(
        &mut self,
        kind: Kind,
        key: &str,
        input: &Map<String, Value>,
        now: i64,
    ) -> BizResult<()> {
        let def = self.def(kind);
        let old = self
            .get(kind, key)
            .cloned()
            .ok_or_else(|| not_found(format!("{key}: Record does not exist")))?;
        if matches!(
            kind,
            Kind::Delivery | Kind::Invoice | Kind::Receipt | Kind::Issue
        ) {
            return Err(bad(format!(
                "{key}: a validated {} cannot be modified",
                def.logical
            )));
        }
        if kind == Kind::Stock {
            self.stock_writable()?;
        }
        let input: Map<String, Value> = input
            .iter()
            .filter(|(k, _)| !self.opts.ignored_edit.contains(&(kind, k.to_string())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let patch = normalize(def.fields, def.collections, def.read_only, &input)?;
        for k in def.keys {
            if let Some(v) = patch.get(*k)
                && Some(v) != old.get(*k)
            {
                return Err(bad(format!("{k}: the key cannot be changed")));
            }
        }
        let mut rec = old.clone();
        for (k, v) in patch.clone() {
            rec.insert(k, v);
        }
        check_mandatory_all(def, &rec)?;
        match kind {
            Kind::Customer => self.check_customer(&rec)?,
            Kind::Item | Kind::Stock => {}
            Kind::PriceList => self.check_price_line(&rec)?,
            Kind::Order => {
                self.check_order(&rec)?;
                if patch.contains_key("SOHSOP") {
                    if int(&old, "DLVSTA") > 1 {
                        return Err(bad(format!(
                            "{key}: lines of a delivered order cannot be replaced"
                        )));
                    }
                    number_lines(&mut rec, "SOHSOP", "SOPLIN")?;
                    for l in lines_mut(&mut rec, "SOHSOP") {
                        l.insert("DLVQTY".into(), Value::from(0));
                    }
                }
                if int(&rec, "ORDSTA") == 2 && int(&old, "ORDSTA") != 2 && int(&old, "DLVSTA") == 3
                {
                    return Err(bad(format!("{key}: a delivered order cannot be closed")));
                }
            }
            Kind::Delivery | Kind::Invoice | Kind::Receipt | Kind::Issue => {}
        }
        rec.insert("UPDDATTIM".into(), Value::String(iso(now)));
        self.put(kind, key.to_string(), rec);
        Ok(())
    }

    /// A price list line prices an item that exists, from a start no later than its end.
    fn check_price_line(&self, rec: &Rec) -> BizResult<()> {
        let itm = required(rec, "PLICRI1", "product")?;
        if !self.exists(Kind::Item, &itm) {
            return Err(bad(format!("PLICRI1: product {itm} does not exist")));
        }
        if let (Some(a), Some(b)) = (
            scalar_str(rec.get("PLISTRDAT")),
            scalar_str(rec.get("PLIENDDAT")),
        ) && a > b
        {
            return Err(bad(format!("PLIENDDAT: {b} is before the start date {a}")));
        }
        Ok(())
    }

    /// `$edit` DELETE; refused where X3 keeps history (validated documents, used master data).
    pub fn delete(&mut self, kind: Kind, key: &str) -> BizResult<()> {
        let rec = self
            .get(kind, key)
            .ok_or_else(|| not_found(format!("{key}: Record does not exist")))?;
        let used = |k: Kind, f: &str, coll: Option<&str>| {
            self.all(k).iter().any(|r| match coll {
                None => scalar_str(r.get(f)).as_deref() == Some(key),
                Some(c) => lines(r, c)
                    .iter()
                    .any(|l| scalar_str(l.get(f)).as_deref() == Some(key)),
            })
        };
        let refusal = match kind {
            Kind::Customer => (used(Kind::Order, "BPCORD", None)
                || used(Kind::Invoice, "BPCINV", None))
            .then_some("the customer is used by documents"),
            Kind::Item => (used(Kind::Order, "ITMREF", Some("SOHSOP"))
                || used(Kind::Invoice, "ITMREF", Some("SINVOICED"))
                || used(Kind::Receipt, "ITMREF", Some("SMVTD"))
                || used(Kind::Issue, "ITMREF", Some("SMVTD")))
            .then_some("the product is used by documents"),
            Kind::Order => (int(rec, "DLVSTA") > 1).then_some("the order has deliveries"),
            Kind::PriceList => None,
            // Nothing happened yet for a delivery not validated: X3 lets it go.
            Kind::Delivery if int(rec, "CFMFLG") == NOT_VALIDATED => None,
            Kind::Delivery | Kind::Invoice | Kind::Receipt | Kind::Issue => {
                Some("a validated document cannot be deleted")
            }
            Kind::Stock => self
                .stock_writable()
                .err()
                .map(|_| "stock lines change only through stock movements"),
        };
        if let Some(why) = refusal {
            return Err(bad(format!("{key}: {why}")));
        }
        if let Some(m) = self.recs.get_mut(&kind) {
            m.remove(key);
        }
        Ok(())
    }

    /// Load master data (`POST /__sim/seed`): `customers`, `items`, `stock` as REST records,
    /// `customer_categories` as codes. Upserts by key; only keys are required, so tests can seed
    /// lean records.
    pub fn seed(&mut self, v: &Value, now: i64) -> Result<(), String> {
        let obj = v.as_object().ok_or("seed: a JSON object expected")?;
        for (k, val) in obj {
            let kind = match k.as_str() {
                "customer_categories" => {
                    let arr = val
                        .as_array()
                        .ok_or("customer_categories: array expected")?;
                    for c in arr {
                        let c = c.as_str().ok_or("customer_categories: codes expected")?;
                        self.categories.insert(c.to_string());
                    }
                    continue;
                }
                "customers" => Kind::Customer,
                "items" => Kind::Item,
                "stock" => Kind::Stock,
                "price_lists" => Kind::PriceList,
                other => return Err(format!("seed: unknown key {other}")),
            };
            let def = self.def(kind);
            for r in val.as_array().ok_or(format!("{k}: array expected"))? {
                let input = r.as_object().ok_or(format!("{k}: objects expected"))?;
                let mut rec = normalize(def.fields, def.collections, def.read_only, input)
                    .map_err(|e| format!("{k}: {}", e.message))?;
                if kind == Kind::Stock {
                    self.seed_stock_counter(&mut rec)?;
                }
                for key in def.keys {
                    if scalar_str(rec.get(*key)).is_none() {
                        return Err(format!("{k}: {key} is mandatory"));
                    }
                }
                if kind == Kind::Customer {
                    rec.entry("BPCSTA").or_insert(Value::from(2));
                }
                if kind == Kind::Item {
                    // X3 creates items active unless told otherwise.
                    rec.entry("ITMSTA").or_insert(Value::from(1));
                }
                let key = key_of(def, &rec);
                let old = self.get(kind, &key);
                let cre = old
                    .and_then(|o| o.get("CREDATTIM").cloned())
                    .unwrap_or(Value::String(iso(now)));
                let uid = old
                    .and_then(|o| o.get("$uuid").cloned())
                    .unwrap_or(Value::String(uuid()));
                rec.insert("$uuid".into(), uid);
                rec.insert("CREDATTIM".into(), cre);
                rec.insert("UPDDATTIM".into(), Value::String(iso(now)));
                self.put(kind, key, rec);
            }
        }
        Ok(())
    }

    /// A seeded stock line without `STOCOU` takes the counter of the line with the same site,
    /// item, status, lot and location (so seeding again updates it, as when STOCK was keyed by
    /// site and item), or the site's next counter.
    fn seed_stock_counter(&self, rec: &mut Rec) -> Result<(), String> {
        let site = scalar_str(rec.get("STOFCY")).ok_or("stock: STOFCY is mandatory")?;
        scalar_str(rec.get("ITMREF")).ok_or("stock: ITMREF is mandatory")?;
        stock_defaults(rec);
        if rec.contains_key("STOCOU") {
            return Ok(());
        }
        let same = |r: &Rec, f: &str| scalar_str(r.get(f)) == scalar_str(rec.get(f));
        let n = self
            .all(Kind::Stock)
            .into_iter()
            .find(|r| {
                ["STOFCY", "ITMREF", "STA", "LOT", "LOC"]
                    .iter()
                    .all(|f| same(r, f))
            })
            .map_or_else(|| self.next_stocou(&site), |r| int(r, "STOCOU"));
        rec.insert("STOCOU".into(), Value::from(n));
        Ok(())
    }

    /// Everything, by class name (the `/__sim/state` and state-file format).
    pub fn to_json(&self, class_of: &dyn Fn(Kind) -> String) -> Value {
        let mut counts = Map::new();
        let mut records = Map::new();
        for k in Kind::ALL {
            let all: Vec<Value> = self
                .all(k)
                .into_iter()
                .cloned()
                .map(Value::Object)
                .collect();
            counts.insert(class_of(k), Value::from(all.len()));
            records.insert(class_of(k), Value::Array(all));
        }
        json!({
            "counts": counts,
            "records": records,
            "customer_categories": self.categories,
            "counters": self.counters,
        })
    }

    /// Inverse of `to_json` (state file). Records are taken as they were saved.
    pub fn load_json(
        &mut self,
        v: &Value,
        kind_of: &dyn Fn(&str) -> Option<Kind>,
    ) -> Result<(), String> {
        let mut fresh = Store::new(self.opts.clone());
        if let Some(recs) = v.get("records").and_then(Value::as_object) {
            for (class, arr) in recs {
                let kind = kind_of(class).ok_or(format!("state: unknown class {class}"))?;
                for r in arr.as_array().ok_or("state: arrays of records expected")? {
                    let mut rec = r
                        .as_object()
                        .ok_or("state: records must be objects")?
                        .clone();
                    if kind == Kind::Stock && !rec.contains_key("STOCOU") {
                        // A state file from before STOCK was keyed STOFCY~STOCOU.
                        fresh.seed_stock_counter(&mut rec)?;
                    }
                    if kind == Kind::Delivery && !rec.contains_key("CFMFLG") {
                        // Saved before deliveries had CFMFLG: every delivery was validated.
                        rec.insert("CFMFLG".into(), Value::from(VALIDATED));
                    }
                    let key = key_of(kind.def(), &rec);
                    fresh.put(kind, key, rec);
                }
            }
        }
        if let Some(c) = v.get("customer_categories").and_then(Value::as_array) {
            fresh.categories = c
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
        }
        if let Some(c) = v.get("counters").and_then(Value::as_object) {
            fresh.counters = c
                .iter()
                .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                .collect();
        }
        *self = fresh;
        Ok(())
    }
}
