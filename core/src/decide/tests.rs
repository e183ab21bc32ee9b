//! Tests of the decision loop: a WooCommerce 10 capture walked through every outcome X3 can give,
//! asserting the requests, the verdicts and the records the host is to write.

use super::*;
use crate::inventory::default_status_map;
use crate::mapping::parse_csv;
use crate::testdata;

const MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
product,13,TSHIRT,UN,706100,CCT=WEB,
variation,17,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,FR012
sku,RW-CAP,CAP01,,,,
shipping,flat_rate,CARRIAGE,,708500,,
";

fn settings() -> Settings {
    Settings {
        store_id: "shop1".into(),
        sales_site: "FR011".into(),
        order_type: "WEB".into(),
        customer_category: "WEBCU".into(),
        dimension_types: vec!["CCT".into(), "DEP".into()],
        ..Settings::default()
    }
}

fn rows() -> Vec<MappingRow> {
    parse_csv(MAPPING, &settings().dimension_types).unwrap()
}

fn body() -> Vec<u8> {
    testdata::capture("delivery-order.created").1
}

fn facts(outcomes: Vec<(String, RequestOutcome)>) -> Facts {
    Facts {
        order_id: 39,
        status: "processing".into(),
        outcomes: outcomes
            .into_iter()
            .map(|(idempotency_key, outcome)| Reported {
                idempotency_key,
                outcome,
            })
            .collect(),
        ..Facts::default()
    }
}

fn ask(f: &Facts) -> Decision {
    let stock = StockSettings::default();
    decide(
        &body(),
        &rows(),
        &settings(),
        &default_status_map(),
        Some(&stock),
        f,
    )
    .unwrap()
}

fn derived() -> String {
    crate::customer::customer_code("W", "o'brien+o2@example.com")
}

/// The document requests of a `Run` verdict.
fn run(d: &Decision) -> Vec<DocumentRequest> {
    match &d.verdict {
        Verdict::Run(r) => r
            .iter()
            .map(|r| match r {
                Request::Document(d) => d.clone(),
                other => panic!("expected a document request, got {other:?}"),
            })
            .collect(),
        other => panic!("expected requests, got {other:?}"),
    }
}

fn posted(d: &Decision) -> &Posted {
    match &d.verdict {
        Verdict::Posted(p) => p,
        other => panic!("expected posted, got {other:?}"),
    }
}

/// The timeline notes of a decision, `event: detail`.
pub(super) fn notes(d: &Decision) -> Vec<String> {
    d.records
        .iter()
        .filter_map(|r| match r {
            Record::Note { event, detail } => Some(format!("{event}: {detail}")),
            _ => None,
        })
        .collect()
}

fn found(keys: &[(&str, Option<&str>)], tried_before: bool) -> RequestOutcome {
    RequestOutcome::Found {
        records: keys
            .iter()
            .map(|(k, c)| FoundRecord {
                key: (*k).into(),
                check: c.map(str::to_string),
            })
            .collect(),
        tried_before,
    }
}

fn failed(during: Phase, kind: FailureKind, message: &str) -> RequestOutcome {
    RequestOutcome::Failed(Failure {
        during,
        kind,
        message: message.into(),
    })
}

/// The first call's requests: the customer's, then the document's.
fn first_requests() -> Vec<DocumentRequest> {
    run(&ask(&facts(vec![])))
}

/// The new customer created, then this outcome for the document, walked call by call.
fn after_new_customer(document: RequestOutcome) -> (Vec<DocumentRequest>, Decision) {
    let reqs = first_requests();
    let d = walk(vec![
        (
            reqs[0].operation.idempotency_key.clone(),
            RequestOutcome::Created(derived()),
        ),
        (reqs[1].operation.idempotency_key.clone(), document),
    ]);
    (reqs, d)
}

/// Asks once per prefix of the outcomes and checks each answer's records extend the last's:
/// the property the host relies on to write each record once.
fn walk(outcomes: Vec<(String, RequestOutcome)>) -> Decision {
    let mut last: Vec<Record> = Vec::new();
    for n in 0..=outcomes.len() {
        let d = ask(&facts(outcomes[..n].to_vec()));
        assert!(
            d.records.starts_with(&last),
            "records after {n} outcomes do not extend the earlier ones:\n{last:?}\n{:?}",
            d.records
        );
        last.clone_from(&d.records);
        if n == outcomes.len() {
            return d;
        }
    }
    unreachable!()
}

#[test]
fn a_new_customers_order_is_two_calls_customer_then_sales_order() {
    let first = ask(&facts(vec![]));
    let reqs = run(&first);
    assert_eq!(reqs.len(), 2);
    assert!(first.records.is_empty(), "a speculative plan says nothing");
    let (c, d) = (&reqs[0], &reqs[1]);
    assert_eq!(c.operation.kind, OperationKind::EnsureCustomer);
    assert_eq!(c.cache_key.as_deref(), Some("o'brien+o2@example.com"));
    assert_eq!(c.expected_key.as_deref(), Some(derived().as_str()));
    assert!(!c.ledger_first && !c.lookup_only);
    assert_eq!(d.operation.kind, OperationKind::CreateSalesOrder);
    assert!(d.ledger_first && d.expected_key.is_none() && d.cache_key.is_none());

    let end = walk(vec![
        (
            c.operation.idempotency_key.clone(),
            RequestOutcome::Created(derived()),
        ),
        (
            d.operation.idempotency_key.clone(),
            RequestOutcome::Created("SO0001".into()),
        ),
    ]);
    let p = posted(&end);
    assert_eq!(p.document, "SO0001");
    assert_eq!(p.customer_code, derived());
    assert_eq!(p.customer_key, "o'brien+o2@example.com");
    assert_eq!(p.woo_customer_id, 2);
    assert!(p.now);
    assert_eq!(
        p.end,
        AfterPost::Done(PostedState::Posted),
        "processing asks nothing more"
    );
    assert_eq!(
        notes(&end),
        [
            format!("planned: 2 X3 operation(s) for customer {}", derived()),
            format!("customer: created X3 customer {}", derived()),
            "posted: X3 sales order SO0001 (WC-39)".into(),
        ]
    );
    assert!(end.records.contains(&Record::CustomerMatch {
        customer_key: "o'brien+o2@example.com".into(),
        code: derived(),
    }));
}

#[test]
fn a_cached_customer_plans_again_under_its_code() {
    let first = ask(&facts(vec![]));
    let ckey = run(&first)[0].operation.idempotency_key.clone();
    let d = ask(&facts(vec![(
        ckey.clone(),
        RequestOutcome::Cached("C0042".into()),
    )]));
    let reqs = run(&d);
    assert_eq!(reqs.len(), 1, "the customer is known: only the document");
    assert!(reqs[0].operation.rest_body.contains("C0042"));
    assert_eq!(reqs[0].operation.lookup.check_value, "C0042");
    assert_eq!(
        notes(&d),
        ["planned: 1 X3 operation(s) for customer C0042"],
        "only the plan in use is noted"
    );
    let end = walk(vec![
        (ckey, RequestOutcome::Cached("C0042".into())),
        (
            reqs[0].operation.idempotency_key.clone(),
            RequestOutcome::Created("SO0002".into()),
        ),
    ]);
    assert_eq!(posted(&end).customer_code, "C0042");
    assert!(
        !end.records
            .iter()
            .any(|r| matches!(r, Record::CustomerMatch { .. })),
        "the cache is not told what it said"
    );
}

#[test]
fn a_cache_hit_with_the_planned_code_keeps_the_same_document_request() {
    let first = ask(&facts(vec![]));
    let reqs = run(&first);
    let end = walk(vec![
        (
            reqs[0].operation.idempotency_key.clone(),
            RequestOutcome::Cached(derived()),
        ),
        (
            reqs[1].operation.idempotency_key.clone(),
            RequestOutcome::Created("SO0003".into()),
        ),
    ]);
    assert_eq!(posted(&end).document, "SO0003");
    assert_eq!(
        notes(&end)[0],
        format!("planned: 1 X3 operation(s) for customer {}", derived())
    );
}

#[test]
fn customers_found_by_email_the_lowest_code_wins_and_the_plan_follows_it() {
    let first = ask(&facts(vec![]));
    let ckey = run(&first)[0].operation.idempotency_key.clone();
    let d = walk(vec![(
        ckey,
        found(&[("ZED02", None), ("ANNA01", None)], false),
    )]);
    let reqs = run(&d);
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].operation.rest_body.contains("ANNA01"));
    let n = notes(&d);
    assert_eq!(
        n[0],
        format!("planned: 2 X3 operation(s) for customer {}", derived())
    );
    assert!(
        n[1].contains(
            "matched X3 customer ANNA01 by e-mail: 2 X3 customers have it (ANNA01, ZED02)"
        ),
        "{n:?}"
    );
    assert_eq!(n[2], "planned: 1 X3 operation(s) for customer ANNA01");
    assert!(d.records.contains(&Record::CustomerMatch {
        customer_key: "o'brien+o2@example.com".into(),
        code: "ANNA01".into(),
    }));
}

#[test]
fn a_replan_has_no_customer_step_so_the_code_changes_once_at_most() {
    let ckey = first_requests()[0].operation.idempotency_key.clone();
    let matched = (ckey.clone(), found(&[("ANNA01", None)], false));
    let d = ask(&facts(vec![matched.clone()]));
    let reqs = run(&d);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].operation.kind, OperationKind::CreateSalesOrder);
    // Another customer reported after the re-plan is an outcome nobody asked for.
    let again = ask(&facts(vec![
        matched.clone(),
        (ckey, found(&[("ZED02", None)], false)),
    ]));
    assert!(
        matches!(&again.verdict, Verdict::Attention(m) if m.contains("no request of the plan asked for")),
        "{:?}",
        again.verdict
    );
    // The document is checked against the code the re-plan used.
    let doc_key = reqs[0].operation.idempotency_key.clone();
    let d = walk(vec![
        matched,
        (doc_key, found(&[("SO9", Some("BOB"))], true)),
    ]);
    assert!(
        matches!(&d.verdict, Verdict::Attention(m) if m.contains("another shop") && m.contains("customer ANNA01")),
        "{:?}",
        d.verdict
    );
}

#[test]
fn a_document_already_in_x3_is_adopted_and_duplicates_are_said() {
    let (reqs, end) = after_new_customer(found(
        &[
            ("SO0009", Some(derived().as_str())),
            ("SO0007", Some(derived().as_str())),
        ],
        false,
    ));
    assert_eq!(posted(&end).document, "SO0007", "the lowest number");
    let n = notes(&end);
    assert!(
        n.iter()
            .any(|l| l == "attention: X3 holds 2 documents with reference WC-39: SO0007, SO0009"),
        "{n:?}"
    );
    assert!(n.iter().any(|l| l == "adopted: found SO0007 (WC-39) already in X3 (posted before this host's records begin)"), "{n:?}");
    assert!(end.records.contains(&Record::Adopted {
        idempotency_key: reqs[1].operation.idempotency_key.clone(),
        kind: OperationKind::CreateSalesOrder,
        reference: "WC-39".into(),
        document: "SO0007".into(),
    }));
}

#[test]
fn another_customers_document_under_our_reference_needs_a_person() {
    let (_, end) = after_new_customer(found(&[("SO0100", Some("OTHER"))], true));
    let Verdict::Attention(m) = &end.verdict else {
        panic!("{:?}", end.verdict)
    };
    assert!(
        m.contains("X3 already has SO0100 with reference WC-39 for customer OTHER"),
        "{m}"
    );
    assert!(
        !end.records
            .iter()
            .any(|r| matches!(r, Record::Adopted { .. }))
    );
}

#[test]
fn a_refused_create_is_looked_up_once_then_adopted_or_failed() {
    let reqs = first_requests();
    let (ckey, dkey) = (
        reqs[0].operation.idempotency_key.clone(),
        reqs[1].operation.idempotency_key.clone(),
    );
    let refused = failed(Phase::Create, FailureKind::Refused, "X3 refused: locked");
    let base = vec![
        (ckey.clone(), RequestOutcome::Created(derived())),
        (dkey.clone(), refused.clone()),
    ];
    let d = walk(base.clone());
    let again = run(&d);
    assert_eq!(again.len(), 1);
    assert!(again[0].lookup_only, "one look before anything else");
    assert!(notes(&d).contains(&"error: sales order WC-39: X3 refused: locked".to_string()));

    // X3 committed it after all: adopted.
    let mut adopted = base.clone();
    adopted.push((
        dkey.clone(),
        found(&[("SO0200", Some(derived().as_str()))], true),
    ));
    let end = walk(adopted);
    assert_eq!(posted(&end).document, "SO0200");
    assert!(
        notes(&end)
            .iter()
            .any(|l| l.ends_with("from an earlier attempt"))
    );

    // It did not: the ledger says so and a person looks.
    let mut absent = base;
    absent.push((dkey.clone(), found(&[], true)));
    let end = walk(absent);
    assert_eq!(end.verdict, Verdict::Attention("X3 refused: locked".into()));
    assert!(end.records.contains(&Record::LedgerFailed {
        idempotency_key: dkey,
        error: "X3 refused: locked".into(),
    }));
}

#[test]
fn failures_x3_answered_need_a_person_and_the_rest_are_retried() {
    let reqs = first_requests();
    let ckey = reqs[0].operation.idempotency_key.clone();
    for (kind, person) in [
        (FailureKind::Rejected, true),
        (FailureKind::Config, true),
        (FailureKind::Misconfigured, true),
        (FailureKind::Transient, false),
        (FailureKind::Unknown, false),
        (FailureKind::Auth, false),
    ] {
        let d = walk(vec![(ckey.clone(), failed(Phase::Lookup, kind, "no"))]);
        match (&d.verdict, person) {
            (Verdict::Attention(m), true) | (Verdict::Retry(m), false) => assert_eq!(m, "no"),
            (v, _) => panic!("{kind:?}: {v:?}"),
        }
    }
    // A document create with no answer is noted as unknown and retried (the ledger row stays
    // and the next attempt looks X3 up first).
    let d = walk(vec![
        (ckey.clone(), RequestOutcome::Created(derived())),
        (
            reqs[1].operation.idempotency_key.clone(),
            failed(Phase::Create, FailureKind::Unknown, "timed out"),
        ),
    ]);
    assert_eq!(d.verdict, Verdict::Retry("timed out".into()));
    assert!(notes(&d).contains(&"unknown: sales order WC-39: timed out".to_string()));
}

#[test]
fn a_failed_customer_create_finds_the_customer_another_worker_made() {
    let reqs = first_requests();
    let ckey = reqs[0].operation.idempotency_key.clone();
    let refused = failed(
        Phase::Create,
        FailureKind::Rejected,
        "Record already exists",
    );
    let d = walk(vec![(ckey.clone(), refused.clone())]);
    assert!(run(&d)[0].lookup_only);
    let d = walk(vec![
        (ckey.clone(), refused.clone()),
        (ckey.clone(), found(&[(derived().as_str(), None)], true)),
    ]);
    assert!(d.records.contains(&Record::LedgerDone {
        idempotency_key: ckey.clone(),
        x3_key: derived(),
    }));
    assert_eq!(run(&d)[0].operation.kind, OperationKind::CreateSalesOrder);
    let d = walk(vec![(ckey.clone(), refused), (ckey, found(&[], true))]);
    assert_eq!(
        d.verdict,
        Verdict::Attention("Record already exists".into())
    );
}

#[test]
fn the_status_decides_before_the_body_and_trash_before_both() {
    let mut f = facts(vec![]);
    f.status = "pending".into();
    assert_eq!(ask(&f).verdict, Verdict::Waiting);
    let junk = decide(
        b"not json",
        &rows(),
        &settings(),
        &default_status_map(),
        None,
        &f,
    )
    .unwrap();
    assert_eq!(
        junk.verdict,
        Verdict::Waiting,
        "a status that waits needs no body"
    );

    f.trashed = true;
    assert_eq!(ask(&f).verdict, Verdict::Trashed);
    f.posted = Some(PostedAs {
        document: "SO0001".into(),
        customer_code: "C1".into(),
    });
    let d = ask(&f);
    assert_eq!(
        d.verdict,
        Verdict::Attention("trashed in WooCommerce after it was posted to X3 as SO0001".into())
    );
    assert_eq!(notes(&d).len(), 1);

    f.trashed = false;
    f.status = "processing".into();
    assert!(matches!(
        decide(
            b"not json",
            &rows(),
            &settings(),
            &default_status_map(),
            None,
            &facts(vec![])
        ),
        Err(Error::InvalidJson(_))
    ));
}

#[test]
fn an_unmapped_line_holds_and_an_outcome_nobody_asked_for_is_refused() {
    let held = decide(
        &body(),
        &parse_csv(
            "key_type,key,item_code,sales_unit,gl_account,dimensions,site\nproduct,13,TSHIRT,,,,\n",
            &settings().dimension_types,
        )
        .unwrap(),
        &settings(),
        &default_status_map(),
        None,
        &facts(vec![]),
    )
    .unwrap();
    let Verdict::Held(h) = held.verdict else {
        panic!("{:?}", held.verdict)
    };
    assert!(!h.missing.is_empty());
    let d = ask(&facts(vec![(
        "shop1/order/39/elsewhere".into(),
        RequestOutcome::Created("X".into()),
    )]));
    assert!(
        matches!(d.verdict, Verdict::Attention(ref m) if m.contains("no request of the plan asked for")),
        "{:?}",
        d.verdict
    );
}

#[test]
fn a_broken_status_map_refuses_the_order_naming_the_rule() {
    let mut map = default_status_map();
    map.push(map[0].clone());
    let e = decide(&body(), &rows(), &settings(), &map, None, &facts(vec![])).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidSettings(m) if m.starts_with("invalid status map: rule") && m.contains("mapped twice")),
        "{e:?}"
    );
}
