//! The eight business objects x3-sim knows, described once: REST field codes with their types, and
//! the GraphQL property name of each field code. The record store keeps field codes only; the
//! GraphQL layer translates through these tables, so REST and GraphQL always show the same record.
//!
//! Names, types and lengths come from x3-api.md §3.7, §5 — never from what our connector sends.
//! Where the reference gives no GraphQL name, the one chosen here is listed in
//! `docs/simulators.md (x3-sim)` as UNCONFIRMED.

/// Logical object kinds; each maps to a configurable (CLASS, REPRESENTATION) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Customer,
    Item,
    Order,
    Delivery,
    Invoice,
    Stock,
    /// Miscellaneous stock receipt (`x3Stock.miscellaneousReceipt`, §3.7).
    Receipt,
    /// Miscellaneous stock issue (`x3Stock.miscellaneousIssue`, §3.7).
    Issue,
    /// Sales price list lines (`SPRICLIST`; names ours, UNCONFIRMED).
    PriceList,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Customer,
        Kind::Item,
        Kind::Order,
        Kind::Delivery,
        Kind::Invoice,
        Kind::Stock,
        Kind::Receipt,
        Kind::Issue,
        Kind::PriceList,
    ];

    pub fn def(self) -> &'static NodeDef {
        match self {
            Kind::Customer => &CUSTOMER,
            Kind::Item => &ITEM,
            Kind::Order => &ORDER,
            Kind::Delivery => &DELIVERY,
            Kind::Invoice => &INVOICE,
            Kind::Stock => &STOCK,
            Kind::Receipt => &RECEIPT,
            Kind::Issue => &ISSUE,
            Kind::PriceList => &PRICE_LIST,
        }
    }
}

/// Type of a REST field, used to check and normalise what clients send and to describe the field
/// in `$prototypes` (x3-api.md §1.1). Lengths: §5 where given, ours otherwise (docs/simulators.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A string of at most this many characters (`application/x-string`, `$maxLength`).
    Str(usize),
    /// `YYYY-MM-DD` (X3 JSON date, x3-api.md §1.5).
    Date,
    /// `YYYY-MM-DDThh:mm:ssZ`, read-only stamps.
    DateTime,
    /// Local menus, statuses, line numbers.
    Int,
    /// Quantities and prices; accepted as JSON numbers or strings.
    Dec,
    /// X3 dimensioned field (`BPAADDLIG` has 3 elements): a JSON array of this many strings of at
    /// most the second number of characters each.
    Arr(usize, usize),
}

/// How a GraphQL property shows a field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    Plain,
    /// A reference to another node: a code on input; `{ _id code }` when sub-selected.
    Ref,
    /// X3 yes/no local menu (1 = no, 2 = yes, x3-api.md §5) shown as a Boolean.
    YesNo,
}

#[derive(Debug)]
pub struct FieldDef {
    pub code: &'static str,
    pub ty: Ty,
    /// A create (or an edit, once merged) without it is refused (§5, §10 item 11).
    pub mandatory: bool,
}

impl Ty {
    /// The SData `$type` (§1.1 names string, date and array; the others are ours).
    pub fn sdata_type(self) -> &'static str {
        match self {
            Ty::Str(_) => "application/x-string",
            Ty::Date => "application/x-date",
            Ty::DateTime => "application/x-datetime",
            Ty::Int => "application/x-integer",
            Ty::Dec => "application/x-decimal",
            Ty::Arr(..) => "application/x-array",
        }
    }
}

/// One GraphQL property: dotted path (`shipToAddress.city`) ↔ field code. A dimensioned field
/// (`BPAADDLIG`) is one property holding the list of its elements (`addressLines`).
#[derive(Debug)]
pub struct GqlProp {
    pub path: &'static str,
    pub code: &'static str,
    pub conv: Conv,
}

#[derive(Debug)]
pub struct LineDef {
    pub type_name: &'static str,
    /// Auto-numbered line number field (1000, 2000, …), if the lines have one.
    pub line_no: Option<&'static str>,
    pub fields: &'static [FieldDef],
    pub gql: &'static [GqlProp],
    /// Fields a client may not set (computed by X3).
    pub read_only: &'static [&'static str],
}

#[derive(Debug)]
pub struct CollDef {
    pub code: &'static str,
    pub gql: &'static str,
    pub line: &'static LineDef,
}

#[derive(Debug)]
pub struct NodeDef {
    pub kind: Kind,
    pub logical: &'static str,
    pub default_class: &'static str,
    pub package: &'static str,
    pub node: &'static str,
    pub type_name: &'static str,
    pub keys: &'static [&'static str],
    pub fields: &'static [FieldDef],
    pub gql: &'static [GqlProp],
    pub collections: &'static [CollDef],
    pub read_only: &'static [&'static str],
}

impl NodeDef {
    pub fn field(&self, code: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.code == code)
    }

    pub fn collection(&self, code: &str) -> Option<&'static CollDef> {
        self.collections.iter().find(|c| c.code == code)
    }

    pub fn collection_by_gql(&self, name: &str) -> Option<&'static CollDef> {
        self.collections.iter().find(|c| c.gql == name)
    }
}

impl LineDef {
    pub fn field(&self, code: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.code == code)
    }
}

const fn f(code: &'static str, ty: Ty) -> FieldDef {
    FieldDef {
        code,
        ty,
        mandatory: false,
    }
}
const fn m(code: &'static str, ty: Ty) -> FieldDef {
    FieldDef {
        code,
        ty,
        mandatory: true,
    }
}
const fn g(path: &'static str, code: &'static str) -> GqlProp {
    GqlProp {
        path,
        code,
        conv: Conv::Plain,
    }
}
const fn r(path: &'static str, code: &'static str) -> GqlProp {
    GqlProp {
        path,
        code,
        conv: Conv::Ref,
    }
}
const fn yn(path: &'static str, code: &'static str) -> GqlProp {
    GqlProp {
        path,
        code,
        conv: Conv::YesNo,
    }
}

use Ty::*;

const STAMPS: [&str; 2] = ["CREDATTIM", "UPDDATTIM"];

// ---- customer: BPCUSTOMER + BPADDRESS (x3-api.md §5.1, wire format "Customers")

static ADDRESS: LineDef = LineDef {
    type_name: "CustomerAddress",
    line_no: None,
    fields: &[
        m("BPAADD", Str(5)),
        f("BPADES", Str(30)),
        f("BPAADDLIG", Arr(3, 50)),
        f("POSCOD", Str(10)),
        f("CTY", Str(40)),
        f("SAT", Str(35)),
        f("CRY", Str(3)),
        f("TEL", Str(20)),
        f("WEB", Str(80)),
        f("BPAADDFLG", Int),
    ],
    gql: &[
        g("code", "BPAADD"),
        g("description", "BPADES"),
        g("addressLines", "BPAADDLIG"),
        g("zipCode", "POSCOD"),
        g("city", "CTY"),
        g("state", "SAT"),
        r("country", "CRY"),
        g("phone", "TEL"),
        g("email", "WEB"),
        yn("isDefault", "BPAADDFLG"),
    ],
    read_only: &[],
};

const CUSTOMER_ADDRESSES: [CollDef; 1] = [CollDef {
    code: "BPADDRESS",
    gql: "addresses",
    line: &ADDRESS,
}];

/// Standard BPCUSTOMER: no header e-mail, X3 keeps e-mails on the address lines (`BPADDRESS`
/// `WEB`, x3-api.md §5.1).
pub static CUSTOMER: NodeDef = CUSTOMER_BASE;

const CUSTOMER_BASE: NodeDef = NodeDef {
    kind: Kind::Customer,
    logical: "customer",
    default_class: "BPCUSTOMER",
    package: "x3MasterData",
    node: "customer",
    type_name: "Customer",
    keys: &["BPCNUM"],
    fields: &[
        m("BPCNUM", Str(15)),
        m("BCGCOD", Str(5)),
        m("BPRNAM", Str(35)),
        f("BPRSHO", Str(10)),
        f("CUR", Str(3)),
        f("BPAINV", Str(5)),
        f("BPAADD", Str(5)),
        f("BPDADD", Str(5)),
        f("PTE", Str(15)),
        f("ACCCOD", Str(10)),
        f("BPCSTA", Int),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("code", "BPCNUM"),
        r("customerCategory", "BCGCOD"),
        g("companyName1", "BPRNAM"),
        g("shortCompanyName", "BPRSHO"),
        r("currency", "CUR"),
        g("billToAddress", "BPAINV"),
        g("defaultAddress", "BPAADD"),
        g("shipToAddress", "BPDADD"),
        r("paymentTerm", "PTE"),
        r("accountingCode", "ACCCOD"),
        yn("isActive", "BPCSTA"),
    ],
    collections: &CUSTOMER_ADDRESSES,
    read_only: &STAMPS,
};

/// `customer_header_email`: a site's custom representation with a header `WEB` (GraphQL `email`)
/// besides the address lines' e-mails.
pub static CUSTOMER_HEADER_EMAIL: NodeDef = NodeDef {
    fields: &[
        m("BPCNUM", Str(15)),
        m("BCGCOD", Str(5)),
        m("BPRNAM", Str(35)),
        f("BPRSHO", Str(10)),
        f("CUR", Str(3)),
        f("WEB", Str(80)),
        f("BPAINV", Str(5)),
        f("BPAADD", Str(5)),
        f("BPDADD", Str(5)),
        f("PTE", Str(15)),
        f("ACCCOD", Str(10)),
        f("BPCSTA", Int),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("code", "BPCNUM"),
        r("customerCategory", "BCGCOD"),
        g("companyName1", "BPRNAM"),
        g("shortCompanyName", "BPRSHO"),
        r("currency", "CUR"),
        g("email", "WEB"),
        g("billToAddress", "BPAINV"),
        g("defaultAddress", "BPAADD"),
        g("shipToAddress", "BPDADD"),
        r("paymentTerm", "PTE"),
        r("accountingCode", "ACCCOD"),
        yn("isActive", "BPCSTA"),
    ],
    ..CUSTOMER_BASE
};

// ---- item: ITMMASTER (x3-api.md §5.2, §3.7 product)

pub static ITEM: NodeDef = NodeDef {
    kind: Kind::Item,
    logical: "item",
    default_class: "ITMMASTER",
    package: "x3MasterData",
    node: "product",
    type_name: "Product",
    keys: &["ITMREF"],
    fields: &[
        m("ITMREF", Str(20)),
        m("DES1AXX", Str(30)),
        f("DES2AXX", Str(30)),
        f("DES3AXX", Str(30)),
        m("TCLCOD", Str(5)),
        m("STU", Str(3)),
        f("SAU", Str(3)),
        f("ACCCOD", Str(10)),
        // Product status (1 active … 6 not usable) and base price: names ours, UNCONFIRMED
        // (docs/simulators.md); x3-api.md §5.2 names neither.
        f("ITMSTA", Int),
        f("BASPRI", Dec),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("code", "ITMREF"),
        g("description1", "DES1AXX"),
        g("description2", "DES2AXX"),
        g("description3", "DES3AXX"),
        r("productCategory", "TCLCOD"),
        r("stockUnit", "STU"),
        r("salesUnit", "SAU"),
        r("accountingCode", "ACCCOD"),
        g("productStatus", "ITMSTA"),
        g("basePrice", "BASPRI"),
    ],
    collections: &[],
    read_only: &STAMPS,
};

// ---- sales order: SORDER, lines SOHSOP (x3-api.md §5.3, §3.7; wire format "Sales orders")

const DOC_LINE_FIELDS: [FieldDef; 21] = [
    m("ITMREF", Str(20)),
    f("ITMDES", Str(30)),
    m("QTY", Dec),
    f("SAU", Str(3)),
    f("GROPRI", Dec),
    f("DISCRGVAL1", Dec),
    f("DISCRGVAL2", Dec),
    f("DISCRGVAL3", Dec),
    f("STOFCY", Str(5)),
    f("ACC", Str(10)),
    f("CCE1", Str(15)),
    f("CCE2", Str(15)),
    f("CCE3", Str(15)),
    f("CCE4", Str(15)),
    f("CCE5", Str(15)),
    f("CCE6", Str(15)),
    f("CCE7", Str(15)),
    f("CCE8", Str(15)),
    f("CCE9", Str(15)),
    f("SOPLIN", Int),
    f("DLVQTY", Dec),
];

const DOC_LINE_GQL: [GqlProp; 21] = [
    r("product", "ITMREF"),
    g("description", "ITMDES"),
    g("quantityInSalesUnitOrdered", "QTY"),
    r("salesUnit", "SAU"),
    g("grossPrice", "GROPRI"),
    g("discount1", "DISCRGVAL1"),
    g("discount2", "DISCRGVAL2"),
    g("discount3", "DISCRGVAL3"),
    r("shippingSite", "STOFCY"),
    g("accountingCode", "ACC"),
    g("dimension1", "CCE1"),
    g("dimension2", "CCE2"),
    g("dimension3", "CCE3"),
    g("dimension4", "CCE4"),
    g("dimension5", "CCE5"),
    g("dimension6", "CCE6"),
    g("dimension7", "CCE7"),
    g("dimension8", "CCE8"),
    g("dimension9", "CCE9"),
    g("lineNumber", "SOPLIN"),
    g("quantityInSalesUnitDelivered", "DLVQTY"),
];

static ORDER_LINE: LineDef = LineDef {
    type_name: "SalesOrderLine",
    line_no: Some("SOPLIN"),
    fields: &DOC_LINE_FIELDS,
    gql: &DOC_LINE_GQL,
    read_only: &["DLVQTY"],
};

pub static ORDER: NodeDef = NodeDef {
    kind: Kind::Order,
    logical: "order",
    default_class: "SORDER",
    package: "x3Sales",
    node: "salesOrder",
    type_name: "SalesOrder",
    keys: &["SOHNUM"],
    fields: &[
        f("SOHNUM", Str(20)),
        m("SALFCY", Str(5)),
        m("SOHTYP", Str(5)),
        m("BPCORD", Str(15)),
        m("ORDDAT", Date),
        m("STOFCY", Str(5)),
        m("CUR", Str(3)),
        f("CUSORDREF", Str(20)),
        f("BPDNAM", Str(35)),
        f("BPDADDLIG", Arr(3, 50)),
        f("BPDPOSCOD", Str(10)),
        f("BPDCTY", Str(40)),
        f("BPDSAT", Str(35)),
        f("BPDCRY", Str(3)),
        f("BPINAM", Str(35)),
        f("BPIADDLIG", Arr(3, 50)),
        f("BPIPOSCOD", Str(10)),
        f("BPICTY", Str(40)),
        f("BPISAT", Str(35)),
        f("BPICRY", Str(3)),
        f("ORDSTA", Int),
        f("DLVSTA", Int),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("id", "SOHNUM"),
        r("salesSite", "SALFCY"),
        r("salesOrderType", "SOHTYP"),
        r("soldToCustomer", "BPCORD"),
        g("orderDate", "ORDDAT"),
        r("shippingSite", "STOFCY"),
        r("currency", "CUR"),
        g("customerOrderReference", "CUSORDREF"),
        g("shipToAddress.name", "BPDNAM"),
        g("shipToAddress.addressLines", "BPDADDLIG"),
        g("shipToAddress.zipCode", "BPDPOSCOD"),
        g("shipToAddress.city", "BPDCTY"),
        g("shipToAddress.state", "BPDSAT"),
        r("shipToAddress.country", "BPDCRY"),
        g("billToAddress.name", "BPINAM"),
        g("billToAddress.addressLines", "BPIADDLIG"),
        g("billToAddress.zipCode", "BPIPOSCOD"),
        g("billToAddress.city", "BPICTY"),
        g("billToAddress.state", "BPISAT"),
        r("billToAddress.country", "BPICRY"),
        g("orderStatus", "ORDSTA"),
        g("deliveryStatus", "DLVSTA"),
    ],
    collections: &[CollDef {
        code: "SOHSOP",
        gql: "lines",
        line: &ORDER_LINE,
    }],
    read_only: &["CREDATTIM", "UPDDATTIM", "DLVSTA"],
};

// ---- sales invoice: SINVOICE, lines SINVOICED (x3-api.md §5.5; wire format "Sales invoices")

const INVOICE_LINE_FIELDS: [FieldDef; 20] = [
    m("ITMREF", Str(20)),
    f("ITMDES", Str(30)),
    m("QTY", Dec),
    f("SAU", Str(3)),
    f("GROPRI", Dec),
    f("DISCRGVAL1", Dec),
    f("DISCRGVAL2", Dec),
    f("DISCRGVAL3", Dec),
    f("STOFCY", Str(5)),
    f("ACC", Str(10)),
    f("CCE1", Str(15)),
    f("CCE2", Str(15)),
    f("CCE3", Str(15)),
    f("CCE4", Str(15)),
    f("CCE5", Str(15)),
    f("CCE6", Str(15)),
    f("CCE7", Str(15)),
    f("CCE8", Str(15)),
    f("CCE9", Str(15)),
    f("SIDLIN", Int),
];

const INVOICE_LINE_GQL: [GqlProp; 20] = [
    r("product", "ITMREF"),
    g("description", "ITMDES"),
    g("quantityInSalesUnitOrdered", "QTY"),
    r("salesUnit", "SAU"),
    g("grossPrice", "GROPRI"),
    g("discount1", "DISCRGVAL1"),
    g("discount2", "DISCRGVAL2"),
    g("discount3", "DISCRGVAL3"),
    r("shippingSite", "STOFCY"),
    g("accountingCode", "ACC"),
    g("dimension1", "CCE1"),
    g("dimension2", "CCE2"),
    g("dimension3", "CCE3"),
    g("dimension4", "CCE4"),
    g("dimension5", "CCE5"),
    g("dimension6", "CCE6"),
    g("dimension7", "CCE7"),
    g("dimension8", "CCE8"),
    g("dimension9", "CCE9"),
    g("lineNumber", "SIDLIN"),
];

static INVOICE_LINE: LineDef = LineDef {
    type_name: "SalesInvoiceLine",
    line_no: Some("SIDLIN"),
    fields: &INVOICE_LINE_FIELDS,
    gql: &INVOICE_LINE_GQL,
    read_only: &[],
};

pub static INVOICE: NodeDef = NodeDef {
    kind: Kind::Invoice,
    logical: "invoice",
    default_class: "SINVOICE",
    package: "x3Sales",
    node: "salesInvoice",
    type_name: "SalesInvoice",
    keys: &["NUM"],
    fields: &[
        f("NUM", Str(20)),
        m("SIVTYP", Str(5)),
        m("SALFCY", Str(5)),
        m("BPCINV", Str(15)),
        m("INVDAT", Date),
        m("CUR", Str(3)),
        f("CUSORDREF", Str(20)),
        f("BPDNAM", Str(35)),
        f("BPDADDLIG", Arr(3, 50)),
        f("BPDPOSCOD", Str(10)),
        f("BPDCTY", Str(40)),
        f("BPDSAT", Str(35)),
        f("BPDCRY", Str(3)),
        f("BPINAM", Str(35)),
        f("BPIADDLIG", Arr(3, 50)),
        f("BPIPOSCOD", Str(10)),
        f("BPICTY", Str(40)),
        f("BPISAT", Str(35)),
        f("BPICRY", Str(3)),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("id", "NUM"),
        r("invoiceType", "SIVTYP"),
        r("salesSite", "SALFCY"),
        r("billToCustomer", "BPCINV"),
        g("invoiceDate", "INVDAT"),
        r("currency", "CUR"),
        g("customerOrderReference", "CUSORDREF"),
        g("shipToAddress.name", "BPDNAM"),
        g("shipToAddress.addressLines", "BPDADDLIG"),
        g("shipToAddress.zipCode", "BPDPOSCOD"),
        g("shipToAddress.city", "BPDCTY"),
        g("shipToAddress.state", "BPDSAT"),
        r("shipToAddress.country", "BPDCRY"),
        g("billToAddress.name", "BPINAM"),
        g("billToAddress.addressLines", "BPIADDLIG"),
        g("billToAddress.zipCode", "BPIPOSCOD"),
        g("billToAddress.city", "BPICTY"),
        g("billToAddress.state", "BPISAT"),
        r("billToAddress.country", "BPICRY"),
    ],
    collections: &[CollDef {
        code: "SINVOICED",
        gql: "lines",
        line: &INVOICE_LINE,
    }],
    read_only: &STAMPS,
};

// ---- delivery: SDELIVERY, lines SDELIVERYD (x3-api.md §5.4; `CFMFLG` ours, UNCONFIRMED)

static DELIVERY_LINE: LineDef = LineDef {
    type_name: "SalesDeliveryLine",
    line_no: Some("SDDLIN"),
    fields: &[
        f("SDDLIN", Int),
        f("SOHNUM", Str(20)),
        m("SOPLIN", Int),
        f("ITMREF", Str(20)),
        m("QTY", Dec),
    ],
    gql: &[
        g("lineNumber", "SDDLIN"),
        r("salesOrder", "SOHNUM"),
        g("salesOrderLine", "SOPLIN"),
        r("product", "ITMREF"),
        g("quantityInSalesUnitDelivered", "QTY"),
    ],
    read_only: &[],
};

pub static DELIVERY: NodeDef = NodeDef {
    kind: Kind::Delivery,
    logical: "delivery",
    default_class: "SDELIVERY",
    package: "x3Sales",
    node: "salesDelivery",
    type_name: "SalesDelivery",
    keys: &["SDHNUM"],
    fields: &[
        f("SDHNUM", Str(20)),
        f("SALFCY", Str(5)),
        m("STOFCY", Str(5)),
        m("BPCORD", Str(15)),
        m("DLVDAT", Date),
        f("SOHNUM", Str(20)),
        f("CFMFLG", Int),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("id", "SDHNUM"),
        r("salesSite", "SALFCY"),
        r("shippingSite", "STOFCY"),
        r("soldToCustomer", "BPCORD"),
        g("deliveryDate", "DLVDAT"),
        r("salesOrder", "SOHNUM"),
        yn("isValidated", "CFMFLG"),
    ],
    collections: &[CollDef {
        code: "SDELIVERYD",
        gql: "lines",
        line: &DELIVERY_LINE,
    }],
    // `CFMFLG` (validated, 1 no / 2 yes; name UNCONFIRMED) is X3's to set: a delivery created
    // through the API is validated at once, one entered by staff may wait (`/__sim/deliveries`).
    read_only: &["CFMFLG", "CREDATTIM", "UPDDATTIM"],
};

// ---- stock: STOCK (x3-api.md §1.1 `$lookup`, §3.7 x3StockData.stock, §5.4)

/// X3's stock table: one line per site and stock-line counter (`STOFCY~STOCOU`, e.g. `FR011~1`);
/// several lines per site and item (lots, locations, statuses) are possible.
pub static STOCK: NodeDef = NodeDef {
    kind: Kind::Stock,
    logical: "stock",
    default_class: "STOCK",
    package: "x3StockData",
    node: "stock",
    type_name: "Stock",
    keys: &["STOFCY", "STOCOU"],
    fields: &[
        m("STOFCY", Str(5)),
        f("STOCOU", Int),
        m("ITMREF", Str(20)),
        f("LOT", Str(15)),
        f("LOC", Str(10)),
        f("STA", Str(3)),
        f("QTYSTU", Dec),
        f("CUMALLQTY", Dec),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        r("stockSite", "STOFCY"),
        r("product", "ITMREF"),
        g("lot", "LOT"),
        g("location", "LOC"),
        g("status", "STA"),
        g("quantityInStockUnit", "QTYSTU"),
        g("allocatedQuantity", "CUMALLQTY"),
    ],
    collections: &[],
    read_only: &STAMPS,
};

// ---- stock movements: miscellaneous receipt SMVTRCP and issue SMVTISS, lines SMVTD (x3-api.md
// §3.7 lists x3Stock.miscellaneousReceipt/miscellaneousIssue; REST class and field names are ours,
// UNCONFIRMED — docs/simulators.md)

const MOVE_LINE_FIELDS: [FieldDef; 5] = [
    f("VCRLIN", Int),
    m("ITMREF", Str(20)),
    m("QTYSTU", Dec),
    f("STA", Str(3)),
    f("LOC", Str(10)),
];

const MOVE_LINE_GQL: [GqlProp; 5] = [
    g("lineNumber", "VCRLIN"),
    r("product", "ITMREF"),
    g("quantityInStockUnit", "QTYSTU"),
    g("status", "STA"),
    g("location", "LOC"),
];

const MOVE_FIELDS: [FieldDef; 6] = [
    f("VCRNUM", Str(20)),
    m("STOFCY", Str(5)),
    m("IPTDAT", Date),
    f("VCRDES", Str(30)),
    f("CREDATTIM", DateTime),
    f("UPDDATTIM", DateTime),
];

const MOVE_GQL: [GqlProp; 4] = [
    g("id", "VCRNUM"),
    r("stockSite", "STOFCY"),
    g("effectiveDate", "IPTDAT"),
    g("description", "VCRDES"),
];

static RECEIPT_LINE: LineDef = LineDef {
    type_name: "MiscellaneousReceiptLine",
    line_no: Some("VCRLIN"),
    fields: &MOVE_LINE_FIELDS,
    gql: &MOVE_LINE_GQL,
    read_only: &[],
};

static ISSUE_LINE: LineDef = LineDef {
    type_name: "MiscellaneousIssueLine",
    line_no: Some("VCRLIN"),
    fields: &MOVE_LINE_FIELDS,
    gql: &MOVE_LINE_GQL,
    read_only: &[],
};

/// A miscellaneous receipt: validated at once, it adds its quantities to STOCK.
pub static RECEIPT: NodeDef = NodeDef {
    kind: Kind::Receipt,
    logical: "receipt",
    default_class: "SMVTRCP",
    package: "x3Stock",
    node: "miscellaneousReceipt",
    type_name: "MiscellaneousReceipt",
    keys: &["VCRNUM"],
    fields: &MOVE_FIELDS,
    gql: &MOVE_GQL,
    collections: &[CollDef {
        code: "SMVTD",
        gql: "lines",
        line: &RECEIPT_LINE,
    }],
    read_only: &STAMPS,
};

/// A miscellaneous issue: validated at once, it takes its quantities from STOCK like a delivery.
pub static ISSUE: NodeDef = NodeDef {
    kind: Kind::Issue,
    logical: "issue",
    default_class: "SMVTISS",
    package: "x3Stock",
    node: "miscellaneousIssue",
    type_name: "MiscellaneousIssue",
    keys: &["VCRNUM"],
    fields: &MOVE_FIELDS,
    gql: &MOVE_GQL,
    collections: &[CollDef {
        code: "SMVTD",
        gql: "lines",
        line: &ISSUE_LINE,
    }],
    read_only: &STAMPS,
};

/// GraphQL packages and the nodes under each (x3-api.md §3.2, 2024R1+ names).
pub fn node_by_gql(package: &str, node: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|k| k.def().package == package && k.def().node == node)
}

pub fn is_package(name: &str) -> bool {
    Kind::ALL.iter().any(|k| k.def().package == name)
}

// ---- sales price lists: SPRICLIST (x3-api.md names no price list object; class, keys and field
// names are ours, UNCONFIRMED — docs/simulators.md). One record per price list line: the list
// code, a record number, the item it prices (first criterion), the price and its validity.

pub static PRICE_LIST: NodeDef = NodeDef {
    kind: Kind::PriceList,
    logical: "price list line",
    default_class: "SPRICLIST",
    package: "x3Sales",
    node: "salesPriceList",
    type_name: "SalesPriceList",
    keys: &["PLI", "PLICRD"],
    fields: &[
        m("PLI", Str(10)),
        m("PLICRD", Str(20)),
        m("PLICRI1", Str(20)),
        m("PRI", Dec),
        f("CUR", Str(3)),
        f("PLISTRDAT", Date),
        f("PLIENDDAT", Date),
        f("CREDATTIM", DateTime),
        f("UPDDATTIM", DateTime),
    ],
    gql: &[
        g("code", "PLI"),
        g("recordNumber", "PLICRD"),
        r("product", "PLICRI1"),
        g("price", "PRI"),
        r("currency", "CUR"),
        g("startDate", "PLISTRDAT"),
        g("endDate", "PLIENDDAT"),
    ],
    collections: &[],
    read_only: &STAMPS,
};
