//! `GET /dashboard/media/{id}`: a customer's photo, voice note or document, for the ticket
//! page to show inline. Signed-in owners and staff only, read through the audited use case;
//! the id is the attachment's random row id, and the answer is never cached (`private,
//! no-store` from the dashboard's header layer).
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::PageError;
use super::session::Session;
use crate::app::AppState;
use crate::media::read::read_attachment;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/media/{id}", get(attachment))
}

async fn attachment(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    session.require_content()?;
    let id = id.parse().map_err(|_| PageError::not_found())?;
    let file = read_attachment(&state, &session.caller, &session.actor(), id).await?;
    // Shown in the page where the browser can (images, sound, video), downloaded otherwise.
    let inline = ["image/", "audio/", "video/"].iter().any(|p| file.mime_type.starts_with(p));
    let disposition = if inline { "inline" } else { "attachment" };
    let content_type =
        HeaderValue::from_str(&file.mime_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, HeaderValue::from_static(disposition))];
    Ok((StatusCode::OK, headers, file.bytes).into_response())
}
