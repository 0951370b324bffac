//! Data-subject rights on one contact (owner tokens): `GET /api/v1/contacts/{id}/export`,
//! `PATCH /api/v1/contacts/{id}` (correction) and `DELETE /api/v1/contacts/{id}` (erasure).
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::{ApiQuery, read_json};
use crate::app::AppState;
use crate::domain::{ContactId, DsarId, Phone};
use crate::error::ApiError;
use crate::privacy::correct::{Corrected, Correction};
use crate::privacy::erase::{self, Erasure};
use crate::privacy::export;
use crate::privacy::requests::{self, DsarKind, Unanswerable};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/contacts/{id}/export", get(export_contact))
        .route("/api/v1/contacts/{id}", patch(correct).delete(erase_contact))
}

fn not_found() -> ApiError {
    ApiError::not_found("contact_not_found", "no contact with this id in your tenant")
}

fn contact_id(raw: &str) -> Result<ContactId, ApiError> {
    raw.parse().map_err(|_| not_found())
}

/// `?request=…`: the data-subject request an operation answers; it is closed as done with it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answers {
    request: Option<String>,
}

/// The request id, checked to be pending, of `kind` and about this contact, before acting.
async fn answered(
    state: &AppState,
    caller: &Caller,
    query: &Answers,
    contact: ContactId,
    kind: DsarKind,
) -> Result<Option<DsarId>, ApiError> {
    let Some(raw) = query.request.as_deref() else { return Ok(None) };
    let id: DsarId =
        raw.parse().map_err(|_| ApiError::bad_request("invalid_request_id", "request is not a request id"))?;
    match requests::check(&*state.store, caller.tenant, id, contact, kind).await? {
        Ok(()) => Ok(Some(id)),
        Err(Unanswerable::NotFound) => Err(ApiError::not_found("request_not_found", Unanswerable::NotFound.explain())),
        Err(why) => Err(ApiError::new(StatusCode::CONFLICT, "request_mismatch", why.explain())),
    }
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/export", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "contact id (conversations name theirs)"), ("request" = Option<String>, Query, description = "the access request this answers")),
    responses((status = 200, description = "the versioned export bundle (format balas.contact-export); audited"),
        (status = 409, description = "the request is closed, of another kind or about another contact"),
        (status = 403, description = "owner tokens only"), (status = 404, description = "no such contact in your tenant"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn export_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<Answers>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let id = contact_id(&id)?;
    let request = answered(&state, &caller, &query, id, DsarKind::Access).await?;
    let answering = export::Answering { actor: &caller.actor(), request };
    let bundle = export::export_contact(&*state.store, &state.keys, caller.tenant, id, answering, state.clock.now())
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(bundle))
}

/// The fields to correct; absent ones stay, an empty `name` removes the name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFix {
    name: Option<String>,
    /// E.164 or a local Indonesian number (08…).
    phone: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "privacy", security(("bearer" = [])), request_body = ContactFix,
    params(("id" = String, Path, description = "contact id"), ("request" = Option<String>, Query, description = "the correction request this answers")),
    responses((status = 204, description = "corrected; audited with the field names only"),
        (status = 400, description = "malformed body or phone number"), (status = 409, description = "another contact has this number, or the request does not match"),
        (status = 403, description = "owner tokens only"), (status = 404, description = "no such contact in your tenant"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn correct(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<Answers>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let id = contact_id(&id)?;
    let fix: ContactFix = read_json(&headers, body, "an object with name and/or phone").await?;
    if fix.name.is_none() && fix.phone.is_none() {
        return Err(ApiError::bad_request("nothing_to_correct", "give name and/or phone"));
    }
    let phone = match fix.phone.as_deref().map(Phone::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return Err(ApiError::bad_request("invalid_phone", e.to_string())),
        None => None,
    };
    let request = answered(&state, &caller, &query, id, DsarKind::Correction).await?;
    let fix = Correction { name: fix.name, phone, request };
    let now = state.clock.now();
    let outcome = crate::privacy::correct::correct_contact(
        &*state.store,
        &state.keys,
        caller.tenant,
        id,
        &fix,
        &caller.actor(),
        now,
    )
    .await?;
    match outcome {
        Corrected::Done => Ok(StatusCode::NO_CONTENT),
        Corrected::NoSuchContact => Err(not_found()),
        Corrected::PhoneInUse => {
            Err(ApiError::new(StatusCode::CONFLICT, "phone_in_use", "another contact of your business has this number"))
        }
    }
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "contact id"), ("request" = Option<String>, Query, description = "the request this answers")),
    responses((status = 200, description = "erased: counts of what was deleted; the key is destroyed"),
        (status = 400, description = "the request id is malformed"), (status = 409, description = "the request is closed, of another kind or about another contact"),
        (status = 403, description = "owner tokens only"), (status = 404, description = "no such contact in your tenant"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn erase_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<Answers>,
) -> Result<Json<Erasure>, ApiError> {
    caller.require_owner()?;
    let id = contact_id(&id)?;
    let request = answered(&state, &caller, &query, id, DsarKind::Erasure).await?;
    let now = state.clock.now();
    let erasure =
        erase::erase_contact(&*state.store, &state.media.storage, caller.tenant, id, &caller.actor(), request, now)
            .await?
            .ok_or_else(not_found)?;
    Ok(Json(erasure))
}
