//! `POST /api/v1/auth/login` (e-mail and password → a bearer token), `…/logout` (revokes the
//! caller's token) and `…/revoke` (an owner revokes any token id of the tenant). Every login,
//! good or bad, is audited and limited per (e-mail, client), per client and per e-mail.
use std::net::IpAddr;

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
use crate::audit::{self, AuditEntry};
use crate::auth::{Claims, LOGIN_TTL, MAX_TOKEN_TTL, Role, revoke_token};
use crate::client_ip::ClientAddr;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::login_limits::{LoginKeys, Verdict};
use crate::users::{decoy_hash, verify_secret_off_thread};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/revoke", post(revoke))
        .route("/api/v1/auth/pin", put(set_pin))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Login {
    /// The tenant's slug (or id).
    tenant: String,
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
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
    let login: Login = read_json(&headers, body, r#"{"tenant": "…", "email": "…", "password": "…"}"#).await?;
    let ok = authenticate(&state, client, &login.tenant, &login.email, &login.password).await?;
    Ok(Json(
        json!({ "token": ok.token, "token_type": "Bearer", "expires_at": ok.claims.expires_at(), "role": ok.claims.role }),
    ))
}

/// A successful login: the signed token and its claims.
pub struct LoggedIn {
    pub token: String,
    pub claims: Claims,
}

/// The login check shared by the API and the dashboard: the flood guard, the shared attempt
/// counts (`login_limits`), the decoy hash for unknown tenants and users, and one audit row per
/// attempt. The password is checked with no transaction open, so a login flood never holds the
/// SQLite writer that ingest needs.
pub async fn authenticate(
    state: &AppState,
    client: IpAddr,
    tenant: &str,
    email: &str,
    password: &str,
) -> Result<LoggedIn, ApiError> {
    let Some(keys) = &state.token_keys else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_disabled", "BALAS_JWT_SECRET is not set"));
    };
    let invalid = || ApiError::unauthorized("invalid_credentials", "the tenant, e-mail or password is wrong");
    let tenant = match tenant.parse::<TenantId>() {
        Ok(id) => Some(id),
        Err(_) => state.store.route_tenant(tenant.trim()).await?,
    };
    let email_index = state.keys.index.email(tenant.unwrap_or(TenantId(uuid::Uuid::nil())), email);
    state.limits.login_flood(client)?;
    let attempt = LoginKeys::new(&state.keys.index, &email_index, client);
    match attempt.spend(&*state.store, state.clock.now()).await? {
        Verdict::Refused { retry_after } => {
            return Err(ApiError::too_many("too many login attempts; wait before trying again", retry_after));
        }
        Verdict::Go { slow: Some(wait) } => tokio::time::sleep(wait).await,
        Verdict::Go { slow: None } => {}
    }
    let user = match tenant {
        Some(id) => {
            let mut read = state.store.begin_read(id).await?;
            let found = match read.tenant().await? {
                Some(_) => Some(read.user_by_email_index(&email_index).await?),
                None => None,
            };
            read.commit().await?;
            found.map(|user| (id, user))
        }
        None => None,
    };
    let Some((tenant_id, user)) = user else {
        verify_secret_off_thread(password, decoy_hash()).await;
        return Err(invalid());
    };
    let verdict = match &user {
        None => {
            verify_secret_off_thread(password, decoy_hash()).await;
            Err("unknown_user")
        }
        Some(u) if !verify_secret_off_thread(password, &u.password_hash).await => Err("wrong_password"),
        Some(u) if u.disabled_at.is_some() => Err("disabled"),
        Some(u) => Role::parse(&u.role).ok_or("unknown_role"),
    };
    let subject = match &user {
        Some(u) => ("user", Some(u.id.to_string())),
        None => ("tenant", Some(tenant_id.to_string())),
    };
    let now = state.clock.now();
    let (entry, answer) = match (verdict, &user) {
        (Ok(role), Some(u)) => {
            let claims = Claims::new(tenant_id, role, &format!("user:{}", u.id), LOGIN_TTL, now);
            let token = keys.issue(&claims).map_err(ApiError::internal)?;
            let entry = AuditEntry::new(format!("user:{}", u.id), "auth.login_succeeded", subject.0, subject.1)
                .detail(json!({ "token": claims.jti }));
            (entry, Ok(LoggedIn { token, claims }))
        }
        (verdict, _) => {
            let why = verdict.err().unwrap_or("unknown_user");
            let entry = AuditEntry::new("anonymous", "auth.login_failed", subject.0, subject.1)
                .detail(json!({ "reason": why }));
            (entry, Err(invalid()))
        }
    };
    let mut tx = state.store.begin(tenant_id).await?;
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    if answer.is_ok() {
        attempt.succeeded(&*state.store).await?;
    }
    answer
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
