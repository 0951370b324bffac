//! The owner dashboard under `/dashboard`: server-rendered HTML (maud, escaped at compile
//! time), no JavaScript, Bahasa Indonesia first with English on `?lang=en`. It calls the same
//! use cases as the API (`auth`, `kb`, `tenants`, `owner::desk`), never the `api` module, so
//! logins, ticket moves, FAQ edits and settings audit exactly like the API.
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

pub mod analytics;
pub mod attach;
pub mod chart;
pub mod conversations;
pub mod faq;
pub mod form;
pub mod gaps;
pub mod i18n;
pub mod inbox;
pub mod layout;
pub mod lock;
pub mod login;
pub mod media;
pub mod messages;
pub mod page_error;
pub mod session;
pub mod settings;
pub mod setup;
pub mod subprocessors;

pub use page_error::PageError;

/// The stylesheet is served from our origin so the CSP can forbid every inline style and script.
const STYLE: &str = include_str!("style.css");

/// No inline script, styles only from us, forms only to us, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes; `state` only configures the header layer (the cookie flags).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(setup::router())
        .merge(login::router())
        .merge(lock::router())
        .merge(inbox::router())
        .merge(conversations::router())
        .merge(attach::router())
        .merge(media::router())
        .merge(faq::router())
        .merge(gaps::router())
        .merge(settings::router())
        .merge(subprocessors::router())
        .merge(analytics::router())
        .route("/dashboard/assets/style.css", get(style))
        .route("/dashboard/{*rest}", axum::routing::any(|| async { PageError::not_found() }))
        .layer(axum::middleware::from_fn_with_state(state, headers_and_language))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// Security headers on every dashboard answer, and `?lang=en|id` remembered in a cookie (the
/// request itself sees the new choice through an extension).
async fn headers_and_language(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let chosen = request.uri().query().and_then(i18n::Lang::from_query);
    if let Some(lang) = chosen {
        request.extensions_mut().insert(lang);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(lang) = chosen
        && let Some(value) = session::set_cookie(&state, session::LANG_COOKIE, lang.code(), "/dashboard", 31_536_000)
    {
        headers.append(header::SET_COOKIE, value);
    }
    response
}
