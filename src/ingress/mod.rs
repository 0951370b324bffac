//! Webhook ingress: verify the provider's signature on the raw body, parse into
//! provider-neutral events, persist them in one transaction, answer 200.
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;

use crate::app::AppState;
use crate::error::ApiError;

pub mod meta;
pub mod persist;

/// Meta documents payloads of up to 3 MB.
pub const MAX_WEBHOOK_BYTES: usize = 3 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().merge(meta::router())
}

/// Reads the whole body, refusing anything over `limit` bytes with a 413. A moderately
/// oversized body is read to its end first, so the sender sees the 413 and not a reset.
pub async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let drain_cap = limit.saturating_mul(4);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > drain_cap) {
        return Err(too_large());
    }
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        seen += chunk.len();
        if seen > drain_cap {
            return Err(too_large());
        }
        if seen <= limit {
            buffer.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buffer))
}
