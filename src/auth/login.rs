//! The login check shared by the API and the dashboard: the shared attempt counts
//! (`login_limits`), the decoy hash for unknown tenants and users, and one audit row per
//! attempt. The per-process flood guard stays with the HTTP layer, which checks it first.
use std::net::IpAddr;

use serde_json::json;

use super::{Claims, LOGIN_TTL, TokenKeys};
use crate::audit::{self, AuditEntry};
use crate::clock::Clock;
use crate::config::Keys;
use crate::domain::TenantId;
use crate::login_limits::{LoginKeys, Verdict};
use crate::store::{Store, StoreError};
use crate::users::{decoy_hash, verify_secret_off_thread};

/// What a login form or request gives: the tenant's slug (or id), the e-mail and the password,
/// and the client it came from.
pub struct Login<'a> {
    pub client: IpAddr,
    pub tenant: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// A successful login: the signed token and its claims.
pub struct LoggedIn {
    pub token: String,
    pub claims: Claims,
}

/// Why a login was refused, by kind.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The tenant, e-mail or password is wrong (which one is only in the audit).
    #[error("the tenant, e-mail or password is wrong")]
    Invalid,
    /// Too many attempts; try again after the wait.
    #[error("too many login attempts; wait before trying again")]
    Throttled(std::time::Duration),
    /// The token could not be signed: ours, never the caller's.
    #[error("{0}")]
    Fault(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a login. The password is checked with no transaction open, so a login flood never
/// holds the SQLite writer that ingest needs.
pub async fn authenticate(
    store: &dyn Store,
    keys: &Keys,
    tokens: &TokenKeys,
    clock: &dyn Clock,
    login: Login<'_>,
) -> Result<LoggedIn, LoginError> {
    let Login { client, tenant, email, password } = login;
    let tenant = match tenant.parse::<TenantId>() {
        Ok(id) => Some(id),
        Err(_) => store.route_tenant(tenant.trim()).await?,
    };
    let email_index = keys.index.email(tenant.unwrap_or(TenantId(uuid::Uuid::nil())), email);
    let attempt = LoginKeys::new(&keys.index, &email_index, client);
    match attempt.spend(store, clock.now()).await? {
        Verdict::Refused { retry_after } => return Err(LoginError::Throttled(retry_after)),
        Verdict::Go { slow: Some(wait) } => tokio::time::sleep(wait).await,
        Verdict::Go { slow: None } => {}
    }
    let user = match tenant {
        Some(id) => {
            let mut read = store.begin_read(id).await?;
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
        return Err(LoginError::Invalid);
    };
    let verdict = match &user {
        None => {
            verify_secret_off_thread(password, decoy_hash()).await;
            Err("unknown_user")
        }
        Some(u) if !verify_secret_off_thread(password, &u.password_hash).await => Err("wrong_password"),
        Some(u) if u.disabled_at.is_some() => Err("disabled"),
        Some(u) => Ok(u.role),
    };
    let subject = match &user {
        Some(u) => ("user", Some(u.id.to_string())),
        None => ("tenant", Some(tenant_id.to_string())),
    };
    let now = clock.now();
    let (entry, answer) = match (verdict, &user) {
        (Ok(role), Some(u)) => {
            let claims = Claims::new(tenant_id, role, &format!("user:{}", u.id), LOGIN_TTL, now);
            let token = tokens.issue(&claims).map_err(|e| LoginError::Fault(e.to_string()))?;
            let entry = AuditEntry::new(format!("user:{}", u.id), "auth.login_succeeded", subject.0, subject.1)
                .detail(json!({ "token": claims.jti }));
            (entry, Ok(LoggedIn { token, claims }))
        }
        (verdict, _) => {
            let why = verdict.err().unwrap_or("unknown_user");
            let entry = AuditEntry::new("anonymous", "auth.login_failed", subject.0, subject.1)
                .detail(json!({ "reason": why }));
            (entry, Err(LoginError::Invalid))
        }
    };
    let mut tx = store.begin(tenant_id).await?;
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    if answer.is_ok() {
        attempt.succeeded(store).await?;
    }
    answer
}
