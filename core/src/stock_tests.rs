//! Tests of the actions after posting: table-driven over status/ledger states, and field by field
//! on the documents built from the docs sample order (727: two product lines and flat-rate
//! shipping) and refunds shaped as WooCommerce 10 renders them.

use super::*;
use crate::inventory::default_status_map;
use crate::mapping::parse_csv;
use crate::testdata::{self, refund};
use serde_json::Value;

use crate::testdata::sample_727::{MAPPING, settings, stock};

fn rows() -> Vec<MappingRow> {
    parse_csv(MAPPING, &settings().dimension_types).unwrap()
}

fn order() -> Vec<u8> {
    testdata::sample("order.wc-v3.json")
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn order_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&order()).unwrap();
    edit(&mut v);
    v.to_string().into_bytes()
}

#[test]
fn due_intents_follow_the_ledger_not_the_previous_status() {
    use IntentKind::*;
    let map = default_status_map();
    // (current status, done in the ledger, intents, attention contains)
    type Case<'a> = (&'a str, &'a [IntentKind], &'a [IntentKind], Option<&'a str>);
    let cases: &[Case<'_>] = &[
        ("processing", &[Post], &[], None),
        ("completed", &[Post], &[Ship], None),
        ("shipped", &[Post], &[Ship], None),
        ("completed", &[Post, Ship], &[], None),
        ("delivered", &[Post], &[Ship, Deliver], None),
        ("delivered", &[Post, Ship], &[Deliver], None),
        ("delivered", &[Post, Ship, Deliver], &[], None),
        // Backward moves do nothing: the ledger keeps what happened.
        ("processing", &[Post, Ship], &[], None),
        ("refunded", &[Post, Ship], &[], None),
        ("pending", &[], &[], None),
        ("cancelled", &[Post], &[Cancel], None),
        ("cancelled", &[Post, Cancel], &[], None),
        ("cancelled", &[], &[], None),
        ("cancelled", &[Post, Ship], &[], Some("after it shipped")),
        (
            "processing",
            &[Post, Cancel],
            &[],
            Some("after it was cancelled"),
        ),
        ("refunded", &[Post, Cancel], &[], None),
        ("wc-completed", &[Post], &[Ship], None),
    ];
    for (cur, done, want, attention) in cases {
        let t = due_intents("s1", 39, cur, &map, done).unwrap();
        let kinds: Vec<IntentKind> = t.intents.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, *want, "{cur} after {done:?}");
        match attention {
            Some(a) => assert!(t.attention.as_deref().unwrap_or("").contains(a), "{cur}"),
            None => assert_eq!(t.attention, None, "{cur} after {done:?}"),
        }
    }
    let t = due_intents("s1", 39, "completed", &map, &[Post]).unwrap();
    assert_eq!(t.intents[0].idempotency_key, "s1/order/39/ship");
    let bad = vec![StatusRule {
        status: "wc-x".into(),
        stage: Stage::Posted,
    }];
    assert!(matches!(
        due_intents("s", 1, "x", &bad, &[]),
        Err(Error::InvalidStatusMap(_))
    ));
}

#[test]
fn the_delivery_names_each_product_line_of_the_sales_order() {
    let a = delivery(
        &order(),
        "SOHFR011000007",
        "W1A2B3",
        &rows(),
        &settings(),
        &stock(),
        "2026-11-27T10:11:12Z",
    )
    .unwrap()
    .unwrap();
    assert_eq!(a.kind, ActionKind::CreateDelivery);
    assert_eq!(a.idempotency_key, "shop1/order/727/ship");
    assert_eq!(a.reference, "SOHFR011000007");
    assert_eq!(
        (a.rest_class.as_str(), a.rest_key.as_str()),
        ("SDELIVERY", "")
    );
    let body = json(&a.rest_body);
    assert_eq!(
        body,
        json(
            r#"{"SALFCY":"FR011","STOFCY":"FR011","BPCORD":"W1A2B3","DLVDAT":"2026-11-27",
            "SOHNUM":"SOHFR011000007","SDELIVERYD":[
            {"SOHNUM":"SOHFR011000007","SOPLIN":1000,"ITMREF":"SINGLE1","QTY":2},
            {"SOHNUM":"SOHFR011000007","SOPLIN":2000,"ITMREF":"BAR3","QTY":1},
            {"SOHNUM":"SOHFR011000007","SOPLIN":3000,"ITMREF":"CARRIAGE","QTY":1}]}"#
        )
    );
    let vars = json(&a.graphql_variables);
    assert_eq!(vars["data"]["lines"][1]["salesOrderLine"], 2000);
    assert_eq!(
        vars["data"]["lines"][0]["quantityInSalesUnitDelivered"],
        "2"
    );
    let l = a.lookup.unwrap();
    assert_eq!(l.rest_where, "SOHNUM eq 'SOHFR011000007'");
    assert_eq!(l.rest_key_field, "SDHNUM");
    assert_eq!(
        json(&l.graphql_variables)["filter"],
        "{salesOrder:'SOHFR011000007'}"
    );

    // Products only: the shipping line stays undelivered.
    let mut st = stock();
    st.deliver_charges = false;
    let a = delivery(&order(), "S1", "C", &rows(), &settings(), &st, "2026-11-27")
        .unwrap()
        .unwrap();
    let ls: Vec<i64> = json(&a.rest_body)["SDELIVERYD"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["SOPLIN"].as_i64().unwrap())
        .collect();
    assert_eq!(ls, vec![1000, 2000]);
    // A fee before the shipping takes its line number, as in the plan; an unmapped zero fee
    // is not a line.
    let fee_rows = parse_csv(
        &format!("{MAPPING}fee,Gift wrap,GIFTWRAP,,,,\n"),
        &settings().dimension_types,
    )
    .unwrap();
    let with_fees = order_with(|v| {
        v["fee_lines"] = serde_json::json!([
            {"id": 400, "name": "Gift wrap", "total": "2.00", "total_tax": "0.40"},
            {"id": 401, "name": "Nothing", "total": "0.00", "total_tax": "0.00"}
        ]);
    });
    let a = delivery(
        &with_fees,
        "S1",
        "C",
        &fee_rows,
        &settings(),
        &stock(),
        "2026-11-27",
    )
    .unwrap()
    .unwrap();
    let ls: Vec<(i64, String)> = json(&a.rest_body)["SDELIVERYD"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["SOPLIN"].as_i64().unwrap(),
                l["ITMREF"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ls,
        vec![
            (1000, "SINGLE1".into()),
            (2000, "BAR3".into()),
            (3000, "GIFTWRAP".into()),
            (4000, "CARRIAGE".into())
        ]
    );
    // An unmapped fee with an amount: the lines cannot be matched.
    let e = delivery(
        &order_with(|v| {
            v["fee_lines"] = serde_json::json!([{"id": 402, "name": "X", "total": "1.00"}])
        }),
        "S1",
        "C",
        &rows(),
        &settings(),
        &stock(),
        "2026-11-27",
    );
    assert!(matches!(e, Err(Error::InvalidOrder(m)) if m.contains("fee:X")));
    // A line whose mapping disappeared: refused, never a delivery of the wrong item.
    let only_first = parse_csv(
        "key_type,key,item_code,sales_unit,gl_account,dimensions,site\nproduct,93,SINGLE1,,,,\n",
        &[],
    )
    .unwrap();
    let e = delivery(
        &order(),
        "S1",
        "C",
        &only_first,
        &settings(),
        &stock(),
        "2026-11-27",
    );
    assert!(matches!(e, Err(Error::InvalidOrder(m)) if m.contains("no mapping")));
    assert!(matches!(
        delivery(
            &order(),
            " ",
            "C",
            &rows(),
            &settings(),
            &stock(),
            "2026-11-27"
        ),
        Err(Error::InvalidOrder(_))
    ));
    assert!(matches!(
        delivery(&order(), "S1", "C", &rows(), &settings(), &stock(), "soon"),
        Err(Error::InvalidSettings(_))
    ));
    // The shipment site defaults to the sales site.
    let mut s = settings();
    s.shipment_site.clear();
    s.sales_site = "FR099".into();
    let a = delivery(&order(), "S1", "C", &rows(), &s, &stock(), "2026-11-27")
        .unwrap()
        .unwrap();
    assert_eq!(json(&a.rest_body)["STOFCY"], "FR099");
}

#[test]
fn cancelling_closes_deletes_or_leaves_the_sales_order() {
    let mut st = stock();
    let a = cancel(727, "SOH1", &settings(), &st).unwrap().unwrap();
    assert_eq!(a.kind, ActionKind::CloseOrder);
    assert_eq!(a.idempotency_key, "shop1/order/727/cancel");
    assert_eq!(
        (a.rest_class.as_str(), a.rest_key.as_str()),
        ("SORDER", "SOH1")
    );
    assert_eq!(json(&a.rest_body), json(r#"{"ORDSTA":2}"#));
    assert_eq!(
        json(&a.graphql_variables),
        json(r#"{"data":{"id":"SOH1","orderStatus":2}}"#)
    );
    assert!(a.graphql_mutation.contains("update(data: $data)"));
    assert_eq!(
        a.lookup.unwrap().rest_where,
        "SOHNUM eq 'SOH1' and ORDSTA eq 2"
    );
    st.cancel = CancelMode::Delete;
    let a = cancel(727, "SOH'1", &settings(), &st).unwrap().unwrap();
    assert_eq!(a.kind, ActionKind::DeleteOrder);
    assert_eq!(a.rest_body, "");
    assert_eq!(a.rest_key, "SOH'1");
    assert_eq!(json(&a.graphql_variables), json(r#"{"id":"SOH'1"}"#));
    assert!(a.lookup.is_none());
    st.cancel = CancelMode::Ignore;
    assert_eq!(cancel(727, "SOH1", &settings(), &st).unwrap(), None);
    assert!(cancel(727, "", &settings(), &st).is_err());
}

#[test]
fn closing_expects_the_answer_to_show_the_order_closed() {
    let a = cancel(727, "SOH1", &settings(), &stock()).unwrap().unwrap();
    assert_eq!(
        a.expect,
        vec![Expect {
            rest_field: "ORDSTA".into(),
            graphql_path: "orderStatus".into(),
            value: "2".into(),
        }]
    );
    // The GraphQL update answers the property, so the host can read whether it took.
    assert!(
        a.graphql_mutation
            .contains("update(data: $data) { id orderStatus }")
    );
}

#[test]
fn an_invoiced_order_that_ships_leaves_stock_by_a_miscellaneous_issue() {
    let s = Settings {
        document_kind: crate::plan::DocumentKind::Invoice,
        invoice_type: "FAC".into(),
        ..settings()
    };
    let a = delivery(
        &order(),
        "SIHFR0110001",
        "C",
        &rows(),
        &s,
        &stock(),
        "2026-11-27",
    )
    .unwrap()
    .unwrap();
    assert_eq!(a.kind, ActionKind::CreateIssue);
    assert_eq!(a.idempotency_key, "shop1/order/727/ship");
    assert_eq!(a.rest_class, "SMVTISS");
    // Product lines only (the carriage line is no stock), described by the invoice number.
    assert_eq!(
        json(&a.rest_body),
        json(
            r#"{"STOFCY":"FR011","IPTDAT":"2026-11-27","VCRDES":"SIHFR0110001",
            "SMVTD":[{"ITMREF":"SINGLE1","QTYSTU":2},{"ITMREF":"BAR3","QTYSTU":1}]}"#
        )
    );
    assert!(
        a.graphql_mutation
            .contains("x3Stock { miscellaneousIssue { create(data: $data) { id } } }")
    );
    assert_eq!(
        a.lookup.as_ref().unwrap().rest_where,
        "VCRDES eq 'SIHFR0110001'"
    );
    let mut st = stock();
    st.invoice_stock_issue = false;
    assert_eq!(
        delivery(
            &order(),
            "SIHFR0110001",
            "C",
            &rows(),
            &s,
            &st,
            "2026-11-27"
        )
        .unwrap(),
        None
    );
}

fn ready(o: &[u8], r: &[u8], st: &StockSettings) -> Action {
    match credit_note(o, r, "W1", &rows(), &settings(), st).unwrap() {
        CreditOutcome::Ready(a) => a,
        CreditOutcome::Hold(h) => panic!("held: {h:?}"),
    }
}

#[test]
fn a_partial_refund_is_a_line_level_credit_note() {
    // One of the two SINGLE1 units (3.00 + 0.23 tax).
    let r = refund(900, "3.23", &[(315, 1, "3.00", "0.23")]);
    let a = ready(&order(), &r, &stock());
    assert_eq!(a.kind, ActionKind::CreateCreditNote);
    assert_eq!(a.idempotency_key, "shop1/order/727/refund/900/credit-note");
    assert_eq!(a.reference, "WC-727R900");
    assert_eq!(a.rest_class, "SINVOICE");
    assert_eq!(
        json(&a.rest_body),
        json(
            r#"{"SIVTYP":"AVO","SALFCY":"FR011","BPCINV":"W1","INVDAT":"2026-11-20","CUR":"USD",
            "CUSORDREF":"WC-727R900","SINVOICED":[{"ITMREF":"SINGLE1","ITMDES":"Woo Single #1",
            "QTY":1,"SAU":"UN","GROPRI":3,"ACC":"706100","CCE1":"WEB"}]}"#
        )
    );
    let g = json(&a.graphql_variables);
    assert_eq!(g["data"]["invoiceType"], "AVO");
    assert_eq!(g["data"]["lines"][0]["grossPrice"], "3");
    assert_eq!(g["data"]["lines"][0]["quantityInSalesUnitOrdered"], 1);
    assert_eq!(g["data"]["lines"][0]["dimension1"], "WEB");
    let l = a.lookup.unwrap();
    assert_eq!(l.rest_where, "CUSORDREF eq 'WC-727R900'");
    assert_eq!(l.rest_key_field, "NUM");
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn a_full_refund_credits_every_line_and_the_rest_on_the_amount_item() {
    // Both lines with tax (6.45 + 12.90) and the 10.00 shipping as an amount: 29.35.
    let r = refund(
        901,
        "29.35",
        &[(315, 2, "6.00", "0.45"), (316, 1, "12.00", "0.90")],
    );
    match credit_note(&order(), &r, "W1", &rows(), &settings(), &stock()).unwrap() {
        CreditOutcome::Hold(h) => assert!(h[0].contains("10.00 of refund 901"), "{h:?}"),
        other => panic!("{other:?}"),
    }
    let mut st = stock();
    st.refund_amount_item = Some("REFUND".into());
    let a = ready(&order(), &r, &st);
    let lines = json(&a.rest_body)["SINVOICED"].clone();
    let got: Vec<(String, i64, f64)> = lines
        .as_array()
        .unwrap()
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
        got,
        vec![
            ("SINGLE1".into(), 2, 3.0),
            ("BAR3".into(), 1, 12.0),
            ("REFUND".into(), 1, 10.0)
        ]
    );
    assert_eq!(lines[2]["ITMDES"], "damaged");
}

#[test]
fn shipping_refunds_use_the_shipping_mapping() {
    let r = json(
        r#"{"id":902,"date_created":"2026-11-21T08:00:00","amount":"10.00","line_items":[],
        "shipping_lines":[{"id":903,"method_id":"","total":"-10.00","total_tax":"0.00",
        "meta_data":[{"key":"_refunded_item_id","value":"317"}]}]}"#,
    );
    let a = ready(&order(), r.to_string().as_bytes(), &stock());
    let b = json(&a.rest_body);
    assert_eq!(b["SINVOICED"][0]["ITMREF"], "CARRIAGE");
    assert_eq!(b["SINVOICED"][0]["GROPRI"], 10);
    assert_eq!(b["SINVOICED"][0]["ACC"], "708500");
    assert_eq!(b["INVDAT"], "2026-11-21");
    // An unmapped shipping method holds the refund, naming the key tried.
    let r2 = r
        .to_string()
        .replace("317", "999")
        .replace(r#""method_id":"""#, r#""method_id":"ups""#);
    match credit_note(
        &order(),
        r2.as_bytes(),
        "W1",
        &rows(),
        &settings(),
        &stock(),
    )
    .unwrap()
    {
        CreditOutcome::Hold(h) => assert!(h[0].contains("shipping:ups"), "{h:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn amount_only_refunds_and_odd_refunds() {
    // The docs sample: 10.00, no lines.
    let sample = testdata::sample("refund.wc-v3.json");
    let mut st = stock();
    st.refund_amount_item = Some("REFUND".into());
    let a = ready(&order(), &sample, &st);
    let b = json(&a.rest_body);
    assert_eq!(b["SINVOICED"][0]["ITMREF"], "REFUND");
    assert_eq!(b["SINVOICED"][0]["ITMDES"], "Refund");
    assert_eq!(b["CUSORDREF"], "WC-727R726");
    // No date on the refund: the order's date.
    assert_eq!(b["INVDAT"], "2017-03-21");

    // No credit-note type: held with the setting to set.
    match credit_note(
        &order(),
        &sample,
        "W1",
        &rows(),
        &settings(),
        &StockSettings::default(),
    )
    .unwrap()
    {
        CreditOutcome::Hold(h) => assert!(h[0].contains("credit-note-type")),
        other => panic!("{other:?}"),
    }
    st.credit_note_type = "A VO".into();
    assert!(matches!(
        credit_note(&order(), &sample, "W1", &rows(), &settings(), &st),
        Err(Error::InvalidSettings(_))
    ));
    // An amount on a line without units: one unit of it.
    let r = refund(904, "2.00", &[(316, 0, "2.00", "0.00")]);
    let a = ready(&order(), &r, &stock());
    let l = &json(&a.rest_body)["SINVOICED"][0];
    assert_eq!(
        (l["ITMREF"].clone(), l["QTY"].clone()),
        (json("\"BAR3\""), json("1"))
    );
    // Units returned for nothing: nothing to credit.
    let r = refund(905, "0.00", &[(316, 1, "0.00", "0.00")]);
    assert!(matches!(
        credit_note(&order(), &r, "W1", &rows(), &settings(), &stock()).unwrap(),
        CreditOutcome::Hold(h) if h[0].contains("nothing to credit")
    ));
    // A price X3 cannot hit exactly is said.
    let r = refund(906, "1.00", &[(315, 300, "1.00", "0.00")]);
    let a = ready(&order(), &r, &stock());
    assert!(
        a.warnings[0].contains("X3 will compute 0.99"),
        "{:?}",
        a.warnings
    );
    // Too long a reference, bad bodies.
    let mut s = settings();
    s.reference_prefix = "WEBSHOP-".into();
    let r = refund(123_456_789_012, "1.00", &[]);
    assert!(matches!(
        credit_note(&order(), &r, "W1", &rows(), &s, &stock()),
        Err(Error::InvalidRefund(m)) if m.contains("20 characters")
    ));
    assert!(matches!(
        credit_note(&order(), b"[]", "W1", &rows(), &settings(), &stock()),
        Err(Error::InvalidRefund(_))
    ));
    assert!(matches!(
        credit_note(b"{}", &sample, "W1", &rows(), &settings(), &stock()),
        Err(Error::InvalidOrder(_))
    ));
}

fn restocked(qty315: i64, qty316: i64) -> Vec<u8> {
    order_with(|v| {
        for (i, q) in [(0, qty315), (1, qty316)] {
            if q > 0 {
                v["line_items"][i]["meta_data"] = serde_json::json!([
                    {"id": 5, "key": "_restock_refunded_items", "value": q.to_string()}
                ]);
            }
        }
    })
}

#[test]
fn restock_only_what_woocommerce_restocked_once_per_refund_and_line() {
    let r1 = refund(900, "3.23", &[(315, 1, "3.00", "0.23")]);
    let r2 = refund(
        910,
        "16.13",
        &[(315, 1, "3.00", "0.23"), (316, 1, "12.00", "0.90")],
    );
    // Nothing restocked: nothing to put back.
    assert_eq!(
        restocks(
            &order(),
            &[r1.clone(), r2.clone()],
            &rows(),
            &settings(),
            &stock()
        )
        .unwrap(),
        vec![]
    );
    // One unit of 315 restocked after refund 900: it is refund 900's.
    let got = restocks(
        &restocked(1, 0),
        std::slice::from_ref(&r1),
        &rows(),
        &settings(),
        &stock(),
    )
    .unwrap();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (
            r.idempotency_key.as_str(),
            r.refund_id,
            r.line_id,
            r.item_code.as_str(),
            r.site.as_str(),
            r.quantity
        ),
        (
            "shop1/order/727/refund/900/restock/315",
            900,
            315,
            "SINGLE1",
            "FR011",
            1
        )
    );
    // The receipt that puts the unit back: additive, described by a reference of our own.
    let a = &r.action;
    assert_eq!(a.kind, ActionKind::CreateReceipt);
    assert_eq!(a.idempotency_key, r.idempotency_key);
    assert_eq!(a.rest_class, "SMVTRCP");
    assert_eq!(
        json(&a.rest_body),
        json(
            r#"{"STOFCY":"FR011","IPTDAT":"2026-11-20","VCRDES":"WC-727R900L315",
            "SMVTD":[{"ITMREF":"SINGLE1","QTYSTU":1,"STA":"A"}]}"#
        )
    );
    let vars = json(&a.graphql_variables);
    assert_eq!(vars["data"]["lines"][0]["quantityInStockUnit"], "1");
    assert_eq!(vars["data"]["description"], "WC-727R900L315");
    let l = a.lookup.as_ref().unwrap();
    assert_eq!(l.rest_where, "VCRDES eq 'WC-727R900L315'");
    assert_eq!(l.rest_key_field, "VCRNUM");
    assert_eq!(
        json(&l.graphql_variables)["filter"],
        "{description:'WC-727R900L315'}"
    );
    // Later both refunds restocked everything: the first keeps its key, the second gets the rest
    // — in whatever order the bodies come.
    let got = restocks(&restocked(2, 1), &[r2, r1], &rows(), &settings(), &stock()).unwrap();
    let keys: Vec<(&str, u32, &str)> = got
        .iter()
        .map(|r| (r.idempotency_key.as_str(), r.quantity, r.site.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("shop1/order/727/refund/900/restock/315", 1, "FR011"),
            ("shop1/order/727/refund/910/restock/315", 1, "FR011"),
            ("shop1/order/727/refund/910/restock/316", 1, "FR012"),
        ]
    );
    // Switched off: nothing.
    let mut st = stock();
    st.restock = false;
    assert!(
        restocks(
            &restocked(2, 1),
            &[refund(900, "1", &[(315, 1, "1", "0")])],
            &rows(),
            &settings(),
            &st
        )
        .unwrap()
        .is_empty()
    );
    assert!(matches!(
        restocks(&order(), &[b"{}".to_vec()], &rows(), &settings(), &stock()),
        Err(Error::InvalidRefund(_))
    ));
}

#[test]
fn a_posted_orders_state_is_the_furthest_stage_done_unless_cancelled_or_refunded() {
    use IntentKind::{Cancel, Deliver, Post, Ship};
    let cases: [(&str, &[IntentKind], PostedState); 7] = [
        ("processing", &[Post], PostedState::Posted),
        ("completed", &[Post, Ship], PostedState::Shipped),
        ("delivered", &[Post, Ship, Deliver], PostedState::Delivered),
        // The order of the ledger's rows does not matter.
        ("delivered", &[Deliver, Post, Ship], PostedState::Delivered),
        ("refunded", &[Post, Ship], PostedState::Refunded),
        // A cancel wins over a later status: the X3 order is closed.
        ("refunded", &[Post, Cancel], PostedState::Cancelled),
        ("processing", &[Post, Ship, Cancel], PostedState::Cancelled),
    ];
    for (status, done, want) in cases {
        assert_eq!(state_after_post(status, done), want, "{status} {done:?}");
    }
}
