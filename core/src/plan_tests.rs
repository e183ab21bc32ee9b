//! Tests of the plan: real WooCommerce bodies (docs samples and a WooCommerce 10 capture) and
//! variations of them, asserting the X3 documents field by field.

use super::*;
use crate::mapping::parse_csv;
use crate::testdata;
use serde_json::Value;

const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,13,TSHIRT,UN,706100,CCT=WEB,
variation,17,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,FR012
product,15,HOODIE,UN,706100,CCT=WEB,
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
fee,Gift wrap,GIFTWRAP,,,,
product,93,SINGLE1,,,,
sku,Bar3,BAR3,,,,
";

fn settings() -> Settings {
    Settings {
        store_id: "shop1".into(),
        sales_site: "FR011".into(),
        order_type: "WEB".into(),
        invoice_type: "FAC".into(),
        customer_category: "WEBCU".into(),
        dimension_types: vec!["CCT".into(), "DEP".into()],
        ..Settings::default()
    }
}

fn rows() -> Vec<MappingRow> {
    parse_csv(MAPPING, &settings().dimension_types).unwrap()
}

fn captured() -> Vec<u8> {
    testdata::capture("delivery-order.created").1
}

fn ready(body: &[u8], s: &Settings, known: &Known) -> Plan {
    match plan(body, &rows(), s, known).unwrap() {
        Outcome::Ready(p) => p,
        Outcome::Hold(h) => panic!("unexpected hold: {h:?}"),
    }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn with(body: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    edit(&mut v);
    v.to_string().into_bytes()
}

#[test]
fn captured_order_becomes_customer_then_sales_order() {
    let p = ready(&captured(), &settings(), &Known::default());
    assert_eq!(p.order_id, 39);
    assert_eq!(p.customer_key, "o'brien+o2@example.com");
    assert_eq!(
        p.customer_code,
        crate::customer::customer_code("W", "o'brien+o2@example.com")
    );
    assert_eq!(p.operations.len(), 2);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    let c = &p.operations[0];
    assert_eq!(c.kind, OperationKind::EnsureCustomer);
    assert_eq!(c.reference, p.customer_code);
    assert!(c.idempotency_key.starts_with("shop1/customer/"));
    let body = json(&c.rest_body);
    assert_eq!(body["BCGCOD"], "WEBCU");
    assert_eq!(body["BPCNUM"], p.customer_code.as_str());
    assert_eq!(body["BPRNAM"], "Zoë Ørsted 山田");
    assert_eq!(body["BPRSHO"], "Zoë Ørsted");
    assert_eq!(body["CUR"], "EUR");
    // Standard BPCUSTOMER has no header e-mail: it is on the address (x3-api.md §5.1).
    assert!(body.get("WEB").is_none());
    assert_eq!(body["BPADDRESS"][0]["WEB"], "o'brien+o2@example.com");
    // Shipping equals billing: one address, used for everything.
    assert_eq!(body["BPDADD"], "BIL");
    let addr = &body["BPADDRESS"][0];
    assert_eq!(
        addr["BPAADDLIG"],
        serde_json::json!(["12 Rue de l'Église", "Bâtiment B", ""])
    );
    assert_eq!(addr["CTY"], "Saint-Étienne");
    assert_eq!(addr["CRY"], "FR");
    assert_eq!(addr["BPAADDFLG"], 2);
    assert_eq!(body["BPADDRESS"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.lookup.rest_where,
        "upper(BPADDRESS.WEB) eq 'O''BRIEN+O2@EXAMPLE.COM'"
    );
    // GraphQL has no upper(): a regex of both cases of every letter, on the addresses.
    assert_eq!(
        json(&c.lookup.graphql_variables)["filter"],
        r"{addresses:{_atLeast:1,email:{_regex:'^[oO]\'[bB][rR][iI][eE][nN]\\+[oO]2@[eE][xX][aA][mM][pP][lL][eE]\\.[cC][oO][mM]$'}}}"
    );

    let o = &p.operations[1];
    assert_eq!(o.kind, OperationKind::CreateSalesOrder);
    assert_eq!(o.idempotency_key, "shop1/order/39/document");
    assert_eq!(o.reference, "WC-39");
    assert_eq!(
        (o.rest_class.as_str(), o.rest_representation.as_str()),
        ("SORDER", "SORDER")
    );
    let body = json(&o.rest_body);
    for (field, want) in [
        ("SALFCY", "FR011"),
        ("SOHTYP", "WEB"),
        ("ORDDAT", "2026-11-27"),
        ("STOFCY", "FR011"),
        ("CUR", "EUR"),
        ("CUSORDREF", "WC-39"),
        ("BPDCTY", "Saint-Étienne"),
        ("BPDPOSCOD", "42000"),
        ("BPICRY", "FR"),
    ] {
        assert_eq!(body[field], want, "{field}");
    }
    assert_eq!(body["BPCORD"], p.customer_code.as_str());
    // BPDNAM is one 35-character string in X3, not an array.
    assert_eq!(body["BPDNAM"], "Zoë Ørsted 山田");
    let lines = body["SOHSOP"].as_array().unwrap();
    assert_eq!(lines.len(), 4, "3 products and the shipping line");
    let summary: Vec<(String, i64, f64)> = lines
        .iter()
        .map(|l| {
            (
                l["ITMREF"].as_str().unwrap().to_string(),
                l["QTY"].as_i64().unwrap(),
                l["GROPRI"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("TSHIRT".into(), 1, 19.99),
            ("HOODIE-RED".into(), 2, 47.0),
            ("CAP01".into(), 1, 15.0),
            ("CARRIAGE".into(), 1, 7.5),
        ]
    );
    // The variation row's site, account and both dimensions; the SKU row has none of them.
    assert_eq!(lines[1]["STOFCY"], "FR012");
    assert_eq!(lines[1]["ACC"], "706100");
    assert_eq!(
        (lines[1]["CCE1"].as_str(), lines[1]["CCE2"].as_str()),
        (Some("WEB"), Some("APPAREL"))
    );
    assert_eq!(lines[1]["SAU"], "UN");
    assert!(
        lines[2].get("ACC").is_none()
            && lines[2].get("CCE1").is_none()
            && lines[2].get("SAU").is_none()
    );
    assert_eq!(lines[3]["ACC"], "708500");
    assert_eq!(lines[1]["ITMDES"], "RealWoo Hoodie - Red");
    assert_eq!(o.lookup.rest_where, "CUSORDREF eq 'WC-39'");
    assert_eq!(o.lookup.rest_key_field, "SOHNUM");
    // A document found under our reference is ours only with our customer.
    assert_eq!(o.lookup.rest_check_field, "BPCORD");
    assert_eq!(o.lookup.graphql_check_path, "soldToCustomer.code");
    assert_eq!(o.lookup.check_value, p.customer_code);
}

#[test]
fn graphql_rendering_carries_the_same_values_under_property_names() {
    let p = ready(&captured(), &settings(), &Known::default());
    let c = json(&p.operations[0].graphql_variables);
    assert!(
        p.operations[0]
            .graphql_mutation
            .contains("x3MasterData { customer { create(data: $data)")
    );
    assert_eq!(c["data"]["code"], p.customer_code.as_str());
    assert_eq!(c["data"]["customerCategory"], "WEBCU");
    assert_eq!(c["data"]["companyName1"], "Zoë Ørsted 山田");
    assert_eq!(
        c["data"]["addresses"][0]["addressLines"][0],
        "12 Rue de l'Église"
    );
    assert_eq!(c["data"]["addresses"][0]["email"], "o'brien+o2@example.com");
    assert!(c["data"].get("email").is_none() && c["data"].get("telephone").is_none());
    assert_eq!(c["data"]["addresses"][0]["isDefault"], true);
    let o = json(&p.operations[1].graphql_variables)["data"].clone();
    assert!(
        p.operations[1]
            .graphql_mutation
            .contains("x3Sales { salesOrder { create(data: $data)")
    );
    assert_eq!(o["salesSite"], "FR011");
    assert_eq!(o["salesOrderType"], "WEB");
    assert_eq!(o["soldToCustomer"], p.customer_code.as_str());
    assert_eq!(o["customerOrderReference"], "WC-39");
    assert_eq!(o["orderDate"], "2026-11-27");
    assert_eq!(o["shipToAddress"]["city"], "Saint-Étienne");
    let l = &o["lines"][1];
    assert_eq!(l["product"], "HOODIE-RED");
    assert_eq!(l["quantityInSalesUnitOrdered"], 2);
    assert_eq!(l["grossPrice"], "47");
    assert_eq!(l["dimension2"], "APPAREL");
    assert_eq!(l["accountingCode"], "706100");
    assert_eq!(
        json(&p.operations[1].lookup.graphql_variables)["filter"],
        "{customerOrderReference:'WC-39'}"
    );
}

#[test]
fn known_customer_skips_the_customer_operation() {
    let known = Known {
        customer_code: Some("C00042".into()),
    };
    let p = ready(&captured(), &settings(), &known);
    assert_eq!(p.operations.len(), 1);
    assert_eq!(json(&p.operations[0].rest_body)["BPCORD"], "C00042");
}

#[test]
fn plans_are_deterministic_for_retries() {
    let a = ready(&captured(), &settings(), &Known::default());
    let b = ready(&captured(), &settings(), &Known::default());
    assert_eq!(a, b);
    // A later revision of the same order keeps its keys and reference.
    let later = with(&captured(), |v| {
        v["status"] = "completed".into();
        v["date_modified_gmt"] = "2026-11-28T10:00:00".into();
    });
    let c = ready(&later, &settings(), &Known::default());
    let keys = |p: &Plan| {
        p.operations
            .iter()
            .map(|o| o.idempotency_key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&a), keys(&c));
}

#[test]
fn docs_sample_order_with_sku_less_line_maps_by_product() {
    let p = ready(
        &testdata::sample("order.wc-v3.json"),
        &settings(),
        &Known::default(),
    );
    let body = json(&p.operations[1].rest_body);
    let items: Vec<&str> = body["SOHSOP"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ITMREF"].as_str().unwrap())
        .collect();
    assert_eq!(items, vec!["SINGLE1", "BAR3", "CARRIAGE"]);
    assert_eq!(body["SOHSOP"][0]["GROPRI"], 3);
    assert_eq!(body["ORDDAT"], "2017-03-22");
}

#[test]
fn unmapped_lines_hold_the_order_naming_every_missing_key() {
    let body = with(&captured(), |v| {
        v["line_items"][0]["product_id"] = 99.into();
        v["line_items"][0]["sku"] = "NEW-1".into();
        v["line_items"][1]["variation_id"] = 18.into();
        v["line_items"][1]["product_id"] = 16.into();
        v["line_items"][1]["sku"] = "RW-HOODIE-BLUE".into();
        v["fee_lines"] =
            serde_json::json!([{"id": 80, "name": "Express handling", "total": "3.00"}]);
        v["shipping_lines"][0]["method_id"] = "local_pickup".into();
        v["shipping_lines"][0]["total"] = "0.00".into();
    });
    let Outcome::Hold(h) = plan(&body, &rows(), &settings(), &Known::default()).unwrap() else {
        panic!("expected a hold")
    };
    assert_eq!(h.order_id, 39);
    assert!(h.reasons.is_empty());
    let got: Vec<(u64, &str, Vec<String>)> = h
        .missing
        .iter()
        .map(|m| (m.line_id, m.line_kind.as_str(), m.tried.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (69, "line", vec!["product:99".into(), "sku:NEW-1".into()]),
            (
                70,
                "line",
                vec![
                    "variation:18".into(),
                    "product:16".into(),
                    "sku:RW-HOODIE-BLUE".into()
                ]
            ),
            (80, "fee", vec!["fee:Express handling".into()]),
        ],
        "a zero-total unmapped shipping line is left out, not held"
    );
    // With a default row, product lines fall back to it; the fee still holds.
    let mut with_default = rows();
    with_default.extend(parse_csv("key_type,key,item_code\ndefault,,MISC\n", &[]).unwrap());
    let Outcome::Hold(h) = plan(&body, &with_default, &settings(), &Known::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(h.missing.len(), 1);
    assert_eq!(h.missing[0].line_kind, "fee");
}

#[test]
fn zero_total_unmapped_shipping_is_left_out_with_a_warning() {
    let body = with(&captured(), |v| {
        v["shipping_lines"][0]["method_id"] = "free_shipping".into();
        v["shipping_lines"][0]["total"] = "0.00".into();
    });
    let p = ready(&body, &settings(), &Known::default());
    assert_eq!(
        json(&p.operations[1].rest_body)["SOHSOP"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(
        p.warnings[0].contains("zero total: left out"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn missing_email_holds_unless_a_guest_customer_is_set() {
    let body = with(&captured(), |v| v["billing"]["email"] = Value::Null);
    let Outcome::Hold(h) = plan(&body, &rows(), &settings(), &Known::default()).unwrap() else {
        panic!()
    };
    assert!(h.missing.is_empty());
    assert!(h.reasons[0].contains("no billing e-mail"));
    let s = Settings {
        guest_customer: Some("WEBGUEST".into()),
        ..settings()
    };
    let p = ready(&body, &s, &Known::default());
    assert_eq!(p.operations.len(), 1, "no customer to create");
    assert_eq!(json(&p.operations[0].rest_body)["BPCORD"], "WEBGUEST");
    assert_eq!(p.customer_key, "");
}

#[test]
fn coupons_fees_and_zero_priced_lines() {
    // 10% coupon on the t-shirt, a gift-wrap fee, a free line.
    let body = with(&captured(), |v| {
        v["line_items"][0]["total"] = "17.99".into();
        v["line_items"][2]["subtotal"] = "0.00".into();
        v["line_items"][2]["total"] = "0.00".into();
        v["coupon_lines"] = serde_json::json!([{"id": 90, "code": "TENOFF", "discount": "2.00", "discount_tax": "0.40"}]);
        v["fee_lines"] = serde_json::json!([{"id": 91, "name": "Gift wrap", "total": "2.50", "total_tax": "0.50"}]);
    });
    let net = ready(&body, &settings(), &Known::default());
    let lines = json(&net.operations[1].rest_body)["SOHSOP"].clone();
    assert_eq!(lines[0]["GROPRI"], 17.99);
    assert!(lines[0].get("DISCRGVAL1").is_none());
    assert_eq!(lines[2]["GROPRI"], 0, "a free line is still sent");
    assert_eq!(lines[3]["ITMREF"], "GIFTWRAP");
    assert_eq!(lines[3]["GROPRI"], 2.5);
    let gross = ready(
        &body,
        &Settings {
            price_basis: PriceBasis::Gross,
            ..settings()
        },
        &Known::default(),
    );
    let lines = json(&gross.operations[1].rest_body)["SOHSOP"].clone();
    assert_eq!(
        (lines[0]["GROPRI"].as_f64(), lines[0]["DISCRGVAL1"].as_f64()),
        (Some(19.99), Some(2.0))
    );
    assert!(gross.warnings.is_empty(), "{:?}", gross.warnings);
}

#[test]
fn prices_that_x3_cannot_reproduce_are_warned_about() {
    // 10.00 for 3: 3.3333 each, which X3 multiplies back to 10.00 (rounded to cents): no warning.
    let body = with(&captured(), |v| {
        v["line_items"][2]["quantity"] = 3.into();
        v["line_items"][2]["total"] = "10.00".into();
    });
    let p = ready(&body, &settings(), &Known::default());
    assert_eq!(
        json(&p.operations[1].rest_body)["SOHSOP"][2]["GROPRI"],
        3.3333
    );
    assert!(p.warnings.is_empty());
    // 1000.00 for 300: 3.3333 × 300 = 999.99 in X3.
    let body = with(&captured(), |v| {
        v["line_items"][2]["quantity"] = 300.into();
        v["line_items"][2]["total"] = "1000.00".into();
    });
    let p = ready(&body, &settings(), &Known::default());
    assert_eq!(p.warnings.len(), 1);
    assert!(
        p.warnings[0].contains("999.99") && p.warnings[0].contains("1000.00"),
        "{}",
        p.warnings[0]
    );
}

#[test]
fn invoice_kind_renders_a_sales_invoice_with_the_same_key() {
    let s = Settings {
        document_kind: DocumentKind::Invoice,
        ..settings()
    };
    let p = ready(&captured(), &s, &Known::default());
    let inv = &p.operations[1];
    assert_eq!(inv.kind, OperationKind::CreateSalesInvoice);
    assert_eq!(inv.idempotency_key, "shop1/order/39/document");
    assert_eq!(inv.rest_class, "SINVOICE");
    let body = json(&inv.rest_body);
    assert_eq!(body["SIVTYP"], "FAC");
    assert_eq!(body["BPCINV"], p.customer_code.as_str());
    assert_eq!(body["INVDAT"], "2026-11-27");
    assert_eq!(body["SINVOICED"].as_array().unwrap().len(), 4);
    assert!(body.get("SOHTYP").is_none() && body.get("STOFCY").is_none());
    // An invoice carries the delivery address as well as the invoice address.
    assert_eq!(body["BPDNAM"], "Zoë Ørsted 山田");
    assert_eq!(body["BPDCTY"], "Saint-Étienne");
    assert_eq!(body["BPICTY"], "Saint-Étienne");
    assert!(inv.graphql_mutation.contains("salesInvoice"));
    let vars = json(&inv.graphql_variables);
    assert_eq!(vars["data"]["lines"][0]["quantityInSalesUnitOrdered"], 1);
    assert_eq!(vars["data"]["shipToAddress"]["city"], "Saint-Étienne");
    assert_eq!(inv.lookup.rest_check_field, "BPCINV");
    assert_eq!(inv.lookup.rest_key_field, "NUM");
}

#[test]
fn long_values_are_shortened_and_reported_never_silently() {
    let body = with(&captured(), |v| {
        v["billing"]["company"] = "Établissements Ørsted et Fils, Négociants en Vins Fins".into();
        v["shipping"]["address_1"] = "x".repeat(60).into();
        v["line_items"][0]["name"] =
            "A t-shirt with a name far longer than thirty characters".into();
    });
    let p = ready(&body, &settings(), &Known::default());
    let fields: Vec<&str> = p.shortened.iter().map(|s| s.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "customer.BPRNAM",
            "customer.SHP.BPAADDLIG[0]",
            // The shipping address has no company: only the invoice name block is cut.
            "order.BPDADDLIG[0]",
            // The company goes on the third address line (BPINAM is the person's name).
            "order.BPIADDLIG[2]",
            "order.SOHSOP[0].ITMDES",
        ]
    );
    let bprnam = &p.shortened[0];
    assert_eq!(bprnam.sent.chars().count(), 35);
    assert_eq!(
        json(&p.operations[0].rest_body)["BPRNAM"],
        bprnam.sent.as_str()
    );
    // The shipping address now differs from billing: it becomes a second customer address.
    let cust = json(&p.operations[0].rest_body);
    assert_eq!(cust["BPDADD"], "SHP");
    assert_eq!(cust["BPADDRESS"][1]["BPAADD"], "SHP");
    // Limits can be overridden per field.
    let s = Settings {
        field_limits: vec![("ITMDES".into(), 60)],
        ..settings()
    };
    let p = ready(&body, &s, &Known::default());
    assert!(p.shortened.iter().all(|f| !f.field.ends_with("ITMDES")));
}

#[test]
fn apostrophes_and_injection_attempts_stay_inside_their_literals() {
    let body = with(&captured(), |v| {
        v["billing"]["email"] = "x' or upper(WEB) ne '@example.com".into()
    });
    let p = ready(&body, &settings(), &Known::default());
    assert_eq!(
        p.operations[0].lookup.rest_where,
        "upper(BPADDRESS.WEB) eq 'X'' OR UPPER(WEB) NE ''@EXAMPLE.COM'"
    );
    let filter = json(&p.operations[0].lookup.graphql_variables)["filter"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(filter.starts_with(r"{addresses:{_atLeast:1,email:{_regex:'^[xX]\' [oO][rR] "));
    // The two quotes that delimit the literal are the only unescaped ones.
    let bare = filter.replace(r"\\", "").replace(r"\'", "");
    assert_eq!(bare.matches('\'').count(), 2, "{filter}");
    let s = Settings {
        reference_prefix: "S/A".into(),
        ..settings()
    };
    let p = ready(&captured(), &s, &Known::default());
    assert_eq!(p.operations[1].lookup.rest_where, "CUSORDREF eq 'S/A39'");
}

#[test]
fn a_reference_prefix_ending_in_a_digit_cannot_be_unique_and_is_refused() {
    // "S/1" + order 39 and "S/13" + order 9 would both be S/139.
    for prefix in ["S/1", "WC2", "9"] {
        let s = Settings {
            reference_prefix: prefix.into(),
            ..settings()
        };
        assert!(
            matches!(plan(&captured(), &rows(), &s, &Known::default()),
                Err(Error::InvalidSettings(m)) if m.contains("reference-prefix") && m.contains("digit")),
            "{prefix}"
        );
    }
}

#[test]
fn wire_overrides_rename_what_is_sent_and_bad_ones_are_refused() {
    let s = Settings {
        wire: vec![
            ("rest.order.class".into(), "YSORDER".into()),
            ("rest.order.representation".into(), "YSOH".into()),
            ("rest.order.reference".into(), "YCUSREF".into()),
            ("rest.customer.email-path".into(), "YWEB".into()),
            ("graphql.customer.email-path".into(), "emailAddress".into()),
            ("graphql.order.node".into(), "x3Sales.webOrder".into()),
        ],
        ..settings()
    };
    let p = ready(&captured(), &s, &Known::default());
    let (c, o) = (&p.operations[0], &p.operations[1]);
    // A header e-mail field: on the header, not on the addresses, and looked up there.
    let body = json(&c.rest_body);
    assert_eq!(body["YWEB"], "o'brien+o2@example.com");
    assert!(body["BPADDRESS"][0].get("WEB").is_none());
    assert_eq!(
        c.lookup.rest_where,
        "upper(YWEB) eq 'O''BRIEN+O2@EXAMPLE.COM'"
    );
    let vars = json(&c.graphql_variables);
    assert_eq!(vars["data"]["emailAddress"], "o'brien+o2@example.com");
    assert!(vars["data"]["addresses"][0].get("email").is_none());
    assert!(
        json(&c.lookup.graphql_variables)["filter"]
            .as_str()
            .unwrap()
            .starts_with("{emailAddress:{_regex:")
    );
    assert_eq!(
        (o.rest_class.as_str(), o.rest_representation.as_str()),
        ("YSORDER", "YSOH")
    );
    assert_eq!(json(&o.rest_body)["YCUSREF"], "WC-39");
    assert!(json(&o.rest_body).get("CUSORDREF").is_none());
    assert_eq!(o.lookup.rest_where, "YCUSREF eq 'WC-39'");
    assert!(
        o.graphql_mutation
            .contains("x3Sales { webOrder { create(data: $data) { id } } }")
    );
    assert!(o.lookup.graphql_query.contains("webOrder { query("));

    for (key, value) in [
        ("rest.order.klass", "X"),
        ("rest.order.class", "Y SORDER"),
        ("rest.customer.email-path", "ADDRESSES.WEB"),
    ] {
        let s = Settings {
            wire: vec![(key.into(), value.into())],
            ..settings()
        };
        assert!(
            matches!(plan(&captured(), &rows(), &s, &Known::default()),
                Err(Error::InvalidSettings(m)) if m.contains(key)),
            "{key} = {value}"
        );
    }
}

#[test]
fn a_hundred_and_fifty_line_order_keeps_every_line_in_order() {
    let body = with(&captured(), |v| {
        let template = v["line_items"][0].clone();
        let lines: Vec<Value> = (0..150)
            .map(|i| {
                let mut l = template.clone();
                l["id"] = (1000 + i).into();
                l["quantity"] = (i % 7 + 1).into();
                l["total"] = format!("{}.00", (i % 7 + 1) * 5).into();
                l
            })
            .collect();
        v["line_items"] = Value::Array(lines);
    });
    let p = ready(&body, &settings(), &Known::default());
    let lines = json(&p.operations[1].rest_body)["SOHSOP"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(lines.len(), 151);
    assert!(
        lines[..150]
            .iter()
            .enumerate()
            .all(|(i, l)| l["QTY"] == (i as i64 % 7 + 1) && l["GROPRI"] == 5)
    );
}

#[test]
fn each_error_variant() {
    let s = settings();
    let cases: Vec<(Vec<u8>, Settings, &str)> = vec![
        (b"not json".to_vec(), s.clone(), "InvalidJson"),
        (
            testdata::sample("order.legacy-v3.json"),
            s.clone(),
            "LegacyPayload",
        ),
        (
            br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry","data":{"status":401}}"#
                .to_vec(),
            s.clone(),
            "RestError",
        ),
        (
            with(&captured(), |v| v["line_items"] = serde_json::json!([])),
            s.clone(),
            "InvalidOrder",
        ),
        (
            with(&captured(), |v| v["currency"] = "euro".into()),
            s.clone(),
            "InvalidOrder",
        ),
        (
            with(&captured(), |v| {
                v["date_created"] = "yesterday".into();
                v["date_created_gmt"] = Value::Null;
            }),
            s.clone(),
            "InvalidOrder",
        ),
        (
            with(&captured(), |v| v["id"] = 123_456_789_012_345_678u64.into()),
            s.clone(),
            "InvalidOrder",
        ),
        (
            captured(),
            Settings {
                reference_prefix: "TOOLONGPREFIX".into(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                reference_prefix: "wc'".into(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                sales_site: String::new(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                order_type: String::new(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                customer_category: String::new(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                dimension_types: vec!["CCT".into()],
                ..s.clone()
            },
            "InvalidSettings",
        ),
        (
            captured(),
            Settings {
                store_id: "a b".into(),
                ..s.clone()
            },
            "InvalidSettings",
        ),
    ];
    for (i, (body, settings, want)) in cases.into_iter().enumerate() {
        let got = plan(&body, &rows(), &settings, &Known::default());
        let name = match &got {
            Err(Error::InvalidJson(_)) => "InvalidJson",
            Err(Error::LegacyPayload) => "LegacyPayload",
            Err(Error::RestError(_)) => "RestError",
            Err(Error::InvalidOrder(_)) => "InvalidOrder",
            Err(Error::InvalidSettings(_)) => "InvalidSettings",
            Ok(_) => "Ok",
        };
        assert_eq!(name, want, "case {i}: {got:?}");
    }
}
