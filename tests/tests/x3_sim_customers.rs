//! x3-sim: updating a customer's addresses, as the connector's customer sync does — REST
//! `PUT BPCUSTOMER('code')…$edit` with the `BPADDRESS` collection and GraphQL `update(data:)`,
//! both as strict as a create (types, lengths, unknown properties refused with X3's 500 and
//! `$diagnoses`), the update stamp moved, and the calls counted.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed assertion

mod x3_sim_common;

use serde_json::{Value, json};
use x3_sim_common::T;

/// A customer with a billing and a shipping address, created over REST as the host creates one.
fn anna(t: &T) -> Value {
    let body = json!({"BCGCOD":"WEB","BPCNUM":"WANNA","BPRNAM":"Anna Berg","BPRSHO":"Anna Berg",
        "CUR":"EUR","BPAINV":"BIL","BPAADD":"BIL","BPDADD":"SHP",
        "BPADDRESS":[
            {"BPAADD":"BIL","BPADES":"Billing","BPAADDLIG":["1 Rue Haute","",""],"POSCOD":"69001",
             "CTY":"Lyon","SAT":"","CRY":"FR","TEL":"+33 4","WEB":"anna@example.com","BPAADDFLG":2},
            {"BPAADD":"SHP","BPADES":"Shipping","BPAADDLIG":["5 Allée Verte","",""],"POSCOD":"38000",
             "CTY":"Grenoble","SAT":"","CRY":"FR","TEL":"+33 4","WEB":"anna@example.com","BPAADDFLG":1}]});
    let r = t.create("BPCUSTOMER", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn edit_url(t: &T, code: &str) -> String {
    t.rest(&format!("BPCUSTOMER('{code}')"), "BPCUSTOMER.$edit")
}

fn diag(v: &Value) -> String {
    v["$diagnoses"][0]["$message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_put_with_the_address_collection_replaces_the_lines_keeps_the_header_and_moves_the_stamp() {
    let t = T::seeded();
    let created = anna(&t);
    let stamp = created["UPDDATTIM"].as_str().unwrap().to_string();
    // Stamps have one-second resolution (YYYY-MM-DDThh:mm:ssZ): wait for the next second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut lines = created["BPADDRESS"].as_array().unwrap().clone();
    lines[0]["CTY"] = json!("Nice");
    lines[0]["POSCOD"] = json!("06000");
    lines[0]["BPAADDLIG"] = json!(["9 Quai Bas", "", ""]);
    let r = t.call("PUT", &edit_url(&t, "WANNA"), &json!({"BPADDRESS": lines}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["BPADDRESS"][0]["CTY"], "Nice");
    assert_eq!(
        v["BPADDRESS"][0]["BPAADDLIG"],
        json!(["9 Quai Bas", "", ""])
    );
    assert_eq!(
        v["BPADDRESS"][1]["CTY"], "Grenoble",
        "the line sent as read"
    );
    assert_eq!(v["BPRNAM"], "Anna Berg", "header fields not named stay");
    assert_eq!(v["BPDADD"], "SHP");
    assert!(
        v["UPDDATTIM"].as_str().unwrap() > stamp.as_str(),
        "{} after {stamp}",
        v["UPDDATTIM"]
    );
    assert_eq!(v["CREDATTIM"], created["CREDATTIM"]);
    // Read back: the same. A collection given is the whole collection: one line sent, one kept.
    let r = t.call(
        "PUT",
        &edit_url(&t, "WANNA"),
        &json!({"BPDADD": "BIL", "BPADDRESS": [v["BPADDRESS"][0].clone()]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let back = t
        .get(&t.rest("BPCUSTOMER('WANNA')", "BPCUSTOMER.$details"))
        .json();
    assert_eq!(back["BPADDRESS"].as_array().unwrap().len(), 1);
    assert_eq!(back["BPADDRESS"][0]["CTY"], "Nice");
    assert_eq!(t.sim.calls_of("PUT BPCUSTOMER $edit"), 2);
    assert_eq!(t.sim.calls_of("GET BPCUSTOMER $details"), 1);
    assert_eq!(t.sim.calls_of("POST BPCUSTOMER $create"), 1);
}

#[test]
fn an_address_update_is_as_strict_as_a_create_and_a_refusal_changes_nothing() {
    let t = T::seeded();
    let created = anna(&t);
    let line = |f: &str, v: Value| {
        let mut l = created["BPADDRESS"][0].clone();
        l[f] = v;
        json!({"BPADDRESS": [l, created["BPADDRESS"][1].clone()]})
    };
    let cases = [
        (line("CITY", json!("Nice")), "CITY: unknown property"),
        (
            line("CTY", json!("x".repeat(41))),
            "CTY: 41 characters exceed the maximum length 40",
        ),
        (
            line("POSCOD", json!(6000)),
            "POSCOD: application/x-string of at most 10 characters expected, got a number",
        ),
        (
            line("BPAADDLIG", json!("9 Quai Bas")),
            "BPAADDLIG: application/x-array",
        ),
        (
            line("BPAADDLIG", json!(["1", "2", "3", "4"])),
            "BPAADDLIG: 4 elements, at most 3",
        ),
        (line("BPAADD", json!("SHP")), "BPAADD: address SHP repeated"),
        (line("BPAADD", json!("")), "BPAADD: mandatory field"),
        (
            json!({"BPADDRESS": []}),
            "BPADDRESS: at least one line is mandatory",
        ),
        (
            json!({"BPADDRESS": [created["BPADDRESS"][0].clone()]}),
            "BPDADD: address SHP is not in BPADDRESS",
        ),
        (
            json!({"BPCNUM": "WOTHER"}),
            "BPCNUM: the key cannot be changed",
        ),
        (json!({"WEB": "anna@example.com"}), "WEB: unknown property"),
    ];
    for (body, want) in cases {
        let r = t.call("PUT", &edit_url(&t, "WANNA"), &body);
        assert_eq!(r.status, 500, "{want}: {}", r.body);
        assert_eq!(r.json()["$diagnoses"][0]["$severity"], "error");
        assert!(diag(&r.json()).contains(want), "{want}: {}", r.body);
    }
    let now = t
        .get(&t.rest("BPCUSTOMER('WANNA')", "BPCUSTOMER.$details"))
        .json();
    assert_eq!(now["BPADDRESS"], created["BPADDRESS"], "nothing changed");
    assert_eq!(now["UPDDATTIM"], created["UPDDATTIM"]);
    // An unknown customer is 404, a body that is not an object 400.
    let r = t.call("PUT", &edit_url(&t, "WNOBODY"), &json!({"BPRNAM": "x"}));
    assert_eq!(r.status, 404, "{}", r.body);
    let r = t.call("PUT", &edit_url(&t, "WANNA"), &json!([1]));
    assert_eq!(r.status, 400, "{}", r.body);
}

const READ: &str = "query($id: Id!) { x3MasterData { customer { read(_id: $id) {
    code _updateStamp addresses { query(first: 50) { edges { node {
      _id code description addressLines zipCode city state country phone email isDefault } } } } } } } }";

const UPDATE: &str = "mutation($data: Customer_Input!) { x3MasterData { customer { update(data: $data) {
    code _updateStamp addresses { query(first: 50) { edges { node {
      _id code description addressLines zipCode city state country phone email isDefault } } } } } } } }";

fn nodes(v: &Value, op: &str) -> Vec<Value> {
    v["data"]["x3MasterData"]["customer"][op]["addresses"]["query"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no addresses: {v}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn gql_error(v: &Value) -> String {
    assert_eq!(v["data"], Value::Null, "{v}");
    v["errors"][0]["message"].as_str().unwrap_or("").to_string()
}

#[test]
fn graphql_reads_the_addresses_as_a_connection_and_updates_them_with_the_same_rules() {
    let t = T::seeded();
    anna(&t);
    let v = t.gql(READ, json!({"id": "WANNA"}));
    let read = nodes(&v, "read");
    assert_eq!(read.len(), 2, "{v}");
    assert_eq!(read[0]["city"], "Lyon");
    assert_eq!(read[0]["isDefault"], true);
    let stamp = v["data"]["x3MasterData"]["customer"]["read"]["_updateStamp"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut lines = read.clone();
    lines[0]["city"] = json!("Nice");
    lines[0]["addressLines"] = json!(["9 Quai Bas", "", ""]);
    let v = t.gql(
        UPDATE,
        json!({"data": {"code": "WANNA", "addresses": lines}}),
    );
    let updated = nodes(&v, "update");
    assert_eq!(updated[0]["city"], "Nice", "{v}");
    assert_eq!(updated[0]["addressLines"], json!(["9 Quai Bas", "", ""]));
    let without_id = |mut v: Value| {
        v.as_object_mut().unwrap().remove("_id");
        v
    };
    // The collection is replaced: every line as sent (new line ids, as after a REST PUT).
    assert_eq!(
        without_id(updated[1].clone()),
        without_id(read[1].clone()),
        "the other line as sent"
    );
    assert!(
        v["data"]["x3MasterData"]["customer"]["update"]["_updateStamp"]
            .as_str()
            .unwrap()
            > stamp.as_str()
    );
    // REST sees the same record.
    let rest = t
        .get(&t.rest("BPCUSTOMER('WANNA')", "BPCUSTOMER.$details"))
        .json();
    assert_eq!(rest["BPADDRESS"][0]["CTY"], "Nice");
    assert_eq!(t.sim.calls_of("GraphQL x3MasterData.customer.update"), 1);
    assert_eq!(t.sim.calls_of("GraphQL x3MasterData.customer.read"), 1);
    // Refusals are errors, and change nothing.
    let bad = |f: &str, val: Value| {
        let mut l = updated.clone();
        l[0][f] = val;
        t.gql(UPDATE, json!({"data": {"code": "WANNA", "addresses": l}}))
    };
    assert!(gql_error(&bad("town", json!("Nice"))).contains("town: unknown property"));
    assert!(gql_error(&bad("city", json!("x".repeat(41)))).contains("CTY: 41 characters"));
    assert!(gql_error(&bad("code", json!("SHP"))).contains("repeated"));
    let msg = gql_error(&t.gql(
        UPDATE,
        json!({"data": {"code": "WNOBODY", "addresses": updated}}),
    ));
    assert!(msg.contains("Record does not exist"), "{msg}");
    let after = t.gql(READ, json!({"id": "WANNA"}));
    assert_eq!(nodes(&after, "read"), updated);
    assert_eq!(t.sim.calls_of("GraphQL x3MasterData.customer.update"), 5);
}
