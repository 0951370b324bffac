//! One HTTP error type: every failure answers `{"error": "<stable_code>", "detail": "<sentence>"}`.
//! Internal causes are logged and answered opaquely.
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;
use crate::usecase::UseCaseError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Seconds, for a 429's `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), retry_after: None }
    }

    /// 429 with `Retry-After`, rounded up to whole seconds.
    pub fn too_many(detail: impl Into<String>, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self { retry_after: Some(seconds.max(1)), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail) }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// Logs the cause (which must carry no personal data) and answers a plain 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side; the request can be retried",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ChannelGone => crate::ingress::unknown_channel(),
            e => Self::internal(e),
        }
    }
}

/// Each kind of use-case refusal has its status; a fault or a store error is always a 500.
impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid { code, detail } => Self::bad_request(code, detail),
            UseCaseError::NotFound { code, detail } => Self::not_found(code, detail),
            UseCaseError::Forbidden { code, detail } => Self::new(StatusCode::FORBIDDEN, code, detail),
            UseCaseError::Conflict { code, detail } => Self::new(StatusCode::CONFLICT, code, detail),
            UseCaseError::Fault(cause) => Self::internal(cause),
            UseCaseError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.code, "detail": self.detail }))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_use_case_refusal_has_its_status_and_a_fault_is_never_a_4xx() {
        let status = |e: UseCaseError| ApiError::from(e).status;
        assert_eq!(status(UseCaseError::invalid("invalid_user", "short")), StatusCode::BAD_REQUEST);
        assert_eq!(status(UseCaseError::not_found("user_not_found", "no")), StatusCode::NOT_FOUND);
        assert_eq!(status(UseCaseError::forbidden("operator_only", "no")), StatusCode::FORBIDDEN);
        assert_eq!(status(UseCaseError::conflict("ticket_closed", "closed")), StatusCode::CONFLICT);
        assert_eq!(status(UseCaseError::Fault("hash".into())), StatusCode::INTERNAL_SERVER_ERROR);
        let invariant = StoreError::Invariant("vanished".into());
        assert_eq!(status(invariant.into()), StatusCode::INTERNAL_SERVER_ERROR);
        let refused = ApiError::from(UseCaseError::invalid("invalid_settings", "language must be id or en"));
        assert_eq!((refused.code, refused.detail.as_str()), ("invalid_settings", "language must be id or en"));
        let fault = ApiError::from(UseCaseError::Fault("the password could not be hashed".into()));
        assert_eq!(fault.code, "internal_error", "the cause stays in the log");
    }

    #[test]
    fn a_broken_store_invariant_is_a_500_never_a_4xx() {
        let direct = ApiError::from(StoreError::Invariant("open conversation vanished during insert".into()));
        assert_eq!((direct.status, direct.code), (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"));
        let config = ApiError::from(StoreError::Config("BALAS_AUDIT_KEY is not configured".into()));
        assert_eq!(config.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
