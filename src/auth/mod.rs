//! Who may do what: the roles, the claims of a bearer token (HS256 JWTs signed with
//! `BALAS_JWT_SECRET`, still accepted from `BALAS_JWT_PREVIOUS_SECRET` during a rotation), the
//! caller behind a token, revocation, and the login check (`login`). No HTTP here: `api/auth.rs`
//! reads the bearer header, the dashboard its cookie.
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditEntry};
use crate::domain::TenantId;
use crate::domain::text_code::text_code;
use crate::store::{Store, StoreResult};
use crate::usecase::{UseCaseError, UseCaseResult};

mod login;
pub use login::{LoggedIn, Login, LoginError, authenticate};

/// How long a token from a dashboard login lives.
pub const LOGIN_TTL: chrono::Duration = chrono::Duration::hours(12);
/// The longest lifetime `balas token issue` grants; a revocation is kept this long.
pub const MAX_TOKEN_TTL: chrono::Duration = chrono::Duration::days(366);

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the bearer token is not valid")]
    Invalid,
    #[error("the bearer token has expired")]
    Expired,
}

impl TokenError {
    /// The stable code of the API's 401.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_token",
            Self::Expired => "token_expired",
        }
    }
}

/// What a token may do inside its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the tenant.
    Owner,
    /// Conversations, replies and escalations.
    Staff,
    /// Aggregates only: no content, no phone numbers.
    Analytics,
}

text_code!(Role, parse; Owner => "owner", Staff => "staff", Analytics => "analytics");

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
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key) = self.accepted.iter().find(|(k, _)| *k == kid).ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| TokenError::Invalid)?.claims;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// The authenticated caller of an API route or dashboard page.
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
    pub fn require_owner(&self) -> UseCaseResult<()> {
        if self.role == Role::Owner {
            return Ok(());
        }
        Err(UseCaseError::forbidden("forbidden", "this needs an owner token"))
    }

    /// Analytics aggregates: owners and analytics readers (staff handle conversations only).
    pub fn require_aggregates(&self) -> UseCaseResult<()> {
        match self.role {
            Role::Owner | Role::Analytics => Ok(()),
            Role::Staff => Err(UseCaseError::forbidden("forbidden", "analytics need an owner or analytics token")),
        }
    }

    /// Conversations and escalations carry content: owners and staff only.
    pub fn require_content_access(&self) -> UseCaseResult<()> {
        match self.role {
            Role::Owner | Role::Staff => Ok(()),
            Role::Analytics => Err(UseCaseError::forbidden("forbidden", "this token may read aggregates only")),
        }
    }
}

/// The caller behind verified claims, or `None` when the token was revoked or its user is
/// gone or disabled: a login token dies with its user, so disabling someone ends their sessions.
pub async fn caller_of(store: &dyn Store, claims: Claims) -> StoreResult<Option<Caller>> {
    let mut tx = store.begin_read(claims.tenant_id).await?;
    let revoked = tx.is_token_revoked(&claims.jti).await?;
    let user_gone = match claims.sub.strip_prefix("user:").map(str::parse::<crate::domain::UserId>) {
        Some(Ok(id)) => tx.user(id).await?.is_none_or(|u| u.disabled_at.is_some()),
        Some(Err(_)) => true,
        None => false,
    };
    tx.commit().await?;
    if revoked || user_gone {
        return Ok(None);
    }
    Ok(Some(Caller {
        tenant: claims.tenant_id,
        role: claims.role,
        expires_at: claims.expires_at(),
        subject: claims.sub,
        token_id: claims.jti,
    }))
}

/// Revokes a token id until `until`, audited naming `actor`; false when it was already revoked.
pub async fn revoke_token(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    jti: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.begin(tenant).await?;
    let fresh = tx.revoke_token(jti, until, now).await?;
    let entry = AuditEntry::new(actor, "token.revoked", "token", Some(jti.to_string()));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(fresh)
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
        assert_eq!(TokenKeys::new(&new).unwrap().verify(&from_old, now).unwrap_err().code(), "invalid_token");
        let later = now + chrono::Duration::hours(2);
        assert_eq!(rotating.verify(&from_new, later).unwrap_err().code(), "token_expired");
        assert!(TokenKeys::new(&"short".to_string().into()).is_err());
    }
}
