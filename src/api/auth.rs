//! Bearer tokens for the owner API: HS256 JWTs signed with `BALAS_JWT_SECRET`, carrying the
//! tenant, the role, an expiry and a token id. Users, login, revocation and per-token rate
//! limits are not built yet; `balas token issue` mints tokens for API clients.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the tenant.
    Owner,
    /// Conversations, replies and escalations.
    Staff,
    /// Aggregates only: no content, no phone numbers.
    Analytics,
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

/// The signing key; its `kid` is derived from the secret so a rotation can tell tokens apart.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> anyhow::Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        anyhow::ensure!(bytes.len() >= 32, "BALAS_JWT_SECRET must be at least 32 bytes");
        let kid = hex::encode(&Sha256::digest(bytes)[..6]);
        Ok(Self { encoding: EncodingKey::from_secret(bytes), decoding: DecodingKey::from_secret(bytes), kid })
    }

    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::HS256) };
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks signature, algorithm, key id and expiry (against our clock, so tests can move it).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("invalid_token", "the bearer token is not valid");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(invalid());
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|_| invalid())?.claims;
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
}

impl Caller {
    /// The actor named in audit rows.
    pub fn actor(&self) -> String {
        format!("api:{}", self.subject)
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
        let Some(keys) = &state.token_keys else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_disabled",
                "the owner API needs BALAS_JWT_SECRET to be configured",
            ));
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>"))?;
        let claims = keys.verify(token.trim(), state.clock.now())?;
        Ok(Self { tenant: claims.tenant_id, role: claims.role, subject: claims.sub, token_id: claims.jti })
    }
}
