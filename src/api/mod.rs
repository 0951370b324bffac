//! The owner API under `/api/v1`: bearer-token callers scoped to their tenant, JSON in and
//! out, errors as `{"error", "detail"}`. Built so far: login and tokens, conversations,
//! escalations.
use axum::Router;

use crate::app::AppState;

pub mod auth;
pub mod conversations;
pub mod escalations;
pub mod kb;
pub mod limits;
pub mod openapi;
pub mod session;
pub mod settings;
pub mod users;

/// API request bodies are small: a reply text at most.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(escalations::router())
        .merge(conversations::router())
        .merge(kb::router())
        .merge(settings::router())
        .merge(users::router())
        .merge(openapi::router())
}
