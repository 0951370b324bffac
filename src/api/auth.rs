//! The owner API's caller: a bearer token (see `crate::auth` for the roles, claims and keys)
//! checked for signature, expiry, revocation and its user. Every request is rate limited per
//! token.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};

use crate::app::AppState;
use crate::auth::TokenError;
pub use crate::auth::{Claims, Role, TokenKeys};
use crate::domain::TenantId;
use crate::error::ApiError;

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::unauthorized(e.code(), e.to_string())
    }
}

/// The authenticated caller of an API route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
    pub subject: String,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
}

impl Caller {
    /// The actor named in audit rows.
    pub fn actor(&self) -> String {
        format!("api:{}", self.subject)
    }

    /// Users, settings and revocation: owners only.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.role == Role::Owner {
            return Ok(());
        }
        Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs an owner token"))
    }

    /// Analytics aggregates: owners and analytics readers (staff handle conversations only).
    pub fn require_aggregates(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Owner | Role::Analytics => Ok(()),
            Role::Staff => {
                Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "analytics need an owner or analytics token"))
            }
        }
    }

    /// Conversations and escalations carry content: owners and staff only.
    pub fn require_content_access(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Owner | Role::Staff => Ok(()),
            Role::Analytics => {
                Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this token may read aggregates only"))
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>"))?;
        Self::from_token(state, token.trim()).await
    }
}

impl Caller {
    /// Checks a token (signature, expiry, rate, revocation, its user still enabled): the API's
    /// bearer header and the dashboard's session cookie both come through here.
    pub async fn from_token(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let Some(keys) = &state.token_keys else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_disabled",
                "the owner API needs BALAS_JWT_SECRET to be configured",
            ));
        };
        let claims = keys.verify(token, state.clock.now())?;
        state.limits.per_token(&claims.jti)?;
        let mut tx = state.store.begin_read(claims.tenant_id).await?;
        let revoked = tx.is_token_revoked(&claims.jti).await?;
        // A login token dies with its user: disabling someone ends their sessions at once.
        let user_gone = match claims.sub.strip_prefix("user:").map(str::parse::<crate::domain::UserId>) {
            Some(Ok(id)) => tx.user(id).await?.is_none_or(|u| u.disabled_at.is_some()),
            Some(Err(_)) => true,
            None => false,
        };
        tx.commit().await?;
        if revoked || user_gone {
            return Err(ApiError::unauthorized("token_revoked", "the bearer token has been revoked"));
        }
        Ok(Self {
            tenant: claims.tenant_id,
            role: claims.role,
            subject: claims.sub,
            token_id: claims.jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        })
    }
}
