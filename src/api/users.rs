//! Users of the tenant (owner tokens): `GET|POST /api/v1/users`, `DELETE /api/v1/users/{id}`
//! (disables: the audit keeps naming them).
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Caller, Role};
use super::read_json;
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::store::StoreError;
use crate::tenants;
use crate::users::{self, NewUser};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/users", get(list).post(create)).route("/api/v1/users/{id}", delete(disable))
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "users; the read is audited"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let key = tenants::data_key(&mut *tx, &state.keys).await?;
    let mut views = Vec::new();
    for u in tx.users().await? {
        let email = key.decrypt(&u.email_enc).map_err(ApiError::internal)?;
        views.push(UserView { id: u.id, email, role: u.role, created_at: u.created_at, disabled_at: u.disabled_at });
    }
    // E-mail addresses are personal data: the read is audited, naming the reader.
    let entry = AuditEntry::new(caller.actor(), "user.listed", "tenant", Some(caller.tenant.to_string()))
        .detail(json!({ "count": views.len() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
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
    let user = users::create(&*state.store, &state.keys, caller.tenant, new, &caller.actor(), state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Config(why) => ApiError::bad_request("invalid_user", why),
            other => ApiError::internal(other),
        })?;
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
    let not_found = || ApiError::not_found("user_not_found", "no active user with this id in your tenant");
    let id: UserId = id.parse().map_err(|_| not_found())?;
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    if !tx.disable_user(id, now).await? {
        return Err(not_found());
    }
    audit::append(&mut *tx, vec![AuditEntry::new(caller.actor(), "user.disabled", "user", Some(id.to_string()))], now)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
