//! x3-sim GraphQL (`POST /xtrem/api`) over real HTTP: the connector's mutations, queries with
//! filters, orderBy, paging and field selection, `read`, errors, and that REST and GraphQL show
//! the same records.

mod x3_sim_common;

use serde_json::{Value, json};
use x3_sim_common::{T, send};

const CREATE_CUSTOMER: &str = "mutation($data: Customer_Input!) { x3MasterData { customer { create(data: $data) { code companyName1 } } } }";
const CREATE_ORDER: &str =
    "mutation($data: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $data) { id } } } }";

fn order_data(reference: &str, date: &str) -> Value {
    json!({"salesSite":"FR011","salesOrderType":"WEB","soldToCustomer":"C001","orderDate":date,
           "shippingSite":"FR011","currency":"EUR","customerOrderReference":reference,
           "shipToAddress":{"name":"Jane","addressLines":["1 rue X","",""],"city":"Paris","country":"FR"},
           "lines":[{"product":"ITM1","description":"Widget","quantityInSalesUnitOrdered":"2",
                     "salesUnit":"UN","grossPrice":"12.5","dimension1":"WEB"}]})
}

fn create_order(t: &T, reference: &str, date: &str) -> String {
    let v = t.gql(CREATE_ORDER, json!({"data": order_data(reference, date)}));
    assert!(v.get("errors").is_none(), "{v}");
    v["data"]["x3Sales"]["salesOrder"]["create"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn edges(v: &Value, pkg: &str, node: &str) -> Vec<Value> {
    v["data"][pkg][node]["query"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no edges: {v}"))
}

#[test]
fn mutations_create_records_rest_reads_with_field_codes() {
    let t = T::seeded();
    let data = json!({"code":"WJANE","customerCategory":"WEB","companyName1":"Jane Doe",
        "shortCompanyName":"Jane","currency":"EUR","defaultAddress":"BIL",
        "billToAddress":"BIL","shipToAddress":"BIL",
        "addresses":[{"code":"BIL","description":"Billing","addressLines":["1 rue X","",""],
                      "zipCode":"75001","city":"Paris","country":"FR","email":"jane@example.com","isDefault":true}]});
    let v = t.gql(CREATE_CUSTOMER, json!({"data": data}));
    assert_eq!(
        v["data"]["x3MasterData"]["customer"]["create"],
        json!({"code":"WJANE","companyName1":"Jane Doe"})
    );
    let c = t
        .get(&t.rest("BPCUSTOMER('WJANE')", "BPCUSTOMER.$details"))
        .json();
    assert_eq!(c["BPRNAM"], "Jane Doe");
    assert!(
        c.get("WEB").is_none(),
        "no header e-mail on BPCUSTOMER: {c}"
    );
    assert_eq!(c["BPADDRESS"][0]["WEB"], "jane@example.com");
    assert_eq!(c["BPADDRESS"][0]["BPAADDLIG"], json!(["1 rue X", "", ""]));
    assert_eq!(c["BPADDRESS"][0]["BPAADDFLG"], 2);

    let id = create_order(&t, "WC-77", "2025-06-01");
    assert_eq!(id, "SOHFR011000001");
    let o = t
        .get(&t.rest(&format!("SORDER('{id}')"), "SORDER.$details"))
        .json();
    assert_eq!(o["CUSORDREF"], "WC-77");
    assert_eq!(o["BPDNAM"], "Jane");
    assert_eq!(o["BPDADDLIG"], json!(["1 rue X", "", ""]));
    assert_eq!(o["BPDCTY"], "Paris");
    assert_eq!(o["SOHSOP"][0]["SOPLIN"], 1000);
    assert_eq!(o["SOHSOP"][0]["QTY"], 2);
    assert_eq!(o["SOHSOP"][0]["CCE1"], "WEB");
}

#[test]
fn rest_records_are_visible_in_graphql_with_the_same_stamps() {
    let t = T::seeded();
    let r = t.order("WC-5", "2025-06-01", json!([{"ITMREF":"ITM1","QTY":1}]));
    let rest = r.json();
    let v = t.gql(
        "query($id: Id!) { x3Sales { salesOrder { read(_id: $id) {
            _id id customerOrderReference deliveryStatus orderStatus _createStamp _updateStamp
            soldToCustomer { code }
            lines { query { totalCount edges { node { lineNumber product { code } quantityInSalesUnitOrdered } } } } } } } }",
        json!({"id": rest["SOHNUM"]}),
    );
    let n = &v["data"]["x3Sales"]["salesOrder"]["read"];
    assert_eq!(n["customerOrderReference"], "WC-5");
    assert_eq!(n["_createStamp"], rest["CREDATTIM"]);
    assert_eq!(n["_updateStamp"], rest["UPDDATTIM"]);
    assert_eq!(n["soldToCustomer"], json!({"code":"C001"}));
    assert_eq!(
        (n["deliveryStatus"].clone(), n["orderStatus"].clone()),
        (json!(1), json!(1))
    );
    let lines = &n["lines"]["query"];
    assert_eq!(lines["totalCount"], 1);
    assert_eq!(
        lines["edges"][0]["node"],
        json!({"lineNumber":1000,"product":{"code":"ITM1"},"quantityInSalesUnitOrdered":1})
    );
    let v = t.gql(
        "{ x3Sales { salesOrder { read(_id: \"NOPE\") { id } } } }",
        Value::Null,
    );
    assert_eq!(v["data"]["x3Sales"]["salesOrder"]["read"], Value::Null);
}

#[test]
fn field_selection_returns_only_selected_fields_with_aliases() {
    let t = T::seeded();
    create_order(&t, "WC-1", "2025-06-01");
    let v = t.gql(
        "{ x3Sales { salesOrder { query { edges { node { ref: customerOrderReference shipToAddress { city } } } } } } }",
        Value::Null,
    );
    let node = &edges(&v, "x3Sales", "salesOrder")[0]["node"];
    assert_eq!(
        node,
        &json!({"ref":"WC-1","shipToAddress":{"city":"Paris"}})
    );
}

#[test]
fn filters_in_xtrem_syntax_select_records() {
    let t = T::seeded();
    for (r, d) in [
        ("WC-1", "2025-01-01"),
        ("WC-2", "2025-02-01"),
        ("O'3", "2025-03-01"),
    ] {
        create_order(&t, r, d);
    }
    let q = "query($filter: String) { x3Sales { salesOrder { query(filter: $filter) { totalCount edges { node { customerOrderReference } } } } } }";
    let refs = |filter: &str| -> Vec<String> {
        let v = t.gql(q, json!({ "filter": filter }));
        edges(&v, "x3Sales", "salesOrder")
            .iter()
            .map(|e| {
                e["node"]["customerOrderReference"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(refs("{customerOrderReference:'WC-2'}"), ["WC-2"]);
    assert_eq!(refs(r"{customerOrderReference:'O\'3'}"), ["O'3"]);
    assert_eq!(
        refs(r#"{"customerOrderReference":{"_eq":"WC-1"}}"#),
        ["WC-1"]
    );
    assert_eq!(
        refs("{customerOrderReference:{_in:['WC-1','O\\'3']}}"),
        ["WC-1", "O'3"]
    );
    assert_eq!(
        refs("{orderDate:{_gte:'2025-02-01',_lt:'2025-03-01'}}"),
        ["WC-2"]
    );
    assert_eq!(
        refs("{orderDate:{_gt:'2025-01-01'},customerOrderReference:{_ne:'O\\'3'}}"),
        ["WC-2"]
    );
    assert_eq!(
        refs("{_or:[{customerOrderReference:'WC-1'},{orderDate:'2025-03-01'}]}"),
        ["WC-1", "O'3"]
    );
    assert_eq!(
        refs("{customerOrderReference:{_not:{_regex:'^WC-'}}}"),
        ["O'3"]
    );
    assert_eq!(
        refs("{customerOrderReference:{_regex:'^wc-[12]$',_options:'i'}}"),
        ["WC-1", "WC-2"]
    );
    assert_eq!(
        refs("{soldToCustomer:{code:'C001'},shipToAddress:{city:'Paris'}}").len(),
        3
    );
    assert_eq!(refs("{lines:{_atLeast:1,product:{code:'ITM1'}}}").len(), 3);
    assert!(refs("{soldToCustomer:'C002'}").is_empty());

    let v = t.gql(
        "{ x3MasterData { customer { query(filter: \"{addresses:{email:'o\\\\'brien@example.com'}}\") { edges { node { code } } } } } }",
        Value::Null,
    );
    assert_eq!(
        edges(&v, "x3MasterData", "customer")[0]["node"]["code"],
        "C001"
    );
}

#[test]
fn order_by_and_cursor_paging() {
    let t = T::seeded();
    for (r, d) in [
        ("A", "2025-01-01"),
        ("B", "2025-03-01"),
        ("C", "2025-02-01"),
        ("D", "2025-04-01"),
        ("E", "2025-05-01"),
    ] {
        create_order(&t, r, d);
    }
    let q = "query($first: Int!, $after: String, $orderBy: String) { x3Sales { salesOrder {
        query(first: $first, after: $after, orderBy: $orderBy) {
          totalCount edges { cursor node { customerOrderReference } }
          pageInfo { endCursor hasNextPage startCursor hasPreviousPage } } } } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let v = t.gql(
            q,
            json!({"first": 2, "after": after, "orderBy": "{orderDate:-1}"}),
        );
        let conn = &v["data"]["x3Sales"]["salesOrder"]["query"];
        assert_eq!(conn["totalCount"], 5);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        for e in conn["edges"].as_array().expect("edges") {
            let c = e["cursor"].as_str().expect("cursor");
            assert!(
                c.starts_with("[\"") && c.contains("\"]#"),
                "cursor shape: {c}"
            );
            seen.push(
                e["node"]["customerOrderReference"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["E", "D", "B", "C", "A"]);
    let v = t.gql(
        q,
        json!({"first": 10, "orderBy": "{customerOrderReference:1}"}),
    );
    let refs: Vec<_> = edges(&v, "x3Sales", "salesOrder")
        .iter()
        .map(|e| e["node"]["customerOrderReference"].clone())
        .collect();
    assert_eq!(
        refs,
        [json!("A"), json!("B"), json!("C"), json!("D"), json!("E")]
    );
}

#[test]
fn other_nodes_answer_products_stock_deliveries_invoices() {
    let t = T::seeded();
    let v = t.gql(
        "{ x3MasterData { product { query(filter: \"{code:'ITM2'}\") { edges { node { code description1 stockUnit { code } } } } } }
           x3StockData { stock { query(orderBy: \"{product:{code:-1}}\") { edges { node { _id quantityInStockUnit } } } } } }",
        Value::Null,
    );
    assert_eq!(
        edges(&v, "x3MasterData", "product")[0]["node"],
        json!({"code":"ITM2","description1":"Gadget","stockUnit":{"code":"UN"}})
    );
    let stock: Vec<_> = edges(&v, "x3StockData", "stock")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        stock,
        [
            json!({"_id":"FR011~2","quantityInStockUnit":1}),
            json!({"_id":"FR011~1","quantityInStockUnit":10})
        ]
    );

    let id = create_order(&t, "WC-D", "2025-06-01");
    let v = t.gql(
        "mutation($d: SalesDelivery_Input!) { x3Sales { salesDelivery { create(data: $d) { id salesOrder { id } } } } }",
        json!({"d": {"salesSite":"FR011","shippingSite":"FR011","soldToCustomer":"C001","deliveryDate":"2025-06-02",
                     "salesOrder": id, "lines":[{"salesOrderLine":1000,"quantityInSalesUnitDelivered":"2"}]}}),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesDelivery"]["create"]["salesOrder"]["id"],
        id.as_str(),
        "{v}"
    );
    let v = t.gql(
        "mutation($d: SalesInvoice_Input!) { x3Sales { salesInvoice { create(data: $d) { id billToCustomer { code } } } } }",
        json!({"d": {"salesSite":"FR011","invoiceType":"INV","billToCustomer":"C001","invoiceDate":"2025-06-03",
                     "currency":"EUR","customerOrderReference":"WC-D","lines":[{"product":"ITM1","quantityInSalesUnitOrdered":1}]}}),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesInvoice"]["create"]["id"], "SIHFR011000001",
        "{v}"
    );
    let state = t.sim.state();
    assert_eq!(state["records"]["STOCK"][0]["QTYSTU"], 8);
    assert_eq!(state["records"]["SORDER"][0]["DLVSTA"], 3);
}

#[test]
fn update_mutation_closes_a_sales_order() {
    let t = T::seeded();
    let id = create_order(&t, "WC-U", "2025-06-01");
    let v = t.gql(
        "mutation($d: SalesOrder_Input!) { x3Sales { salesOrder { update(data: $d) { id orderStatus } } } }",
        json!({"d": {"id": id, "orderStatus": 2}}),
    );
    assert_eq!(
        v["data"]["x3Sales"]["salesOrder"]["update"],
        json!({"id": id, "orderStatus": 2}),
        "{v}"
    );
}

fn error_of(v: &Value) -> String {
    assert_eq!(v["data"], Value::Null, "{v}");
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"))
        .to_string()
}

#[test]
fn errors_come_back_as_graphql_errors() {
    let t = T::seeded();
    assert!(
        error_of(&t.gql(
            "{ x3Sales { salesOrder { query { edges { node { nope } } } } } }",
            Value::Null
        ))
        .contains("nope")
    );
    assert!(error_of(&t.gql("{ x3Nope { a } }", Value::Null)).contains("x3Nope"));
    assert!(
        error_of(&t.gql(
            "{ x3Sales { salesOrder { query { edges { node { id } } }",
            Value::Null
        ))
        .contains("Syntax Error")
    );
    assert!(
        error_of(&t.gql(
            "{ x3Sales { salesOrder { query(filter: \"{id:\") { totalCount } } } }",
            Value::Null
        ))
        .contains("filter")
    );
    assert!(
        error_of(&t.gql(
            "{ x3Sales { salesOrder { query(filter: \"{nope:1}\") { totalCount } } } }",
            Value::Null
        ))
        .contains("nope")
    );
    assert!(
        error_of(&t.gql(
            "{ x3Sales { salesOrder { query { edges { node { lines { lineNumber } } } } } } }",
            Value::Null
        ))
        .contains("lineNumber")
    );
    let mut data = order_data("WC-X", "2025-06-01");
    data["soldToCustomer"] = json!("NOPE");
    assert!(error_of(&t.gql(CREATE_ORDER, json!({"data": data}))).contains("NOPE"));
    let mut data = order_data("WC-X", "2025-06-01");
    data["bogus"] = json!(1);
    assert!(error_of(&t.gql(CREATE_ORDER, json!({"data": data}))).contains("bogus"));
    assert_eq!(t.sim.state()["counts"]["SORDER"], 0);

    let url = format!("{}/xtrem/api", t.sim.base_url());
    let body = json!({"query":"{ x3Sales { salesOrder { query { totalCount } } } }"}).to_string();
    for (endpoint, needle) in [(None, "x-xtrem-endpoint"), (Some("OTHER"), "OTHER")] {
        let mut h = vec![
            ("Authorization", t.auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(e) = endpoint {
            h.push(("x-xtrem-endpoint", e));
        }
        let r = send(&t.agent, "POST", &url, &h, Some(body.as_bytes())).expect("post");
        assert_eq!(r.status, 200);
        assert!(error_of(&r.json()).contains(needle));
    }
    let h = [
        ("Authorization", t.auth.as_str()),
        ("x-xtrem-endpoint", "SEED"),
    ];
    let r = send(&t.agent, "POST", &url, &h, Some(b"{\"query\": ")).expect("post");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("SyntaxError"), "{}", r.body);
}

// ---- customer addresses as the reference's customer node keeps them (x3-api.md §3.7)

const CREATE_CUSTOMER_FULL: &str = "mutation($data: Customer_Input!) { x3MasterData { customer { create(data: $data) {
    code addresses { query { edges { node {
      code description addressLines zipCode city state country phone email isDefault } } } } } } } }";

fn customer_data(code: &str, emails: &[&str]) -> Value {
    let addrs: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({"code": format!("A{i}"), "addressLines": ["1 rue X"], "city": "Paris",
                              "country": "FR", "email": e, "isDefault": i == 0})
        })
        .collect();
    json!({"code": code, "customerCategory": "WEB", "companyName1": code, "addresses": addrs})
}

#[test]
fn customer_node_has_no_top_level_email_telephone_or_address_lines() {
    let t = T::seeded();
    for (prop, v) in [
        ("email", json!("anna@example.com")),
        ("telephone", json!("0102030405")),
        ("addressLine1", json!("1 rue X")),
        ("addressLine2", json!("")),
        ("addressLine3", json!("")),
    ] {
        let mut data = customer_data("WANNA", &["anna@example.com"]);
        data[prop] = v;
        let msg = error_of(&t.gql(CREATE_CUSTOMER, json!({ "data": data })));
        assert!(msg.contains(prop), "{prop}: {msg}");
    }
    assert_eq!(t.sim.state()["counts"]["BPCUSTOMER"], 2, "nothing stored");
    let msg = error_of(&t.gql(
        "{ x3MasterData { customer { query(filter: \"{email:'anna@example.com'}\") { totalCount } } } }",
        Value::Null,
    ));
    assert!(msg.contains("'email'"), "{msg}");
    let msg = error_of(&t.gql(
        "{ x3MasterData { customer { query { edges { node { code email } } } } } }",
        Value::Null,
    ));
    assert!(msg.contains("\"email\""), "{msg}");
    // The old address names are gone too.
    let mut data = customer_data("WANNA", &["anna@example.com"]);
    data["addresses"][0]["telephone"] = json!("01");
    let msg = error_of(&t.gql(CREATE_CUSTOMER, json!({ "data": data })));
    assert!(msg.contains("telephone"), "{msg}");
}

#[test]
fn customer_address_node_has_a_list_of_three_address_lines_phone_and_email() {
    let t = T::seeded();
    let data = json!({"code":"WANNA","customerCategory":"WEB","companyName1":"Anna",
        "addresses":[{"code":"BIL","description":"Billing","addressLines":["1 rue X","Bât. B"],
                      "zipCode":"75001","city":"Paris","state":"IDF","country":"FR","phone":"+33102030405",
                      "email":"anna@example.com","isDefault":true}]});
    let v = t.gql(CREATE_CUSTOMER_FULL, json!({ "data": data }));
    let node =
        &v["data"]["x3MasterData"]["customer"]["create"]["addresses"]["query"]["edges"][0]["node"];
    assert_eq!(
        node,
        &json!({"code":"BIL","description":"Billing","addressLines":["1 rue X","Bât. B",""],
                "zipCode":"75001","city":"Paris","state":"IDF","country":"FR","phone":"+33102030405",
                "email":"anna@example.com","isDefault":true}),
        "{v}"
    );
    let c = t
        .get(&t.rest("BPCUSTOMER('WANNA')", "BPCUSTOMER.$details"))
        .json();
    let a = &c["BPADDRESS"][0];
    assert_eq!(a["BPAADDLIG"], json!(["1 rue X", "Bât. B", ""]));
    assert_eq!(
        (a["TEL"].clone(), a["WEB"].clone()),
        (json!("+33102030405"), json!("anna@example.com"))
    );
    let mut data = customer_data("WFOUR", &["x@example.com"]);
    data["addresses"][0]["addressLines"] = json!(["1", "2", "3", "4"]);
    assert!(error_of(&t.gql(CREATE_CUSTOMER, json!({ "data": data }))).contains("BPAADDLIG"));
}

#[test]
fn address_filters_take_collection_operators_and_javascript_regex() {
    let t = T::new();
    t.sim
        .seed(&json!({"customer_categories":["WEB"]}))
        .expect("seed");
    for (code, emails) in [
        ("W1", vec!["Anna@example.com", "billing@example.com"]),
        ("W2", vec!["anna@example.com"]),
        ("W3", vec!["anna@exampleXcom"]),
        ("W4", vec!["bob@example.com", "anna@example.com.evil"]),
    ] {
        let v = t.gql(
            CREATE_CUSTOMER,
            json!({ "data": customer_data(code, &emails) }),
        );
        assert!(v.get("errors").is_none(), "{v}");
    }
    let q = "query($f: String) { x3MasterData { customer { query(filter: $f) { edges { node { code } } } } } }";
    let codes = |f: &str| -> Vec<String> {
        let v = t.gql(q, json!({ "f": f }));
        edges(&v, "x3MasterData", "customer")
            .iter()
            .map(|e| e["node"]["code"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let anna = r"'^[Aa]nna@example\\.com$'";
    assert_eq!(
        codes(&format!(
            "{{addresses:{{_atLeast:1, email:{{_regex:{anna}}}}}}}"
        )),
        ["W1", "W2"]
    );
    assert_eq!(
        codes(r"{addresses:{_atLeast:2, email:{_regex:'@example\\.com$'}}}"),
        ["W1"]
    );
    assert_eq!(
        codes(&format!(
            "{{addresses:{{_every:true, email:{{_regex:{anna}}}}}}}"
        )),
        ["W2"]
    );
    assert_eq!(
        codes(&format!(
            "{{addresses:{{_none:true, email:{{_regex:{anna}}}}}}}"
        )),
        ["W3", "W4"]
    );
    assert_eq!(
        codes("{addresses:{email:{_regex:'^ANNA@', _options:'i'}}}"),
        ["W1", "W2", "W3", "W4"]
    );
    let msg = error_of(&t.gql(q, json!({"f": "{addresses:{email:{_regex:'(?=a)'}}}"})));
    assert!(msg.contains("not supported"), "{msg}");
}

#[test]
fn order_and_invoice_address_blocks_take_name_and_a_list_of_address_lines() {
    let t = T::seeded();
    let mut data = order_data("WC-A", "2025-06-01");
    data["billToAddress"] = json!({"name":"Anna Bill","addressLines":["2 rue Y","",""],"zipCode":"75002",
                                   "city":"Paris","state":"","country":"FR"});
    let v = t.gql(
        "mutation($data: SalesOrder_Input!) { x3Sales { salesOrder { create(data: $data) {
            id shipToAddress { name addressLines city country } billToAddress { name addressLines zipCode } } } } }",
        json!({ "data": data }),
    );
    let n = &v["data"]["x3Sales"]["salesOrder"]["create"];
    assert_eq!(
        n["shipToAddress"],
        json!({"name":"Jane","addressLines":["1 rue X","",""],"city":"Paris","country":"FR"}),
        "{v}"
    );
    assert_eq!(
        n["billToAddress"],
        json!({"name":"Anna Bill","addressLines":["2 rue Y","",""],"zipCode":"75002"})
    );
    let o = t
        .get(&t.rest(
            &format!("SORDER('{}')", n["id"].as_str().unwrap_or("")),
            "SORDER.$details",
        ))
        .json();
    assert_eq!(
        (o["BPINAM"].clone(), o["BPIPOSCOD"].clone()),
        (json!("Anna Bill"), json!("75002"))
    );
    for (block, prop) in [
        ("shipToAddress", "companyName"),
        ("shipToAddress", "addressLine1"),
        ("billToAddress", "addressLine2"),
    ] {
        let mut data = order_data("WC-B", "2025-06-01");
        data[block] = json!({ prop: "x" });
        let msg = error_of(&t.gql(CREATE_ORDER, json!({ "data": data })));
        assert!(msg.contains(&format!("{block}.{prop}")), "{msg}");
    }
    let msg = error_of(&t.gql(
        "{ x3Sales { salesInvoice { query { edges { node { billToAddress { companyName } } } } } } }",
        Value::Null,
    ));
    assert!(msg.contains("companyName"), "{msg}");
}
