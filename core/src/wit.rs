//! The component's exports: a thin adapter from the WIT types to the native API, compiled for
//! wasm32 only. No rule lives here; every `match` on an error is exhaustive so a new case cannot be
//! hidden behind a catch-all.

// The generated canonical-ABI glue exports `extern "C"` functions and reads linear memory: that
// is what `unsafe_code` (denied everywhere else) is for, and it is confined to this module.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    world: "core",
    path: "../wit",
});

use exports::ml::connector::{decisions as wd, inventory as wi, mapping as wm, orders as wo};

use crate::{decide, inventory, literal, mapping, plan, reconcile, stock, wire};

struct Component;

export!(Component);

// ---- mapping ----

fn mapping_error(e: mapping::Error) -> wm::Error {
    match e {
        mapping::Error::InvalidRows(rows) => wm::Error::InvalidRows(
            rows.into_iter()
                .map(|r| wm::RowError {
                    row: r.row,
                    field: r.field,
                    message: r.message,
                })
                .collect(),
        ),
        mapping::Error::Malformed(m) => wm::Error::Malformed(m),
    }
}

fn key_out(k: mapping::MappingKey) -> wm::MappingKey {
    match k {
        mapping::MappingKey::Variation(id) => wm::MappingKey::Variation(id),
        mapping::MappingKey::Product(id) => wm::MappingKey::Product(id),
        mapping::MappingKey::Sku(s) => wm::MappingKey::Sku(s),
        mapping::MappingKey::Shipping(s) => wm::MappingKey::Shipping(s),
        mapping::MappingKey::Fee(s) => wm::MappingKey::Fee(s),
        mapping::MappingKey::Default => wm::MappingKey::Default,
    }
}

fn key_in(k: wm::MappingKey) -> mapping::MappingKey {
    match k {
        wm::MappingKey::Variation(id) => mapping::MappingKey::Variation(id),
        wm::MappingKey::Product(id) => mapping::MappingKey::Product(id),
        wm::MappingKey::Sku(s) => mapping::MappingKey::Sku(s),
        wm::MappingKey::Shipping(s) => mapping::MappingKey::Shipping(s),
        wm::MappingKey::Fee(s) => mapping::MappingKey::Fee(s),
        wm::MappingKey::Default => mapping::MappingKey::Default,
    }
}

fn row_out(r: mapping::MappingRow) -> wm::MappingRow {
    wm::MappingRow {
        key: key_out(r.key),
        item_code: r.item_code,
        sales_unit: r.sales_unit,
        gl_account: r.gl_account,
        dimensions: r
            .dimensions
            .into_iter()
            .map(|d| wm::Dimension {
                dimension_type: d.dimension_type,
                value: d.value,
            })
            .collect(),
        site: r.site,
    }
}

fn row_in(r: wm::MappingRow) -> mapping::MappingRow {
    mapping::MappingRow {
        key: key_in(r.key),
        item_code: r.item_code,
        sales_unit: r.sales_unit,
        gl_account: r.gl_account,
        dimensions: r
            .dimensions
            .into_iter()
            .map(|d| mapping::Dimension {
                dimension_type: d.dimension_type,
                value: d.value,
            })
            .collect(),
        site: r.site,
    }
}

fn entry_in(e: wm::CatalogueEntry) -> mapping::CatalogueEntry {
    mapping::CatalogueEntry {
        product_id: e.product_id,
        variation_id: e.variation_id,
        sku: e.sku,
        name: e.name,
    }
}

fn entry_out(e: mapping::CatalogueEntry) -> wm::CatalogueEntry {
    wm::CatalogueEntry {
        product_id: e.product_id,
        variation_id: e.variation_id,
        sku: e.sku,
        name: e.name,
    }
}

impl wm::Guest for Component {
    fn parse_csv(
        text: String,
        dimension_types: Vec<String>,
    ) -> Result<Vec<wm::MappingRow>, wm::Error> {
        mapping::parse_csv(&text, &dimension_types)
            .map(|rows| rows.into_iter().map(row_out).collect())
            .map_err(mapping_error)
    }

    fn parse_json(
        text: String,
        dimension_types: Vec<String>,
    ) -> Result<Vec<wm::MappingRow>, wm::Error> {
        mapping::parse_json(&text, &dimension_types)
            .map(|rows| rows.into_iter().map(row_out).collect())
            .map_err(mapping_error)
    }

    fn to_csv(rows: Vec<wm::MappingRow>) -> String {
        let rows: Vec<_> = rows.into_iter().map(row_in).collect();
        mapping::to_csv(&rows)
    }

    fn coverage(
        rows: Vec<wm::MappingRow>,
        catalogue: Vec<wm::CatalogueEntry>,
    ) -> wm::CoverageReport {
        let rows: Vec<_> = rows.into_iter().map(row_in).collect();
        let catalogue: Vec<_> = catalogue.into_iter().map(entry_in).collect();
        let c = mapping::coverage(&rows, &catalogue);
        wm::CoverageReport {
            unmapped: c.unmapped.into_iter().map(entry_out).collect(),
            by_default: c.by_default.into_iter().map(entry_out).collect(),
            mapped: c.mapped,
            total: c.total,
        }
    }
}

// ---- orders ----

fn plan_error(e: plan::Error) -> wo::Error {
    match e {
        plan::Error::InvalidJson(m) => wo::Error::InvalidJson(m),
        plan::Error::LegacyPayload => wo::Error::LegacyPayload,
        plan::Error::RestError(m) => wo::Error::RestError(m),
        plan::Error::InvalidOrder(m) => wo::Error::InvalidOrder(m),
        plan::Error::InvalidSettings(m) => wo::Error::InvalidSettings(m),
    }
}

fn settings_out(s: plan::Settings) -> wo::Settings {
    wo::Settings {
        store_id: s.store_id,
        reference_prefix: s.reference_prefix,
        customer_prefix: s.customer_prefix,
        guest_customer: s.guest_customer,
        sales_site: s.sales_site,
        shipment_site: s.shipment_site,
        order_type: s.order_type,
        invoice_type: s.invoice_type,
        customer_category: s.customer_category,
        document_kind: match s.document_kind {
            plan::DocumentKind::Order => wo::DocumentKind::Order,
            plan::DocumentKind::Invoice => wo::DocumentKind::Invoice,
        },
        price_basis: match s.price_basis {
            plan::PriceBasis::Net => wo::PriceBasis::Net,
            plan::PriceBasis::Gross => wo::PriceBasis::Gross,
        },
        default_sales_unit: s.default_sales_unit,
        currency_decimals: s.currency_decimals,
        dimension_types: s.dimension_types,
        field_limits: s.field_limits,
        wire: s.wire,
    }
}

fn settings_in(s: wo::Settings) -> plan::Settings {
    plan::Settings {
        store_id: s.store_id,
        reference_prefix: s.reference_prefix,
        customer_prefix: s.customer_prefix,
        guest_customer: s.guest_customer,
        sales_site: s.sales_site,
        shipment_site: s.shipment_site,
        order_type: s.order_type,
        invoice_type: s.invoice_type,
        customer_category: s.customer_category,
        document_kind: match s.document_kind {
            wo::DocumentKind::Order => plan::DocumentKind::Order,
            wo::DocumentKind::Invoice => plan::DocumentKind::Invoice,
        },
        price_basis: match s.price_basis {
            wo::PriceBasis::Net => plan::PriceBasis::Net,
            wo::PriceBasis::Gross => plan::PriceBasis::Gross,
        },
        default_sales_unit: s.default_sales_unit,
        currency_decimals: s.currency_decimals,
        dimension_types: s.dimension_types,
        field_limits: s.field_limits,
        wire: s.wire,
    }
}

fn lookup_out(l: plan::Lookup) -> wo::Lookup {
    wo::Lookup {
        rest_class: l.rest_class,
        rest_representation: l.rest_representation,
        rest_where: l.rest_where,
        graphql_query: l.graphql_query,
        graphql_variables: l.graphql_variables,
        rest_key_field: l.rest_key_field,
        graphql_key_field: l.graphql_key_field,
        rest_check_field: l.rest_check_field,
        graphql_check_path: l.graphql_check_path,
        check_value: l.check_value,
    }
}

fn operation_out(o: plan::Operation) -> wo::Operation {
    wo::Operation {
        kind: operation_kind_out(o.kind),
        idempotency_key: o.idempotency_key,
        reference: o.reference,
        rest_class: o.rest_class,
        rest_representation: o.rest_representation,
        rest_body: o.rest_body,
        graphql_mutation: o.graphql_mutation,
        graphql_variables: o.graphql_variables,
        lookup: lookup_out(o.lookup),
    }
}

fn hold_out(h: plan::Hold) -> wo::Hold {
    wo::Hold {
        order_id: h.order_id,
        missing: h
            .missing
            .into_iter()
            .map(|m| wo::MissingMapping {
                line_id: m.line_id,
                line_kind: m.line_kind,
                name: m.name,
                tried: m.tried,
            })
            .collect(),
        reasons: h.reasons,
    }
}

impl wo::Guest for Component {
    fn default_settings() -> wo::Settings {
        settings_out(plan::Settings::default())
    }

    fn check_settings(
        settings: wo::Settings,
        mapping: Vec<wm::MappingRow>,
    ) -> Vec<wo::SettingsProblem> {
        let rows: Vec<_> = mapping.into_iter().map(row_in).collect();
        plan::check_settings(&settings_in(settings), &rows)
            .into_iter()
            .map(|p| wo::SettingsProblem {
                field: p.field,
                message: p.message,
            })
            .collect()
    }

    fn customer_key(email: String) -> String {
        crate::customer::customer_key(&email)
    }

    fn wire_names(overrides: Vec<(String, String)>) -> Result<Vec<wo::WireName>, wo::Error> {
        let w =
            wire::Wire::new(&overrides).map_err(|e| wo::Error::InvalidSettings(e.to_string()))?;
        Ok(w.resolved()
            .into_iter()
            .map(|r| wo::WireName {
                key: r.def.key.into(),
                value: r.value,
                default_value: r.def.default.into(),
                source: r.def.source.into(),
                description: r.def.what.into(),
            })
            .collect())
    }

    fn sdata_literal(value: String) -> String {
        literal::sdata_literal(&value)
    }

    fn graphql_literal(value: String) -> String {
        literal::graphql_literal(&value)
    }

    fn reconcile(
        order: Vec<u8>,
        documents: Vec<wo::ReconcileDocument>,
        rules: wo::ReconcileRules,
    ) -> Result<wo::ReconcileVerdict, wo::Error> {
        let amount = |field: &str, s: &str| {
            s.trim()
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| wo::Error::InvalidSettings(format!("{field}: not a decimal: {s:?}")))
        };
        let mut docs = Vec::with_capacity(documents.len());
        for d in documents {
            let mut lines = Vec::with_capacity(d.lines.len());
            for l in d.lines {
                lines.push(reconcile::DocumentLine {
                    quantity: amount("quantity", &l.quantity)?,
                    gross_price: amount("gross-price", &l.gross_price)?,
                    discounts: l
                        .discounts
                        .iter()
                        .map(|x| amount("discounts", x))
                        .collect::<Result<_, _>>()?,
                    item: l.item,
                });
            }
            docs.push(reconcile::Document {
                net_total: d.net_total.map(|x| amount("net-total", &x)).transpose()?,
                gross_total: d
                    .gross_total
                    .map(|x| amount("gross-total", &x))
                    .transpose()?,
                number: d.number,
                lines,
            });
        }
        let rules = reconcile::Rules {
            tolerance: amount("tolerance", &rules.tolerance)?,
            reference: rules.reference,
            to_post: rules.to_post,
            shipping_items: rules.shipping_items.into_iter().collect(),
            decimals: rules.decimals,
        };
        let v = reconcile::compare(&order, &docs, &rules).map_err(plan_error)?;
        Ok(wo::ReconcileVerdict {
            woo_total_excl_tax: v.woo_total_excl_tax,
            woo_tax: v.woo_tax,
            woo_shipping: v.woo_shipping,
            documents: v.documents,
            x3_total_excl_tax: v.x3_total_excl_tax,
            x3_tax: v.x3_tax,
            x3_shipping: v.x3_shipping,
            problems: v
                .problems
                .into_iter()
                .map(|p| match p {
                    reconcile::Problem::Missing => wo::ReconcileProblem::Missing,
                    reconcile::Problem::Duplicated => wo::ReconcileProblem::Duplicated,
                    reconcile::Problem::Total => wo::ReconcileProblem::Total,
                    reconcile::Problem::Tax => wo::ReconcileProblem::Tax,
                    reconcile::Problem::Shipping => wo::ReconcileProblem::Shipping,
                })
                .collect(),
            detail: v.detail,
        })
    }
}

// ---- inventory ----

fn inventory_error(e: inventory::Error) -> wi::Error {
    match e {
        inventory::Error::InvalidStatusMap(m) => wi::Error::InvalidStatusMap(m),
    }
}

fn stock_error(e: stock::Error) -> wi::Error {
    match e {
        stock::Error::InvalidStatusMap(m) => wi::Error::InvalidStatusMap(m),
        stock::Error::InvalidRefund(m) => wi::Error::InvalidRefund(m),
        stock::Error::InvalidOrder(m) => wi::Error::InvalidOrder(m),
        stock::Error::InvalidSettings(m) => wi::Error::InvalidSettings(m),
    }
}

fn intent_kind_in(k: wi::IntentKind) -> inventory::IntentKind {
    match k {
        wi::IntentKind::Post => inventory::IntentKind::Post,
        wi::IntentKind::Allocate => inventory::IntentKind::Allocate,
        wi::IntentKind::Ship => inventory::IntentKind::Ship,
        wi::IntentKind::Deliver => inventory::IntentKind::Deliver,
        wi::IntentKind::Cancel => inventory::IntentKind::Cancel,
        wi::IntentKind::Restock => inventory::IntentKind::Restock,
    }
}

fn stock_settings_in(s: wi::StockSettings) -> stock::StockSettings {
    stock::StockSettings {
        credit_note_type: s.credit_note_type,
        refund_amount_item: s.refund_amount_item,
        cancel: match s.cancel {
            wi::CancelMode::Close => stock::CancelMode::Close,
            wi::CancelMode::Delete => stock::CancelMode::Delete,
            wi::CancelMode::Ignore => stock::CancelMode::Ignore,
        },
        restock: s.restock,
        deliver_charges: s.deliver_charges,
        restock_status: s.restock_status,
        invoice_stock_issue: s.invoice_stock_issue,
    }
}

fn stock_settings_out(s: stock::StockSettings) -> wi::StockSettings {
    wi::StockSettings {
        credit_note_type: s.credit_note_type,
        refund_amount_item: s.refund_amount_item,
        cancel: match s.cancel {
            stock::CancelMode::Close => wi::CancelMode::Close,
            stock::CancelMode::Delete => wi::CancelMode::Delete,
            stock::CancelMode::Ignore => wi::CancelMode::Ignore,
        },
        restock: s.restock,
        deliver_charges: s.deliver_charges,
        restock_status: s.restock_status,
        invoice_stock_issue: s.invoice_stock_issue,
    }
}

fn action_out(a: stock::Action) -> wi::Action {
    wi::Action {
        kind: match a.kind {
            stock::ActionKind::CreateDelivery => wi::ActionKind::CreateDelivery,
            stock::ActionKind::CloseOrder => wi::ActionKind::CloseOrder,
            stock::ActionKind::DeleteOrder => wi::ActionKind::DeleteOrder,
            stock::ActionKind::CreateCreditNote => wi::ActionKind::CreateCreditNote,
            stock::ActionKind::CreateReceipt => wi::ActionKind::CreateReceipt,
            stock::ActionKind::CreateIssue => wi::ActionKind::CreateIssue,
        },
        idempotency_key: a.idempotency_key,
        reference: a.reference,
        rest_class: a.rest_class,
        rest_representation: a.rest_representation,
        rest_key: a.rest_key,
        rest_body: a.rest_body,
        graphql_mutation: a.graphql_mutation,
        graphql_variables: a.graphql_variables,
        lookup: a.lookup.map(lookup_out),
        expect: a
            .expect
            .into_iter()
            .map(|e| wi::Expectation {
                rest_field: e.rest_field,
                graphql_path: e.graphql_path,
                value: e.value,
            })
            .collect(),
        warnings: a.warnings,
    }
}

fn transition_out(t: inventory::Transition) -> wi::StockTransition {
    wi::StockTransition {
        intents: t.intents.into_iter().map(intent_out).collect(),
        attention: t.attention,
    }
}

fn rows_in(mapping: Vec<wm::MappingRow>) -> Vec<mapping::MappingRow> {
    mapping.into_iter().map(row_in).collect()
}

fn stage_in(s: wi::Stage) -> inventory::Stage {
    match s {
        wi::Stage::None => inventory::Stage::None,
        wi::Stage::Posted => inventory::Stage::Posted,
        wi::Stage::Shipped => inventory::Stage::Shipped,
        wi::Stage::Delivered => inventory::Stage::Delivered,
        wi::Stage::Cancelled => inventory::Stage::Cancelled,
    }
}

fn stage_out(s: inventory::Stage) -> wi::Stage {
    match s {
        inventory::Stage::None => wi::Stage::None,
        inventory::Stage::Posted => wi::Stage::Posted,
        inventory::Stage::Shipped => wi::Stage::Shipped,
        inventory::Stage::Delivered => wi::Stage::Delivered,
        inventory::Stage::Cancelled => wi::Stage::Cancelled,
    }
}

fn rules_in(rules: Vec<wi::StatusRule>) -> Vec<inventory::StatusRule> {
    rules
        .into_iter()
        .map(|r| inventory::StatusRule {
            status: r.status,
            stage: stage_in(r.stage),
        })
        .collect()
}

fn intent_out(i: inventory::StockIntent) -> wi::StockIntent {
    wi::StockIntent {
        kind: match i.kind {
            inventory::IntentKind::Post => wi::IntentKind::Post,
            inventory::IntentKind::Allocate => wi::IntentKind::Allocate,
            inventory::IntentKind::Ship => wi::IntentKind::Ship,
            inventory::IntentKind::Deliver => wi::IntentKind::Deliver,
            inventory::IntentKind::Cancel => wi::IntentKind::Cancel,
            inventory::IntentKind::Restock => wi::IntentKind::Restock,
        },
        idempotency_key: i.idempotency_key,
        line_id: i.line_id,
        quantity: i.quantity,
    }
}

impl wi::Guest for Component {
    fn default_status_map() -> Vec<wi::StatusRule> {
        inventory::default_status_map()
            .into_iter()
            .map(|r| wi::StatusRule {
                status: r.status,
                stage: stage_out(r.stage),
            })
            .collect()
    }

    fn validate_status_map(rules: Vec<wi::StatusRule>) -> Result<(), wi::Error> {
        inventory::validate_status_map(&rules_in(rules)).map_err(inventory_error)
    }

    fn transition(
        store_id: String,
        order_id: u64,
        previous: Option<String>,
        current: String,
        rules: Vec<wi::StatusRule>,
        allocate_on_post: bool,
    ) -> Result<wi::StockTransition, wi::Error> {
        inventory::transition(
            &store_id,
            order_id,
            previous.as_deref(),
            &current,
            &rules_in(rules),
            allocate_on_post,
        )
        .map(|t| wi::StockTransition {
            intents: t.intents.into_iter().map(intent_out).collect(),
            attention: t.attention,
        })
        .map_err(inventory_error)
    }

    fn default_stock_settings() -> wi::StockSettings {
        stock_settings_out(stock::StockSettings::default())
    }

    fn due_intents(
        store_id: String,
        order_id: u64,
        current: String,
        rules: Vec<wi::StatusRule>,
        done: Vec<wi::IntentKind>,
    ) -> Result<wi::StockTransition, wi::Error> {
        let done: Vec<inventory::IntentKind> = done.into_iter().map(intent_kind_in).collect();
        stock::due_intents(&store_id, order_id, &current, &rules_in(rules), &done)
            .map(transition_out)
            .map_err(stock_error)
    }
}

fn posted_state_out(s: stock::PostedState) -> wi::PostedState {
    match s {
        stock::PostedState::Posted => wi::PostedState::Posted,
        stock::PostedState::Shipped => wi::PostedState::Shipped,
        stock::PostedState::Delivered => wi::PostedState::Delivered,
        stock::PostedState::Cancelled => wi::PostedState::Cancelled,
        stock::PostedState::Refunded => wi::PostedState::Refunded,
    }
}

// ---- decisions ----

fn operation_kind_out(k: plan::OperationKind) -> wo::OperationKind {
    match k {
        plan::OperationKind::EnsureCustomer => wo::OperationKind::EnsureCustomer,
        plan::OperationKind::CreateSalesOrder => wo::OperationKind::CreateSalesOrder,
        plan::OperationKind::CreateSalesInvoice => wo::OperationKind::CreateSalesInvoice,
    }
}

fn failure_in(f: wd::Failure) -> decide::Failure {
    decide::Failure {
        during: match f.during {
            wd::Phase::Lookup => decide::Phase::Lookup,
            wd::Phase::Create => decide::Phase::Create,
        },
        kind: match f.kind {
            wd::FailureKind::Rejected => decide::FailureKind::Rejected,
            wd::FailureKind::Refused => decide::FailureKind::Refused,
            wd::FailureKind::Config => decide::FailureKind::Config,
            wd::FailureKind::Misconfigured => decide::FailureKind::Misconfigured,
            wd::FailureKind::Transient => decide::FailureKind::Transient,
            wd::FailureKind::Unknown => decide::FailureKind::Unknown,
            wd::FailureKind::Auth => decide::FailureKind::Auth,
        },
        message: f.message,
    }
}

fn outcome_in(o: wd::RequestOutcome) -> decide::RequestOutcome {
    match o {
        wd::RequestOutcome::Recorded(k) => decide::RequestOutcome::Recorded(k),
        wd::RequestOutcome::Cached(k) => decide::RequestOutcome::Cached(k),
        wd::RequestOutcome::Found(f) => decide::RequestOutcome::Found {
            records: f
                .records
                .into_iter()
                .map(|r| decide::FoundRecord {
                    key: r.key,
                    check: r.check,
                })
                .collect(),
            tried_before: f.tried_before,
        },
        wd::RequestOutcome::Created(k) => decide::RequestOutcome::Created(k),
        wd::RequestOutcome::Failed(f) => decide::RequestOutcome::Failed(failure_in(f)),
        wd::RequestOutcome::Refunds(r) => decide::RequestOutcome::Refunds(r),
    }
}

fn facts_in(f: wd::Facts) -> decide::Facts {
    decide::Facts {
        order_id: f.order_id,
        status: f.status,
        trashed: f.trashed,
        posted: f.posted.map(|p| decide::PostedAs {
            document: p.document,
            customer_code: p.customer_code,
        }),
        ledger: f
            .ledger
            .into_iter()
            .map(|e| decide::LedgerEntry {
                idempotency_key: e.idempotency_key,
                kind: e.kind,
                done: e.done,
                x3_key: e.x3_key,
            })
            .collect(),
        today: f.today,
        refunds_handled: f.refunds_handled,
        attention: f.attention,
        outcomes: f
            .outcomes
            .into_iter()
            .map(|r| decide::Reported {
                idempotency_key: r.idempotency_key,
                outcome: outcome_in(r.outcome),
            })
            .collect(),
    }
}

fn request_out(r: decide::Request) -> wd::Request {
    match r {
        decide::Request::Document(r) => wd::Request::Document(wd::DocumentRequest {
            operation: operation_out(r.operation),
            lookup_only: r.lookup_only,
            ledger_first: r.ledger_first,
            cache_key: r.cache_key,
            expected_key: r.expected_key,
        }),
        decide::Request::Action(a) => wd::Request::Action(wd::ActionRequest {
            kind: a.kind,
            action: action_out(a.action),
        }),
        decide::Request::ReadRefunds(key) => wd::Request::ReadRefunds(key),
    }
}

fn verdict_out(v: decide::Verdict) -> wd::Verdict {
    match v {
        decide::Verdict::Run(r) => wd::Verdict::Run(r.into_iter().map(request_out).collect()),
        decide::Verdict::Waiting => wd::Verdict::Waiting,
        decide::Verdict::Trashed => wd::Verdict::Trashed,
        decide::Verdict::Held(h) => wd::Verdict::Held(hold_out(h)),
        decide::Verdict::Attention(m) => wd::Verdict::Attention(m),
        decide::Verdict::Retry(m) => wd::Verdict::Retry(m),
        decide::Verdict::Posted(p) => wd::Verdict::Posted(wd::Posted {
            document: p.document,
            customer_code: p.customer_code,
            customer_key: p.customer_key,
            woo_customer_id: p.woo_customer_id,
            now: p.now,
            end: match p.end {
                decide::AfterPost::Done(s) => wd::AfterPost::Done(posted_state_out(s)),
                decide::AfterPost::Attention(m) => wd::AfterPost::Attention(m),
                decide::AfterPost::Waits(m) => wd::AfterPost::Waits(m),
                decide::AfterPost::Retry(m) => wd::AfterPost::Retry(m),
            },
        }),
    }
}

fn record_out(r: decide::Record) -> wd::Record {
    match r {
        decide::Record::Note { event, detail } => wd::Record::Note((event, detail)),
        decide::Record::Adopted {
            idempotency_key,
            kind,
            reference,
            document,
        } => wd::Record::Adopted(wd::Adopted {
            idempotency_key,
            kind: operation_kind_out(kind),
            reference,
            document,
        }),
        decide::Record::LedgerDone {
            idempotency_key,
            x3_key,
        } => wd::Record::LedgerDone((idempotency_key, x3_key)),
        decide::Record::LedgerFailed {
            idempotency_key,
            error,
        } => wd::Record::LedgerFailed((idempotency_key, error)),
        decide::Record::CustomerMatch { customer_key, code } => {
            wd::Record::CustomerMatch((customer_key, code))
        }
        decide::Record::Recorded {
            idempotency_key,
            kind,
            x3_key,
        } => wd::Record::Recorded(wd::RecordedStep {
            idempotency_key,
            kind,
            x3_key,
        }),
        decide::Record::RefundsHandled(ids) => wd::Record::RefundsHandled(ids),
    }
}

impl wd::Guest for Component {
    fn decide(
        order: Vec<u8>,
        mapping: Vec<wm::MappingRow>,
        settings: wo::Settings,
        status_map: Vec<wi::StatusRule>,
        stock: Option<wi::StockSettings>,
        facts: wd::Facts,
    ) -> Result<wd::Decision, wo::Error> {
        let stock = stock.map(stock_settings_in);
        let d = decide::decide(
            &order,
            &rows_in(mapping),
            &settings_in(settings),
            &rules_in(status_map),
            stock.as_ref(),
            &facts_in(facts),
        )
        .map_err(plan_error)?;
        Ok(wd::Decision {
            verdict: verdict_out(d.verdict),
            records: d.records.into_iter().map(record_out).collect(),
        })
    }
}
