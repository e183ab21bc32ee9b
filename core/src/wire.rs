//! Every name ml-connector writes to or reads from Sage X3, in one table: REST classes,
//! representations and field codes, GraphQL nodes, input types and properties.
//!
//! Real sites publish their own classes and representations (standard ones often have no
//! `$create`, x3-api.md §1.8) and add fields, so each name can be overridden by its key
//! (`[x3.wire]` in the host's configuration, `docs/x3-wire-format.md`). The defaults follow the
//! reference; [`WireDef::source`] says where each comes from, empty for our own choice
//! (UNCONFIRMED).
//!
//! Keys are `rest.<object>.<name>` and `graphql.<object>.<name>`. A [`Wire`] is the table with a
//! site's overrides applied; renderers ask it by key. An unknown key or a malformed name is an
//! error naming the key, so a misspelt override never silently falls back to the default.

use std::fmt;

/// What kind of name a key holds: decides what a valid override looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// REST class or representation (`SORDER`, `YSORDER`).
    Class,
    /// REST field code (`BPCORD`).
    Field,
    /// REST field code or `COLLECTION.FIELD` (the customer e-mail on its addresses).
    FieldPath,
    /// A REST field code with `{n}` for a 1-based position (`CCE{n}`).
    FieldPattern,
    /// GraphQL `package.node` (`x3Sales.salesOrder`).
    Node,
    /// GraphQL input type name (`SalesOrder_Input`).
    InputType,
    /// GraphQL property name (`soldToCustomer`).
    Property,
    /// GraphQL property or `collection.property`.
    PropertyPath,
    /// A GraphQL property with `{n}` (`dimension{n}`).
    PropertyPattern,
}

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireDef {
    pub key: &'static str,
    pub default: &'static str,
    pub kind: NameKind,
    /// Where the default comes from in `../shared/reference/x3-api.md` (`§5.3`), or empty when
    /// it is our choice (UNCONFIRMED there).
    pub source: &'static str,
    pub what: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("x3.wire: unknown name {0:?} (docs/x3-wire-format.md lists every key)")]
    UnknownKey(String),
    #[error("x3.wire.{key}: {value:?} is not {expected}")]
    BadName {
        key: String,
        value: String,
        expected: &'static str,
    },
}

const fn d(
    key: &'static str,
    default: &'static str,
    kind: NameKind,
    source: &'static str,
    what: &'static str,
) -> WireDef {
    WireDef {
        key,
        default,
        kind,
        source,
        what,
    }
}

use NameKind::*;

/// The table, sorted by key (a test checks it): looked up by binary search.
pub static TABLE: &[WireDef] = &[
    // ---- GraphQL (x3-api.md §3) ----
    d(
        "graphql.customer.address.city",
        "city",
        Property,
        "",
        "address city",
    ),
    d(
        "graphql.customer.address.code",
        "code",
        Property,
        "",
        "address code",
    ),
    d(
        "graphql.customer.address.country",
        "country",
        Property,
        "",
        "address country",
    ),
    d(
        "graphql.customer.address.description",
        "description",
        Property,
        "",
        "address description",
    ),
    d(
        "graphql.customer.address.is-default",
        "isDefault",
        Property,
        "",
        "default address flag (Boolean)",
    ),
    d(
        "graphql.customer.address.lines",
        "addressLines",
        Property,
        "",
        "address lines (list of 3)",
    ),
    d(
        "graphql.customer.address.phone",
        "phone",
        Property,
        "",
        "address telephone",
    ),
    d(
        "graphql.customer.address.state",
        "state",
        Property,
        "",
        "address state",
    ),
    d(
        "graphql.customer.address.zip",
        "zipCode",
        Property,
        "",
        "address postal code",
    ),
    d(
        "graphql.customer.addresses",
        "addresses",
        Property,
        "§3.7",
        "the customer's address collection",
    ),
    d(
        "graphql.customer.bill-to-address",
        "billToAddress",
        Property,
        "",
        "bill-to address code",
    ),
    d(
        "graphql.customer.category",
        "customerCategory",
        Property,
        "§3.7",
        "customer category (BCGCOD)",
    ),
    d(
        "graphql.customer.code",
        "code",
        Property,
        "§3.7",
        "customer code (BPCNUM), the key",
    ),
    d(
        "graphql.customer.currency",
        "currency",
        Property,
        "",
        "customer currency",
    ),
    d(
        "graphql.customer.default-address",
        "defaultAddress",
        Property,
        "",
        "default address code",
    ),
    d(
        "graphql.customer.email-path",
        "addresses.email",
        PropertyPath,
        "§5.1",
        "where the customer's e-mail is matched and written: a property, or collection.property",
    ),
    d(
        "graphql.customer.input",
        "Customer_Input",
        InputType,
        "§3.5",
        "create input type",
    ),
    d(
        "graphql.customer.name",
        "companyName1",
        Property,
        "§3.7",
        "company name (BPRNAM)",
    ),
    d(
        "graphql.customer.node",
        "x3MasterData.customer",
        Node,
        "§3.7",
        "customer node",
    ),
    d(
        "graphql.customer.ship-to-address",
        "shipToAddress",
        Property,
        "",
        "ship-to address code",
    ),
    d(
        "graphql.customer.short-name",
        "shortCompanyName",
        Property,
        "",
        "short name (BPRSHO)",
    ),
    d(
        "graphql.delivery.customer",
        "soldToCustomer",
        Property,
        "",
        "sold-to customer",
    ),
    d(
        "graphql.delivery.date",
        "deliveryDate",
        Property,
        "",
        "delivery date",
    ),
    d(
        "graphql.delivery.input",
        "SalesDelivery_Input",
        InputType,
        "§3.5",
        "create input type",
    ),
    d(
        "graphql.delivery.key",
        "id",
        Property,
        "",
        "delivery number",
    ),
    d(
        "graphql.delivery.line.item",
        "product",
        Property,
        "",
        "item",
    ),
    d(
        "graphql.delivery.line.order",
        "salesOrder",
        Property,
        "",
        "sales order of the line",
    ),
    d(
        "graphql.delivery.line.order-line",
        "salesOrderLine",
        Property,
        "",
        "sales order line number",
    ),
    d(
        "graphql.delivery.line.quantity",
        "quantityInSalesUnitDelivered",
        Property,
        "",
        "quantity delivered",
    ),
    d(
        "graphql.delivery.lines",
        "lines",
        Property,
        "§3.3",
        "line collection",
    ),
    d(
        "graphql.delivery.node",
        "x3Sales.salesDelivery",
        Node,
        "§3.7",
        "delivery node",
    ),
    d(
        "graphql.delivery.order",
        "salesOrder",
        Property,
        "",
        "sales order delivered",
    ),
    d(
        "graphql.delivery.sales-site",
        "salesSite",
        Property,
        "",
        "sales site",
    ),
    d(
        "graphql.delivery.shipment-site",
        "shippingSite",
        Property,
        "",
        "shipment site",
    ),
    d(
        "graphql.delivery.validated",
        "isValidated",
        Property,
        "",
        "delivery validated (yes/no)",
    ),
    d(
        "graphql.dimension",
        "dimension{n}",
        PropertyPattern,
        "",
        "analytic dimension n of a line",
    ),
    d(
        "graphql.document.address.city",
        "city",
        Property,
        "",
        "document address city",
    ),
    d(
        "graphql.document.address.country",
        "country",
        Property,
        "",
        "document address country",
    ),
    d(
        "graphql.document.address.lines",
        "addressLines",
        Property,
        "",
        "document address lines (list of 3)",
    ),
    d(
        "graphql.document.address.name",
        "name",
        Property,
        "",
        "document address name",
    ),
    d(
        "graphql.document.address.state",
        "state",
        Property,
        "",
        "document address state",
    ),
    d(
        "graphql.document.address.zip",
        "zipCode",
        Property,
        "",
        "document address postal code",
    ),
    d(
        "graphql.gl-account",
        "accountingCode",
        Property,
        "",
        "GL account of a line",
    ),
    d(
        "graphql.invoice.bill-to",
        "billToAddress",
        Property,
        "",
        "invoice address block",
    ),
    d(
        "graphql.invoice.currency",
        "currency",
        Property,
        "",
        "currency",
    ),
    d(
        "graphql.invoice.customer",
        "billToCustomer",
        Property,
        "",
        "bill-to customer",
    ),
    d(
        "graphql.invoice.date",
        "invoiceDate",
        Property,
        "",
        "invoice date",
    ),
    d(
        "graphql.invoice.input",
        "SalesInvoice_Input",
        InputType,
        "§3.5",
        "create input type",
    ),
    d("graphql.invoice.key", "id", Property, "", "invoice number"),
    d(
        "graphql.invoice.line.description",
        "description",
        Property,
        "",
        "line description",
    ),
    d(
        "graphql.invoice.line.discount",
        "discount1",
        Property,
        "",
        "per-unit discount",
    ),
    d(
        "graphql.invoice.line.item",
        "product",
        Property,
        "§3.7",
        "item",
    ),
    d(
        "graphql.invoice.line.price",
        "grossPrice",
        Property,
        "§3.7",
        "gross price",
    ),
    d(
        "graphql.invoice.line.quantity",
        "quantityInSalesUnitOrdered",
        Property,
        "",
        "quantity",
    ),
    d(
        "graphql.invoice.line.sales-unit",
        "salesUnit",
        Property,
        "",
        "sales unit",
    ),
    d(
        "graphql.invoice.line.shipment-site",
        "shippingSite",
        Property,
        "",
        "shipment site of the line",
    ),
    d(
        "graphql.invoice.lines",
        "lines",
        Property,
        "§3.3",
        "line collection",
    ),
    d(
        "graphql.invoice.node",
        "x3Sales.salesInvoice",
        Node,
        "§3.7",
        "invoice node",
    ),
    d(
        "graphql.invoice.reference",
        "customerOrderReference",
        Property,
        "§3.7",
        "CUSORDREF",
    ),
    d(
        "graphql.invoice.sales-site",
        "salesSite",
        Property,
        "",
        "sales site",
    ),
    d(
        "graphql.invoice.ship-to",
        "shipToAddress",
        Property,
        "",
        "delivery address block",
    ),
    d(
        "graphql.invoice.type",
        "invoiceType",
        Property,
        "",
        "invoice type (SIVTYP)",
    ),
    d(
        "graphql.issue.date",
        "effectiveDate",
        Property,
        "",
        "issue date",
    ),
    d(
        "graphql.issue.description",
        "description",
        Property,
        "",
        "description: holds our reference",
    ),
    d(
        "graphql.issue.input",
        "MiscellaneousIssue_Input",
        InputType,
        "§3.5",
        "create input type",
    ),
    d("graphql.issue.key", "id", Property, "", "issue number"),
    d("graphql.issue.line.item", "product", Property, "", "item"),
    d(
        "graphql.issue.line.quantity",
        "quantityInStockUnit",
        Property,
        "",
        "quantity in stock unit",
    ),
    d(
        "graphql.issue.lines",
        "lines",
        Property,
        "§3.3",
        "line collection",
    ),
    d(
        "graphql.issue.node",
        "x3Stock.miscellaneousIssue",
        Node,
        "§3.7",
        "miscellaneous issue node",
    ),
    d(
        "graphql.issue.site",
        "stockSite",
        Property,
        "§3.7",
        "stock site",
    ),
    d(
        "graphql.order.bill-to",
        "billToAddress",
        Property,
        "",
        "invoice address block",
    ),
    d(
        "graphql.order.currency",
        "currency",
        Property,
        "",
        "currency",
    ),
    d(
        "graphql.order.customer",
        "soldToCustomer",
        Property,
        "§3.7",
        "sold-to customer",
    ),
    d(
        "graphql.order.date",
        "orderDate",
        Property,
        "§3.7",
        "order date",
    ),
    d(
        "graphql.order.delivery-status",
        "deliveryStatus",
        Property,
        "",
        "delivery status (DLVSTA)",
    ),
    d(
        "graphql.order.input",
        "SalesOrder_Input",
        InputType,
        "§3.5",
        "create/update input type",
    ),
    d("graphql.order.key", "id", Property, "§3.7", "order number"),
    d(
        "graphql.order.line.description",
        "description",
        Property,
        "",
        "line description",
    ),
    d(
        "graphql.order.line.discount",
        "discount1",
        Property,
        "",
        "per-unit discount",
    ),
    d(
        "graphql.order.line.item",
        "product",
        Property,
        "§3.7",
        "item",
    ),
    d(
        "graphql.order.line.price",
        "grossPrice",
        Property,
        "§3.7",
        "gross price",
    ),
    d(
        "graphql.order.line.quantity",
        "quantityInSalesUnitOrdered",
        Property,
        "§3.5",
        "quantity ordered",
    ),
    d(
        "graphql.order.line.sales-unit",
        "salesUnit",
        Property,
        "§3.5",
        "sales unit",
    ),
    d(
        "graphql.order.line.shipment-site",
        "shippingSite",
        Property,
        "§3.7",
        "shipment site of the line",
    ),
    d(
        "graphql.order.lines",
        "lines",
        Property,
        "§3.5",
        "line collection",
    ),
    d(
        "graphql.order.node",
        "x3Sales.salesOrder",
        Node,
        "§3.7",
        "sales order node",
    ),
    d(
        "graphql.order.reference",
        "customerOrderReference",
        Property,
        "§3.7",
        "CUSORDREF",
    ),
    d(
        "graphql.order.sales-site",
        "salesSite",
        Property,
        "§3.7",
        "sales site",
    ),
    d(
        "graphql.order.ship-to",
        "shipToAddress",
        Property,
        "",
        "delivery address block",
    ),
    d(
        "graphql.order.shipment-site",
        "shippingSite",
        Property,
        "",
        "shipment site",
    ),
    d(
        "graphql.order.status",
        "orderStatus",
        Property,
        "",
        "order status (ORDSTA, 2 = closed)",
    ),
    d(
        "graphql.order.type",
        "salesOrderType",
        Property,
        "§3.7",
        "order type",
    ),
    d(
        "graphql.price-list.end",
        "endDate",
        Property,
        "",
        "last day a price list line applies",
    ),
    d(
        "graphql.price-list.item",
        "product",
        Property,
        "",
        "item of a price list line",
    ),
    d(
        "graphql.price-list.key",
        "code",
        Property,
        "",
        "price list code",
    ),
    d(
        "graphql.price-list.node",
        "x3Sales.salesPriceList",
        Node,
        "",
        "price list lines node",
    ),
    d(
        "graphql.price-list.price",
        "price",
        Property,
        "",
        "price of a price list line",
    ),
    d(
        "graphql.price-list.start",
        "startDate",
        Property,
        "",
        "first day a price list line applies",
    ),
    d(
        "graphql.product.base-price",
        "basePrice",
        Property,
        "",
        "item base price",
    ),
    d(
        "graphql.product.description2",
        "description2",
        Property,
        "§3.7",
        "item description, line 2",
    ),
    d(
        "graphql.product.description3",
        "description3",
        Property,
        "§3.7",
        "item description, line 3",
    ),
    d("graphql.product.key", "code", Property, "§3.7", "item code"),
    d(
        "graphql.product.name",
        "description1",
        Property,
        "§3.7",
        "item description, line 1 (the shop's product name)",
    ),
    d(
        "graphql.product.node",
        "x3MasterData.product",
        Node,
        "§3.7",
        "item node",
    ),
    d(
        "graphql.product.status",
        "productStatus",
        Property,
        "",
        "item status",
    ),
    d(
        "graphql.receipt.date",
        "effectiveDate",
        Property,
        "",
        "receipt date",
    ),
    d(
        "graphql.receipt.description",
        "description",
        Property,
        "",
        "description: holds our reference",
    ),
    d(
        "graphql.receipt.input",
        "MiscellaneousReceipt_Input",
        InputType,
        "§3.5",
        "create input type",
    ),
    d("graphql.receipt.key", "id", Property, "", "receipt number"),
    d("graphql.receipt.line.item", "product", Property, "", "item"),
    d(
        "graphql.receipt.line.quantity",
        "quantityInStockUnit",
        Property,
        "",
        "quantity in stock unit",
    ),
    d(
        "graphql.receipt.line.status",
        "status",
        Property,
        "",
        "stock status of the units put back",
    ),
    d(
        "graphql.receipt.lines",
        "lines",
        Property,
        "§3.3",
        "line collection",
    ),
    d(
        "graphql.receipt.node",
        "x3Stock.miscellaneousReceipt",
        Node,
        "§3.7",
        "miscellaneous receipt node",
    ),
    d(
        "graphql.receipt.site",
        "stockSite",
        Property,
        "§3.7",
        "stock site",
    ),
    d(
        "graphql.reference.code",
        "code",
        Property,
        "§3.3",
        "the code of a referenced node when read (soldToCustomer { code })",
    ),
    d(
        "graphql.stock.allocated",
        "allocatedQuantity",
        Property,
        "",
        "allocated quantity",
    ),
    d("graphql.stock.item", "product", Property, "§3.7", "item"),
    d(
        "graphql.stock.node",
        "x3StockData.stock",
        Node,
        "§3.7",
        "stock node",
    ),
    d(
        "graphql.stock.quantity",
        "quantityInStockUnit",
        Property,
        "",
        "physical quantity",
    ),
    d(
        "graphql.stock.site",
        "stockSite",
        Property,
        "§3.7",
        "stock site",
    ),
    // ---- REST api1 (x3-api.md §1, §5) ----
    d(
        "rest.customer.address.city",
        "CTY",
        Field,
        "§5.1",
        "address city",
    ),
    d(
        "rest.customer.address.code",
        "BPAADD",
        Field,
        "§5.1",
        "address code",
    ),
    d(
        "rest.customer.address.country",
        "CRY",
        Field,
        "§5.1",
        "address country",
    ),
    d(
        "rest.customer.address.description",
        "BPADES",
        Field,
        "§5.1",
        "address description",
    ),
    d(
        "rest.customer.address.is-default",
        "BPAADDFLG",
        Field,
        "§5.1",
        "default address flag (2 = yes)",
    ),
    d(
        "rest.customer.address.lines",
        "BPAADDLIG",
        Field,
        "§5.1",
        "address lines (array of 3)",
    ),
    d(
        "rest.customer.address.phone",
        "TEL",
        Field,
        "§5.1",
        "address telephone",
    ),
    d(
        "rest.customer.address.state",
        "SAT",
        Field,
        "§5.1",
        "address state",
    ),
    d(
        "rest.customer.address.zip",
        "POSCOD",
        Field,
        "§5.1",
        "address postal code",
    ),
    d(
        "rest.customer.addresses",
        "BPADDRESS",
        Field,
        "§5.1",
        "the customer's address collection",
    ),
    d(
        "rest.customer.bill-to-address",
        "BPAINV",
        Field,
        "§5.1",
        "bill-to address code",
    ),
    d(
        "rest.customer.category",
        "BCGCOD",
        Field,
        "§5.1",
        "customer category",
    ),
    d(
        "rest.customer.class",
        "BPCUSTOMER",
        Class,
        "§1.1",
        "customer class",
    ),
    d(
        "rest.customer.code",
        "BPCNUM",
        Field,
        "§5.1",
        "customer code, the key",
    ),
    d("rest.customer.currency", "CUR", Field, "§5.1", "currency"),
    d(
        "rest.customer.default-address",
        "BPAADD",
        Field,
        "§5.1",
        "default address code",
    ),
    d(
        "rest.customer.email-path",
        "BPADDRESS.WEB",
        FieldPath,
        "§5.1",
        "where the customer's e-mail is matched and written: a header field, or COLLECTION.FIELD",
    ),
    d(
        "rest.customer.name",
        "BPRNAM",
        Field,
        "§5.1",
        "company name",
    ),
    d(
        "rest.customer.representation",
        "BPCUSTOMER",
        Class,
        "§1.1",
        "customer representation",
    ),
    d(
        "rest.customer.ship-to-address",
        "BPDADD",
        Field,
        "§5.1",
        "ship-to address code",
    ),
    d(
        "rest.customer.short-name",
        "BPRSHO",
        Field,
        "§5.1",
        "short name",
    ),
    d(
        "rest.delivery.class",
        "SDELIVERY",
        Class,
        "§5.4",
        "delivery class",
    ),
    d(
        "rest.delivery.customer",
        "BPCORD",
        Field,
        "",
        "sold-to customer",
    ),
    d("rest.delivery.date", "DLVDAT", Field, "", "delivery date"),
    d(
        "rest.delivery.key",
        "SDHNUM",
        Field,
        "§5.4",
        "delivery number",
    ),
    d("rest.delivery.line.item", "ITMREF", Field, "", "item"),
    d(
        "rest.delivery.line.order",
        "SOHNUM",
        Field,
        "",
        "sales order of the line",
    ),
    d(
        "rest.delivery.line.order-line",
        "SOPLIN",
        Field,
        "§5.3",
        "sales order line number",
    ),
    d(
        "rest.delivery.line.quantity",
        "QTY",
        Field,
        "",
        "quantity delivered",
    ),
    d(
        "rest.delivery.lines",
        "SDELIVERYD",
        Field,
        "§5.4",
        "line collection",
    ),
    d(
        "rest.delivery.order",
        "SOHNUM",
        Field,
        "",
        "sales order delivered",
    ),
    d(
        "rest.delivery.representation",
        "SDELIVERY",
        Class,
        "§5.4",
        "delivery representation",
    ),
    d(
        "rest.delivery.sales-site",
        "SALFCY",
        Field,
        "",
        "sales site",
    ),
    d(
        "rest.delivery.shipment-site",
        "STOFCY",
        Field,
        "",
        "shipment site",
    ),
    d(
        "rest.delivery.validated",
        "CFMFLG",
        Field,
        "",
        "delivery validated (1 no, 2 yes)",
    ),
    d(
        "rest.dimension",
        "CCE{n}",
        FieldPattern,
        "§5.6",
        "analytic dimension n of a line",
    ),
    d(
        "rest.gl-account",
        "ACC",
        Field,
        "§5.6",
        "GL account of a line",
    ),
    d(
        "rest.invoice.bill-to.city",
        "BPICTY",
        Field,
        "",
        "invoice address city",
    ),
    d(
        "rest.invoice.bill-to.country",
        "BPICRY",
        Field,
        "",
        "invoice address country",
    ),
    d(
        "rest.invoice.bill-to.lines",
        "BPIADDLIG",
        Field,
        "",
        "invoice address lines (array of 3)",
    ),
    d(
        "rest.invoice.bill-to.name",
        "BPINAM",
        Field,
        "",
        "invoice address name (35)",
    ),
    d(
        "rest.invoice.bill-to.state",
        "BPISAT",
        Field,
        "",
        "invoice address state",
    ),
    d(
        "rest.invoice.bill-to.zip",
        "BPIPOSCOD",
        Field,
        "",
        "invoice address postal code",
    ),
    d(
        "rest.invoice.class",
        "SINVOICE",
        Class,
        "§5.5",
        "invoice class",
    ),
    d("rest.invoice.currency", "CUR", Field, "§5.5", "currency"),
    d(
        "rest.invoice.customer",
        "BPCINV",
        Field,
        "§5.5",
        "bill-to customer",
    ),
    d("rest.invoice.date", "INVDAT", Field, "", "invoice date"),
    d("rest.invoice.key", "NUM", Field, "§5.5", "invoice number"),
    d(
        "rest.invoice.lines",
        "SINVOICED",
        Field,
        "§5.5",
        "line collection",
    ),
    d(
        "rest.invoice.reference",
        "CUSORDREF",
        Field,
        "",
        "our reference",
    ),
    d(
        "rest.invoice.representation",
        "SINVOICE",
        Class,
        "§5.5",
        "invoice representation",
    ),
    d(
        "rest.invoice.sales-site",
        "SALFCY",
        Field,
        "§5.5",
        "sales site",
    ),
    d(
        "rest.invoice.ship-to.city",
        "BPDCTY",
        Field,
        "",
        "delivery address city",
    ),
    d(
        "rest.invoice.ship-to.country",
        "BPDCRY",
        Field,
        "",
        "delivery address country",
    ),
    d(
        "rest.invoice.ship-to.lines",
        "BPDADDLIG",
        Field,
        "",
        "delivery address lines (array of 3)",
    ),
    d(
        "rest.invoice.ship-to.name",
        "BPDNAM",
        Field,
        "",
        "delivery address name (35)",
    ),
    d(
        "rest.invoice.ship-to.state",
        "BPDSAT",
        Field,
        "",
        "delivery address state",
    ),
    d(
        "rest.invoice.ship-to.zip",
        "BPDPOSCOD",
        Field,
        "",
        "delivery address postal code",
    ),
    d("rest.invoice.type", "SIVTYP", Field, "§5.5", "invoice type"),
    d(
        "rest.issue.class",
        "SMVTISS",
        Class,
        "",
        "miscellaneous issue class",
    ),
    d("rest.issue.date", "IPTDAT", Field, "", "issue date"),
    d(
        "rest.issue.description",
        "VCRDES",
        Field,
        "",
        "description: holds our reference",
    ),
    d("rest.issue.key", "VCRNUM", Field, "", "issue number"),
    d("rest.issue.line.item", "ITMREF", Field, "", "item"),
    d(
        "rest.issue.line.quantity",
        "QTYSTU",
        Field,
        "",
        "quantity in stock unit",
    ),
    d("rest.issue.lines", "SMVTD", Field, "", "line collection"),
    d(
        "rest.issue.representation",
        "SMVTISS",
        Class,
        "",
        "miscellaneous issue representation",
    ),
    d("rest.issue.site", "STOFCY", Field, "", "stock site"),
    d(
        "rest.line.description",
        "ITMDES",
        Field,
        "§5.3",
        "line description (30)",
    ),
    d(
        "rest.line.discount",
        "DISCRGVAL1",
        Field,
        "§5.3",
        "per-unit discount",
    ),
    d("rest.line.item", "ITMREF", Field, "§5.3", "item"),
    d(
        "rest.line.price",
        "GROPRI",
        Field,
        "§5.3",
        "gross price (10.4)",
    ),
    d("rest.line.quantity", "QTY", Field, "§5.3", "quantity"),
    d("rest.line.sales-unit", "SAU", Field, "§5.3", "sales unit"),
    d(
        "rest.line.shipment-site",
        "STOFCY",
        Field,
        "§5.3",
        "shipment site of the line",
    ),
    d(
        "rest.order.bill-to.city",
        "BPICTY",
        Field,
        "§5.3",
        "invoice address city",
    ),
    d(
        "rest.order.bill-to.country",
        "BPICRY",
        Field,
        "§5.3",
        "invoice address country",
    ),
    d(
        "rest.order.bill-to.lines",
        "BPIADDLIG",
        Field,
        "§5.3",
        "invoice address lines (array of 3)",
    ),
    d(
        "rest.order.bill-to.name",
        "BPINAM",
        Field,
        "§5.3",
        "invoice address name (35)",
    ),
    d(
        "rest.order.bill-to.state",
        "BPISAT",
        Field,
        "",
        "invoice address state",
    ),
    d(
        "rest.order.bill-to.zip",
        "BPIPOSCOD",
        Field,
        "",
        "invoice address postal code",
    ),
    d(
        "rest.order.class",
        "SORDER",
        Class,
        "§1.1",
        "sales order class",
    ),
    d("rest.order.currency", "CUR", Field, "§5.3", "currency"),
    d(
        "rest.order.customer",
        "BPCORD",
        Field,
        "§5.3",
        "sold-to customer",
    ),
    d("rest.order.date", "ORDDAT", Field, "§5.3", "order date"),
    d(
        "rest.order.delivery-status",
        "DLVSTA",
        Field,
        "§2",
        "delivery status (1 none, 2 partly, 3 fully)",
    ),
    d("rest.order.key", "SOHNUM", Field, "§5.3", "order number"),
    d(
        "rest.order.line-number",
        "SOPLIN",
        Field,
        "§5.3",
        "line number (1000, 2000…)",
    ),
    d(
        "rest.order.lines",
        "SOHSOP",
        Field,
        "§1.5",
        "line collection",
    ),
    d(
        "rest.order.reference",
        "CUSORDREF",
        Field,
        "§5.3",
        "our reference (20)",
    ),
    d(
        "rest.order.representation",
        "SORDER",
        Class,
        "§1.1",
        "sales order representation",
    ),
    d(
        "rest.order.sales-site",
        "SALFCY",
        Field,
        "§5.3",
        "sales site",
    ),
    d(
        "rest.order.ship-to.city",
        "BPDCTY",
        Field,
        "§5.3",
        "delivery address city",
    ),
    d(
        "rest.order.ship-to.country",
        "BPDCRY",
        Field,
        "§5.3",
        "delivery address country",
    ),
    d(
        "rest.order.ship-to.lines",
        "BPDADDLIG",
        Field,
        "§5.3",
        "delivery address lines (array of 3)",
    ),
    d(
        "rest.order.ship-to.name",
        "BPDNAM",
        Field,
        "§5.3",
        "delivery address name (35)",
    ),
    d(
        "rest.order.ship-to.state",
        "BPDSAT",
        Field,
        "",
        "delivery address state",
    ),
    d(
        "rest.order.ship-to.zip",
        "BPDPOSCOD",
        Field,
        "§5.3",
        "delivery address postal code",
    ),
    d(
        "rest.order.shipment-site",
        "STOFCY",
        Field,
        "§5.3",
        "shipment site",
    ),
    d(
        "rest.order.status",
        "ORDSTA",
        Field,
        "§5.3",
        "order status (2 = closed)",
    ),
    d("rest.order.type", "SOHTYP", Field, "§5.3", "order type"),
    d(
        "rest.price-list.class",
        "SPRICLIST",
        Class,
        "",
        "price list lines class",
    ),
    d(
        "rest.price-list.end",
        "PLIENDDAT",
        Field,
        "",
        "last day a price list line applies",
    ),
    d(
        "rest.price-list.item",
        "PLICRI1",
        Field,
        "",
        "item of a price list line (first criterion)",
    ),
    d("rest.price-list.key", "PLI", Field, "", "price list code"),
    d(
        "rest.price-list.price",
        "PRI",
        Field,
        "",
        "price of a price list line",
    ),
    d(
        "rest.price-list.representation",
        "SPRICLIST",
        Class,
        "",
        "price list lines representation",
    ),
    d(
        "rest.price-list.start",
        "PLISTRDAT",
        Field,
        "",
        "first day a price list line applies",
    ),
    d(
        "rest.product.base-price",
        "BASPRI",
        Field,
        "",
        "item base price",
    ),
    d(
        "rest.product.class",
        "ITMMASTER",
        Class,
        "§5.2",
        "item class",
    ),
    d(
        "rest.product.description2",
        "DES2AXX",
        Field,
        "§5.2",
        "item description, line 2",
    ),
    d(
        "rest.product.description3",
        "DES3AXX",
        Field,
        "§5.2",
        "item description, line 3",
    ),
    d("rest.product.key", "ITMREF", Field, "§5.2", "item code"),
    d(
        "rest.product.name",
        "DES1AXX",
        Field,
        "§5.2",
        "item description, line 1 (the shop's product name)",
    ),
    d(
        "rest.product.representation",
        "ITMMASTER",
        Class,
        "§5.2",
        "item representation",
    ),
    d(
        "rest.product.status",
        "ITMSTA",
        Field,
        "",
        "item status (1 active)",
    ),
    d(
        "rest.receipt.class",
        "SMVTRCP",
        Class,
        "",
        "miscellaneous receipt class",
    ),
    d("rest.receipt.date", "IPTDAT", Field, "", "receipt date"),
    d(
        "rest.receipt.description",
        "VCRDES",
        Field,
        "",
        "description: holds our reference",
    ),
    d("rest.receipt.key", "VCRNUM", Field, "", "receipt number"),
    d("rest.receipt.line.item", "ITMREF", Field, "", "item"),
    d(
        "rest.receipt.line.quantity",
        "QTYSTU",
        Field,
        "",
        "quantity in stock unit",
    ),
    d(
        "rest.receipt.line.status",
        "STA",
        Field,
        "",
        "stock status of the units put back",
    ),
    d("rest.receipt.lines", "SMVTD", Field, "", "line collection"),
    d(
        "rest.receipt.representation",
        "SMVTRCP",
        Class,
        "",
        "miscellaneous receipt representation",
    ),
    d("rest.receipt.site", "STOFCY", Field, "", "stock site"),
    d(
        "rest.stock.allocated",
        "CUMALLQTY",
        Field,
        "",
        "allocated quantity",
    ),
    d("rest.stock.class", "STOCK", Class, "§1.1", "stock class"),
    d("rest.stock.item", "ITMREF", Field, "§1.1", "item"),
    d(
        "rest.stock.quantity",
        "QTYSTU",
        Field,
        "§5.2",
        "physical quantity",
    ),
    d(
        "rest.stock.representation",
        "STOCK",
        Class,
        "§1.1",
        "stock representation",
    ),
    d("rest.stock.site", "STOFCY", Field, "§1.1", "stock site"),
];

/// The default of `key`; None for a key the table does not have.
pub fn def(key: &str) -> Option<&'static WireDef> {
    TABLE
        .binary_search_by(|d| d.key.cmp(key))
        .ok()
        .map(|i| &TABLE[i])
}

fn ident(s: &str, upper_first: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let first_ok = if upper_first {
        first.is_ascii_alphanumeric()
    } else {
        first.is_ascii_alphabetic() || first == '_'
    };
    first_ok && s.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Is `value` a valid name of `kind`? Returns what was expected when it is not.
fn check(kind: NameKind, value: &str) -> Result<(), &'static str> {
    let field = |s: &str| ident(s, true);
    let prop = |s: &str| ident(s, false);
    let pattern = |s: &str, ok: &dyn Fn(&str) -> bool| {
        s.matches("{n}").count() == 1 && ok(&s.replace("{n}", "1"))
    };
    let ok = match kind {
        Class | Field => field(value),
        FieldPath => match value.split_once('.') {
            Some((a, b)) => field(a) && field(b),
            None => field(value),
        },
        FieldPattern => pattern(value, &field),
        Node => value
            .split_once('.')
            .is_some_and(|(a, b)| prop(a) && prop(b)),
        InputType | Property => prop(value),
        PropertyPath => match value.split_once('.') {
            Some((a, b)) => prop(a) && prop(b),
            None => prop(value),
        },
        PropertyPattern => pattern(value, &prop),
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        Class => "a class or representation name (letters, digits, _)",
        Field => "an X3 field code (letters, digits, _)",
        FieldPath => "a field code or COLLECTION.FIELD",
        FieldPattern => "a field code with {n} once (CCE{n})",
        Node => "package.node (x3Sales.salesOrder)",
        InputType => "a GraphQL type name",
        Property => "a GraphQL property name",
        PropertyPath => "a property or collection.property",
        PropertyPattern => "a property with {n} once (dimension{n})",
    })
}

/// The table with a site's overrides applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wire {
    /// Sorted by key, each a known key with a valid value.
    overrides: Vec<(String, String)>,
}

impl Wire {
    /// Checks every override: an unknown key or a malformed name is an error naming it. The
    /// same key twice: the last wins.
    pub fn new(overrides: &[(String, String)]) -> Result<Wire, Error> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(overrides.len());
        for (k, v) in overrides {
            let key = k.trim();
            let value = v.trim();
            let d = def(key).ok_or_else(|| Error::UnknownKey(key.to_string()))?;
            check(d.kind, value).map_err(|expected| Error::BadName {
                key: key.to_string(),
                value: value.to_string(),
                expected,
            })?;
            out.retain(|(k2, _)| k2 != key);
            out.push((key.to_string(), value.to_string()));
        }
        out.sort();
        Ok(Wire { overrides: out })
    }

    /// The name in force for `key`. Keys are the renderers' own constants; an unknown one is a
    /// bug caught by the tests, and answers the key itself rather than trapping.
    pub fn get(&self, key: &str) -> &str {
        if let Ok(i) = self
            .overrides
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
        {
            return &self.overrides[i].1;
        }
        match def(key) {
            Some(d) => d.default,
            None => {
                debug_assert!(false, "wire key {key} is not in the table");
                ""
            }
        }
    }

    /// A `{n}` pattern with `n` filled in.
    pub fn numbered(&self, key: &str, n: usize) -> String {
        self.get(key).replace("{n}", &n.to_string())
    }

    /// `(package, node)` of a GraphQL node key.
    pub fn node(&self, key: &str) -> (&str, &str) {
        self.get(key).split_once('.').unwrap_or(("", ""))
    }

    /// Every name in force, in table order: for `config check` and the docs.
    pub fn resolved(&self) -> Vec<Resolved> {
        TABLE
            .iter()
            .map(|d| Resolved {
                def: d,
                value: self.get(d.key).to_string(),
            })
            .collect()
    }

    pub fn overrides(&self) -> &[(String, String)] {
        &self.overrides
    }
}

/// One name in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub def: &'static WireDef,
    pub value: String,
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.def.key, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_every_default_is_valid() {
        for pair in TABLE.windows(2) {
            assert!(
                pair[0].key < pair[1].key,
                "{} before {}",
                pair[0].key,
                pair[1].key
            );
        }
        for d in TABLE {
            assert!(check(d.kind, d.default).is_ok(), "{}", d.key);
            assert!(
                d.key.starts_with("rest.") || d.key.starts_with("graphql."),
                "{}",
                d.key
            );
        }
    }

    #[test]
    fn overrides_replace_defaults_and_bad_ones_name_the_key() {
        let w = Wire::new(&[
            ("rest.order.class".into(), "YSORDER".into()),
            ("graphql.customer.email-path".into(), "emailAddress".into()),
        ])
        .unwrap();
        assert_eq!(w.get("rest.order.class"), "YSORDER");
        assert_eq!(w.get("rest.order.representation"), "SORDER");
        assert_eq!(w.get("graphql.customer.email-path"), "emailAddress");
        assert_eq!(w.numbered("rest.dimension", 2), "CCE2");
        assert_eq!(w.node("graphql.order.node"), ("x3Sales", "salesOrder"));

        assert_eq!(
            Wire::new(&[("rest.order.klass".into(), "X".into())]),
            Err(Error::UnknownKey("rest.order.klass".into()))
        );
        for (key, bad) in [
            ("rest.order.customer", "BPC ORD"),
            ("rest.order.customer", "BPCORD'"),
            ("rest.order.customer", ""),
            ("rest.dimension", "CCE"),
            ("rest.dimension", "CCE{n}{n}"),
            ("graphql.order.node", "salesOrder"),
            ("graphql.order.customer", "sold-to"),
            ("rest.customer.email-path", "A.B.C"),
        ] {
            let e = Wire::new(&[(key.into(), bad.into())]).unwrap_err();
            assert!(
                matches!(&e, Error::BadName { key: k, .. } if k == key),
                "{key} = {bad:?}: {e}"
            );
        }
    }

    #[test]
    fn docs_list_every_name_with_its_default_and_source() {
        let doc = include_str!("../../docs/x3-wire-format.md");
        for d in TABLE {
            let source = if d.source.is_empty() {
                "UNCONFIRMED"
            } else {
                d.source
            };
            let row = format!("| `{}` | `{}` | {source} |", d.key, d.default);
            assert!(doc.contains(&row), "docs/x3-wire-format.md lacks {row}");
        }
    }

    #[test]
    fn every_key_resolves() {
        let w = Wire::default();
        let all = w.resolved();
        assert_eq!(all.len(), TABLE.len());
        assert!(all.iter().all(|r| !r.value.is_empty()));
    }
}
