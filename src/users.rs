//! Users of the owner API and dashboard: argon2id password hashes, e-mails found by blind
//! index, and the password check behind `POST /api/v1/auth/login`.
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::json;

use crate::api::auth::Role;
use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::domain::{TenantId, UserId};
use crate::store::{Store, StoreError, StoreResult, UserRecord};
use crate::tenants;

/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An argon2id PHC string with a fresh 16-byte salt.
pub fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| StoreError::Config("salt".into()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| StoreError::Config("the password could not be hashed".into()))
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

/// Who to create: the login e-mail, the role and the password (hashed here, never stored).
pub struct NewUser<'a> {
    pub email: &'a str,
    pub role: Role,
    pub password: &'a str,
}

/// Creates a user; the e-mail is kept encrypted and the audit row names only the role.
pub async fn create(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    new: NewUser<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<UserRecord> {
    let NewUser { email, role, password } = new;
    let email = email.trim();
    if email.parse::<lettre::Address>().is_err() {
        return Err(StoreError::Config("that is not an e-mail address".into()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::Config(format!("passwords need at least {MIN_PASSWORD_CHARS} characters")));
    }
    let mut tx = store.begin(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let user = UserRecord {
        id: UserId::new(),
        tenant_id: tenant,
        email_index: keys.index.email(tenant, email),
        email_enc: key.encrypt(&email.to_lowercase()),
        role: role.as_str().into(),
        password_hash: hash_secret(password)?,
        created_at: now,
        disabled_at: None,
    };
    if !tx.insert_user(&user).await? {
        return Err(StoreError::Config("a user with this e-mail exists in the tenant".into()));
    }
    let entry =
        AuditEntry::new(actor, "user.created", "user", Some(user.id.to_string())).detail(json!({ "role": user.role }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(user)
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
    #[error("too many wrong PINs; locked until {0}")]
    Locked(DateTime<Utc>),
}

/// Sets the caller's staff PIN (4–8 digits), hashed apart from the password.
pub async fn set_pin(
    tx: &mut dyn crate::store::TenantTx,
    user: UserId,
    pin: &str,
    now: DateTime<Utc>,
) -> StoreResult<Result<(), PinError>> {
    if !(4..=8).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Ok(Err(PinError::Malformed));
    }
    tx.set_staff_pin(user, &hash_secret(pin)?, now).await?;
    Ok(Ok(()))
}

/// Checks a quick-unlock PIN for the dashboard. Five wrong PINs in a row lock it for 15 minutes,
/// whatever is typed meanwhile; a right PIN clears the count.
pub async fn unlock_with_pin(
    tx: &mut dyn crate::store::TenantTx,
    user: UserId,
    pin: &str,
    now: DateTime<Utc>,
) -> StoreResult<Result<(), PinError>> {
    let Some(stored) = tx.staff_pin(user).await? else { return Ok(Err(PinError::NotSet)) };
    if let Some(until) = stored.locked_until.filter(|until| *until > now) {
        return Ok(Err(PinError::Locked(until)));
    }
    if verify_secret(pin, &stored.pin_hash) {
        tx.record_pin_attempt(user, 0, None, now).await?;
        return Ok(Ok(()));
    }
    let failures = stored.failures + 1;
    let lock = (failures >= PIN_ATTEMPTS).then(|| now + PIN_LOCK);
    tx.record_pin_attempt(user, if lock.is_some() { 0 } else { failures }, lock, now).await?;
    Ok(Err(lock.map_or(PinError::Wrong, PinError::Locked)))
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
