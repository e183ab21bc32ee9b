//! The clients of the two systems the host talks to, with no knowledge of orders or jobs.
//!
//! - [`x3`]: Sage X3 (REST api1 and GraphQL, three auth modes, error classification).
//! - [`woo`]: the WooCommerce REST API v3 (orders, refunds, products, customers, webhooks).
//!
//! Imports point down only: to `config`, `log` and nothing above (`docs/architecture.md`).

pub mod woo;
pub mod x3;

use std::time::Duration;

use anyhow::Result;

use crate::config::{AuthMode, Config};
use woo::{WooAuth, WooClient, WooSettings};
use x3::{X3Auth, X3Client, X3Settings};

/// The X3 API the configuration names, as the client's type.
pub fn x3_api(cfg: &Config) -> x3::ApiMode {
    match cfg.x3.api {
        crate::config::ApiMode::Rest => x3::ApiMode::Rest,
        crate::config::ApiMode::Graphql => x3::ApiMode::Graphql,
    }
}

/// The X3 client of `[x3]`.
pub fn x3_client(cfg: &Config) -> Result<X3Client> {
    let x = &cfg.x3;
    let auth = match x.auth {
        AuthMode::Basic => X3Auth::Basic {
            user: x.user.clone().unwrap_or_default(),
            password: cfg.x3_password.expose().to_string(),
        },
        AuthMode::ConnectedApp => X3Auth::ConnectedApp {
            client_id: x.client_id.clone().unwrap_or_default(),
            secret: cfg.x3_secret.expose().to_string(),
            user: x.jwt_user.clone().unwrap_or_default(),
            audience: x.audience.clone(),
            lifetime: Duration::from_secs(x.jwt_lifetime_secs.max(1)),
            backdate: Duration::from_secs(x.jwt_iat_backdate_secs),
        },
        AuthMode::Oauth2 => X3Auth::OAuth2 {
            token_url: x.token_url.clone().unwrap_or_default(),
            client_id: x.oauth_client_id.clone().unwrap_or_default(),
            client_secret: cfg.x3_oauth_secret.expose().to_string(),
        },
    };
    X3Client::new(X3Settings {
        base_url: x.base_url.clone(),
        folder: x.folder.clone(),
        api: x3_api(cfg),
        auth,
        ca_file: x.ca_file.as_ref().map(|p| cfg.base_dir.join(p)),
        timeout: cfg.x3_timeout(),
        connect_timeout: Duration::from_secs(5),
    })
    .map(|c| c.limit_in_flight(x.concurrency))
    .map_err(|e| anyhow::anyhow!("X3 client: {e}"))
}

/// The WooCommerce client of `[woocommerce]`.
pub fn woo_client(cfg: &Config) -> Result<WooClient> {
    let auth = match cfg.woo.auth.as_deref().unwrap_or("auto") {
        "oauth1" => WooAuth::OAuth1,
        "basic" => WooAuth::Basic,
        "query-string" => WooAuth::QueryString,
        _ => WooAuth::Auto,
    };
    WooClient::new(WooSettings {
        site_url: cfg.woo.url.clone(),
        consumer_key: cfg.woo.consumer_key.clone(),
        consumer_secret: cfg.woo_consumer_secret.expose().to_string(),
        auth,
        ca_file: cfg.woo.ca_file.as_ref().map(|p| cfg.base_dir.join(p)),
        timeout: Duration::from_secs(cfg.woo.timeout_secs.max(1)),
        connect_timeout: Duration::from_secs(5),
    })
    .map_err(|e| anyhow::anyhow!("WooCommerce client: {e}"))
}
