//! `GET /media/{token}`: a stored file for a provider that fetches what it sends (Twilio,
//! Fonnte forwarding a customer's photo to an owner). The token is a signed, short-lived link
//! (`media::links`); anything else is 404, and the answer is never cached.
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::error::ApiError;
use crate::media::{links, read};

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{token}", get(serve))
}

async fn serve(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("media_not_found", "no such file, or the link expired");
    let (tenant, id) = links::verify(&state.keys.index, &token, state.clock.now()).ok_or_else(not_found)?;
    let file = read::read_by_link(&state, tenant, id).await.map_err(|e| match e {
        crate::usecase::UseCaseError::NotFound { .. } => not_found(),
        other => ApiError::from(other),
    })?;
    let content_type =
        HeaderValue::from_str(&file.mime_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    Ok((StatusCode::OK, headers, file.bytes).into_response())
}
