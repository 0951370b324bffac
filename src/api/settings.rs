//! Tenant settings and owner numbers (owner tokens): `GET|PATCH /api/v1/settings`,
//! `GET|POST /api/v1/owners`, `DELETE /api/v1/owners/{id}`.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::read_json;
use crate::app::AppState;
use crate::domain::{OwnerId, Phone};
use crate::error::ApiError;
use crate::owner::{add_owner, registry};
use crate::tenants::{self, TenantSettings};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/settings", get(read).patch(change))
        .route("/api/v1/owners", get(owners).post(add))
        .route("/api/v1/owners/{id}", delete(remove))
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, description = "name, slug, settings, and `operator_only`: the settings only the operator may change"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn read(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let tenant = tx.tenant().await?.ok_or_else(|| ApiError::not_found("tenant_not_found", "the tenant is gone"))?;
    tx.commit().await?;
    Ok(Json(json!({
        "name": tenant.name,
        "slug": tenant.slug,
        "settings": tenant.settings,
        "operator_only": tenants::OPERATOR_ONLY,
    })))
}

/// Any subset of the settings (and `name`); the rest stays as it is. Settings named in
/// `operator_only` (cost-bearing limits) are refused with 403 `operator_only` unless unchanged.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])), request_body = TenantSettings,
    responses((status = 200, description = "the settings after the change"), (status = 400, description = "unknown field or invalid value"), (status = 403, description = "owner tokens only, or `operator_only`: a limit only the operator may change"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn change(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let patch: serde_json::Map<String, Value> = read_json(&headers, body, "an object of settings").await?;
    let picks_llm = patch.contains_key("llm_profile") || patch.contains_key("llm_fallback_profile");
    let (name, slug, settings) = tenants::change_settings(
        &*state.store,
        caller.tenant,
        &caller.actor(),
        patch,
        &llm_catalogue(&state),
        state.clock.now(),
    )
    .await?;
    if picks_llm {
        // The owner chose these models: their hosts join the shop's sub-processors at once.
        super::subprocessors::resync(&state, caller.tenant, Some(&caller.actor())).await?;
    }
    Ok(Json(json!({ "name": name, "slug": slug, "settings": settings })))
}

#[utoipa::path(get, path = "/api/v1/owners", tag = "settings", security(("bearer" = [])),
    responses((status = 200, description = "owner numbers, masked"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn owners(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let views = registry::list_owners(&*state.store, &state.keys, caller.tenant).await?;
    Ok(Json(json!({ "owners": views })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewOwner {
    phone: String,
    email: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/owners", tag = "settings", security(("bearer" = [])), request_body = NewOwner,
    responses((status = 201, description = "the owner number, masked"), (status = 400, description = "invalid number or e-mail, or already an owner"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let new: NewOwner = read_json(&headers, body, r#"{"phone": "+62…", "email": "…"}"#).await?;
    let phone = Phone::parse(&new.phone).map_err(|e| ApiError::bad_request("invalid_phone", e.to_string()))?;
    let actor = caller.actor();
    let owner =
        add_owner(&*state.store, &state.keys, caller.tenant, &phone, new.email.as_deref(), &actor, state.clock.now())
            .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": owner.id, "phone": phone.masked() }))))
}

#[utoipa::path(delete, path = "/api/v1/owners/{id}", tag = "settings", security(("bearer" = [])),
    params(("id" = String, Path, description = "owner id")),
    responses((status = 204, description = "removed, with the messages exchanged with it"), (status = 404, description = "no such owner"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let id: OwnerId = id.parse().map_err(|_| ApiError::from(registry::owner_not_found()))?;
    registry::remove_owner(&*state.store, caller.tenant, &caller.actor(), id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The profile names of the operator's LLM catalogue (none without an LLM).
pub fn llm_catalogue(state: &AppState) -> Vec<String> {
    state.deps.llm.as_ref().map(|l| l.profile_names()).unwrap_or_default()
}
