//! `GET|POST /dashboard/login` and `POST /dashboard/logout`. The login itself is the API's
//! (`auth::authenticate`: same audit rows, rate limits and decoy hashing); the form is
//! guarded by a signed, short-lived cookie repeated in a hidden field.
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::PageError;
use super::form::Form;
use super::i18n::Lang;
use super::layout::{Flash, bare};
use super::lock::LockTicket;
use super::session::{self, CSRF_FIELD, LOCK_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, Session};
use crate::app::AppState;
use crate::auth::{LOGIN_TTL, LoggedIn, Login, LoginError, Role, authenticate};
use crate::client_ip::ClientAddr;
use crate::error::ApiError;

/// How long a login form stays usable.
const FORM_TTL_SECS: i64 = 3600;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/login", get(form).post(submit)).route("/dashboard/logout", post(logout))
}

/// A fresh pre-session token `nonce.expiry.mac`, sent both as cookie and hidden field.
fn login_token(state: &AppState) -> Option<String> {
    let nonce = crate::crypto::random_token();
    let expiry = state.clock.now().timestamp() + FORM_TTL_SECS;
    let signed = format!("{nonce}.{expiry}");
    Some(format!("{signed}.{}", session::mac(state, "login", &signed)?))
}

/// The field must equal the cookie, and the cookie must be ours and unexpired.
fn login_token_ok(state: &AppState, headers: &HeaderMap, field: Option<&str>) -> bool {
    let Some(cookie) = session::cookie(headers, LOGIN_COOKIE) else { return false };
    let Some((signed, tag)) = cookie.rsplit_once('.') else { return false };
    let expiry = signed.split_once('.').and_then(|(_, e)| e.parse::<i64>().ok()).unwrap_or(0);
    session::same(Some(tag), session::mac(state, "login", signed).as_deref())
        && expiry > state.clock.now().timestamp()
        && session::same(field, Some(cookie))
}

/// The reader's language before any session: `?lang=`, the cookie, else Bahasa Indonesia.
pub(super) fn lang_of(request_lang: Option<axum::Extension<Lang>>, headers: &HeaderMap) -> Lang {
    session::chosen_lang(request_lang.as_ref().map(|l| &l.0), headers).unwrap_or(Lang::Id)
}

/// The form, with the tenant and e-mail kept after a failure (never the password).
fn render(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    flash: Option<Flash>,
    tenant: &str,
    email: &str,
) -> Response {
    // No token secret: the setup page says how to set one.
    let Some(token) = login_token(state) else { return Redirect::to("/dashboard/setup").into_response() };
    let t = |k| lang.t(k);
    let body = html! {
        form.card method="post" action="/dashboard/login" {
            input type="hidden" name=(CSRF_FIELD) value=(token);
            label for="tenant" { (t("login.tenant")) }
            input #tenant type="text" name="tenant" value=(tenant) required autocomplete="organization";
            label for="email" { (t("login.email")) }
            input #email type="email" name="email" value=(email) required autocomplete="username";
            label for="password" { (t("login.password")) }
            input #password type="password" name="password" required autocomplete="current-password";
            button #login type="submit" { (t("login.submit")) }
        }
    };
    let mut response = bare(lang, status, t("login.title"), flash, body);
    if let Some(cookie) = session::set_cookie(state, LOGIN_COOKIE, &token, "/dashboard/login", FORM_TTL_SECS) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn form(State(state): State<AppState>, lang: Option<axum::Extension<Lang>>, headers: HeaderMap) -> Response {
    render(&state, lang_of(lang, &headers), StatusCode::OK, None, "", "")
}

async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let lang = lang_of(lang, &headers);
    let form = Form::read(&headers, body).await?;
    if !login_token_ok(&state, &headers, form.get(CSRF_FIELD)) {
        return Err(PageError::csrf());
    }
    let (tenant, email, password) = (form.required("tenant")?, form.required("email")?, form.required("password")?);
    let Some(tokens) = &state.token_keys else {
        let off = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_disabled", "BALAS_JWT_SECRET is not set");
        return Err(off.into());
    };
    let throttled = || {
        let flash = Flash::Error(lang.t("login.throttled").into());
        Ok(render(&state, lang, StatusCode::TOO_MANY_REQUESTS, Some(flash), tenant, email))
    };
    // The same flood guard as the API's login, before the attempt costs a write or a hash.
    if state.limits.login_flood(client).is_err() {
        return throttled();
    }
    let login = Login { client, tenant, email, password };
    let ok = match authenticate(&*state.store, &state.keys, tokens, &*state.clock, login).await {
        Ok(ok) => ok,
        Err(LoginError::Invalid) => {
            let flash = Flash::Error(lang.t("login.wrong").into());
            return Ok(render(&state, lang, StatusCode::UNAUTHORIZED, Some(flash), tenant, email));
        }
        Err(LoginError::Throttled(_)) => return throttled(),
        Err(e) => return Err(ApiError::from(e).into()),
    };
    Ok(signed_in(&state, &ok))
}

/// The redirect home after a login, setting the session cookie and clearing the others.
pub(super) fn signed_in(state: &AppState, ok: &LoggedIn) -> Response {
    let home = if ok.claims.role == Role::Analytics { "/dashboard/analytics" } else { "/dashboard" };
    let mut response = Redirect::to(home).into_response();
    let cookies = [
        session::set_cookie(state, SESSION_COOKIE, &ok.token, "/dashboard", LOGIN_TTL.num_seconds()),
        session::set_cookie(state, LOGIN_COOKIE, "", "/dashboard/login", 0),
        session::set_cookie(state, LOCK_COOKIE, "", "/dashboard", 0),
    ];
    for cookie in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Revokes the session's jti and clears the cookies. A locked screen can log out too (its
/// token is already revoked, the lock is spent), with the CSRF token of its unlock form.
async fn logout(
    State(state): State<AppState>,
    session: Result<Session, PageError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let form = Form::read(&headers, body).await?;
    match (session, LockTicket::from_headers(&state, &headers)) {
        (Ok(session), _) => {
            session.check_csrf(&form)?;
            session.revoke(&state).await?;
        }
        (Err(_), Some(lock)) => {
            if !session::same(form.get(CSRF_FIELD), lock.csrf(&state).as_deref()) {
                return Err(PageError::csrf());
            }
            // Logging out ends the lock too: a copy of its cookie cannot unlock later.
            lock.spend(&state).await?;
        }
        // Nothing signed in: only stale cookies to clear.
        (Err(_), None) => {}
    }
    Ok(cleared(&state))
}

/// A redirect to the login page that clears the session and lock cookies.
pub fn cleared(state: &AppState) -> Response {
    let mut response = Redirect::to("/dashboard/login").into_response();
    for name in [SESSION_COOKIE, LOCK_COOKIE] {
        if let Some(cookie) = session::set_cookie(state, name, "", "/dashboard", 0) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}
