//! How the client proves who it is: HTTP Basic, a connected-app JWT it mints itself
//! ([`mint_jwt`], x3-api.md §4.3) or an OAuth2 token endpoint (§4.4). Holds the settings
//! ([`X3Auth`]), the credential state ([`Cred`], [`Held`], [`OAuthState`]) and the code that
//! obtains, renews and describes the credentials and builds the `Authorization` header.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::transport::{authority_of, check_base_url};
use super::{Op, Result, X3Client, X3Error, bump, lock};

/// A connected-app JWT is re-minted this long (at most) before its `exp`.
const JWT_MARGIN: Duration = Duration::from_secs(30);

/// An OAuth2 access token is renewed this long (at most) before it expires: tokens live
/// 5 minutes (§4.4), so a call never starts with a token about to die.
const OAUTH_MARGIN: Duration = Duration::from_secs(60);

/// How the client proves who it is.
#[derive(Clone)]
pub enum X3Auth {
    /// HTTP Basic with a Syracuse user (§4.1).
    Basic { user: String, password: String },
    /// Connected application: the client mints its own HS256 JWT per x3-api.md §4.3
    /// ({"iss": client_id, "sub": user, "aud": audience, "iat": now, "exp": now + lifetime}), re-minted before exp.
    ConnectedApp {
        client_id: String,
        secret: String,
        user: String,
        audience: String,
        lifetime: Duration,
        /// `iat` (and so `exp`) this far in the past: a host clock ahead of X3's.
        backdate: Duration,
    },
    /// OAuth2 token endpoint (x3-sim's POST /v1/token): client_credentials, then refresh_token grants; tokens refreshed ahead of expiry (they live 5 minutes).
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
    },
}

impl fmt::Debug for X3Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HIDDEN: &str = "<redacted>";
        match self {
            X3Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &HIDDEN)
                .finish(),
            X3Auth::ConnectedApp {
                client_id,
                user,
                audience,
                lifetime,
                ..
            } => f
                .debug_struct("ConnectedApp")
                .field("client_id", client_id)
                .field("secret", &HIDDEN)
                .field("user", user)
                .field("audience", audience)
                .field("lifetime", lifetime)
                .finish(),
            X3Auth::OAuth2 {
                token_url,
                client_id,
                ..
            } => f
                .debug_struct("OAuth2")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .field("client_secret", &HIDDEN)
                .finish(),
        }
    }
}

/// What the client did to stay authenticated (for tests and the status page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Connected-app JWTs minted.
    pub jwt_mints: u64,
    /// OAuth2 `client_credentials` grants obtained.
    pub client_credentials_grants: u64,
    /// OAuth2 `refresh_token` grants obtained.
    pub refresh_grants: u64,
    /// Requests sent a second time after a 401 with a fresh token.
    pub retries_after_401: u64,
}

/// A token with the moment it must be replaced.
#[derive(Clone)]
pub(super) struct Held {
    pub(super) header: String,
    renew_at: SystemTime,
    expires_at: SystemTime,
}

#[derive(Default)]
pub(super) struct OAuthState {
    pub(super) access: Option<Held>,
    pub(super) refresh: Option<String>,
}

pub(super) enum Cred {
    Basic {
        user: String,
        header: String,
    },
    Jwt {
        client_id: String,
        secret: String,
        user: String,
        audience: String,
        lifetime: Duration,
        backdate: Duration,
        held: Mutex<Option<Held>>,
    },
    OAuth {
        token_url: String,
        client_id: String,
        client_secret: String,
        state: Mutex<OAuthState>,
    },
}

impl Cred {
    /// The credential state for `auth`, checked; what must never show in a message goes to
    /// `secrets`.
    pub(super) fn new(auth: X3Auth, secrets: &mut Vec<String>) -> Result<Cred> {
        Ok(match auth {
            X3Auth::Basic { user, password } => {
                let b64 = STANDARD.encode(format!("{user}:{password}"));
                secrets.push(password);
                secrets.push(b64.clone());
                Cred::Basic {
                    user,
                    header: format!("Basic {b64}"),
                }
            }
            X3Auth::ConnectedApp {
                client_id,
                secret,
                user,
                audience,
                lifetime,
                backdate,
            } => {
                if lifetime < Duration::from_secs(1) {
                    return Err(X3Error::Config(
                        "connected app: token lifetime of at least 1 second expected".into(),
                    ));
                }
                if backdate >= lifetime {
                    return Err(X3Error::Config(
                        "connected app: the iat backdate must be shorter than the token lifetime"
                            .into(),
                    ));
                }
                secrets.push(secret.clone());
                Cred::Jwt {
                    client_id,
                    secret,
                    user,
                    audience,
                    lifetime,
                    backdate,
                    held: Mutex::new(None),
                }
            }
            X3Auth::OAuth2 {
                token_url,
                client_id,
                client_secret,
            } => {
                let (token_url, _) = check_base_url(&token_url, "token_url")?;
                secrets.push(client_secret.clone());
                Cred::OAuth {
                    token_url,
                    client_id,
                    client_secret,
                    state: Mutex::new(OAuthState::default()),
                }
            }
        })
    }
}

impl X3Client {
    /// What the client did to stay authenticated so far.
    pub fn auth_stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            jwt_mints: c.jwt_mints.load(Ordering::Relaxed),
            client_credentials_grants: c.client_credentials_grants.load(Ordering::Relaxed),
            refresh_grants: c.refresh_grants.load(Ordering::Relaxed),
            retries_after_401: c.retries_after_401.load(Ordering::Relaxed),
        }
    }

    pub(super) fn auth_desc(&self) -> String {
        match &self.cred {
            Cred::Basic { user, .. } => format!("user '{user}' (Basic auth)"),
            Cred::Jwt {
                client_id, user, ..
            } => format!("connected app {client_id} as user '{user}'"),
            Cred::OAuth { client_id, .. } => format!("OAuth2 client '{client_id}'"),
        }
    }

    // ---- credentials ----

    /// The Authorization header to send. `stale` is a header X3 just refused: when it is still
    /// the current one it is dropped and renewed (when another worker already renewed it, the
    /// new one is used as is).
    pub(super) fn authorization(&self, stale: Option<&str>) -> Result<String> {
        match &self.cred {
            Cred::Basic { header, .. } => Ok(header.clone()),
            Cred::Jwt {
                client_id,
                secret,
                user,
                audience,
                lifetime,
                backdate,
                held,
            } => {
                let mut held = lock(held);
                if let (Some(s), Some(h)) = (stale, held.as_ref())
                    && h.header == s
                {
                    *held = None;
                }
                if let Some(h) = held.as_ref()
                    && SystemTime::now() < h.renew_at
                {
                    return Ok(h.header.clone());
                }
                let h = mint_jwt(client_id, secret, user, audience, *lifetime, *backdate)?;
                bump(&self.counters.jwt_mints);
                let header = h.header.clone();
                *held = Some(h);
                Ok(header)
            }
            Cred::OAuth {
                token_url,
                client_id,
                client_secret,
                state,
            } => {
                // Held across the token request on purpose: the other workers need the same
                // token, and one grant for all beats one per worker (refresh tokens are
                // single-use, §4.4).
                let mut st = lock(state);
                if let (Some(s), Some(h)) = (stale, st.access.as_ref())
                    && h.header == s
                {
                    st.access = None;
                }
                let now = SystemTime::now();
                if let Some(h) = st.access.as_ref()
                    && now < h.renew_at
                {
                    return Ok(h.header.clone());
                }
                let grant = self.oauth_grant(token_url, client_id, client_secret, &mut st);
                match grant {
                    Ok(h) => {
                        let header = h.header.clone();
                        st.access = Some(h);
                        Ok(header)
                    }
                    // Renewing ahead failed for now: the old token still works until it expires.
                    Err(e @ X3Error::Transient { .. }) => match st.access.as_ref() {
                        Some(h) if now < h.expires_at => Ok(h.header.clone()),
                        _ => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// A refresh_token grant when we hold a refresh token, falling back to client_credentials
    /// when the token endpoint refuses it (expired or already used).
    fn oauth_grant(
        &self,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        st: &mut OAuthState,
    ) -> Result<Held> {
        if let Some(rt) = st.refresh.take() {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ];
            match self.token_request(token_url, &form, "refresh_token", client_id) {
                Ok((held, refresh)) => {
                    bump(&self.counters.refresh_grants);
                    st.refresh = refresh;
                    return Ok(held);
                }
                Err(X3Error::Auth { .. } | X3Error::Rejected { .. }) => {}
                Err(e) => {
                    st.refresh = Some(rt);
                    return Err(e);
                }
            }
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ];
        let (held, refresh) =
            self.token_request(token_url, &form, "client_credentials", client_id)?;
        bump(&self.counters.client_credentials_grants);
        st.refresh = refresh;
        Ok(held)
    }

    /// POST to the token endpoint (form body, client credentials in it, §4.4). Nothing reaches
    /// X3's data endpoints here, so every transport failure is `Transient`.
    fn token_request(
        &self,
        token_url: &str,
        form: &[(&str, &str)],
        grant: &str,
        client_id: &str,
    ) -> Result<(Held, Option<String>)> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let what = format!("OAuth2 token endpoint {}", authority_of(token_url));
        let a = self.send_once(
            "POST",
            token_url,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
            None,
            Op::Read,
        )?;
        if !a.ok() {
            return Err(match a.status {
                400 | 401 | 403 => X3Error::Auth {
                    status: a.status,
                    message: format!(
                        "{what} refused the {grant} grant for client '{client_id}' (it said: {})",
                        a.said()
                    ),
                },
                _ => X3Error::Transient {
                    message: format!("{what}: HTTP {}: {}", a.status, a.said()),
                    retry_after: a.retry_after,
                },
            });
        }
        let v = a.json().unwrap_or(Value::Null);
        let Some(access) = v.get("access_token").and_then(Value::as_str) else {
            return Err(X3Error::Auth {
                status: a.status,
                message: format!("{what} answered without an access_token"),
            });
        };
        let life = Duration::from_secs(v.get("expires_in").and_then(Value::as_u64).unwrap_or(300));
        // The server counts in whole seconds: one more second of margin covers its rounding.
        let margin = (life / 5).min(OAUTH_MARGIN) + Duration::from_secs(1);
        let now = SystemTime::now();
        let held = Held {
            header: format!("Bearer {access}"),
            renew_at: now + life.saturating_sub(margin),
            expires_at: now + life,
        };
        let refresh = v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((held, refresh))
    }
}

/// A connected-app JWT as Sage's sample mints it (TokenJWT.php, §4.3): HS256 over
/// `{"iss","sub","aud","iat","exp"}`, renewed a little before `exp`.
fn mint_jwt(
    client_id: &str,
    secret: &str,
    user: &str,
    audience: &str,
    lifetime: Duration,
    backdate: Duration,
) -> Result<Held> {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| X3Error::Config("the system clock is before 1970".into()))?
        .as_secs()
        .saturating_sub(backdate.as_secs());
    let exp = iat + lifetime.as_secs().max(1);
    let claims = json!({"iss": client_id, "sub": user, "aud": audience, "iat": iat, "exp": exp});
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| X3Error::Config("connected app: unusable secret".into()))?;
    mac.update(format!("{head}.{body}").as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let expires_at = UNIX_EPOCH + Duration::from_secs(exp);
    Ok(Held {
        header: format!("Bearer {head}.{body}.{sig}"),
        renew_at: expires_at - (lifetime / 5).min(JWT_MARGIN),
        expires_at,
    })
}
