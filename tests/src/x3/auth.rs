//! Authentication, checked on every API request (api1 is stateless, cookies ignored, x3-api.md
//! §1.7): HTTP Basic (§4.1), connected-app JWTs minted by the client (HS256, §4.3), and bearer
//! tokens from the OAuth2 token endpoint `POST /v1/token` (shape of the cloud gateway, §4.4).
//!
//! JWT failures answer 401 with plain text `Error NN: Invalid token` (codes from a third-party
//! document, UNCONFIRMED, §4.3): 41 iss, 42 sub, 45 aud, 21 iat in the future, 50 signature,
//! expiry, lifetime longer than the configured validity, or revoked by "expire all tokens".

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::X3Config;
use super::util::random_hex;
use crate::http::{Request, Response};

/// Lifetime of refresh tokens (30 days, §4.4).
pub const REFRESH_VALIDITY_SECS: i64 = 30 * 86_400;

/// Issued OAuth2 tokens and the "expire all" watermark.
#[derive(Debug, Default)]
pub struct Tokens {
    /// access token → expiry (epoch seconds).
    pub access: HashMap<String, i64>,
    /// refresh token → expiry.
    pub refresh: HashMap<String, i64>,
    /// JWTs with `iat` strictly before this are rejected (set by the `expire_tokens` fault).
    pub jwt_not_before: i64,
}

fn jwt_fail(code: u16) -> Response {
    Response::text(401, format!("Error {code}: Invalid token"))
}

fn unauthorized_basic(json_body: bool) -> Response {
    let r = if json_body {
        Response::json(
            401,
            &json!({"$diagnoses":[{"$severity":"error","$message":"Unauthorized"}]}),
        )
    } else {
        Response::text(401, "Unauthorized")
    };
    r.header("WWW-Authenticate", "Basic realm=\"Syracuse\"")
}

/// Check one request's credentials. `json_body` picks the REST-style body for Basic failures.
pub fn check(
    req: &Request,
    cfg: &X3Config,
    tokens: &Tokens,
    now: i64,
    json_body: bool,
) -> Result<(), Response> {
    let Some(h) = req.header("authorization") else {
        return Err(unauthorized_basic(json_body));
    };
    let (scheme, cred) = h.trim().split_once(' ').unwrap_or((h, ""));
    let cred = cred.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(cred)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthorized_basic(json_body))?;
        let (u, p) = decoded.split_once(':').unwrap_or((&decoded, ""));
        if u == cfg.user && p == cfg.password {
            return Ok(());
        }
        return Err(unauthorized_basic(json_body));
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized_basic(json_body));
    }
    if cred.matches('.').count() == 2 {
        return check_jwt(cred, cfg, tokens, now);
    }
    match tokens.access.get(cred) {
        Some(exp) if *exp > now => Ok(()),
        // The gateway's answer for missing or expired tokens (§4.4, G10).
        _ => Err(Response::json(401, &json!({"message":"Unauthorised"}))),
    }
}

/// Verify a connected-app JWT (Sage sample TokenJWT.php: iss, sub, aud, iat, exp; HS256).
pub fn check_jwt(tok: &str, cfg: &X3Config, tokens: &Tokens, now: i64) -> Result<(), Response> {
    let now = now + cfg.clock_offset_secs;
    let mut parts = tok.split('.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(jwt_fail(50));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| jwt_fail(50))?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(jwt_fail(50));
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| jwt_fail(50))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(cfg.secret.as_bytes()).map_err(|_| jwt_fail(50))?;
    mac.update(format!("{h}.{p}").as_bytes());
    if mac.verify_slice(&sig).is_err() {
        return Err(jwt_fail(50));
    }
    let claims: Value = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| jwt_fail(50))?;
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    if s("iss") != Some(cfg.client_id.as_str()) {
        return Err(jwt_fail(41));
    }
    if s("sub") != Some(cfg.jwt_user.as_str()) {
        return Err(jwt_fail(42));
    }
    // An empty configured audience accepts an empty or absent `aud` (Sage's template has "").
    let aud_ok = match claims.get("aud") {
        None | Some(Value::Null) => cfg.jwt_audience.is_empty(),
        Some(Value::String(a)) => *a == cfg.jwt_audience,
        Some(Value::Array(a)) => a
            .iter()
            .any(|x| x.as_str() == Some(cfg.jwt_audience.as_str())),
        Some(_) => false,
    };
    if !aud_ok {
        return Err(jwt_fail(45));
    }
    let (Some(iat), Some(exp)) = (
        claims.get("iat").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(jwt_fail(50));
    };
    let skew = cfg.clock_skew_secs as i64;
    if iat > now + skew {
        return Err(jwt_fail(21));
    }
    if exp <= now || exp - iat > cfg.token_validity_secs as i64 || iat < tokens.jwt_not_before {
        return Err(jwt_fail(50));
    }
    Ok(())
}

/// `POST /v1/token`: grants `client_credentials` (client id + secret in the body or by Basic)
/// and `refresh_token` (the refresh token is reissued and the old one revoked, §4.4).
pub fn token_endpoint(req: &Request, cfg: &X3Config, tokens: &mut Tokens, now: i64) -> Response {
    let is_json = req
        .header("content-type")
        .is_some_and(|c| c.contains("json"))
        || req.body.first() == Some(&b'{');
    let params: HashMap<String, String> = if is_json {
        match req.json() {
            Ok(Value::Object(m)) => m
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
            _ => return Response::json(400, &json!({"message":"Invalid request body"})),
        }
    } else {
        req.form().into_iter().collect()
    };
    let (mut id, mut secret) = (
        params.get("client_id").cloned(),
        params.get("client_secret").cloned(),
    );
    if let Some(h) = req.header("authorization")
        && let Some(b) = h.strip_prefix("Basic ")
        && let Some(dec) = STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        && let Some((u, p)) = dec.split_once(':')
    {
        id = Some(u.to_string());
        secret = Some(p.to_string());
    }
    let client_ok = id.as_deref() == Some(cfg.oauth_client_id.as_str())
        && secret.as_deref() == Some(cfg.oauth_client_secret.as_str());
    let unauthorised = || Response::json(401, &json!({"message":"Unauthorised"}));
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if !client_ok {
                return unauthorised();
            }
        }
        Some("refresh_token") => {
            // The client must still prove who it is when it sends credentials.
            if id.is_some() && !client_ok {
                return unauthorised();
            }
            let Some(rt) = params.get("refresh_token") else {
                return Response::json(400, &json!({"message":"Missing refresh_token"}));
            };
            match tokens.refresh.remove(rt) {
                Some(exp) if exp > now => {}
                _ => return unauthorised(),
            }
        }
        _ => return Response::json(400, &json!({"message":"Invalid grant type"})),
    }
    let validity = cfg.oauth_token_validity_secs as i64;
    let access = format!("at{}", random_hex());
    let refresh = format!("rt{}", random_hex());
    tokens.access.retain(|_, exp| *exp > now);
    tokens.access.insert(access.clone(), now + validity);
    tokens
        .refresh
        .insert(refresh.clone(), now + REFRESH_VALIDITY_SECS);
    Response::json(
        200,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": validity,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_VALIDITY_SECS,
        }),
    )
}

/// Mint a connected-app JWT the way Sage's sample does (for tests and tools).
pub fn mint_jwt(secret: &str, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let sig = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(format!("{h}.{p}").as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{h}.{p}.{sig}")
}
