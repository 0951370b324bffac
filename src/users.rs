//! Users of the owner API and dashboard: argon2id password hashes, e-mails found by blind
//! index, the password check behind `POST /api/v1/auth/login`, and the user use cases
//! (create, list, disable, set a PIN) for the API, the dashboard and the CLI.
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::auth::Role;
use crate::config::Keys;
use crate::domain::{TenantId, UserId};
use crate::store::{Store, StoreResult, UserRecord};
use crate::tenants;
use crate::usecase::{UseCaseError, UseCaseResult};

/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A failed hash is our fault (a 500), never the caller's.
fn hash_failed() -> UseCaseError {
    UseCaseError::Fault("the password could not be hashed".into())
}

/// An argon2id PHC string with a fresh 16-byte salt.
pub fn hash_secret(secret: &str) -> UseCaseResult<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| hash_failed())?;
    Argon2::default().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| hash_failed())
}

/// Constant-time check of a secret against its PHC string; a malformed hash never matches.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the user does not exist, so a wrong e-mail costs as much
/// time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_secret("decoy password that matches nothing").unwrap_or_default())
}

/// At most one argon2 computation per core at once: a login flood queues here, off the async
/// threads and outside every transaction, instead of starving ingest.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores.clamp(1, 4))
    })
}

/// `verify_secret` on the blocking pool, within the bound on concurrent hashes. Call it with no
/// transaction open.
pub async fn verify_secret_off_thread(secret: &str, phc: &str) -> bool {
    let Ok(_permit) = hashing_permits().acquire().await else { return false };
    let (secret, phc) = (SecretString::from(secret), phc.to_string());
    tokio::task::spawn_blocking(move || verify_secret(secret.expose_secret(), &phc)).await.unwrap_or(false)
}

/// `hash_secret` on the blocking pool, within the same bound.
pub async fn hash_secret_off_thread(secret: &str) -> UseCaseResult<String> {
    let _permit = hashing_permits().acquire().await.map_err(|_| hash_failed())?;
    let secret = SecretString::from(secret);
    tokio::task::spawn_blocking(move || hash_secret(secret.expose_secret())).await.map_err(|_| hash_failed())?
}

/// Who to create: the login e-mail, the role and the password (hashed here, never stored).
pub struct NewUser<'a> {
    pub email: &'a str,
    pub role: Role,
    pub password: &'a str,
}

/// Creates a user; the e-mail is kept encrypted and the audit row names only the role. A bad
/// e-mail, a short password or a taken e-mail is `invalid_user`.
pub async fn create(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    new: NewUser<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<UserRecord> {
    let NewUser { email, role, password } = new;
    let invalid = |detail: String| UseCaseError::invalid("invalid_user", detail);
    let email = email.trim();
    if email.parse::<lettre::Address>().is_err() {
        return Err(invalid("that is not an e-mail address".into()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(format!("passwords need at least {MIN_PASSWORD_CHARS} characters")));
    }
    let password_hash = hash_secret_off_thread(password).await?;
    let mut tx = store.begin(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let user = UserRecord {
        id: UserId::new(),
        tenant_id: tenant,
        email_index: keys.index.email(tenant, email),
        email_enc: key.encrypt(&email.to_lowercase()),
        role,
        password_hash,
        created_at: now,
        disabled_at: None,
    };
    if !tx.insert_user(&user).await? {
        return Err(invalid("a user with this e-mail exists in the tenant".into()));
    }
    let entry =
        AuditEntry::new(actor, "user.created", "user", Some(user.id.to_string())).detail(json!({ "role": user.role }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(user)
}

/// A user as the owner sees them: the e-mail decrypted, no hashes.
#[derive(Debug, serde::Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The tenant's users; e-mail addresses are personal data, so the read is audited naming `actor`.
pub async fn list(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    actor: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<Vec<UserView>> {
    let mut tx = store.begin(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let mut views = Vec::new();
    for u in tx.users().await? {
        let email = key.decrypt(&u.email_enc).map_err(crate::store::StoreError::from)?;
        views.push(UserView { id: u.id, email, role: u.role, created_at: u.created_at, disabled_at: u.disabled_at });
    }
    let entry = AuditEntry::new(actor, "user.listed", "tenant", Some(tenant.to_string()))
        .detail(json!({ "count": views.len() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(views)
}

/// No active user with this id in the tenant (also for an id that does not parse).
pub fn not_found() -> UseCaseError {
    UseCaseError::not_found("user_not_found", "no active user with this id in your tenant")
}

/// Disables a user (the audit keeps naming them; their tokens stop working), audited naming `actor`.
pub async fn disable(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    id: UserId,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let mut tx = store.begin(tenant).await?;
    if !tx.disable_user(id, now).await? {
        return Err(not_found());
    }
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "user.disabled", "user", Some(id.to_string()))], now).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets `user`'s staff PIN (hashed, apart from the password), audited `user.pin_set`;
/// `invalid_pin` when it is not 4 to 8 digits.
pub async fn set_pin(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    user: UserId,
    pin: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let pin_hash = hash_pin(pin).await?.map_err(|e| UseCaseError::invalid("invalid_pin", e.to_string()))?;
    let mut tx = store.begin(tenant).await?;
    tx.set_staff_pin(user, &pin_hash, now).await?;
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "user.pin_set", "user", Some(user.to_string()))], now).await?;
    tx.commit().await?;
    Ok(())
}

/// Wrong PINs in a row before the PIN locks.
pub const PIN_ATTEMPTS: i32 = 5;
/// How long a locked PIN stays locked.
pub const PIN_LOCK: chrono::Duration = chrono::Duration::minutes(15);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits")]
    Malformed,
    #[error("this user has no PIN")]
    NotSet,
    #[error("wrong PIN")]
    Wrong,
    #[error("wrong PIN, the last try before the lock; locked until {0}")]
    WrongNowLocked(DateTime<Utc>),
    #[error("too many wrong PINs; locked until {0}")]
    Locked(DateTime<Utc>),
}

/// Hashes a new staff PIN (4–8 digits), apart from the password; store it with
/// `TenantTx::set_staff_pin`. Hashing happens here, before any transaction opens.
pub async fn hash_pin(pin: &str) -> UseCaseResult<Result<String, PinError>> {
    if !(4..=8).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Ok(Err(PinError::Malformed));
    }
    Ok(Ok(hash_secret_off_thread(pin).await?))
}

/// Checks a quick-unlock PIN for the dashboard. Five wrong PINs in a row lock it for 15 minutes,
/// whatever is typed meanwhile; a right PIN clears the count. The attempt is counted in its own
/// transaction before the PIN is checked, so concurrent guesses (several instances included)
/// get five checks in all, and the check runs with no transaction open.
pub async fn unlock_with_pin(
    store: &dyn Store,
    tenant: TenantId,
    user: UserId,
    pin: &str,
    now: DateTime<Utc>,
) -> StoreResult<Result<(), PinError>> {
    let mut tx = store.begin(tenant).await?;
    let reserved = tx.reserve_pin_attempt(user, PIN_ATTEMPTS, now + PIN_LOCK, now).await?;
    let Some((pin_hash, failures)) = reserved else {
        let stored = tx.staff_pin(user).await?;
        tx.commit().await?;
        return Ok(Err(match stored.and_then(|s| s.locked_until) {
            Some(until) => PinError::Locked(until),
            None => PinError::NotSet,
        }));
    };
    tx.commit().await?;
    if verify_secret_off_thread(pin, &pin_hash).await {
        let mut tx = store.begin(tenant).await?;
        tx.clear_pin_failures(user, now).await?;
        tx.commit().await?;
        return Ok(Ok(()));
    }
    Ok(Err(if failures >= PIN_ATTEMPTS { PinError::WrongNowLocked(now + PIN_LOCK) } else { PinError::Wrong }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify_only_the_right_secret() {
        let a = hash_secret("kopi susu gula aren").unwrap();
        let b = hash_secret("kopi susu gula aren").unwrap();
        assert!(a.starts_with("$argon2id$") && a != b, "salted: {a}");
        assert!(verify_secret("kopi susu gula aren", &a));
        assert!(!verify_secret("kopi susu gula arem", &a));
        assert!(!verify_secret("anything", "not a phc string"));
        assert!(!verify_secret("anything", decoy_hash()));
    }
}
