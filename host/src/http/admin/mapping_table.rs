//! `GET/PUT /api/admin/mapping` (CSV or JSON) and `GET /api/admin/mapping/coverage`.

use super::*;

pub(super) fn row_json(r: &mapping::MappingRow) -> Value {
    use mapping::MappingKey as K;
    let (key_type, key) = match &r.key {
        K::Variation(id) => ("variation", id.to_string()),
        K::Product(id) => ("product", id.to_string()),
        K::Sku(s) => ("sku", s.clone()),
        K::Shipping(s) => ("shipping", s.clone()),
        K::Fee(s) => ("fee", s.clone()),
        K::Default => ("default", String::new()),
    };
    let dims: Map<String, Value> = r
        .dimensions
        .iter()
        .map(|d| (d.dimension_type.clone(), json!(d.value)))
        .collect();
    json!({
        "key_type": key_type,
        "key": key,
        "item_code": r.item_code,
        "sales_unit": r.sales_unit.clone().unwrap_or_default(),
        "gl_account": r.gl_account.clone().unwrap_or_default(),
        "dimensions": dims,
        "site": r.site.clone().unwrap_or_default(),
    })
}

pub(super) fn get_mapping(ctx: &Ctx, csv: bool) -> Result<Answer> {
    let rows = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if csv {
        let text = ctx.core.mapping().to_csv(&rows)?;
        let mut a = Answer {
            status: 200,
            content_type: "text/csv; charset=utf-8",
            body: text.into_bytes(),
            headers: Vec::new(),
        };
        a.headers.push((
            "Content-Disposition".into(),
            "attachment; filename=\"ml-connector-mapping.csv\"".into(),
        ));
        return Ok(a);
    }
    Ok(Answer::json(
        200,
        &Value::Array(rows.iter().map(row_json).collect()),
    ))
}

pub(super) fn put_mapping(ctx: &Ctx, content_type: &str, body: &[u8]) -> Result<Answer> {
    let Ok(text) = std::str::from_utf8(body) else {
        let mut e = Errors::default();
        e.add("table", "not UTF-8 text");
        return Ok(e.answer());
    };
    let _writing = ctx.admin.writing.lock().unwrap_or_else(|e| e.into_inner());
    let dims = ctx
        .pipeline
        .settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .dimension_types
        .clone();
    let json = if content_type.contains("json") {
        true
    } else if content_type.contains("csv") {
        false
    } else {
        text.trim_start().starts_with('[')
    };
    let parsed = if json {
        ctx.core.mapping().parse_json(text, &dims)?
    } else {
        ctx.core.mapping().parse_csv(text, &dims)?
    };
    let rows = match parsed {
        Ok(rows) => rows,
        Err(mapping::Error::InvalidRows(rows)) => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "row": r.row, "field": r.field, "message": r.message }))
                .collect();
            return Ok(Answer::json(422, &json!({ "errors": { "rows": rows } })));
        }
        Err(mapping::Error::Malformed(m)) => {
            let mut e = Errors::default();
            e.add("table", m);
            return Ok(e.answer());
        }
    };
    let csv = ctx.core.mapping().to_csv(&rows)?;
    ctx.store.kv_set("mapping", &csv)?;
    let count = rows.len();
    *ctx.pipeline
        .mapping
        .write()
        .unwrap_or_else(|e| e.into_inner()) = rows;
    let released = ctx.store.requeue_held()?;
    ctx.pipeline.notify();
    info!(
        "admin API: mapping table replaced ({count} rows); {released} held order(s) queued again"
    );
    Ok(Answer::json(
        200,
        &json!({ "rows": count, "released": released }),
    ))
}

pub(super) fn entry_json(e: &mapping::CatalogueEntry) -> Value {
    json!({
        "product-id": e.product_id,
        "variation-id": e.variation_id,
        "sku": e.sku,
        "name": e.name,
    })
}

pub(super) fn coverage(ctx: &Ctx) -> Result<Answer> {
    let catalogue = match ctx.pipeline.woo().catalogue() {
        Ok(c) => c,
        Err(e) => {
            return Ok(Answer::json(
                502,
                &json!({ "error": format!("reading the catalogue from WooCommerce failed: {e}") }),
            ));
        }
    };
    let entries: Vec<mapping::CatalogueEntry> = catalogue
        .into_iter()
        .map(|c| mapping::CatalogueEntry {
            product_id: c.product_id,
            variation_id: c.variation_id,
            sku: c.sku,
            name: c.name,
        })
        .collect();
    let rows = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let report = ctx.core.mapping().coverage(&rows, &entries)?;
    Ok(Answer::json(
        200,
        &json!({
            "total": report.total,
            "mapped": report.mapped,
            "unmapped": report.unmapped.iter().map(entry_json).collect::<Vec<_>>(),
            "by-default": report.by_default.iter().map(entry_json).collect::<Vec<_>>(),
        }),
    ))
}
