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
use crate::audit::{self, AuditEntry};
use crate::domain::{KbEntryId, TenantId};
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

/// An entry as typed, trimmed and checked (non-empty, not too long): 400 `invalid_entry` otherwise.
pub fn checked_item(question: &str, answer: &str, keywords: String) -> Result<FaqItem, ApiError> {
    let item = FaqItem { question: question.trim().into(), answer: answer.trim().into(), keywords };
    kb::check(&item, 1).map_err(|e| ApiError::bad_request("invalid_entry", e.to_string()))?;
    Ok(item)
}

/// Adds an entry to `tenant`'s FAQ, audited `kb.created` naming `actor`.
pub async fn create_entry(state: &AppState, tenant: TenantId, actor: &str, item: FaqItem) -> Result<KbEntry, ApiError> {
    let now = state.clock.now();
    let entry = item.into_entry(KbEntryId::new(), tenant, now);
    let mut tx = state.store.begin(tenant).await?;
    tx.insert_kb_entry(&entry).await?;
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "kb.created", "kb_entry", Some(entry.id.to_string()))], now)
        .await?;
    tx.commit().await?;
    Ok(entry)
}

/// Rewrites an entry of `tenant`'s FAQ, audited `kb.updated`; 404 when it is not the tenant's.
pub async fn update_entry(
    state: &AppState,
    tenant: TenantId,
    actor: &str,
    id: KbEntryId,
    item: FaqItem,
) -> Result<KbEntry, ApiError> {
    let now = state.clock.now();
    let entry = item.into_entry(id, tenant, now);
    let mut tx = state.store.begin(tenant).await?;
    if !tx.update_kb_entry(&entry).await? {
        return Err(not_found());
    }
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "kb.updated", "kb_entry", Some(id.to_string()))], now).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Deletes an entry of `tenant`'s FAQ, audited `kb.deleted`; 404 when it is not the tenant's.
pub async fn delete_entry(state: &AppState, tenant: TenantId, actor: &str, id: KbEntryId) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin(tenant).await?;
    if !tx.delete_kb_entry(id).await? {
        return Err(not_found());
    }
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "kb.deleted", "kb_entry", Some(id.to_string()))], now).await?;
    tx.commit().await?;
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::not_found("kb_entry_not_found", "no FAQ entry with this id in your tenant")
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
    let entry = create_entry(&state, caller.tenant, &caller.actor(), item).await?;
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
    let entry = update_entry(&state, caller.tenant, &caller.actor(), id, item).await?;
    Ok(Json(json!({ "entry": EntryView::from(entry) })))
}

#[utoipa::path(delete, path = "/api/v1/kb/{id}", tag = "knowledge base", security(("bearer" = [])),
    params(("id" = String, Path, description = "entry id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such entry"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let id: KbEntryId = id.parse().map_err(|_| not_found())?;
    delete_entry(&state, caller.tenant, &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
