//! X3 item data → WooCommerce products (docs/master-data.md): given what X3 says about some
//! items (name, description, sellable or blocked, price, stock), writes the difference to every
//! product and variation the mapping table maps to each item, in as few requests as WooCommerce
//! allows: the products read 100 SKUs or ids per request, the changes written 100 per
//! `products/batch` (variations through their parent's `variations/batch`).
//!
//! Only fields that differ are sent, so a push that changes nothing sends nothing; a field the
//! merchant keeps shop-owned (`[master-data] shop-owned`, or the product's meta
//! `ml_connector_shop_owned`) is never sent. A product blocked because its item is blocked in X3
//! carries the meta `ml_connector_blocked`; only such a product is published again when the item
//! is sellable again, so a draft the merchant is still preparing is never published by us.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::clients::woo::{WooClient, WooError};
use crate::component::mapping;
use crate::config::master::MasterDataFile;
use crate::store::now_ms;
use crate::x3values::{fmt_decimal, parse_decimal};

/// Where an X3 item goes in WooCommerce: the products a mapping row of that item names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Sku(String),
    Product(u64),
    /// A variation id; its parent is looked up in the catalogue when needed.
    Variation(u64),
}

/// The mapping table read backwards: X3 item code → the SKUs and product ids mapped to it.
/// Shipping, fee and default rows are not products.
pub fn reverse_mapping(rows: &[mapping::MappingRow]) -> BTreeMap<String, Vec<Target>> {
    let mut out: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    for r in rows {
        let t = match &r.key {
            mapping::MappingKey::Sku(s) => Target::Sku(s.clone()),
            mapping::MappingKey::Product(id) => Target::Product(*id),
            mapping::MappingKey::Variation(id) => Target::Variation(*id),
            _ => continue,
        };
        let v = out.entry(r.item_code.clone()).or_default();
        if !v.contains(&t) {
            v.push(t);
        }
    }
    out
}

/// The product meta marking a product we blocked (value: the X3 item status that blocked it).
pub const BLOCKED_META: &str = "ml_connector_blocked";

/// What X3 says about one item; None = not known from this read (left as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemData {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` sellable, `Some(Some(status))` blocked with that X3 status.
    pub blocked: Option<Option<i64>>,
    /// To four decimals (`x3values::decimal`).
    pub price: Option<Decimal>,
    /// Whole units.
    pub stock: Option<i64>,
}

/// What one push did, for the poll status and the log.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `{at, item, target, product_id, variation_id, fields: {field: [from, to]}}` per product
    /// changed.
    pub pushed: Vec<Value>,
    /// Items or targets that name no product.
    pub unmatched: Vec<String>,
    /// Stock not pushed because WooCommerce does not manage the product's stock.
    pub unmanaged: Vec<String>,
    /// Changes WooCommerce refused, with its message.
    pub refused: Vec<String>,
}

fn woo_err(e: WooError) -> anyhow::Error {
    anyhow!("WooCommerce: {e}")
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Sku(s) => format!("SKU {s}"),
        Target::Product(id) => format!("product {id}"),
        Target::Variation(id) => format!("variation {id}"),
    }
}

/// A price as WooCommerce keeps it: at least two decimals, at most four, no trailing zeros
/// beyond two (`22.5` → `22.50`, `1.2345` → `1.2345`).
pub fn price_text(v: Decimal) -> String {
    let mut s = fmt_decimal(v, 4);
    while s.ends_with('0') && s.len() - s.find('.').unwrap_or(s.len()) > 3 {
        s.pop();
    }
    s
}

/// The changes one product needs to show `want`, as the JSON fields of a WooCommerce update
/// (with `id`), plus `field → [from, to]` for the log; None when nothing differs. `owned` are the
/// fields the merchant keeps.
pub fn changes(
    p: &Value,
    want: &ItemData,
    owned: &[String],
    blocked_status: &str,
) -> (Option<Value>, Map<String, Value>, bool) {
    let keep = |f: &str| owned.iter().any(|o| o == f);
    let variation = p["type"].as_str() == Some("variation") || p["parent_id"].as_u64() > Some(0);
    let variable = p["type"].as_str() == Some("variable");
    let mut set = Map::new();
    let mut log = Map::new();
    let mut unmanaged = false;
    let mut change = |set: &mut Map<String, Value>, field: &str, from: Value, to: Value| {
        log.insert(field.to_string(), json!([from, to.clone()]));
        set.insert(field.to_string(), to);
    };
    if let Some(name) = &want.name
        && !keep("name")
        && !variation
        && p["name"].as_str() != Some(name)
    {
        change(&mut set, "name", p["name"].clone(), json!(name));
    }
    if let Some(d) = &want.description
        && !keep("description")
    {
        // X3's descriptions 2 and 3 (30 characters each) are the short description; a
        // variation has only one description.
        let field = if variation {
            "description"
        } else {
            "short_description"
        };
        if p[field].as_str().unwrap_or("") != d {
            change(&mut set, field, p[field].clone(), json!(d));
        }
    }
    if let Some(blocked) = want.blocked
        && !keep("status")
    {
        let status = p["status"].as_str().unwrap_or("publish");
        let marked = p["meta_data"].as_array().into_iter().flatten().any(|m| {
            m["key"] == BLOCKED_META && m["value"].as_str().is_some_and(|v| !v.is_empty())
        });
        match blocked {
            Some(x3_status) if status == "publish" => {
                change(&mut set, "status", json!(status), json!(blocked_status));
                set.insert(
                    "meta_data".into(),
                    json!([{"key": BLOCKED_META, "value": x3_status.to_string()}]),
                );
            }
            None if marked => {
                if status != "publish" {
                    change(&mut set, "status", json!(status), json!("publish"));
                }
                set.insert(
                    "meta_data".into(),
                    json!([{"key": BLOCKED_META, "value": ""}]),
                );
            }
            _ => {}
        }
    }
    if let Some(price) = want.price
        && !keep("price")
        && !variable
    {
        let now = p["regular_price"].as_str().and_then(parse_decimal);
        if now != Some(price) {
            change(
                &mut set,
                "regular_price",
                p["regular_price"].clone(),
                json!(price_text(price)),
            );
        }
    }
    if let Some(qty) = want.stock
        && !keep("stock")
    {
        if p["manage_stock"].as_bool() != Some(true) {
            unmanaged = true;
        } else if p["stock_quantity"].as_i64() != Some(qty) {
            change(
                &mut set,
                "stock_quantity",
                p["stock_quantity"].clone(),
                json!(qty),
            );
        }
    }
    if set.is_empty() {
        return (None, log, unmanaged);
    }
    set.insert("id".into(), p["id"].clone());
    (Some(Value::Object(set)), log, unmanaged)
}

/// Writes `items` to the products the mapping (`reverse`) maps them to.
pub fn push(
    woo: &WooClient,
    master: &MasterDataFile,
    reverse: &BTreeMap<String, Vec<Target>>,
    items: &BTreeMap<String, ItemData>,
) -> Result<Outcome> {
    let mut out = Outcome::default();
    let products = Products::read(woo, reverse, items, &mut out)?;
    let (batches, pending) = plan_batches(&products, master, reverse, items, &mut out);
    write_batches(woo, &batches, pending, &mut out)?;
    Ok(out)
}

/// The current state of every product concerned, by SKU, by id, and variations by id (each
/// with its `parent_id`).
struct Products {
    by_sku: BTreeMap<String, Value>,
    by_id: BTreeMap<u64, Value>,
    by_variation: BTreeMap<u64, Value>,
}

impl Products {
    /// Reads the products the items map to from WooCommerce; an item no mapping row names is
    /// unmatched in `out`.
    fn read(
        woo: &WooClient,
        reverse: &BTreeMap<String, Vec<Target>>,
        items: &BTreeMap<String, ItemData>,
        out: &mut Outcome,
    ) -> Result<Products> {
        let mut skus = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut variations = false;
        for item in items.keys() {
            match reverse.get(item) {
                None => out
                    .unmatched
                    .push(format!("{item}: no mapping row names a product")),
                Some(targets) => {
                    for t in targets {
                        match t {
                            Target::Sku(s) => {
                                skus.insert(s.clone());
                            }
                            Target::Product(id) => {
                                ids.insert(*id);
                            }
                            Target::Variation(_) => variations = true,
                        }
                    }
                }
            }
        }
        let skus: Vec<String> = skus.into_iter().collect();
        let ids: Vec<u64> = ids.into_iter().collect();
        let by_sku_list = woo.products_by_skus(&skus).map_err(woo_err)?;
        let by_id_list = woo.products_by_ids(&ids).map_err(woo_err)?;
        let mut by_sku: BTreeMap<String, Value> = BTreeMap::new();
        for p in by_sku_list {
            if let Some(s) = p["sku"].as_str() {
                by_sku.entry(s.to_string()).or_insert(p);
            }
        }
        let by_id: BTreeMap<u64, Value> = by_id_list
            .into_iter()
            .filter_map(|p| Some((p["id"].as_u64()?, p)))
            .collect();
        let by_variation = if variations {
            read_variations(woo, reverse, items)?
        } else {
            BTreeMap::new()
        };
        Ok(Products {
            by_sku,
            by_id,
            by_variation,
        })
    }

    /// The product a target names, when WooCommerce has it.
    fn get(&self, t: &Target) -> Option<&Value> {
        match t {
            Target::Sku(s) => self.by_sku.get(s),
            Target::Product(id) => self.by_id.get(id),
            Target::Variation(id) => self.by_variation.get(id),
        }
    }
}

/// The variations the items map to, by id, each with its parent's id as `parent_id`.
fn read_variations(
    woo: &WooClient,
    reverse: &BTreeMap<String, Vec<Target>>,
    items: &BTreeMap<String, ItemData>,
) -> Result<BTreeMap<u64, Value>> {
    // A variation id alone does not say its parent: the variable products (`type=variable`,
    // a few pages even in a large catalogue) list their variations' ids.
    let wanted: BTreeSet<u64> = reverse
        .iter()
        .filter(|(i, _)| items.contains_key(*i))
        .flat_map(|(_, ts)| ts.iter())
        .filter_map(|t| match t {
            Target::Variation(v) => Some(*v),
            _ => None,
        })
        .collect();
    let mut by_variation: BTreeMap<u64, Value> = BTreeMap::new();
    for parent in woo.variable_products().map_err(woo_err)? {
        let Some(pid) = parent["id"].as_u64() else {
            continue;
        };
        let has_wanted = parent["variations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .any(|v| wanted.contains(&v));
        if !has_wanted {
            continue;
        }
        for mut v in woo.variations_of(pid).map_err(woo_err)? {
            if let Some(id) = v["id"].as_u64() {
                v["parent_id"] = json!(pid);
                by_variation.insert(id, v);
            }
        }
    }
    Ok(by_variation)
}

/// Values grouped by where they are written: products (None) or a parent's variations.
type ByParent = BTreeMap<Option<u64>, Vec<Value>>;

/// The changes to write, grouped by where they are written, and beside them each change's
/// entry for `pushed`; targets WooCommerce lacks are unmatched and unmanaged stock is noted in
/// `out`.
fn plan_batches(
    products: &Products,
    master: &MasterDataFile,
    reverse: &BTreeMap<String, Vec<Target>>,
    items: &BTreeMap<String, ItemData>,
    out: &mut Outcome,
) -> (ByParent, ByParent) {
    let mut batches: ByParent = BTreeMap::new();
    let mut pending: ByParent = BTreeMap::new();
    let mut done = BTreeSet::new();
    for (item, want) in items {
        let Some(targets) = reverse.get(item) else {
            continue;
        };
        for t in targets {
            let name = target_name(t);
            let Some(p) = products.get(t) else {
                out.unmatched
                    .push(format!("{item}: no WooCommerce product with {name}"));
                continue;
            };
            let id = p["id"].as_u64().unwrap_or(0);
            let parent = p["parent_id"].as_u64().filter(|p| *p > 0);
            // Two mapping rows reaching the same product: the first one decides.
            if !done.insert((parent, id)) {
                continue;
            }
            let owned = master.shop_owned_for(p);
            let (update, log, unmanaged) = changes(p, want, &owned, &master.blocked_status);
            if unmanaged {
                out.unmanaged.push(format!(
                    "{item} → {name}: WooCommerce does not manage its stock"
                ));
            }
            if let Some(u) = update {
                batches.entry(parent).or_default().push(u);
                let (product_id, variation_id) = match parent {
                    Some(pid) => (pid, id),
                    None => (id, 0),
                };
                pending.entry(parent).or_default().push(json!({
                    "at": now_ms(), "item": item, "target": name, "product_id": product_id,
                    "variation_id": variation_id, "fields": log,
                }));
            }
        }
    }
    (batches, pending)
}

/// Writes the batches to WooCommerce: each change's entry lands in `pushed`, or in `refused`
/// with WooCommerce's message.
fn write_batches(
    woo: &WooClient,
    batches: &ByParent,
    mut pending: ByParent,
    out: &mut Outcome,
) -> Result<()> {
    for (parent, updates) in batches {
        let results = woo.batch_update(*parent, updates).map_err(woo_err)?;
        let logs = pending.remove(parent).unwrap_or_default();
        for (r, entry) in results.into_iter().zip(logs) {
            match r {
                None => out.pushed.push(entry),
                Some(msg) => out.refused.push(format!(
                    "{} → {}: {msg}",
                    entry["item"].as_str().unwrap_or(""),
                    entry["target"].as_str().unwrap_or("")
                )),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(key: mapping::MappingKey, item: &str) -> mapping::MappingRow {
        mapping::MappingRow {
            key,
            item_code: item.into(),
            sales_unit: None,
            gl_account: None,
            dimensions: Vec::new(),
            site: None,
        }
    }

    #[test]
    fn the_mapping_reversed_names_skus_products_and_variations_not_shipping() {
        use mapping::MappingKey as K;
        let rows = vec![
            row(K::Sku("WOO-TSHIRT".into()), "TSHIRT"),
            row(K::Sku("WOO-TEE-OLD".into()), "TSHIRT"),
            row(K::Sku("WOO-TSHIRT".into()), "TSHIRT"),
            row(K::Product(16), "GIFTWRAP"),
            row(K::Variation(14), "HOODIE-RED"),
            row(K::Shipping("flat_rate".into()), "CARRIAGE"),
            row(K::Default, "MISC"),
        ];
        let r = reverse_mapping(&rows);
        assert_eq!(
            r["TSHIRT"],
            vec![
                Target::Sku("WOO-TSHIRT".into()),
                Target::Sku("WOO-TEE-OLD".into())
            ]
        );
        assert_eq!(r["GIFTWRAP"], vec![Target::Product(16)]);
        assert_eq!(r["HOODIE-RED"], vec![Target::Variation(14)]);
        assert_eq!(r.len(), 3);
    }

    fn product() -> Value {
        json!({"id": 7, "type": "simple", "parent_id": 0, "name": "Woo T-shirt", "status": "publish",
               "short_description": "", "regular_price": "19.99", "manage_stock": true,
               "stock_quantity": 100, "meta_data": []})
    }

    #[test]
    fn prices_keep_two_to_four_decimals() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(price_text(d("22.5")), "22.50");
        assert_eq!(price_text(d("1.2345")), "1.2345");
        assert_eq!(price_text(d("1")), "1.00");
        assert_eq!(price_text(d("1.2300")), "1.23");
        assert_eq!(price_text(Decimal::ZERO), "0.00");
    }

    #[test]
    fn only_what_differs_is_sent_and_equal_data_sends_nothing() {
        let want = ItemData {
            name: Some("T-shirt".into()),
            price: Some(Decimal::new(199900, 4)),
            stock: Some(100),
            ..ItemData::default()
        };
        let (u, log, _) = changes(&product(), &want, &[], "private");
        let u = u.unwrap();
        assert_eq!(u, json!({"id": 7, "name": "T-shirt"}));
        assert_eq!(log["name"], json!(["Woo T-shirt", "T-shirt"]));
        let same = ItemData {
            name: Some("Woo T-shirt".into()),
            price: Some(Decimal::new(199900, 4)),
            ..ItemData::default()
        };
        assert_eq!(changes(&product(), &same, &[], "private").0, None);
    }

    #[test]
    fn shop_owned_fields_are_never_sent() {
        let want = ItemData {
            name: Some("T-shirt".into()),
            description: Some("Cotton".into()),
            price: Some(Decimal::new(250000, 4)),
            stock: Some(3),
            blocked: Some(Some(5)),
        };
        let owned: Vec<String> = ["name", "description", "price", "stock", "status"]
            .map(String::from)
            .to_vec();
        assert_eq!(changes(&product(), &want, &owned, "private").0, None);
        let (u, _, _) = changes(&product(), &want, &owned[..2], "private");
        let u = u.unwrap();
        assert_eq!(u["regular_price"], "25.00");
        assert_eq!(u["stock_quantity"], 3);
        assert_eq!(u["status"], "private");
        assert!(u.get("name").is_none() && u.get("short_description").is_none());
    }

    #[test]
    fn only_a_product_we_blocked_is_published_again() {
        let sellable = ItemData {
            blocked: Some(None),
            ..ItemData::default()
        };
        // A draft the merchant prepares: left alone.
        let mut draft = product();
        draft["status"] = json!("draft");
        assert_eq!(changes(&draft, &sellable, &[], "private").0, None);
        // Blocked in X3: private, marked.
        let blocked = ItemData {
            blocked: Some(Some(6)),
            ..ItemData::default()
        };
        let u = changes(&product(), &blocked, &[], "private").0.unwrap();
        assert_eq!(u["status"], "private");
        assert_eq!(u["meta_data"], json!([{"key": BLOCKED_META, "value": "6"}]));
        // Already private because of us, and sellable again: published, mark cleared.
        let mut ours = product();
        ours["status"] = json!("private");
        ours["meta_data"] = json!([{"id": 1, "key": BLOCKED_META, "value": "6"}]);
        let u = changes(&ours, &sellable, &[], "private").0.unwrap();
        assert_eq!(u["status"], "publish");
        assert_eq!(u["meta_data"], json!([{"key": BLOCKED_META, "value": ""}]));
        // Blocked again while already blocked: nothing.
        assert_eq!(changes(&ours, &blocked, &[], "private").0, None);
    }

    #[test]
    fn variations_take_no_name_and_their_description_is_the_description() {
        let v = json!({"id": 14, "parent_id": 13, "status": "publish", "description": "",
                       "regular_price": "47.00", "manage_stock": false, "meta_data": []});
        let want = ItemData {
            name: Some("Hoodie red".into()),
            description: Some("Red".into()),
            stock: Some(4),
            ..ItemData::default()
        };
        let (u, _, unmanaged) = changes(&v, &want, &[], "private");
        assert_eq!(u.unwrap(), json!({"id": 14, "description": "Red"}));
        assert!(
            unmanaged,
            "stock of an unmanaged variation is reported, not sent"
        );
        let variable = json!({"id": 13, "type": "variable", "regular_price": "", "meta_data": []});
        let price = ItemData {
            price: Some(Decimal::new(10000, 4)),
            ..ItemData::default()
        };
        assert_eq!(changes(&variable, &price, &[], "private").0, None);
    }
}
