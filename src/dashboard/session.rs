//! The dashboard session: the login JWT in an `HttpOnly; SameSite=Strict; Path=/dashboard`
//! cookie (also `Secure` behind an https public URL), checked by the API's own token check
//! (`AppState::caller`), so revocation by jti and disabled users end it at once. CSRF tokens and the lock
//! cookie are HMACs under a key derived from the JWT secret, compared in constant time.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::PageError;
use super::form::Form;
use super::i18n::Lang;
use crate::app::AppState;
use crate::auth::{Caller, Role, revoke_token};
use crate::domain::UserId;

pub const SESSION_COOKIE: &str = "balas_session";
pub const LOCK_COOKIE: &str = "balas_lock";
pub const LOGIN_COOKIE: &str = "balas_login";
pub const LANG_COOKIE: &str = "balas_lang";
/// The hidden field every dashboard form carries.
pub const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value scoped to the dashboard; `max_age` 0 clears it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"))
        .ok()
}

/// HMAC-SHA256 of `purpose` and `data` under a key derived from the JWT secret, in hex;
/// `None` when no secret is configured (the dashboard is then off, like the API).
pub fn mac(state: &AppState, purpose: &str, data: &str) -> Option<String> {
    let secret = state.config.jwt_secret.as_ref()?;
    let mut derive = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).ok()?;
    derive.update(b"balas dashboard key v1");
    let key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(data.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// Constant-time equality of a given token and the expected one (`None`: never equal).
pub fn same(given: Option<&str>, expected: Option<&str>) -> bool {
    match (given, expected) {
        (Some(g), Some(e)) => bool::from(g.as_bytes().ct_eq(e.as_bytes())),
        _ => false,
    }
}

/// A signed-in dashboard reader.
pub struct Session {
    pub caller: Caller,
    pub user: Option<UserId>,
    pub lang: Lang,
    pub timezone: chrono_tz::Tz,
    pub business: String,
    pub csrf: String,
}

impl Session {
    /// Audit rows name the user as the login rows do (`user:<id>`); any other token as the API does.
    pub fn actor(&self) -> String {
        if self.user.is_some() { self.caller.subject.clone() } else { self.caller.actor() }
    }

    /// Ends this session's token (audited `token.revoked`), as logging out and locking both do.
    pub async fn revoke(&self, state: &AppState) -> Result<(), PageError> {
        let caller = &self.caller;
        revoke_token(
            &*state.store,
            caller.tenant,
            &self.actor(),
            &caller.token_id,
            caller.expires_at,
            state.clock.now(),
        )
        .await?;
        Ok(())
    }

    /// Refuses a POST whose form lacks this session's CSRF token: nothing happens (403).
    pub fn check_csrf(&self, form: &Form) -> Result<(), PageError> {
        self.check_csrf_token(form.get(CSRF_FIELD).unwrap_or_default())
    }

    /// The token a form sent, for forms that are not URL-encoded (a file upload).
    pub fn check_csrf_token(&self, sent: &str) -> Result<(), PageError> {
        if same(Some(sent), Some(&self.csrf)) { Ok(()) } else { Err(PageError::csrf()) }
    }

    /// Conversations, tickets and FAQ: owners and staff (analytics readers see aggregates only).
    pub fn require_content(&self) -> Result<(), PageError> {
        match self.caller.role {
            Role::Owner | Role::Staff => Ok(()),
            Role::Analytics => Err(PageError::forbidden()),
        }
    }

    pub fn require_owner(&self) -> Result<(), PageError> {
        if self.caller.role == Role::Owner { Ok(()) } else { Err(PageError::forbidden()) }
    }

    pub fn is_owner(&self) -> bool {
        self.caller.role == Role::Owner
    }
}

/// The language for a reader who may not be signed in: `?lang=`, then the cookie.
pub fn chosen_lang(parts_ext: Option<&Lang>, headers: &HeaderMap) -> Option<Lang> {
    parts_ext.copied().or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        // No token secret, no sessions: the setup page says how to set one.
        if state.token_keys.is_none() {
            return Err(PageError::redirect("/dashboard/setup"));
        }
        let elsewhere = || {
            // A locked screen's token is revoked; its lock cookie leads to the PIN page.
            if super::lock::LockTicket::from_headers(state, &parts.headers).is_some() {
                PageError::redirect("/dashboard/unlock")
            } else {
                PageError::redirect("/dashboard/login")
            }
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(elsewhere()) };
        let caller = match state.caller(token).await {
            Ok(caller) => caller,
            Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => return Err(e.into()),
            Err(e) if e.status.is_server_error() => return Err(e.into()),
            Err(_) => return Err(elsewhere()),
        };
        let user = caller.subject.strip_prefix("user:").and_then(|id| id.parse().ok());
        let mut tx = state.store.begin_read(caller.tenant).await.map_err(crate::error::ApiError::from)?;
        let tenant = tx.tenant().await.map_err(crate::error::ApiError::from)?;
        tx.commit().await.map_err(crate::error::ApiError::from)?;
        let Some(tenant) = tenant else { return Err(PageError::redirect("/dashboard/login")) };
        let lang = chosen_lang(parts.extensions.get::<Lang>(), &parts.headers)
            .unwrap_or(Lang::parse(&tenant.settings.language).unwrap_or(Lang::Id));
        let timezone = tenant.settings.zone();
        let csrf = mac(state, "csrf", &caller.token_id).ok_or_else(PageError::forbidden)?;
        Ok(Self { caller, user, lang, timezone, business: tenant.name, csrf })
    }
}
