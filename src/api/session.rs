//! `POST /api/v1/auth/login` (e-mail and password → a bearer token), `…/logout` (revokes the
//! caller's token) and `…/revoke` (an owner revokes any token id of the tenant). Every login,
//! good or bad, is audited and limited per (e-mail, client), per client and per e-mail.
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::read_json;
use crate::app::AppState;
use crate::auth::{LoggedIn, Login, LoginError, MAX_TOKEN_TTL, authenticate, revoke_token};
use crate::client_ip::ClientAddr;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/revoke", post(revoke))
        .route("/api/v1/auth/pin", put(set_pin))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// The tenant's slug (or id).
    tenant: String,
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, description = "token, token_type, expires_at, role"), (status = 400, description = "malformed JSON"),
        (status = 401, description = "invalid_credentials"), (status = 429, description = "too many attempts; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    if state.token_keys.is_none() {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_disabled", "BALAS_JWT_SECRET is not set"));
    }
    let body: LoginBody = read_json(&headers, body, r#"{"tenant": "…", "email": "…", "password": "…"}"#).await?;
    let ok =
        authenticate_http(&state, Login { client, tenant: &body.tenant, email: &body.email, password: &body.password })
            .await?;
    Ok(Json(
        json!({ "token": ok.token, "token_type": "Bearer", "expires_at": ok.claims.expires_at(), "role": ok.claims.role }),
    ))
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => ApiError::unauthorized("invalid_credentials", e.to_string()),
            LoginError::Throttled(wait) => ApiError::too_many(e.to_string(), wait),
            LoginError::Fault(cause) => ApiError::internal(cause),
            LoginError::Store(e) => e.into(),
        }
    }
}

/// `auth::authenticate` behind this process's login flood guard (the dashboard does the same).
async fn authenticate_http(state: &AppState, login: Login<'_>) -> Result<LoggedIn, ApiError> {
    let Some(keys) = &state.token_keys else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_disabled", "BALAS_JWT_SECRET is not set"));
    };
    state.limits.login_flood(login.client)?;
    Ok(authenticate(&*state.store, &state.keys, keys, &*state.clock, login).await?)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "the caller's token is revoked"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    revoke_id(&state, &caller, &caller.token_id.clone(), caller.expires_at).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Revoke {
    /// The token id (`jti`) to revoke.
    token_id: String,
}

#[utoipa::path(post, path = "/api/v1/auth/revoke", tag = "auth", security(("bearer" = [])), request_body = Revoke,
    responses((status = 200, description = "the token id is revoked"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let request: Revoke = read_json(&headers, body, r#"{"token_id": "…"}"#).await?;
    let jti = request.token_id.trim();
    if jti.is_empty() || jti.len() > 64 {
        return Err(ApiError::bad_request("invalid_token_id", "token_id is the jti of a token"));
    }
    let until = state.clock.now() + MAX_TOKEN_TTL;
    revoke_id(&state, &caller, jti, until).await
}

async fn revoke_id(
    state: &AppState,
    caller: &Caller,
    jti: &str,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<Json<Value>, ApiError> {
    let fresh = revoke_token(&*state.store, caller.tenant, &caller.actor(), jti, until, state.clock.now()).await?;
    Ok(Json(json!({ "token_id": jti, "revoked": true, "already_revoked": !fresh })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Pin {
    /// 4 to 8 digits.
    pin: String,
}

/// Sets the calling user's staff PIN, for quick unlock on the dashboard only.
#[utoipa::path(put, path = "/api/v1/auth/pin", tag = "auth", security(("bearer" = [])), request_body = Pin,
    responses((status = 204, description = "the PIN is set (hashed, apart from the password)"), (status = 400, description = "not 4 to 8 digits"),
        (status = 403, description = "only a user's login token has a PIN"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn set_pin(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let user = caller.subject.strip_prefix("user:").and_then(|id| id.parse::<crate::domain::UserId>().ok());
    let Some(user) = user else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only a user's login token has a PIN"));
    };
    let request: Pin = read_json(&headers, body, r#"{"pin": "1234"}"#).await?;
    let now = state.clock.now();
    crate::users::set_pin(&*state.store, caller.tenant, &caller.actor(), user, &request.pin, now).await?;
    Ok(StatusCode::NO_CONTENT)
}
