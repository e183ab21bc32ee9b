//! `x3-sim`: the Sage X3 simulator as a process. Prints one JSON line with its port and the
//! test credentials a client needs, then serves until killed. Flags and behaviour:
//! `docs/simulators.md (x3-sim)`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use mlc_sim::x3::{X3Config, X3Sim};

#[derive(Parser, Debug)]
#[command(
    name = "x3-sim",
    about = "Sage X3 simulator (REST api1, GraphQL, auth, faults)"
)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// X3 folder = Syracuse endpoint name.
    #[arg(long)]
    folder: Option<String>,
    /// HTTP Basic user.
    #[arg(long)]
    user: Option<String>,
    /// HTTP Basic password.
    #[arg(long)]
    password: Option<String>,
    /// Connected-app client id (JWT `iss`).
    #[arg(long)]
    client_id: Option<String>,
    /// Connected-app secret (HS256 key).
    #[arg(long)]
    secret: Option<String>,
    /// Connected-app allowed user (JWT `sub`).
    #[arg(long)]
    jwt_user: Option<String>,
    /// Expected JWT `aud` (empty: "" or absent).
    #[arg(long)]
    jwt_audience: Option<String>,
    /// Largest accepted JWT `exp - iat`, seconds.
    #[arg(long)]
    token_validity_secs: Option<u64>,
    /// Accepted clock skew for JWT `iat`, seconds.
    #[arg(long)]
    clock_skew_secs: Option<u64>,
    /// X3's clock against this machine's for JWT validation, seconds (negative: behind).
    #[arg(long, allow_hyphen_values = true)]
    clock_offset_secs: Option<i64>,
    /// OAuth2 client id for POST /v1/token.
    #[arg(long)]
    oauth_client_id: Option<String>,
    /// OAuth2 client secret.
    #[arg(long)]
    oauth_client_secret: Option<String>,
    /// OAuth2 access-token lifetime, seconds.
    #[arg(long)]
    oauth_token_validity_secs: Option<u64>,
    /// Let deliveries take stock below zero.
    #[arg(long)]
    allow_negative_stock: bool,
    /// Give BPCUSTOMER a header WEB (custom representations; standard X3 has none).
    #[arg(long)]
    customer_header_email: bool,
    /// A CLASS.FIELD that $edit / GraphQL update leave unchanged (repeatable), e.g. SORDER.ORDSTA.
    #[arg(long = "ignore-edit-field", value_name = "CLASS.FIELD")]
    ignore_edit_field: Vec<String>,
    /// Let clients write STOCK lines directly (X3 changes stock only through movements).
    #[arg(long)]
    stock_writes: bool,
    /// Facets a class's representation exposes (repeatable), e.g. SORDER=query,details,lookup
    /// for the standard SORDER representation. Unlisted classes expose every facet.
    #[arg(long = "facets", value_name = "CLASS=FACET,…")]
    facets: Vec<String>,
    /// HTTP status of REST business refusals (X3: 500; 400 = the old lenient behaviour).
    #[arg(long)]
    business_error_status: Option<u16>,
    /// Class names as CLASS or CLASS:REPRESENTATION.
    #[arg(long)]
    class_customer: Option<String>,
    #[arg(long)]
    class_item: Option<String>,
    #[arg(long)]
    class_order: Option<String>,
    #[arg(long)]
    class_delivery: Option<String>,
    #[arg(long)]
    class_invoice: Option<String>,
    #[arg(long)]
    class_stock: Option<String>,
    /// Miscellaneous receipt class (default SMVTRCP).
    #[arg(long)]
    class_receipt: Option<String>,
    /// Miscellaneous issue class (default SMVTISS).
    #[arg(long)]
    class_issue: Option<String>,
    /// JSON state file: loaded at start if present, written after every change.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Worker threads.
    #[arg(long)]
    threads: Option<usize>,
}

fn class(v: Option<String>, slot: &mut (String, String)) {
    if let Some(v) = v {
        *slot = match v.split_once(':') {
            Some((c, r)) => (c.to_string(), r.to_string()),
            None => (v.clone(), v),
        };
    }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut cfg = X3Config {
        port: a.port,
        allow_negative_stock: a.allow_negative_stock,
        customer_header_email: a.customer_header_email,
        ignored_edit_fields: a.ignore_edit_field,
        stock_writes: a.stock_writes,
        state_file: a.state_file,
        ..X3Config::default()
    };
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { cfg.$f = v; } )* };
    }
    set!(
        folder,
        user,
        password,
        client_id,
        secret,
        jwt_user,
        jwt_audience,
        token_validity_secs,
        clock_skew_secs,
        clock_offset_secs,
        oauth_client_id,
        oauth_client_secret,
        oauth_token_validity_secs,
        business_error_status,
        threads
    );
    class(a.class_customer, &mut cfg.classes.customer);
    class(a.class_item, &mut cfg.classes.item);
    class(a.class_order, &mut cfg.classes.order);
    class(a.class_delivery, &mut cfg.classes.delivery);
    class(a.class_invoice, &mut cfg.classes.invoice);
    class(a.class_stock, &mut cfg.classes.stock);
    class(a.class_receipt, &mut cfg.classes.receipt);
    class(a.class_issue, &mut cfg.classes.issue);
    for spec in a.facets {
        let (class, list) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--facets: CLASS=FACET,… expected, got {spec}"))?;
        let list = list
            .split(',')
            .map(|f| f.trim().trim_start_matches('$').to_string())
            .filter(|f| !f.is_empty())
            .collect();
        cfg.facets.insert(class.to_string(), list);
    }
    let sim = X3Sim::start(cfg).map_err(|e| anyhow::anyhow!("cannot start x3-sim: {e}"))?;
    let c = sim.config();
    let base = sim.base_url();
    let line = serde_json::json!({
        "port": sim.port(),
        "base_url": base,
        "folder": c.folder,
        "user": c.user,
        "password": c.password,
        "client_id": c.client_id,
        "secret": c.secret,
        "jwt_user": c.jwt_user,
        "jwt_audience": c.jwt_audience,
        "oauth_client_id": c.oauth_client_id,
        "oauth_client_secret": c.oauth_client_secret,
        "token_url": format!("{base}/v1/token"),
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    loop {
        std::thread::park();
    }
}
