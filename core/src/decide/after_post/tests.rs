//! Tests of the after-post stage through `decide`: the docs sample order 727 (two product lines,
//! flat-rate shipping) posted as SO1, walked through the outcomes X3 and WooCommerce can give,
//! asserting the requests, the records and how the stage ends.

use super::super::tests::notes;
use super::super::*;
use crate::inventory::default_status_map;
use crate::mapping::parse_csv;
use crate::stock::ActionKind;
use crate::testdata::sample_727::{MAPPING, settings, stock};
use crate::testdata::{self, refund};
use serde_json::{Value, json};

/// Order 727 with these refunds listed, and `restocked` units of line 315 put back.
fn order(refunds: &[u64], restocked: i64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&testdata::sample("order.wc-v3.json")).unwrap();
    v["refunds"] = json!(
        refunds
            .iter()
            .map(|id| json!({"id": id, "reason": "", "total": "-1.00"}))
            .collect::<Vec<_>>()
    );
    if restocked > 0 {
        v["line_items"][0]["meta_data"] = json!([
            {"id": 5, "key": "_restock_refunded_items", "value": restocked.to_string()}
        ]);
    }
    v.to_string().into_bytes()
}

fn facts(status: &str) -> Facts {
    Facts {
        order_id: 727,
        status: status.into(),
        posted: Some(PostedAs {
            document: "SO1".into(),
            customer_code: "C1".into(),
        }),
        today: "2026-12-04".into(),
        ..Facts::default()
    }
}

fn done(key: &str, kind: &str, x3_key: &str) -> LedgerEntry {
    LedgerEntry {
        idempotency_key: key.into(),
        kind: kind.into(),
        done: true,
        x3_key: Some(x3_key.into()),
    }
}

fn ask_with(body: &[u8], st: &StockSettings, f: &Facts) -> Decision {
    let rows = parse_csv(MAPPING, &settings().dimension_types).unwrap();
    decide(body, &rows, &settings(), &default_status_map(), Some(st), f).unwrap()
}

fn ask(body: &[u8], f: &Facts) -> Decision {
    ask_with(body, &stock(), f)
}

/// Asks after each outcome in turn, checking that every call's records extend the last's.
fn walk(body: &[u8], f: &Facts, outcomes: &[(&str, RequestOutcome)]) -> Decision {
    let mut f = f.clone();
    let mut last = ask(body, &f).records;
    for (key, outcome) in outcomes {
        f.outcomes.push(Reported {
            idempotency_key: (*key).to_string(),
            outcome: outcome.clone(),
        });
        let d = ask(body, &f);
        assert!(
            d.records.starts_with(&last),
            "records do not extend the earlier ones:\n{last:?}\n{:?}",
            d.records
        );
        last.clone_from(&d.records);
    }
    ask(body, &f)
}

fn requests(d: &Decision) -> Vec<Request> {
    match &d.verdict {
        Verdict::Run(r) => r.clone(),
        other => panic!("expected requests, got {other:?}"),
    }
}

/// The ledger kind and key of each action request.
fn actions(d: &Decision) -> Vec<(String, String)> {
    requests(d)
        .into_iter()
        .map(|r| match r {
            Request::Action(a) => (a.kind, a.action.idempotency_key),
            other => panic!("expected an action, got {other:?}"),
        })
        .collect()
}

fn end(d: &Decision) -> AfterPost {
    match &d.verdict {
        Verdict::Posted(p) => p.end.clone(),
        other => panic!("expected posted, got {other:?}"),
    }
}

fn created(k: &str) -> RequestOutcome {
    RequestOutcome::Created(k.into())
}

fn failed(during: Phase, kind: FailureKind) -> RequestOutcome {
    RequestOutcome::Failed(Failure {
        during,
        kind,
        message: "X3 said no".into(),
    })
}

const SHIP: &str = "shop1/order/727/ship";

#[test]
fn a_shipment_is_one_delivery_and_the_ledger_remembers_it() {
    let body = order(&[], 0);
    let f = facts("completed");
    let first = ask(&body, &f);
    assert!(first.records.is_empty());
    assert_eq!(
        actions(&first),
        [("delivery".to_string(), SHIP.to_string())]
    );
    let Request::Action(a) = &requests(&first)[0] else {
        unreachable!()
    };
    assert_eq!(a.action.kind, ActionKind::CreateDelivery);
    assert!(a.action.rest_body.contains("2026-12-04"), "today's date");

    let d = walk(&body, &f, &[(SHIP, created("DLV1"))]);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Shipped));
    assert_eq!(
        notes(&d),
        ["shipped: X3 delivery DLV1 for sales order SO1: stock issued"]
    );

    // Done in the ledger: nothing is asked again, nothing said again.
    let mut f = facts("completed");
    f.ledger = vec![done(SHIP, "delivery", "DLV1")];
    let d = ask(&body, &f);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Shipped));
    assert!(d.records.is_empty());

    // Delivered later: recorded once against that delivery.
    f.status = "delivered".into();
    let d = ask(&body, &f);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Delivered));
    assert_eq!(
        d.records[0],
        Record::Recorded {
            idempotency_key: "shop1/order/727/deliver".into(),
            kind: "delivered".into(),
            x3_key: "DLV1".into(),
        }
    );
    assert_eq!(
        notes(&d),
        ["delivered: delivered to the customer; X3 already holds it as delivery DLV1"]
    );
}

#[test]
fn delivered_at_once_ships_first_and_records_against_the_new_delivery() {
    let body = order(&[], 0);
    let f = facts("delivered");
    assert_eq!(actions(&ask(&body, &f)), [("delivery".into(), SHIP.into())]);
    let d = walk(&body, &f, &[(SHIP, created("DLV7"))]);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Delivered));
    assert!(d.records.contains(&Record::Recorded {
        idempotency_key: "shop1/order/727/deliver".into(),
        kind: "delivered".into(),
        x3_key: "DLV7".into(),
    }));
}

#[test]
fn cancelling_before_shipment_closes_or_asks_a_person_once() {
    let body = order(&[], 0);
    let f = facts("cancelled");
    let first = ask(&body, &f);
    let Request::Action(a) = &requests(&first)[0] else {
        panic!("{first:?}")
    };
    assert_eq!(
        (a.kind.as_str(), a.action.kind),
        ("cancel", ActionKind::CloseOrder)
    );
    let key = a.action.idempotency_key.clone();
    let d = walk(&body, &f, &[(&key, created("SO1"))]);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Cancelled));
    assert_eq!(
        notes(&d),
        ["cancelled: X3 sales order SO1 closed: cancelled before shipment"]
    );

    let ignore = StockSettings {
        cancel: crate::stock::CancelMode::Ignore,
        ..stock()
    };
    let d = ask_with(&body, &ignore, &f);
    let AfterPost::Attention(m) = end(&d) else {
        panic!("{d:?}")
    };
    assert!(m.contains("close or delete SO1 in X3 by hand"), "{m}");
    assert_eq!(notes(&d), [format!("attention: {m}")]);
    let mut again = f.clone();
    again.attention = Some(m.clone());
    let d = ask_with(&body, &ignore, &again);
    assert_eq!(end(&d), AfterPost::Attention(m));
    assert!(d.records.is_empty(), "said once: {:?}", d.records);
}

#[test]
fn a_failed_write_is_said_and_ends_the_attempt_as_its_class_says() {
    let body = order(&[], 0);
    let f = facts("completed");
    let cases = [
        (Phase::Create, FailureKind::Transient, true, Some("error")),
        (Phase::Create, FailureKind::Unknown, true, Some("unknown")),
        (Phase::Create, FailureKind::Auth, true, Some("error")),
        (Phase::Create, FailureKind::Rejected, false, Some("error")),
        (Phase::Create, FailureKind::Refused, false, Some("error")),
        (Phase::Lookup, FailureKind::Transient, true, None),
        (Phase::Lookup, FailureKind::Misconfigured, false, None),
    ];
    for (during, kind, retried, event) in cases {
        let d = walk(&body, &f, &[(SHIP, failed(during, kind))]);
        let want = if retried {
            AfterPost::Retry("X3 said no".into())
        } else {
            AfterPost::Attention("X3 said no".into())
        };
        assert_eq!(end(&d), want, "{during:?} {kind:?}");
        let said: Vec<String> = event
            .map(|e| format!("{e}: delivery SO1: X3 said no"))
            .into_iter()
            .collect();
        assert_eq!(notes(&d), said, "{during:?} {kind:?}");
    }
}

#[test]
fn a_write_an_earlier_attempt_made_is_found_and_adopted() {
    let body = order(&[], 0);
    let mut f = facts("completed");
    f.ledger = vec![LedgerEntry {
        idempotency_key: SHIP.into(),
        kind: "delivery".into(),
        done: false,
        x3_key: None,
    }];
    let found = RequestOutcome::Found {
        records: vec![FoundRecord {
            key: "DLV9".into(),
            check: None,
        }],
        tried_before: true,
    };
    let d = walk(&body, &f, &[(SHIP, found)]);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Shipped));
    assert_eq!(
        d.records[0],
        Record::LedgerDone {
            idempotency_key: SHIP.into(),
            x3_key: "DLV9".into()
        }
    );
    assert_eq!(
        notes(&d),
        [
            "found: found X3 delivery DLV9 (SO1) from an earlier attempt",
            "shipped: X3 delivery DLV9 for sales order SO1: stock issued",
        ]
    );
}

#[test]
fn refunds_are_read_then_credited_and_restocked_one_write_at_a_time() {
    let body = order(&[910, 900], 2);
    let mut f = facts("completed");
    f.ledger = vec![done(SHIP, "delivery", "DLV1")];
    let read = "shop1/order/727/refunds";
    assert_eq!(
        requests(&ask(&body, &f)),
        [Request::ReadRefunds(read.into())]
    );

    let r900 = refund(900, "3.23", &[(315, 1, "3.00", "0.23")]);
    let r910 = refund(910, "3.23", &[(315, 1, "3.00", "0.23")]);
    let bodies = RequestOutcome::Refunds(Ok(vec![r910, r900]));
    let mut g = f.clone();
    g.outcomes.push(Reported {
        idempotency_key: read.into(),
        outcome: bodies.clone(),
    });
    let want = [
        ("credit note", "shop1/order/727/refund/900/credit-note"),
        ("credit note", "shop1/order/727/refund/910/credit-note"),
        ("restock", "shop1/order/727/refund/900/restock/315"),
        ("restock", "shop1/order/727/refund/910/restock/315"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, key)| ((*k).to_string(), (*key).to_string()))
        .collect();
    // Each call asks for one write; reported created, the next call asks for the next.
    let mut asked = Vec::new();
    for n in ["AVO1", "AVO2", "RCP1", "RCP2"] {
        let one = actions(&ask(&body, &g));
        assert_eq!(one.len(), 1, "one write at a time: {one:?}");
        g.outcomes.push(Reported {
            idempotency_key: one[0].1.clone(),
            outcome: created(n),
        });
        asked.extend(one);
    }
    assert_eq!(
        asked, want,
        "oldest refund first, restocks after the credit notes"
    );

    let mut outcomes = vec![(read, bodies.clone())];
    let numbers = ["AVO1", "AVO2", "RCP1", "RCP2"];
    for ((_, key), n) in want.iter().zip(numbers) {
        outcomes.push((key.as_str(), created(n)));
    }
    let d = walk(&body, &f, &outcomes);
    assert_eq!(end(&d), AfterPost::Done(PostedState::Shipped));
    assert_eq!(
        d.records.last(),
        Some(&Record::RefundsHandled(vec![900, 910]))
    );
    let said = notes(&d);
    assert_eq!(said.len(), 4, "{said:?}");
    assert!(
        said[0].starts_with("refunded: refund 900: X3 credit note AVO1"),
        "{said:?}"
    );
    assert!(said[3].starts_with("restocked: refund 910: 1 × SINGLE1 back in X3 stock at FR011 (miscellaneous receipt RCP2)"), "{said:?}");

    // A refusal in the middle ends the attempt there; the refunds are not marked handled.
    let mut broken = outcomes[..2].to_vec();
    broken.push((
        want[1].1.as_str(),
        failed(Phase::Create, FailureKind::Rejected),
    ));
    let d = walk(&body, &f, &broken);
    assert_eq!(end(&d), AfterPost::Attention("X3 said no".into()));
    assert!(
        !d.records
            .iter()
            .any(|r| matches!(r, Record::RefundsHandled(_)))
    );

    // Handled: not read again. A failed read is retried.
    let mut handled = f.clone();
    handled.refunds_handled = vec![900, 910];
    assert_eq!(
        end(&ask(&body, &handled)),
        AfterPost::Done(PostedState::Shipped)
    );
    let down = RequestOutcome::Refunds(Err("WooCommerce is down".into()));
    let d = walk(&body, &f, &[(read, down)]);
    assert_eq!(end(&d), AfterPost::Retry("WooCommerce is down".into()));
}

#[test]
fn units_restocked_before_shipment_are_only_recorded() {
    let body = order(&[900], 1);
    let f = facts("processing");
    let read = "shop1/order/727/refunds";
    let r900 = refund(900, "3.23", &[(315, 1, "3.00", "0.23")]);
    let credit = "shop1/order/727/refund/900/credit-note";
    let d = walk(
        &body,
        &f,
        &[
            (read, RequestOutcome::Refunds(Ok(vec![r900]))),
            (credit, created("AVO1")),
        ],
    );
    assert_eq!(end(&d), AfterPost::Done(PostedState::Posted));
    assert!(d.records.contains(&Record::Recorded {
        idempotency_key: "shop1/order/727/refund/900/restock/315".into(),
        kind: "restock".into(),
        x3_key: String::new(),
    }));
    assert!(
        notes(&d)
            .iter()
            .any(|n| n.contains("restocked in WooCommerce before X3 delivered")),
        "{:?}",
        notes(&d)
    );
}

#[test]
fn a_held_refund_asks_a_person_and_stock_off_leaves_the_order_posted() {
    let body = order(&[901], 0);
    let f = facts("completed");
    let mut f = f.clone();
    f.ledger = vec![done(SHIP, "delivery", "DLV1")];
    // Refunded 10.00 on no line, and no refund-amount item set: held.
    let r = refund(901, "10.00", &[]);
    let d = walk(
        &body,
        &f,
        &[(
            "shop1/order/727/refunds",
            RequestOutcome::Refunds(Ok(vec![r])),
        )],
    );
    let AfterPost::Waits(m) = end(&d) else {
        panic!("{d:?}")
    };
    assert!(m.starts_with("refund 901 waits: "), "{m}");
    assert_eq!(notes(&d), [format!("attention: {m}")]);

    let rows = parse_csv(MAPPING, &settings().dimension_types).unwrap();
    let off = decide(
        &body,
        &rows,
        &settings(),
        &default_status_map(),
        None,
        &facts("completed"),
    );
    assert_eq!(end(&off.unwrap()), AfterPost::Done(PostedState::Posted));
}

#[test]
fn an_outcome_for_another_write_is_refused() {
    let body = order(&[], 0);
    let d = walk(
        &body,
        &facts("completed"),
        &[("shop1/order/727/cancel", created("X"))],
    );
    let AfterPost::Attention(m) = end(&d) else {
        panic!("{d:?}")
    };
    assert!(m.contains("no request of the plan asked for"), "{m}");
}
