//! Bearer tokens for the owner API: HS256 JWTs signed with `BALAS_JWT_SECRET` (and still
//! accepted from `BALAS_JWT_PREVIOUS_SECRET` during a rotation), carrying the tenant, the role,
//! an expiry and a token id that can be revoked. Every request is rate limited per token.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::domain::TenantId;
use crate::error::ApiError;

/// What a token may do inside its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the tenant.
    Owner,
    /// Conversations, replies and escalations.
    Staff,
    /// Aggregates only: no content, no phone numbers.
    Analytics,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Staff => "staff",
            Self::Analytics => "analytics",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Self::Owner),
            "staff" => Some(Self::Staff),
            "analytics" => Some(Self::Analytics),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to (an API client's name, later a user id).
    pub sub: String,
    pub tenant_id: TenantId,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The token id, for the audit and for revocation.
    pub jti: String,
}

impl Claims {
    /// Claims for a fresh token with a new id.
    pub fn new(tenant: TenantId, role: Role, subject: &str, ttl: chrono::Duration, now: DateTime<Utc>) -> Self {
        Self {
            sub: subject.to_string(),
            tenant_id: tenant,
            role,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
        }
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// The signing key, and the previous one during a rotation; each `kid` is derived from its
/// secret, so a token names the key that can check it.
pub struct TokenKeys {
    encoding: EncodingKey,
    kid: String,
    /// (kid, key) of every secret tokens are still accepted from: the current one first.
    accepted: Vec<(String, DecodingKey)>,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> anyhow::Result<Self> {
        Self::rotating(secret, None)
    }

    /// Signs with `current`; still accepts tokens signed with `previous` until they expire.
    pub fn rotating(current: &SecretString, previous: Option<&SecretString>) -> anyhow::Result<Self> {
        let mut accepted = Vec::new();
        for secret in std::iter::once(current).chain(previous) {
            let bytes = secret.expose_secret().as_bytes();
            anyhow::ensure!(bytes.len() >= 32, "JWT secrets must be at least 32 bytes");
            accepted.push((hex::encode(&Sha256::digest(bytes)[..6]), DecodingKey::from_secret(bytes)));
        }
        let encoding = EncodingKey::from_secret(current.expose_secret().as_bytes());
        Ok(Self { encoding, kid: accepted[0].0.clone(), accepted })
    }

    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::HS256) };
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks signature, algorithm, key id and expiry (against our clock, so tests can move it).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("invalid_token", "the bearer token is not valid");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let kid = header.kid.ok_or_else(invalid)?;
        let (_, key) = self.accepted.iter().find(|(k, _)| *k == kid).ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| invalid())?.claims;
        if claims.exp <= now.timestamp() {
            return Err(ApiError::unauthorized("token_expired", "the bearer token has expired"));
        }
        Ok(claims)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_keeps_old_tokens_valid_only_while_the_old_secret_is_listed() {
        let (old, new): (SecretString, SecretString) = ("o".repeat(32).into(), "n".repeat(32).into());
        let now = Utc::now();
        let claims = Claims::new(TenantId::new(), Role::Staff, "t", chrono::Duration::hours(1), now);
        let from_old = TokenKeys::new(&old).unwrap().issue(&claims).unwrap();
        let rotating = TokenKeys::rotating(&new, Some(&old)).unwrap();
        assert_eq!(rotating.verify(&from_old, now).unwrap().jti, claims.jti);
        let from_new = rotating.issue(&claims).unwrap();
        assert!(TokenKeys::new(&new).unwrap().verify(&from_new, now).is_ok());
        assert_eq!(TokenKeys::new(&new).unwrap().verify(&from_old, now).unwrap_err().code, "invalid_token");
        let later = now + chrono::Duration::hours(2);
        assert_eq!(rotating.verify(&from_new, later).unwrap_err().code, "token_expired");
        assert!(TokenKeys::new(&"short".to_string().into()).is_err());
    }
}
