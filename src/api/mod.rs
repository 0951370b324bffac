//! The owner API under `/api/v1`: bearer-token callers scoped to their tenant, JSON in and
//! out, errors as `{"error", "detail"}`. It covers sessions and tokens, escalations,
//! conversations, the FAQ, settings, users, contacts, sub-processors, data requests,
//! analytics, webhook endpoints and the OpenAPI document. Part of the HTTP layer: a thin adapter over the use
//! cases in `auth`, `kb`, `tenants`, `users` and `owner::{desk, registry}`, whose
//! `UseCaseError` becomes an `ApiError` (`From`). Contacts, data requests and analytics still
//! hold some of their logic in their handlers.
use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::ApiError;
use crate::ingress::read_body;

pub mod analytics;
pub mod auth;
pub mod contacts;
pub mod conversations;
pub mod escalations;
pub mod gaps;
pub mod kb;
pub mod limits;
pub mod llm;
pub mod media_links;
pub mod openapi;
pub mod requests;
pub mod session;
pub mod settings;
pub mod subprocessors;
pub mod users;
pub mod webhooks;

/// API request bodies are small: a reply text at most.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads a JSON body of at most `MAX_BODY_BYTES` (413 beyond) into `T` (400 naming `shape`).
pub async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body, shape: &str) -> Result<T, ApiError> {
    parse_json(&read_body(headers, body, MAX_BODY_BYTES).await?, shape)
}

/// Query parameters parsed into `T`; anything malformed or unknown is a 400 JSON error
/// (axum's own `Query` answers in plain text).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
    }
}

/// Parses a JSON body already read; serde's message can quote the input, so only the position is told.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("expected {shape} (line {}, column {})", e.line(), e.column()))
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(escalations::router())
        .merge(conversations::router())
        .merge(kb::router())
        .merge(gaps::router())
        .merge(llm::router())
        .merge(settings::router())
        .merge(users::router())
        .merge(contacts::router())
        .merge(media_links::router())
        .merge(subprocessors::router())
        .merge(requests::router())
        .merge(analytics::router())
        .merge(webhooks::router())
        .merge(openapi::router())
}
