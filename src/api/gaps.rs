//! The questions the bot could not answer: `GET /api/v1/gaps`, `POST /api/v1/gaps/{id}/answer`,
//! `POST /api/v1/gaps/{id}/dismiss` (owner tokens), and an FAQ entry's history,
//! `GET /api/v1/kb/{id}/versions`.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::Caller;
use super::{ApiQuery, read_json};
use crate::app::AppState;
use crate::domain::KbEntryId;
use crate::error::ApiError;
use crate::gaps::{close, list};

/// Groups listed at most.
const MAX_GROUPS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/gaps", get(groups))
        .route("/api/v1/gaps/{id}/answer", post(answer))
        .route("/api/v1/gaps/{id}/dismiss", post(dismiss))
        .route("/api/v1/kb/{id}/versions", get(versions))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/gaps", tag = "knowledge gaps", security(("bearer" = [])),
    params(("limit" = Option<usize>, Query, description = "at most this many groups (default and maximum 200)")),
    responses((status = 200, description = "open groups of similar unanswered questions, most asked first; the read is audited"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn groups(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let limit = query.limit.unwrap_or(MAX_GROUPS).clamp(1, MAX_GROUPS);
    let groups = list::open_groups(&state, caller.tenant, &caller.actor(), limit).await?;
    Ok(Json(json!({ "gaps": groups })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    /// The FAQ entry's question; default: the group's newest wording (masked).
    #[serde(default)]
    question: Option<String>,
    answer: String,
    /// Also send the answer to the customers still waiting on this question.
    #[serde(default)]
    send_to_waiting: bool,
}

fn group_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(id).map_err(|_| close::not_found().into())
}

#[utoipa::path(post, path = "/api/v1/gaps/{id}/answer", tag = "knowledge gaps", security(("bearer" = [])), request_body = AnswerBody,
    params(("id" = String, Path, description = "gap group id")),
    responses((status = 201, description = "the new FAQ entry (version 1, audited with the ticket it came from) and the tickets answered"), (status = 400, description = "malformed, empty or too long"), (status = 404, description = "no open group with this id"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let group = group_id(&id)?;
    let b: AnswerBody =
        read_json(&headers, body, r#"{"answer": "…", "question": "…", "send_to_waiting": true}"#).await?;
    let reply = (b.question.as_deref(), b.answer.as_str());
    let done = close::answer_group(&state, caller.tenant, &caller.actor(), group, reply, b.send_to_waiting).await?;
    Ok((StatusCode::CREATED, Json(json!(done))))
}

#[utoipa::path(post, path = "/api/v1/gaps/{id}/dismiss", tag = "knowledge gaps", security(("bearer" = [])),
    params(("id" = String, Path, description = "gap group id")),
    responses((status = 204, description = "closed without an FAQ entry"), (status = 404, description = "no open group with this id"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn dismiss(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    close::dismiss_group(&state, caller.tenant, &caller.actor(), group_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/kb/{id}/versions", tag = "knowledge base", security(("bearer" = [])),
    params(("id" = String, Path, description = "entry id")),
    responses((status = 200, description = "every version, oldest first: who wrote it and from which ticket"), (status = 404, description = "no such entry"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let id: KbEntryId = id.parse().map_err(|_| ApiError::from(crate::kb::not_found()))?;
    let versions = crate::kb::versions(&*state.store, caller.tenant, id).await?;
    Ok(Json(json!({ "versions": versions })))
}
