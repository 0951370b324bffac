//! The staff PIN lock. "Kunci layar" revokes the session's token (so the lock holds on the
//! server: dropping cookies only leads to the login page) and leaves a signed lock cookie
//! naming the user; `/dashboard/unlock` checks the PIN with `users::unlock_with_pin` (five
//! wrong tries lock it in the database for 15 minutes) and then issues a fresh token that
//! ends when the locked one would have. Each lock is single-use: its nonce goes into the
//! token-revocation store on unlock (or logout), so a copied lock cookie mints nothing more.
//! `/dashboard/pin` sets the PIN.
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::html;
use serde_json::json;

use super::PageError;
use super::form::{CheckedForm, Form};
use super::i18n::Lang;
use super::layout::{Flash, bare, flash_from_query, page};
use super::login::cleared;
use super::session::{self, CSRF_FIELD, LOCK_COOKIE, SESSION_COOKIE, Session};
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::auth::{Claims, Role};
use crate::domain::{TenantId, UserId};
use crate::error::ApiError;
use crate::users::{self, PinError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/lock", post(lock))
        .route("/dashboard/unlock", get(unlock_form).post(unlock))
        .route("/dashboard/pin", get(pin_form).post(set_pin))
}

/// What the lock cookie vouches for: who was signed in, as what, until when.
pub struct LockTicket {
    tenant: TenantId,
    user: UserId,
    role: Role,
    expires: i64,
    nonce: String,
}

impl LockTicket {
    fn signed_part(&self) -> String {
        format!("{}.{}.{}.{}.{}", self.tenant, self.user, self.role.as_str(), self.expires, self.nonce)
    }

    fn cookie_value(&self, state: &AppState) -> Option<String> {
        let signed = self.signed_part();
        Some(format!("{signed}.{}", session::mac(state, "lock", &signed)?))
    }

    /// The request's lock cookie when it is ours and the session it locked has not expired.
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Option<Self> {
        let raw = session::cookie(headers, LOCK_COOKIE)?;
        let (signed, tag) = raw.rsplit_once('.')?;
        if !session::same(Some(tag), session::mac(state, "lock", signed).as_deref()) {
            return None;
        }
        let mut parts = signed.split('.');
        let ticket = Self {
            tenant: parts.next()?.parse().ok()?,
            user: parts.next()?.parse().ok()?,
            role: Role::parse(parts.next()?)?,
            expires: parts.next()?.parse().ok()?,
            nonce: parts.next()?.to_string(),
        };
        (ticket.expires > state.clock.now().timestamp()).then_some(ticket)
    }

    /// The unlock form's CSRF token, bound to this lock.
    pub fn csrf(&self, state: &AppState) -> Option<String> {
        session::mac(state, "unlock", &self.nonce)
    }

    /// The revocation-store key of this lock, prefixed so it can never equal a token's jti.
    fn spent_key(&self) -> String {
        format!("lock:{}", self.nonce)
    }

    fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or_default()
    }

    /// Whether this lock was already used to unlock or log out.
    pub async fn is_spent(&self, state: &AppState) -> Result<bool, PageError> {
        let mut tx = state.store.begin_read(self.tenant).await?;
        let spent = tx.is_token_revoked(&self.spent_key()).await?;
        tx.commit().await?;
        Ok(spent)
    }

    /// Marks the lock used (logging out from the lock screen), so its cookie cannot unlock later.
    pub async fn spend(&self, state: &AppState) -> Result<(), PageError> {
        let mut tx = state.store.begin(self.tenant).await?;
        tx.revoke_token(&self.spent_key(), self.expires_at(), state.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Locks the screen: revokes the token (audited `token.revoked`) and sets the lock cookie.
async fn lock(State(state): State<AppState>, CheckedForm { session, .. }: CheckedForm) -> Result<Response, PageError> {
    let Some(user) = session.user else { return Err(PageError::forbidden()) };
    let caller = &session.caller;
    let ticket = LockTicket {
        tenant: caller.tenant,
        user,
        role: caller.role,
        expires: caller.expires_at.timestamp(),
        nonce: crate::crypto::random_token(),
    };
    let value = ticket.cookie_value(&state).ok_or_else(PageError::forbidden)?;
    session.revoke(&state).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let entry = AuditEntry::new(session.actor(), "auth.session_locked", "user", Some(user.to_string()))
        .detail(json!({ "token": caller.token_id }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    let mut response = Redirect::to("/dashboard/unlock").into_response();
    let max_age = (caller.expires_at - now).num_seconds().max(0);
    let cookies = [
        session::set_cookie(&state, LOCK_COOKIE, &value, "/dashboard", max_age),
        session::set_cookie(&state, SESSION_COOKIE, "", "/dashboard", 0),
    ];
    for cookie in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn lang_of(request_lang: Option<axum::Extension<Lang>>, headers: &HeaderMap) -> Lang {
    session::chosen_lang(request_lang.as_ref().map(|l| &l.0), headers).unwrap_or(Lang::Id)
}

fn unlock_page(
    state: &AppState,
    ticket: &LockTicket,
    lang: Lang,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let csrf = ticket.csrf(state).unwrap_or_default();
    let t = |k| lang.t(k);
    let body = html! {
        form.card method="post" action="/dashboard/unlock" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            label for="pin" { (t("lock.pin")) }
            input #pin type="password" name="pin" inputmode="numeric" autocomplete="off" required;
            button #unlock type="submit" { (t("lock.unlock")) }
        }
        form.inline method="post" action="/dashboard/logout" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            button.secondary type="submit" { (t("nav.logout")) }
        }
    };
    bare(lang, status, t("lock.title"), flash, body)
}

async fn unlock_form(
    State(state): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let ticket = LockTicket::from_headers(&state, &headers).ok_or(PageError::redirect("/dashboard/login"))?;
    if ticket.is_spent(&state).await? {
        return Ok(cleared(&state));
    }
    Ok(unlock_page(&state, &ticket, lang_of(lang, &headers), StatusCode::OK, None))
}

/// Checks the PIN; every attempt is audited naming the user (`auth.pin_unlocked` or
/// `auth.pin_failed` with the reason), and a success spends the lock and issues the new session.
async fn unlock(
    State(state): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let lang = lang_of(lang, &headers);
    let form = Form::read(&headers, body).await?;
    let ticket = LockTicket::from_headers(&state, &headers).ok_or(PageError::redirect("/dashboard/login"))?;
    if !session::same(form.get(CSRF_FIELD), ticket.csrf(&state).as_deref()) {
        return Err(PageError::csrf());
    }
    let pin = form.required("pin")?;
    let keys = state.token_keys.as_ref().ok_or_else(PageError::forbidden)?;
    let now = state.clock.now();
    let actor = format!("user:{}", ticket.user);
    let failed = |reason: &str| {
        AuditEntry::new(&actor, "auth.pin_failed", "user", Some(ticket.user.to_string()))
            .detail(json!({ "reason": reason }))
    };
    let mut read = state.store.begin_read(ticket.tenant).await?;
    // A spent lock counts as none: a copied cookie may neither mint sessions nor try PINs.
    if read.is_token_revoked(&ticket.spent_key()).await? {
        return Ok(cleared(&state));
    }
    // The role comes from the user as stored now, not from the cookie: a demotion holds.
    let role = read.user(ticket.user).await?.filter(|u| u.disabled_at.is_none()).map(|u| u.role);
    read.commit().await?;
    let Some(role) = role else {
        // Disabled (or gone) since locking: the lock dies with the account.
        let mut tx = state.store.begin(ticket.tenant).await?;
        tx.revoke_token(&ticket.spent_key(), ticket.expires_at(), now).await?;
        audit::append(&mut *tx, vec![failed("user_disabled")], now).await?;
        tx.commit().await?;
        return Ok(cleared(&state));
    };
    // The attempt is counted and the PIN checked outside the transaction below.
    let checked = users::unlock_with_pin(&*state.store, ticket.tenant, ticket.user, pin, now).await?;
    let mut tx = state.store.begin(ticket.tenant).await?;
    match checked {
        Ok(()) => {
            // Single use: false means a concurrent unlock spent this lock first.
            if !tx.revoke_token(&ticket.spent_key(), ticket.expires_at(), now).await? {
                return Ok(cleared(&state));
            }
            let claims = Claims::new(ticket.tenant, role, &actor, ticket.expires_at() - now, now);
            let token = keys.issue(&claims).map_err(ApiError::internal)?;
            let entry = AuditEntry::new(&actor, "auth.pin_unlocked", "user", Some(ticket.user.to_string()))
                .detail(json!({ "token": claims.jti }));
            audit::append(&mut *tx, vec![entry], now).await?;
            tx.commit().await?;
            let home = if matches!(role, Role::Owner | Role::Staff) { "/dashboard" } else { "/dashboard/analytics" };
            let mut response = Redirect::to(home).into_response();
            let max_age = ticket.expires - now.timestamp();
            let cookies = [
                session::set_cookie(&state, SESSION_COOKIE, &token, "/dashboard", max_age),
                session::set_cookie(&state, LOCK_COOKIE, "", "/dashboard", 0),
            ];
            for cookie in cookies.into_iter().flatten() {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(e) => {
            let (reason, status, key) = match e {
                PinError::Wrong | PinError::Malformed => ("wrong_pin", StatusCode::UNAUTHORIZED, "lock.wrong"),
                PinError::WrongNowLocked(_) => ("wrong_pin_now_locked", StatusCode::TOO_MANY_REQUESTS, "lock.locked"),
                PinError::Locked(_) => ("locked", StatusCode::TOO_MANY_REQUESTS, "lock.locked"),
                PinError::NotSet => ("no_pin", StatusCode::UNAUTHORIZED, "lock.not_set"),
            };
            audit::append(&mut *tx, vec![failed(reason)], now).await?;
            tx.commit().await?;
            Ok(unlock_page(&state, &ticket, lang, status, Some(Flash::Error(lang.t(key).into()))))
        }
    }
}

fn pin_page(session: &Session, status: StatusCode, flash: Option<Flash>) -> Response {
    let t = |k| session.lang.t(k);
    let body = html! {
        p { (t("pin.help")) }
        form.card method="post" action="/dashboard/pin" {
            input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
            label for="pin" { (t("lock.pin")) }
            input #pin type="password" name="pin" inputmode="numeric" autocomplete="off" required;
            button type="submit" { (t("pin.save")) }
        }
    };
    page(session, status, t("pin.title"), flash, body)
}

async fn pin_form(session: Session, axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let flash = flash_from_query(session.lang, query.as_deref());
    pin_page(&session, StatusCode::OK, flash)
}

/// Sets the signed-in user's PIN, audited `user.pin_set` like the API's `PUT /auth/pin`.
async fn set_pin(
    State(state): State<AppState>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    let Some(user) = session.user else { return Err(PageError::forbidden()) };
    let now = state.clock.now();
    let Ok(pin_hash) = users::hash_pin(form.required("pin")?).await? else {
        let flash = Flash::Error(session.lang.t("pin.malformed").into());
        return Ok(pin_page(&session, StatusCode::BAD_REQUEST, Some(flash)));
    };
    let mut tx = state.store.begin(session.caller.tenant).await?;
    tx.set_staff_pin(user, &pin_hash, now).await?;
    let entry = AuditEntry::new(session.actor(), "user.pin_set", "user", Some(user.to_string()));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/dashboard/pin?ok=pin").into_response())
}
