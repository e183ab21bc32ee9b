//! `GET/PUT /api/admin/settings` and `GET /api/admin/wire`: the settings document, its validation
//! (every field, with the core and a connection check) and the overlay kept in the store.

use super::*;
use crate::config::stock::{CANCEL_MODES, StockConfig, cancel_name};

/// The settings as GET shows them: secrets only as `{"set": bool}`.
pub(super) fn settings_document(
    cfg: &Config,
    s: &orders::Settings,
    map: &[inventory::StatusRule],
    stock: &StockConfig,
) -> Value {
    let set = |v: &Secret| json!({ "set": !v.is_empty() });
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let x = &cfg.x3;
    let w = &cfg.woo;
    json!({
        "orders": {
            "store-id": s.store_id,
            "reference-prefix": s.reference_prefix,
            "customer-prefix": s.customer_prefix,
            "guest-customer": s.guest_customer,
            "sales-site": s.sales_site,
            "shipment-site": s.shipment_site,
            "order-type": s.order_type,
            "invoice-type": s.invoice_type,
            "customer-category": s.customer_category,
            "document-kind": match s.document_kind {
                orders::DocumentKind::Order => "order",
                orders::DocumentKind::Invoice => "invoice",
            },
            "price-basis": match s.price_basis {
                orders::PriceBasis::Net => "net",
                orders::PriceBasis::Gross => "gross",
            },
            "default-sales-unit": s.default_sales_unit,
            "currency-decimals": s.currency_decimals,
            "dimension-types": s.dimension_types,
        },
        "x3": {
            "base-url": x.base_url,
            "folder": x.folder,
            "api": match x.api { ApiMode::Rest => "rest", ApiMode::Graphql => "graphql" },
            "auth": match x.auth {
                AuthMode::Basic => "basic",
                AuthMode::ConnectedApp => "connected-app",
                AuthMode::Oauth2 => "oauth2",
            },
            "user": x.user,
            "password": set(&cfg.x3_password),
            "client-id": x.client_id,
            "secret": set(&cfg.x3_secret),
            "jwt-user": x.jwt_user,
            "audience": x.audience,
            "jwt-lifetime-secs": x.jwt_lifetime_secs,
            "token-url": x.token_url,
            "oauth-client-id": x.oauth_client_id,
            "oauth-client-secret": set(&cfg.x3_oauth_secret),
            "ca-file": path(&x.ca_file),
            "timeout-secs": x.timeout_secs,
        },
        "woocommerce": {
            "url": w.url,
            "consumer-key": w.consumer_key,
            "consumer-secret": set(&cfg.woo_consumer_secret),
            "webhook-secret": set(&cfg.webhook_secret),
            "webhook-secret-previous": set(&cfg.webhook_secret_previous),
            "auth": w.auth.as_deref().unwrap_or("auto"),
            "ca-file": path(&w.ca_file),
            "timeout-secs": w.timeout_secs,
            "delivery-url": cfg.delivery_url(),
        },
        // The overrides in force; every name with its default is under GET /api/admin/wire.
        "x3-wire": cfg.x3.wire.0,
        "inventory": {
            "status-map": map.iter().map(|r| json!({
                "status": r.status,
                "stage": stage_name(r.stage),
            })).collect::<Vec<_>>(),
        },
        "stock": stock_document(stock),
    })
}

/// `[stock]` as GET shows it: every field in force, defaults included.
fn stock_document(c: &StockConfig) -> Value {
    let s = &c.settings;
    json!({
        "enabled": c.enabled,
        "credit-note-type": s.credit_note_type,
        "refund-amount-item": s.refund_amount_item,
        "cancel": cancel_name(s.cancel),
        "restock": s.restock,
        "deliver-charges": s.deliver_charges,
        "restock-status": s.restock_status,
        "invoice-stock-issue": s.invoice_stock_issue,
    })
}

pub(super) fn stage_name(s: inventory::Stage) -> &'static str {
    match s {
        inventory::Stage::None => "none",
        inventory::Stage::Posted => "posted",
        inventory::Stage::Shipped => "shipped",
        inventory::Stage::Delivered => "delivered",
        inventory::Stage::Cancelled => "cancelled",
    }
}

pub(super) fn stage_of(name: &str) -> Option<inventory::Stage> {
    Some(match name {
        "none" => inventory::Stage::None,
        "posted" => inventory::Stage::Posted,
        "shipped" => inventory::Stage::Shipped,
        "delivered" => inventory::Stage::Delivered,
        "cancelled" => inventory::Stage::Cancelled,
        _ => return None,
    })
}

pub(super) fn get_settings(ctx: &Ctx) -> Result<Answer> {
    let cfg = ctx.admin.config();
    let s = ctx
        .pipeline
        .settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let map = ctx
        .pipeline
        .status_map
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let stock = StockConfig::from_file(&ctx.core, &cfg.stock)?;
    Ok(Answer::json(
        200,
        &settings_document(&cfg, &s, &map, &stock),
    ))
}

/// `GET /api/admin/wire`: every X3 name in force, with its default, where the default comes
/// from (empty: UNCONFIRMED, our choice) and whether the site overrides it.
pub(super) fn get_wire(ctx: &Ctx) -> Result<Answer> {
    let s = crate::jobs::pipeline::current(&ctx.pipeline.settings);
    let names = crate::wire::Names::resolve(&ctx.core, &s)?;
    let list: Vec<Value> = names
        .all()
        .iter()
        .map(|n| {
            json!({
                "key": n.key,
                "value": n.value,
                "default": n.default_value,
                "source": n.source,
                "confirmed": !n.source.is_empty(),
                "overridden": n.value != n.default_value
                    || s.wire.iter().any(|(k, _)| *k == n.key),
                "description": n.description,
            })
        })
        .collect();
    Ok(Answer::json(200, &json!({ "names": list })))
}

/// A text value: a string without control characters, at most [`MAX_TEXT`] long.
pub(super) fn text(v: &Value) -> std::result::Result<String, String> {
    let Value::String(s) = v else {
        return Err("a string expected".into());
    };
    if s.chars().count() > MAX_TEXT {
        return Err(format!("at most {MAX_TEXT} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(s.clone())
}

/// A text value, `null` (or empty) for none.
pub(super) fn opt_text(v: &Value) -> std::result::Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        v => text(v).map(|s| (!s.trim().is_empty()).then_some(s)),
    }
}

pub(super) fn uint(v: &Value, min: u64, max: u64) -> std::result::Result<u64, String> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("a whole number from {min} to {max} expected")),
    }
}

pub(super) fn one_of<'a>(v: &Value, options: &[&'a str]) -> std::result::Result<&'a str, String> {
    let given = v.as_str().unwrap_or_default();
    options
        .iter()
        .find(|o| **o == given)
        .copied()
        .ok_or_else(|| format!("one of {} expected", options.join(", ")))
}

/// A secret: a string sets it, `null` clears it, `{"set": …}` (what GET shows) keeps it.
pub(super) fn secret(v: &Value, current: &mut Secret) -> std::result::Result<(), String> {
    match v {
        Value::Object(_) => Ok(()),
        Value::Null => {
            *current = Secret::default();
            Ok(())
        }
        Value::String(_) => {
            let s = text(v)?;
            if s != s.trim() {
                return Err("no leading or trailing spaces".into());
            }
            *current = Secret::new(s);
            Ok(())
        }
        _ => Err("a string (the new value) or {\"set\": true} (keep it) expected".into()),
    }
}

/// An http(s) URL with a host.
pub(super) fn url(v: &Value) -> std::result::Result<String, String> {
    let s = text(v)?;
    let s = s.trim().to_string();
    let uri: ureq::http::Uri = s
        .parse()
        .map_err(|e| format!("not a URL like https://host/ ({e})"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("an http:// or https:// URL expected".into());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(s)
}

/// A CA file path: must be readable now (relative paths are the config file's).
pub(super) fn ca_file(v: &Value, base: &Path) -> std::result::Result<Option<PathBuf>, String> {
    let Some(p) = opt_text(v)? else {
        return Ok(None);
    };
    let path = PathBuf::from(&p);
    std::fs::metadata(base.join(&path))
        .map_err(|e| format!("{p}: {e}"))
        .and_then(|m| {
            if m.is_file() {
                Ok(Some(path))
            } else {
                Err(format!("{p}: not a file"))
            }
        })
}

/// Applies a settings document (the PUT body, or the stored overrides) to `cfg`, checking each
/// value's type and form. Returns the status map when the document has one.
pub(super) fn apply(
    cfg: &mut Config,
    doc: &Value,
    errors: &mut Errors,
) -> Option<Vec<inventory::StatusRule>> {
    let Some(doc) = doc.as_object() else {
        errors.add(
            "settings",
            "a JSON object with orders, x3, woocommerce, x3-wire, inventory or stock",
        );
        return None;
    };
    let mut status_map = None;
    for (section, fields) in doc {
        let Some(fields) = fields.as_object() else {
            errors.add(section.as_str(), "an object of settings expected");
            continue;
        };
        for (name, v) in fields {
            let field = format!("{section}.{name}");
            let r = match section.as_str() {
                "orders" => apply_orders(cfg, name, v),
                "x3" => apply_x3(cfg, name, v),
                "woocommerce" => apply_woo(cfg, name, v),
                "x3-wire" => apply_wire(cfg, name, v),
                "stock" => apply_stock(cfg, name, v),
                "inventory" if name == "status-map" => {
                    status_map_of(v).map(|m| status_map = Some(m))
                }
                _ => Err(Unknown),
            };
            match r {
                Ok(()) => {}
                Err(Unknown) => errors.add(field, "unknown setting"),
                Err(Invalid(m)) => errors.add(field, m),
            }
        }
    }
    status_map
}

pub(super) enum Refusal {
    Unknown,
    Invalid(String),
}
use Refusal::{Invalid, Unknown};

impl From<String> for Refusal {
    fn from(m: String) -> Self {
        Invalid(m)
    }
}

pub(super) fn apply_orders(
    cfg: &mut Config,
    name: &str,
    v: &Value,
) -> std::result::Result<(), Refusal> {
    let o = &mut cfg.orders;
    match name {
        "store-id" => o.store_id = opt_text(v)?,
        "reference-prefix" => o.reference_prefix = opt_text(v)?,
        "customer-prefix" => o.customer_prefix = opt_text(v)?,
        "guest-customer" => o.guest_customer = opt_text(v)?,
        "sales-site" => o.sales_site = opt_text(v)?,
        "shipment-site" => o.shipment_site = opt_text(v)?,
        "order-type" => o.order_type = opt_text(v)?,
        "invoice-type" => o.invoice_type = opt_text(v)?,
        "customer-category" => o.customer_category = opt_text(v)?,
        "default-sales-unit" => o.default_sales_unit = opt_text(v)?,
        "document-kind" => {
            o.document_kind = match v {
                Value::Null => None,
                v => Some(one_of(v, &["order", "invoice"])?.to_string()),
            }
        }
        "price-basis" => {
            o.price_basis = match v {
                Value::Null => None,
                v => Some(one_of(v, &["net", "gross"])?.to_string()),
            }
        }
        "currency-decimals" => {
            o.currency_decimals = match v {
                Value::Null => None,
                v => Some(u8::try_from(uint(v, 0, 8)?).unwrap_or(2)),
            }
        }
        "dimension-types" => {
            o.dimension_types = match v {
                Value::Null => None,
                Value::Array(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        let t = text(item)?;
                        if out.contains(&t) {
                            return Err(Invalid(format!("{t:?} is listed twice")));
                        }
                        out.push(t);
                    }
                    Some(out)
                }
                _ => return Err(Invalid("a list of X3 dimension type codes expected".into())),
            }
        }
        _ => return Err(Unknown),
    }
    Ok(())
}

/// One `[stock]` field, kept as the config file's would be (`StockConfig::from_file` reads it).
pub(super) fn apply_stock(cfg: &mut Config, name: &str, v: &Value) -> Result<(), Refusal> {
    let flag = |v: &Value| {
        v.as_bool()
            .ok_or_else(|| "true or false expected".to_string())
    };
    let s = &mut cfg.stock;
    match name {
        "enabled" => s.enabled = Some(flag(v)?),
        // Empty: refunds wait on the order page until it is set.
        "credit-note-type" => s.credit_note_type = Some(text(v)?),
        "refund-amount-item" => s.refund_amount_item = opt_text(v)?,
        "cancel" => {
            let names = CANCEL_MODES.map(|(name, _)| name);
            s.cancel = Some(one_of(v, &names)?.to_string());
        }
        "restock" => s.restock = Some(flag(v)?),
        "deliver-charges" => s.deliver_charges = Some(flag(v)?),
        "restock-status" => s.restock_status = Some(text(v)?),
        "invoice-stock-issue" => s.invoice_stock_issue = Some(flag(v)?),
        _ => return Err(Unknown),
    }
    Ok(())
}

/// One `[x3.wire]` override: a name sets it, `null` goes back to the default. Which keys exist
/// and what a valid name is, the core says (in `validate`).
pub(super) fn apply_wire(
    cfg: &mut Config,
    key: &str,
    v: &Value,
) -> std::result::Result<(), Refusal> {
    match v {
        Value::Null => {
            cfg.x3.wire.0.remove(key);
        }
        v => {
            cfg.x3
                .wire
                .0
                .insert(key.to_string(), text(v)?.trim().to_string());
        }
    }
    Ok(())
}

pub(super) fn apply_x3(
    cfg: &mut Config,
    name: &str,
    v: &Value,
) -> std::result::Result<(), Refusal> {
    let base = cfg.base_dir.clone();
    let x = &mut cfg.x3;
    match name {
        "base-url" => x.base_url = url(v)?,
        "folder" => x.folder = text(v)?.trim().to_string(),
        "api" => {
            x.api = match one_of(v, &["rest", "graphql"])? {
                "rest" => ApiMode::Rest,
                _ => ApiMode::Graphql,
            }
        }
        "auth" => {
            x.auth = match one_of(v, &["basic", "connected-app", "oauth2"])? {
                "basic" => AuthMode::Basic,
                "connected-app" => AuthMode::ConnectedApp,
                _ => AuthMode::Oauth2,
            }
        }
        "user" => x.user = opt_text(v)?,
        "client-id" => x.client_id = opt_text(v)?,
        "jwt-user" => x.jwt_user = opt_text(v)?,
        "audience" => x.audience = opt_text(v)?.unwrap_or_default(),
        "jwt-lifetime-secs" => x.jwt_lifetime_secs = uint(v, 1, 3600)?,
        "token-url" => {
            x.token_url = match v {
                Value::Null => None,
                v => Some(url(v)?),
            }
        }
        "oauth-client-id" => x.oauth_client_id = opt_text(v)?,
        "ca-file" => x.ca_file = ca_file(v, &base)?,
        "timeout-secs" => x.timeout_secs = uint(v, 1, 600)?,
        "password" => secret(v, &mut cfg.x3_password)?,
        "secret" => secret(v, &mut cfg.x3_secret)?,
        "oauth-client-secret" => secret(v, &mut cfg.x3_oauth_secret)?,
        _ => return Err(Unknown),
    }
    Ok(())
}

pub(super) fn apply_woo(
    cfg: &mut Config,
    name: &str,
    v: &Value,
) -> std::result::Result<(), Refusal> {
    let base = cfg.base_dir.clone();
    let w = &mut cfg.woo;
    match name {
        "url" => w.url = url(v)?,
        "consumer-key" => w.consumer_key = text(v)?.trim().to_string(),
        "consumer-secret" => secret(v, &mut cfg.woo_consumer_secret)?,
        "webhook-secret" => {
            if v.is_null() {
                return Err(Invalid(
                    "cannot be cleared: no delivery could be verified without it".into(),
                ));
            }
            secret(v, &mut cfg.webhook_secret)?;
            if cfg.webhook_secret.is_empty() {
                return Err(Invalid("an empty secret verifies nothing".into()));
            }
        }
        // Accepted too during a rotation; `null` ends the rotation.
        "webhook-secret-previous" => secret(v, &mut cfg.webhook_secret_previous)?,
        "auth" => {
            w.auth = Some(one_of(v, &["auto", "oauth1", "basic", "query-string"])?.to_string())
        }
        "ca-file" => w.ca_file = ca_file(v, &base)?,
        "timeout-secs" => w.timeout_secs = uint(v, 1, 600)?,
        "delivery-url" => {
            w.delivery_url = if v.is_null() || v.as_str() == Some("") {
                None
            } else {
                let u = url(v)?;
                crate::config::check_delivery_url(&u).map_err(|e| Invalid(format!("{e:#}")))?;
                Some(u)
            }
        }
        _ => return Err(Unknown),
    }
    Ok(())
}

pub(super) fn status_map_of(v: &Value) -> std::result::Result<Vec<inventory::StatusRule>, Refusal> {
    let Some(items) = v.as_array() else {
        return Err(Invalid(
            "a list of {\"status\": …, \"stage\": …} expected".into(),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let status = r.get("status").and_then(Value::as_str);
            let stage = r.get("stage").and_then(Value::as_str).and_then(stage_of);
            match (status, stage) {
                (Some(status), Some(stage)) => Ok(inventory::StatusRule {
                    status: status.to_string(),
                    stage,
                }),
                _ => Err(Invalid(format!(
                    "rule {}: a status and a stage (none, posted, shipped, delivered, cancelled) expected",
                    i + 1
                ))),
            }
        })
        .collect()
}

/// Rules that need several fields at once: each auth mode's credentials.
pub(super) fn check_connection(cfg: &Config, errors: &mut Errors) {
    let x = &cfg.x3;
    let mut need = |field: &str, present: bool, why: &str| {
        if !present {
            errors.add(format!("x3.{field}"), format!("required when {why}"));
        }
    };
    match x.auth {
        AuthMode::Basic => {
            need("user", x.user.is_some(), "auth is basic");
            need("password", !cfg.x3_password.is_empty(), "auth is basic");
        }
        AuthMode::ConnectedApp => {
            let why = "auth is connected-app";
            need("client-id", x.client_id.is_some(), why);
            need("secret", !cfg.x3_secret.is_empty(), why);
            need("jwt-user", x.jwt_user.is_some(), why);
        }
        AuthMode::Oauth2 => {
            let why = "auth is oauth2";
            need("token-url", x.token_url.is_some(), why);
            need("oauth-client-id", x.oauth_client_id.is_some(), why);
            need("oauth-client-secret", !cfg.x3_oauth_secret.is_empty(), why);
        }
    }
    if cfg.woo.consumer_key.trim().is_empty() {
        errors.add("woocommerce.consumer-key", "required");
    }
    if cfg.woo_consumer_secret.is_empty() {
        errors.add("woocommerce.consumer-secret", "required");
    }
}

/// Which field a core `invalid-settings` message is about (it starts with the setting's name;
/// a wire name's says `x3.wire.<key>` or `unknown name "<key>"`).
/// Every problem the core finds with `settings` (`field: message`), for `config check`.
pub fn settings_problems(
    core: &CoreRuntime,
    settings: &orders::Settings,
    mapping: &[mapping::MappingRow],
) -> Result<Vec<String>> {
    let mut errors = Errors::default();
    core_settings_errors(core, settings, mapping, &mut errors)?;
    Ok(errors
        .0
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
        .collect())
}

/// Every problem the core finds with `settings` and the mapping in force (one call, each problem
/// under its field), under the settings document's names: `orders.<field>`, or `x3-wire.<key>`
/// for an X3 name override.
pub(super) fn core_settings_errors(
    core: &CoreRuntime,
    settings: &orders::Settings,
    mapping: &[mapping::MappingRow],
    errors: &mut Errors,
) -> Result<()> {
    for p in core.orders().check_settings(settings, mapping)? {
        errors.add(document_field(&p.field), p.message);
    }
    Ok(())
}

/// A field of the core's settings as the settings document names it.
pub(super) fn document_field(core_field: &str) -> String {
    match core_field.strip_prefix("wire.") {
        Some(key) => format!("x3-wire.{key}"),
        None => format!("orders.{core_field}"),
    }
}

/// Whether a client's settings error is about the CA file (the clients say "CA file" or
/// "ca_file", or name the certificate).
pub(super) fn is_ca_problem(m: &str) -> bool {
    m.contains("CA file") || m.contains("ca_file") || m.contains("certificate")
}

/// A candidate configuration, checked whole; what applying it needs.
pub(super) struct Candidate {
    config: Config,
    settings: orders::Settings,
    status_map: Option<Vec<inventory::StatusRule>>,
    x3: Option<crate::clients::x3::X3Client>,
    woo: Option<crate::clients::woo::WooClient>,
    /// `[stock]`, when the document sets any of it.
    stock: Option<StockConfig>,
}

/// Applies `doc` to the configuration in force and validates the result with every rule there
/// is: form, auth completeness, the clients' own checks, the core's settings and status map.
pub(super) fn validate(ctx: &Ctx, doc: &Value) -> Result<std::result::Result<Candidate, Errors>> {
    let mut errors = Errors::default();
    let mut config = ctx.admin.config();
    let status_map = apply(&mut config, doc, &mut errors);
    if errors.is_empty() {
        check_connection(&config, &mut errors);
    }
    let touched = |s: &str| doc.get(s).is_some();
    let mut x3 = None;
    if !errors.has("x3") && touched("x3") {
        match crate::clients::x3_client(&config) {
            Ok(c) => x3 = Some(c),
            Err(e) => {
                let m = format!("{e:#}");
                let field = if m.contains("folder") {
                    "x3.folder"
                } else if is_ca_problem(&m) {
                    "x3.ca-file"
                } else {
                    "x3.base-url"
                };
                errors.add(field, m);
            }
        }
    }
    let mut woo = None;
    if !errors.has("woocommerce") && touched("woocommerce") {
        match crate::clients::woo_client(&config) {
            Ok(c) => woo = Some(c),
            Err(e) => {
                let m = format!("{e:#}");
                let field = if is_ca_problem(&m) {
                    "woocommerce.ca-file"
                } else {
                    "woocommerce.url"
                };
                errors.add(field, m);
            }
        }
    }
    let mut stock = None;
    if !errors.has("stock") && touched("stock") {
        match StockConfig::from_file(&ctx.core, &config.stock) {
            Ok(s) => stock = Some(s),
            Err(e) => errors.add("stock", format!("{e:#}")),
        }
    }
    if let Some(map) = &status_map {
        let verdict = ctx.core.inventory().validate_status_map(map)?;
        if let Err(e) = verdict {
            let m = match e {
                inventory::Error::InvalidStatusMap(m)
                | inventory::Error::InvalidRefund(m)
                | inventory::Error::InvalidOrder(m)
                | inventory::Error::InvalidSettings(m) => m,
            };
            errors.add("inventory.status-map", m);
        }
    }
    let settings = match crate::config::orders::order_settings(&ctx.core, &config) {
        Ok(s) => s,
        Err(e) => {
            errors.add("orders", format!("{e:#}"));
            return Ok(Err(errors));
        }
    };
    let mapping = ctx
        .pipeline
        .mapping
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // What the core finds wrong with the result. A setting still incomplete before this change
    // (a site not set yet) does not refuse a change elsewhere — the merchant fills the settings
    // in several saves, and a webhook-secret rotation must not wait for them; a problem the
    // change makes, or one in a field it sets, does.
    let mut after = Errors::default();
    core_settings_errors(&ctx.core, &settings, &mapping, &mut after)?;
    let mut before = Errors::default();
    let in_force = crate::jobs::pipeline::current(&ctx.pipeline.settings);
    core_settings_errors(&ctx.core, &in_force, &mapping, &mut before)?;
    for (field, message) in after.0 {
        let sets_it = field
            .split_once('.')
            .is_some_and(|(section, name)| doc.get(section).and_then(|s| s.get(name)).is_some());
        if sets_it || before.0.get(&field) != Some(&message) {
            errors.0.entry(field).or_insert(message);
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(Candidate {
        config,
        settings,
        status_map,
        x3,
        woo,
        stock,
    }))
}

/// The overrides kept in `kv`, with `doc` merged in (secrets in the `{"set": …}` form kept as
/// they were).
pub(super) fn merged_overrides(stored: Option<String>, doc: &Value) -> Result<Value> {
    let mut out: Map<String, Value> = match stored {
        Some(text) => serde_json::from_str(&text).context("the stored settings")?,
        None => Map::new(),
    };
    if let Some(doc) = doc.as_object() {
        for (section, fields) in doc {
            let Some(fields) = fields.as_object() else {
                continue;
            };
            let slot = out.entry(section.clone()).or_insert_with(|| json!({}));
            let Some(slot) = slot.as_object_mut() else {
                continue;
            };
            for (name, v) in fields {
                if v.is_object() {
                    // `{"set": true}`: a secret left as it is.
                    continue;
                }
                slot.insert(name.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

/// The names of the settings a document sets, for the log (never the values).
pub(super) fn field_names(doc: &Value) -> String {
    let mut names = Vec::new();
    if let Some(doc) = doc.as_object() {
        for (section, fields) in doc {
            if let Some(fields) = fields.as_object() {
                for (name, v) in fields {
                    if !v.is_object() {
                        names.push(format!("{section}.{name}"));
                    }
                }
            }
        }
    }
    names.join(", ")
}

/// A new webhook secret starts a rotation: unless the document says otherwise, the secret it
/// replaces stays accepted as `webhook-secret-previous` (deliveries signed before WooCommerce
/// has the new one still verify), until that is set to `null`.
pub(super) fn with_rotation(doc: &Value, cfg: &Config) -> Value {
    let mut doc = doc.clone();
    let Some(woo) = doc.get_mut("woocommerce").and_then(Value::as_object_mut) else {
        return doc;
    };
    let new = woo.get("webhook-secret").and_then(Value::as_str);
    if new.is_some_and(|n| n != cfg.webhook_secret.expose())
        && !woo.contains_key("webhook-secret-previous")
    {
        woo.insert(
            "webhook-secret-previous".into(),
            json!(cfg.webhook_secret.expose()),
        );
    }
    doc
}

pub(super) fn put_settings(ctx: &Ctx, doc: &Value) -> Result<Answer> {
    let _writing = ctx.admin.writing.lock().unwrap_or_else(|e| e.into_inner());
    let doc = &with_rotation(doc, &ctx.admin.config());
    let cand = match validate(ctx, doc)? {
        Ok(c) => c,
        Err(errors) => return Ok(errors.answer()),
    };
    // Stored first: if the store fails, nothing has changed.
    let merged = merged_overrides(ctx.store.kv_get(KV_SETTINGS)?, doc)?;
    ctx.store.kv_set(KV_SETTINGS, &merged.to_string())?;
    let p = &ctx.pipeline;
    *p.settings.write().unwrap_or_else(|e| e.into_inner()) = cand.settings;
    if let Some(map) = cand.status_map {
        *p.status_map.write().unwrap_or_else(|e| e.into_inner()) = map;
    }
    if let Some(x3) = cand.x3 {
        p.set_x3(Arc::new(x3));
    }
    if let Some(woo) = cand.woo {
        p.set_woo(Arc::new(woo));
    }
    if let Some(stock) = cand.stock {
        p.set_stock(stock);
    }
    ctx.lifecycle.set_delivery_url(cand.config.delivery_url());
    ctx.lifecycle.set_secret(cand.config.webhook_secret.clone());
    ctx.intake.secret.set(
        cand.config.webhook_secret.clone(),
        cand.config.webhook_secret_previous.clone(),
    );
    *ctx.admin.config.write().unwrap_or_else(|e| e.into_inner()) = cand.config;
    // A setting (a guest customer, a site) may be what held orders waited for.
    let released = ctx.store.requeue_held()?;
    p.notify();
    info!(
        "admin API: settings changed ({}); {released} held order(s) queued again",
        field_names(doc)
    );
    get_settings(ctx)
}

/// The names of the settings stored through the admin API (`x3.base-url`, …), sorted; none when
/// nothing was saved there.
pub fn stored_setting_names(store: &Store) -> Result<Vec<String>> {
    let Some(text) = store.kv_get(KV_SETTINGS)? else {
        return Ok(Vec::new());
    };
    let doc: Value = serde_json::from_str(&text).context("the settings stored by the admin API")?;
    let mut names: Vec<String> = doc
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(section, fields)| {
            fields
                .as_object()
                .into_iter()
                .flatten()
                .map(move |(name, _)| format!("{section}.{name}"))
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The config file's configuration with the settings stored through the admin API applied, and
/// the stored status map if there is one: what `serve` starts with.
pub fn stored_config(
    store: &Store,
    cfg: &Config,
) -> Result<(Config, Option<Vec<inventory::StatusRule>>)> {
    let mut cfg = cfg.clone();
    let Some(text) = store.kv_get(KV_SETTINGS)? else {
        return Ok((cfg, None));
    };
    let doc: Value = serde_json::from_str(&text).context("the settings stored by the admin API")?;
    let mut errors = Errors::default();
    let map = apply(&mut cfg, &doc, &mut errors);
    if !errors.is_empty() {
        bail!(
            "the settings stored by the admin API no longer apply: {}",
            errors.summary()
        );
    }
    Ok((cfg, map))
}

pub(super) fn test_connection(ctx: &Ctx, body: &Value) -> Result<Answer> {
    let empty = body.as_object().is_none_or(Map::is_empty);
    let (x3, woo) = if empty {
        (ctx.pipeline.x3(), ctx.pipeline.woo())
    } else {
        // Settings not saved yet: test them as they would be, change nothing.
        let cand = match validate(ctx, body)? {
            Ok(c) => c,
            Err(errors) => return Ok(errors.answer()),
        };
        (
            cand.x3.map_or_else(|| ctx.pipeline.x3(), Arc::new),
            cand.woo.map_or_else(|| ctx.pipeline.woo(), Arc::new),
        )
    };
    // Both at once: each may take up to its client's timeout.
    let (x3_verdict, woo_verdict) = std::thread::scope(|s| {
        let w = s.spawn(|| woo.ping().map_err(|e| e.to_string()));
        let x = x3.ping().map_err(|e| e.to_string());
        (
            x,
            w.join().unwrap_or_else(|_| Err("the test failed".into())),
        )
    });
    let verdict = |r: std::result::Result<String, String>| match r {
        Ok(m) => json!({ "ok": true, "message": m }),
        Err(m) => json!({ "ok": false, "message": m }),
    };
    Ok(Answer::json(
        200,
        &json!({ "x3": verdict(x3_verdict), "woocommerce": verdict(woo_verdict) }),
    ))
}
