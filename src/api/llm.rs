//! The tenant's LLM (owner tokens): `GET /api/v1/llm` (the operator's catalogue, the profile
//! and fallback chosen, whether an own key is allowed and stored; never a key), and
//! `PUT|DELETE /api/v1/llm/key` (bring your own key, where the operator allows it).
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::read_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::llm_profiles;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/llm", get(read)).route("/api/v1/llm/key", put(set_key).delete(delete_key))
}

#[utoipa::path(get, path = "/api/v1/llm", tag = "settings", security(("bearer" = [])),
    responses((status = 200, description = "the catalogue (name, model, host, prices, images), the chosen profile and fallback, own key allowed and stored"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn read(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let tenant = tx.tenant().await?.ok_or_else(|| ApiError::not_found("tenant_not_found", "the tenant is gone"))?;
    tx.commit().await?;
    let catalogue: Vec<Value> = state
        .config
        .llm
        .iter()
        .flat_map(|l| l.profiles.iter())
        .map(|p| {
            json!({
                "name": p.name, "model": p.endpoint.model, "host": crate::fetch_guard::host_with_port(&p.endpoint.base_url),
                "price_input_per_mtok_usd": p.price_input_per_mtok, "price_output_per_mtok_usd": p.price_output_per_mtok,
                "takes_images": p.vision,
            })
        })
        .collect();
    Ok(Json(json!({
        "catalogue": catalogue,
        "profile": tenant.settings.llm_profile,
        "fallback_profile": tenant.settings.llm_fallback_profile,
        "own_key_allowed": tenant.settings.own_llm_key_allowed,
        "own_key_stored": tenant.own_llm_key_enc.is_some(),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    key: String,
}

#[utoipa::path(put, path = "/api/v1/llm/key", tag = "settings", security(("bearer" = [])), request_body = KeyBody,
    responses((status = 204, description = "stored encrypted; never shown again"), (status = 400, description = "malformed key"), (status = 403, description = "owner tokens only, or `own_llm_key_not_allowed`: the operator has not allowed it"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn set_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    let b: KeyBody = read_json(&headers, body, r#"{"key": "…"}"#).await?;
    llm_profiles::set_own_key(&*state.store, &state.keys, caller.tenant, &caller.actor(), &b.key, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/llm/key", tag = "settings", security(("bearer" = [])),
    responses((status = 204, description = "deleted; the operator's keys answer again"), (status = 404, description = "no own key stored"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn delete_key(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    llm_profiles::delete_own_key(&*state.store, caller.tenant, &caller.actor(), state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
