//! The mapping table: which X3 item, sales unit, GL account, dimensions and site a WooCommerce
//! line becomes. Rows are keyed by variation id, product id, SKU, shipping method or fee name, with
//! an optional default row; a product line is matched variation → product → SKU → default, and a
//! line nothing matches holds its order (never a guess, never an auto-created item).
//!
//! CSV form (header required, columns in any order, UTF-8 with or without BOM):
//! `key_type,key,item_code,sales_unit,gl_account,dimensions,site`, `dimensions` as
//! `TYPE=VALUE;TYPE=VALUE`. The JSON form is an array of objects with the same field names
//! (`dimensions` may also be an object `{"TYPE":"VALUE"}`).

use std::collections::HashMap;

use serde_json::Value;

/// Limits from X3's field definitions (`x3-api.md` §5.2: ITMREF 20) and X3 conventions
/// (units 3, sites 5, dimension sections 15). Account codes vary by chart, so 20 is generous.
const ITEM_CODE_MAX: usize = 20;
const UNIT_MAX: usize = 3;
const SITE_MAX: usize = 5;
const ACCOUNT_MAX: usize = 20;
const SECTION_MAX: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row (the CSV header is row 0; in JSON, the array index + 1).
    pub row: u32,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{} invalid row(s); first: row {}, {}: {}", .0.len(), .0[0].row, .0[0].field, .0[0].message)]
    InvalidRows(Vec<RowError>),
    #[error("not a mapping table: {0}")]
    Malformed(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MappingKey {
    Variation(u64),
    Product(u64),
    Sku(String),
    Shipping(String),
    Fee(String),
    Default,
}

impl MappingKey {
    /// `variation`, `product`, `sku`, `shipping`, `fee` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            MappingKey::Variation(_) => "variation",
            MappingKey::Product(_) => "product",
            MappingKey::Sku(_) => "sku",
            MappingKey::Shipping(_) => "shipping",
            MappingKey::Fee(_) => "fee",
            MappingKey::Default => "default",
        }
    }

    /// The key column's text (empty for `default`).
    pub fn value(&self) -> String {
        match self {
            MappingKey::Variation(id) | MappingKey::Product(id) => id.to_string(),
            MappingKey::Sku(s) | MappingKey::Shipping(s) | MappingKey::Fee(s) => s.clone(),
            MappingKey::Default => String::new(),
        }
    }

    /// `kind:value`, as hold reports name keys.
    pub fn label(&self) -> String {
        match self {
            MappingKey::Default => "default".into(),
            k => format!("{}:{}", k.kind(), k.value()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    pub dimension_type: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub key: MappingKey,
    pub item_code: String,
    pub sales_unit: Option<String>,
    pub gl_account: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub site: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub product_id: u64,
    pub variation_id: u64,
    pub sku: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub unmapped: Vec<CatalogueEntry>,
    pub by_default: Vec<CatalogueEntry>,
    pub mapped: u32,
    pub total: u32,
}

/// One row's fields as text, before validation.
#[derive(Default)]
struct RawRow {
    key_type: String,
    key: String,
    item_code: String,
    sales_unit: String,
    gl_account: String,
    dimensions: String,
    site: String,
}

const COLUMNS: [&str; 7] = [
    "key_type",
    "key",
    "item_code",
    "sales_unit",
    "gl_account",
    "dimensions",
    "site",
];

/// Parses the CSV form. Every bad row is reported, not just the first.
pub fn parse_csv(text: &str, dimension_types: &[String]) -> Result<Vec<MappingRow>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| Error::Malformed(format!("cannot read the header: {e}")))?
        .clone();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(Error::Malformed(format!(
                "unknown column {name:?}; the columns are {}",
                COLUMNS.join(",")
            )));
        };
        if index.insert(known, i).is_some() {
            return Err(Error::Malformed(format!("column {name:?} appears twice")));
        }
    }
    for required in ["key_type", "key", "item_code"] {
        if !index.contains_key(required) {
            return Err(Error::Malformed(format!("missing column {required:?}")));
        }
    }
    let mut raws = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let row = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                raws.push((row, Err(format!("unreadable CSV: {e}"))));
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // Blank lines are common at the end of exported files.
        }
        if record.len() > header.len() {
            raws.push((
                row,
                Err(format!(
                    "{} fields, the header has {}",
                    record.len(),
                    header.len()
                )),
            ));
            continue;
        }
        let field = |name: &str| {
            index
                .get(name)
                .and_then(|i| record.get(*i))
                .unwrap_or("")
                .to_string()
        };
        raws.push((
            row,
            Ok(RawRow {
                key_type: field("key_type"),
                key: field("key"),
                item_code: field("item_code"),
                sales_unit: field("sales_unit"),
                gl_account: field("gl_account"),
                dimensions: field("dimensions"),
                site: field("site"),
            }),
        ));
    }
    validate(raws, dimension_types)
}

/// Parses the JSON form.
pub fn parse_json(text: &str, dimension_types: &[String]) -> Result<Vec<MappingRow>> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::Malformed(e.to_string()))?;
    let items = value
        .as_array()
        .ok_or_else(|| Error::Malformed("the JSON form is an array of rows".into()))?;
    let raws = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let Some(obj) = item.as_object() else {
                return (row, Err("a row is a JSON object".to_string()));
            };
            if let Some(unknown) = obj.keys().find(|k| !COLUMNS.contains(&k.as_str())) {
                return (row, Err(format!("unknown field {unknown:?}")));
            }
            let text = |k: &str| match obj.get(k) {
                Some(Value::String(s)) => s.trim().to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let dimensions = match obj.get("dimensions") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(";"),
                _ => text("dimensions"),
            };
            (
                row,
                Ok(RawRow {
                    key_type: text("key_type"),
                    key: text("key"),
                    item_code: text("item_code"),
                    sales_unit: text("sales_unit"),
                    gl_account: text("gl_account"),
                    dimensions,
                    site: text("site"),
                }),
            )
        })
        .collect();
    validate(raws, dimension_types)
}

fn validate(
    raws: Vec<(u32, std::result::Result<RawRow, String>)>,
    dimension_types: &[String],
) -> Result<Vec<MappingRow>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<MappingKey, u32> = HashMap::new();
    for (row, raw) in raws {
        let raw = match raw {
            Ok(r) => r,
            Err(message) => {
                errors.push(RowError {
                    row,
                    field: "row".into(),
                    message,
                });
                continue;
            }
        };
        let mut row_errors: Vec<RowError> = Vec::new();
        let mut err = |field: &str, message: String| {
            row_errors.push(RowError {
                row,
                field: field.into(),
                message,
            })
        };
        let key = match parse_key(&raw.key_type, &raw.key) {
            Ok(k) => Some(k),
            Err((field, m)) => {
                err(field, m);
                None
            }
        };
        let item_code = raw.item_code.trim().to_string();
        check_code(&mut err, "item_code", &item_code, ITEM_CODE_MAX, true);
        let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let sales_unit = optional(&raw.sales_unit);
        let gl_account = optional(&raw.gl_account);
        let site = optional(&raw.site);
        for (field, value, max) in [
            ("sales_unit", &sales_unit, UNIT_MAX),
            ("gl_account", &gl_account, ACCOUNT_MAX),
            ("site", &site, SITE_MAX),
        ] {
            if let Some(v) = value {
                check_code(&mut err, field, v, max, false);
            }
        }
        let dimensions = parse_dimensions(&raw.dimensions, dimension_types).unwrap_or_else(|m| {
            err("dimensions", m);
            Vec::new()
        });
        match key {
            Some(key) if row_errors.is_empty() => {
                if let Some(first) = seen.get(&key) {
                    errors.push(RowError {
                        row,
                        field: "key".into(),
                        message: format!("{} is already mapped by row {first}", key.label()),
                    });
                } else {
                    seen.insert(key.clone(), row);
                    rows.push(MappingRow {
                        key,
                        item_code,
                        sales_unit,
                        gl_account,
                        dimensions,
                        site,
                    });
                }
            }
            _ => errors.extend(row_errors),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::InvalidRows(errors))
    }
}

fn parse_key(key_type: &str, key: &str) -> std::result::Result<MappingKey, (&'static str, String)> {
    let key = key.trim();
    let id = |k: &str| match k.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err((
            "key",
            format!("{k:?} is not a WooCommerce id (a positive whole number)"),
        )),
    };
    let text = |k: &str| {
        if k.is_empty() {
            Err(("key", "is empty".to_string()))
        } else if k.chars().any(char::is_control) {
            Err(("key", "contains control characters".to_string()))
        } else {
            Ok(k.to_string())
        }
    };
    match key_type.trim().to_ascii_lowercase().as_str() {
        "variation" => Ok(MappingKey::Variation(id(key)?)),
        "product" => Ok(MappingKey::Product(id(key)?)),
        "sku" => Ok(MappingKey::Sku(text(key)?)),
        "shipping" => Ok(MappingKey::Shipping(text(key)?)),
        "fee" => Ok(MappingKey::Fee(text(key)?)),
        "default" if key.is_empty() => Ok(MappingKey::Default),
        "default" => Err(("key", "the default row has no key".into())),
        other => Err((
            "key_type",
            format!("{other:?} is not one of variation, product, sku, shipping, fee, default"),
        )),
    }
}

/// X3 codes: no quotes, spaces or control characters, within the field's length.
fn check_code(
    err: &mut impl FnMut(&str, String),
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) {
    if value.is_empty() {
        if required {
            err(field, "is empty".into());
        }
        return;
    }
    let len = value.chars().count();
    if len > max {
        err(
            field,
            format!("{value:?} has {len} characters, X3 allows {max}"),
        );
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '\'' | '"' | '~'))
    {
        err(
            field,
            format!("{value:?} contains {c:?}, which X3 codes cannot hold"),
        );
    }
}

fn parse_dimensions(
    text: &str,
    dimension_types: &[String],
) -> std::result::Result<Vec<Dimension>, String> {
    let mut out: Vec<Dimension> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (t, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not TYPE=VALUE"))?;
        let (t, v) = (t.trim(), v.trim());
        if !dimension_types.iter().any(|d| d == t) {
            return Err(if dimension_types.is_empty() {
                format!("dimension type {t:?}: no dimension types are configured")
            } else {
                format!(
                    "dimension type {t:?} is not one of the configured {}",
                    dimension_types.join(", ")
                )
            });
        }
        if v.is_empty() || v.chars().count() > SECTION_MAX || v.chars().any(char::is_control) {
            return Err(format!(
                "{t}: {v:?} is not a section code (1 to {SECTION_MAX} characters)"
            ));
        }
        if out.iter().any(|d| d.dimension_type == t) {
            return Err(format!("dimension type {t:?} given twice"));
        }
        out.push(Dimension {
            dimension_type: t.to_string(),
            value: v.to_string(),
        });
    }
    Ok(out)
}

/// CSV that [`parse_csv`] reads back to the same rows.
pub fn to_csv(rows: &[MappingRow]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(COLUMNS);
    for r in rows {
        let dims = r
            .dimensions
            .iter()
            .map(|d| format!("{}={}", d.dimension_type, d.value))
            .collect::<Vec<_>>()
            .join(";");
        let _ = w.write_record([
            r.key.kind(),
            &r.key.value(),
            &r.item_code,
            r.sales_unit.as_deref().unwrap_or(""),
            r.gl_account.as_deref().unwrap_or(""),
            &dims,
            r.site.as_deref().unwrap_or(""),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A table indexed for lookups.
pub struct Table<'a> {
    by_key: HashMap<&'a MappingKey, &'a MappingRow>,
    default: Option<&'a MappingRow>,
}

/// How a product line was matched.
pub enum Match<'a> {
    /// By its own key.
    Row(&'a MappingRow),
    /// Only by the default row.
    Default(&'a MappingRow),
    /// Nothing matched; the keys tried, most specific first.
    Missing(Vec<MappingKey>),
}

impl<'a> Table<'a> {
    pub fn new(rows: &'a [MappingRow]) -> Self {
        let mut by_key = HashMap::with_capacity(rows.len());
        let mut default = None;
        for r in rows {
            if r.key == MappingKey::Default {
                default.get_or_insert(r);
            } else {
                by_key.entry(&r.key).or_insert(r);
            }
        }
        Table { by_key, default }
    }

    /// Variation → product → SKU → default.
    pub fn product_line(&self, product_id: u64, variation_id: u64, sku: Option<&str>) -> Match<'a> {
        let mut tried = Vec::with_capacity(3);
        if variation_id > 0 {
            tried.push(MappingKey::Variation(variation_id));
        }
        if product_id > 0 {
            tried.push(MappingKey::Product(product_id));
        }
        if let Some(sku) = sku.filter(|s| !s.is_empty()) {
            tried.push(MappingKey::Sku(sku.to_string()));
        }
        if let Some(row) = tried.iter().find_map(|k| self.by_key.get(k)) {
            return Match::Row(row);
        }
        match self.default {
            Some(row) => Match::Default(row),
            None => Match::Missing(tried),
        }
    }

    /// A shipping method or fee row (no default applies to them).
    pub fn exact(&self, key: &MappingKey) -> Option<&'a MappingRow> {
        self.by_key.get(key).copied()
    }
}

/// Which catalogue entries the table covers.
pub fn coverage(rows: &[MappingRow], catalogue: &[CatalogueEntry]) -> Coverage {
    let table = Table::new(rows);
    let mut cov = Coverage {
        total: u32::try_from(catalogue.len()).unwrap_or(u32::MAX),
        ..Coverage::default()
    };
    for e in catalogue {
        match table.product_line(e.product_id, e.variation_id, e.sku.as_deref()) {
            Match::Row(_) => cov.mapped += 1,
            Match::Default(_) => cov.by_default.push(e.clone()),
            Match::Missing(_) => cov.unmapped.push(e.clone()),
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Vec<String> {
        vec!["CCT".into(), "DEP".into()]
    }

    const GOOD: &str = "\u{feff}key_type,key,item_code,sales_unit,gl_account,dimensions,site
variation,17,HOODIE-RED,UN,706000,CCT=WEB;DEP=APPAREL,FR011
product,15,HOODIE,UN,706000,CCT=WEB,
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
fee,Gift wrap,GIFTWRAP,,,,
default,,MISC,,,,

";

    #[test]
    fn csv_parses_every_key_type_and_round_trips() {
        let rows = parse_csv(GOOD, &dims()).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[0],
            MappingRow {
                key: MappingKey::Variation(17),
                item_code: "HOODIE-RED".into(),
                sales_unit: Some("UN".into()),
                gl_account: Some("706000".into()),
                dimensions: vec![
                    Dimension {
                        dimension_type: "CCT".into(),
                        value: "WEB".into()
                    },
                    Dimension {
                        dimension_type: "DEP".into(),
                        value: "APPAREL".into()
                    },
                ],
                site: Some("FR011".into()),
            }
        );
        assert_eq!(rows[4].key, MappingKey::Fee("Gift wrap".into()));
        assert_eq!(rows[5].key, MappingKey::Default);
        assert_eq!(parse_csv(&to_csv(&rows), &dims()).unwrap(), rows);
    }

    #[test]
    fn columns_may_come_in_any_order_and_optional_ones_may_be_absent() {
        let rows = parse_csv("item_code,key,key_type\nCAP01,RW-CAP,sku\n", &[]).unwrap();
        assert_eq!(rows[0].key, MappingKey::Sku("RW-CAP".into()));
        assert_eq!(rows[0].sales_unit, None);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number_and_field() {
        let text = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,15,HOODIE,,,,
product,abc,X,,,,
colour,red,X,,,,
sku,RW-CAP,,,,,
product,15,AGAIN,,,,
sku,S1,THIS-ITEM-CODE-IS-FAR-TOO-LONG,,,,
sku,S2,IT'EM,UNITS,,,
sku,S3,X,,,BRN=WEB,
sku,S4,X,,,CCT,
default,x,X,,,,
sku,S5,X,,,,SITE-TOO-LONG
";
        let Err(Error::InvalidRows(errs)) = parse_csv(text, &dims()) else {
            panic!("expected row errors")
        };
        let got: Vec<(u32, &str)> = errs.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "key"),
                (3, "key_type"),
                (4, "item_code"),
                (5, "key"),
                (6, "item_code"),
                (7, "item_code"),
                (7, "sales_unit"),
                (8, "dimensions"),
                (9, "dimensions"),
                (10, "key"),
                (11, "site"),
            ]
        );
        assert!(errs[3].message.contains("already mapped by row 1"));
        assert!(errs[7].message.contains("CCT, DEP"));
    }

    #[test]
    fn malformed_tables_are_refused_whole() {
        for (text, want) in [
            ("key,item_code\n1,X\n", "missing column \"key_type\""),
            ("key_type,key,item_code,price\n", "unknown column \"price\""),
            ("key_type,key,key,item_code\n", "appears twice"),
        ] {
            match parse_csv(text, &[]) {
                Err(Error::Malformed(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(parse_json("{}", &[]), Err(Error::Malformed(_))));
        assert!(matches!(parse_json("[1", &[]), Err(Error::Malformed(_))));
    }

    #[test]
    fn json_form_matches_csv_form() {
        let json = r#"[
          {"key_type":"variation","key":17,"item_code":"HOODIE-RED","sales_unit":"UN","gl_account":"706000","dimensions":{"CCT":"WEB","DEP":"APPAREL"},"site":"FR011"},
          {"key_type":"product","key":"15","item_code":"HOODIE","sales_unit":"UN","gl_account":"706000","dimensions":"CCT=WEB"},
          {"key_type":"sku","key":"RW-CAP","item_code":"CAP01"},
          {"key_type":"shipping","key":"flat_rate","item_code":"CARRIAGE","gl_account":"708500"},
          {"key_type":"fee","key":"Gift wrap","item_code":"GIFTWRAP"},
          {"key_type":"default","item_code":"MISC"}
        ]"#;
        assert_eq!(
            parse_json(json, &dims()).unwrap(),
            parse_csv(GOOD, &dims()).unwrap()
        );
        let Err(Error::InvalidRows(errs)) = parse_json(
            r#"[{"key_type":"sku","key":"A","item_code":"X","colour":"red"}, 3]"#,
            &[],
        ) else {
            panic!()
        };
        assert_eq!((errs[0].row, errs[1].row), (1, 2));
    }

    #[test]
    fn precedence_is_variation_then_product_then_sku_then_default() {
        let rows = parse_csv(GOOD, &dims()).unwrap();
        let t = Table::new(&rows);
        let code = |m: Match<'_>| match m {
            Match::Row(r) => format!("row:{}", r.item_code),
            Match::Default(r) => format!("default:{}", r.item_code),
            Match::Missing(k) => format!(
                "missing:{}",
                k.iter()
                    .map(MappingKey::label)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        assert_eq!(
            code(t.product_line(15, 17, Some("RW-CAP"))),
            "row:HOODIE-RED"
        );
        assert_eq!(code(t.product_line(15, 18, Some("RW-CAP"))), "row:HOODIE");
        assert_eq!(code(t.product_line(14, 0, Some("RW-CAP"))), "row:CAP01");
        assert_eq!(code(t.product_line(99, 0, None)), "default:MISC");
        let no_default: Vec<_> = rows
            .into_iter()
            .filter(|r| r.key != MappingKey::Default)
            .collect();
        let t = Table::new(&no_default);
        assert_eq!(
            code(t.product_line(99, 98, Some("X-1"))),
            "missing:variation:98 product:99 sku:X-1"
        );
    }

    #[test]
    fn coverage_lists_unmapped_and_default_only_entries() {
        let entry = |p, v, sku: Option<&str>| CatalogueEntry {
            product_id: p,
            variation_id: v,
            sku: sku.map(Into::into),
            name: format!("{p}/{v}"),
        };
        let catalogue = vec![
            entry(15, 17, Some("RW-HOODIE-RED")),
            entry(15, 18, Some("RW-HOODIE-BLUE")),
            entry(14, 0, Some("RW-CAP")),
            entry(20, 0, None),
        ];
        let rows = parse_csv(GOOD, &dims()).unwrap();
        let cov = coverage(&rows, &catalogue);
        assert_eq!((cov.mapped, cov.total), (3, 4));
        assert_eq!(cov.by_default, vec![catalogue[3].clone()]);
        assert!(cov.unmapped.is_empty());
        let cov = coverage(&rows[2..3], &catalogue);
        assert_eq!(cov.mapped, 1);
        assert_eq!(cov.unmapped.len(), 3);
    }
}
