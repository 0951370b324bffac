//! Data-subject requests and their deadlines (owner tokens): `GET|POST /api/v1/requests`,
//! `POST /api/v1/requests/{id}/acknowledge` and `POST /api/v1/requests/{id}/close`. An
//! erasure is approved with `DELETE /api/v1/contacts/{id}?request=…`, which closes it.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiQuery, read_json};
use crate::app::AppState;
use crate::audit;
use crate::domain::{ContactId, DsarId};
use crate::error::ApiError;
use crate::privacy::requests::{self, DsarKind, DsarStatus};
use crate::store::DsarRecord;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", get(list).post(open))
        .route("/api/v1/requests/{id}/acknowledge", post(acknowledge))
        .route("/api/v1/requests/{id}/close", post(close))
}

const LIST_LIMIT: i64 = 200;

fn not_found() -> ApiError {
    ApiError::not_found("request_not_found", "no request with this id in your tenant")
}

fn view(r: &DsarRecord, now: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "id": r.id, "kind": r.kind, "source": r.source, "status": r.status, "contact_id": r.contact_id,
        "received_at": r.received_at, "acknowledge_by": r.acknowledge_by, "answer_by": r.answer_by,
        "acknowledged_at": r.acknowledged_at, "answered_at": r.answered_at, "closed_by": r.closed_by,
        "overdue": requests::overdue(r, now),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only requests still open or acknowledged.
    pending: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/requests", tag = "privacy", security(("bearer" = [])),
    params(("pending" = Option<bool>, Query, description = "only open and acknowledged requests")),
    responses((status = 200, description = "requests, pending first by answer deadline; `overdue` names a missed deadline"),
        (status = 403, description = "owner tokens only"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let now = state.clock.now();
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let rows = tx.dsars(query.pending.unwrap_or(false), LIST_LIMIT).await?;
    tx.commit().await?;
    let overdue = rows.iter().filter(|r| requests::overdue(r, now).is_some()).count();
    let rows: Vec<Value> = rows.iter().map(|r| view(r, now)).collect();
    Ok(Json(json!({ "requests": rows, "overdue": overdue })))
}

/// A request that reached the business another way (e-mail, phone, in person).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// access, correction, erasure or stop.
    kind: String,
    contact_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/requests", tag = "privacy", security(("bearer" = [])), request_body = NewRequest,
    responses((status = 201, description = "the request with its deadlines"), (status = 400, description = "unknown kind or malformed body"),
        (status = 404, description = "no such contact in your tenant"), (status = 403, description = "owner tokens only"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn open(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let new: NewRequest = read_json(&headers, body, "an object with kind and optionally contact_id").await?;
    let Some(kind) = DsarKind::parse(&new.kind) else {
        return Err(ApiError::bad_request("invalid_kind", "kind must be access, correction, erasure or stop"));
    };
    let contact_missing = || ApiError::not_found("contact_not_found", "no contact with this id in your tenant");
    let contact: Option<ContactId> = match new.contact_id.as_deref().map(str::parse) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(contact_missing()),
        None => None,
    };
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    if let Some(id) = contact
        && tx.contact(id).await?.is_none()
    {
        return Err(contact_missing());
    }
    let (request, entry) = requests::open(&mut *tx, contact, kind, &caller.actor(), now).await?;
    audit::append(&mut *tx, entry.into_iter().collect(), now).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&request, now))))
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/acknowledge", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, description = "acknowledged"), (status = 409, description = "the request is not open"),
        (status = 404, description = "no such request in your tenant"), (status = 403, description = "owner tokens only"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let id: DsarId = id.parse().map_err(|_| not_found())?;
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let entry = requests::acknowledge(&mut *tx, id, &caller.actor(), now).await?;
    finish(tx, id, entry, now).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Closing {
    /// done or rejected.
    status: String,
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/close", tag = "privacy", security(("bearer" = [])), request_body = Closing,
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, description = "closed"), (status = 400, description = "status must be done or rejected"),
        (status = 409, description = "the request is already closed"),
        (status = 404, description = "no such request in your tenant"), (status = 403, description = "owner tokens only"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let id: DsarId = id.parse().map_err(|_| not_found())?;
    let closing: Closing = read_json(&headers, body, "an object with status").await?;
    let status = match closing.status.as_str() {
        "done" => DsarStatus::Done,
        "rejected" => DsarStatus::Rejected,
        _ => return Err(ApiError::bad_request("invalid_status", "status must be done or rejected")),
    };
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let entry = requests::close(&mut *tx, id, status, &caller.actor(), now).await?;
    finish(tx, id, entry, now).await
}

/// Commits a state change (404 for an unknown id, 409 when the request was past that state).
async fn finish(
    mut tx: Box<dyn crate::store::TenantTx>,
    id: DsarId,
    entry: Option<crate::audit::AuditEntry>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Json<Value>, ApiError> {
    let request = tx.dsar(id).await?.ok_or_else(not_found)?;
    let Some(entry) = entry else {
        return Err(ApiError::new(StatusCode::CONFLICT, "request_not_pending", "the request is past that step"));
    };
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(Json(view(&request, now)))
}
