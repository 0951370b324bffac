//! The owner API's caller from the `Authorization: Bearer` header, checked by
//! `AppState::caller` (signature, expiry, rate per token, revocation, its user); the roles,
//! claims and keys are in `crate::auth`.
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::auth::TokenError;
pub use crate::auth::{Caller, Claims, Role, TokenKeys};
use crate::error::ApiError;

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::unauthorized(e.code(), e.to_string())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>"))?;
        state.caller(token.trim()).await
    }
}
