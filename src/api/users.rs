//! Users of the tenant (owner tokens): `GET|POST /api/v1/users`, `DELETE /api/v1/users/{id}`
//! (disables: the audit keeps naming them).
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, Role};
use super::read_json;
use crate::app::AppState;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::users::{self, NewUser};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/users", get(list).post(create)).route("/api/v1/users/{id}", delete(disable))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "users; the read is audited"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let views = users::list(&*state.store, &state.keys, caller.tenant, &caller.actor(), state.clock.now()).await?;
    Ok(Json(json!({ "users": views })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    email: String,
    role: Role,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUserBody,
    responses((status = 201, description = "the new user's id and role"), (status = 400, description = "bad e-mail, short password or taken"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let shape = r#"{"email": "…", "role": "owner|staff|analytics", "password": "…"}"#;
    let b: NewUserBody = read_json(&headers, body, shape).await?;
    let new = NewUser { email: &b.email, role: b.role, password: &b.password };
    let user =
        users::create(&*state.store, &state.keys, caller.tenant, new, &caller.actor(), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": user.id, "role": user.role }))))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "disabled; their tokens stop working"), (status = 404, description = "no such active user"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let id: UserId = id.parse().map_err(|_| ApiError::from(users::not_found()))?;
    users::disable(&*state.store, caller.tenant, &caller.actor(), id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
