//! The knowledge base: `GET|POST /api/v1/kb`, `PUT|DELETE /api/v1/kb/{id}` (owner tokens).
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::Caller;
use super::read_json;
use crate::app::AppState;
use crate::domain::KbEntryId;
use crate::error::ApiError;
use crate::kb::{self, FaqItem};
use crate::store::KbEntry;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/kb", get(list).post(create)).route("/api/v1/kb/{id}", put(update).delete(remove))
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub id: KbEntryId,
    pub question: String,
    pub answer: String,
    pub keywords: String,
}

impl From<KbEntry> for EntryView {
    fn from(e: KbEntry) -> Self {
        Self { id: e.id, question: e.question, answer: e.answer, keywords: e.keywords }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EntryBody {
    question: String,
    answer: String,
    #[serde(default)]
    keywords: String,
}

async fn body_item(headers: &HeaderMap, body: Body) -> Result<FaqItem, ApiError> {
    let b: EntryBody = read_json(headers, body, r#"{"question": "…", "answer": "…", "keywords": "…"}"#).await?;
    checked_item(&b.question, &b.answer, b.keywords)
}

/// An entry as typed, trimmed and checked: 400 `invalid_entry` otherwise.
fn checked_item(question: &str, answer: &str, keywords: String) -> Result<FaqItem, ApiError> {
    kb::checked_item(question, answer, keywords).map_err(|e| ApiError::bad_request("invalid_entry", e.to_string()))
}

fn not_found() -> ApiError {
    kb::not_found().into()
}

#[utoipa::path(get, path = "/api/v1/kb", tag = "knowledge base", security(("bearer" = [])),
    responses((status = 200, description = "entries"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let entries: Vec<EntryView> = tx.kb_entries().await?.into_iter().map(EntryView::from).collect();
    tx.commit().await?;
    Ok(Json(json!({ "entries": entries })))
}

#[utoipa::path(post, path = "/api/v1/kb", tag = "knowledge base", security(("bearer" = [])), request_body = EntryBody,
    responses((status = 201, description = "the new entry"), (status = 400, description = "malformed, empty or too long"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let item = body_item(&headers, body).await?;
    let entry = kb::create_entry(&*state.store, caller.tenant, &caller.actor(), item, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "entry": EntryView::from(entry) }))))
}

#[utoipa::path(put, path = "/api/v1/kb/{id}", tag = "knowledge base", security(("bearer" = [])), request_body = EntryBody,
    params(("id" = String, Path, description = "entry id")),
    responses((status = 200, description = "the entry"), (status = 400, description = "malformed, empty or too long"), (status = 404, description = "no such entry"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let id: KbEntryId = id.parse().map_err(|_| not_found())?;
    let item = body_item(&headers, body).await?;
    let entry = kb::update_entry(&*state.store, caller.tenant, &caller.actor(), id, item, state.clock.now()).await?;
    Ok(Json(json!({ "entry": EntryView::from(entry) })))
}

#[utoipa::path(delete, path = "/api/v1/kb/{id}", tag = "knowledge base", security(("bearer" = [])),
    params(("id" = String, Path, description = "entry id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such entry"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let id: KbEntryId = id.parse().map_err(|_| not_found())?;
    kb::delete_entry(&*state.store, caller.tenant, &caller.actor(), id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
