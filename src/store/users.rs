//! Who may sign in: dashboard users, their staff PINs and revoked tokens. One of the
//! aggregate traits `TenantTx` joins.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StaffPinRecord, StoreResult, TenantScoped, UserRecord};
use crate::domain::UserId;

#[async_trait]
pub trait UserOps: TenantScoped + Send {
    /// Inserts unless the e-mail is taken in the tenant; returns whether it inserted.
    async fn insert_user(&mut self, user: &UserRecord) -> StoreResult<bool>;
    async fn user(&mut self, id: UserId) -> StoreResult<Option<UserRecord>>;
    async fn user_by_email_index(&mut self, index: &[u8]) -> StoreResult<Option<UserRecord>>;
    async fn users(&mut self) -> StoreResult<Vec<UserRecord>>;
    async fn disable_user(&mut self, id: UserId, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Sets (or replaces) a user's staff PIN hash and clears its failure count.
    async fn set_staff_pin(&mut self, user: UserId, pin_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn staff_pin(&mut self, user: UserId) -> StoreResult<Option<StaffPinRecord>>;
    /// Counts one unlock attempt before the PIN is checked, in one statement, so concurrent
    /// attempts cannot all read the same count. The `max`-th attempt in a row sets the lock to
    /// `lock_until`; an attempt while locked is not counted and gives `None`, as does no PIN.
    /// Returns the PIN hash and the attempts in a row so far.
    async fn reserve_pin_attempt(
        &mut self,
        user: UserId,
        max: i32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(String, i32)>>;
    /// After a right PIN: no failures, no lock.
    async fn clear_pin_failures(&mut self, user: UserId, now: DateTime<Utc>) -> StoreResult<()>;

    /// Records a revoked token id until its expiry; false if it was revoked already.
    async fn revoke_token(&mut self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool>;
}

/// `UserOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each
/// backend in `sqlite.rs` and `postgres.rs`.
macro_rules! user_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::UserOps for $ty {
            async fn insert_user(&mut self, u: &UserRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO users (id, tenant_id, email_index, email_enc, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
                    .bind(u.id).bind(self.tenant).bind(&u.email_index).bind(&u.email_enc).bind(&u.role).bind(&u.password_hash)
                    .bind($time(u.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn user(&mut self, id: UserId) -> StoreResult<Option<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn user_by_email_index(&mut self, index: &[u8]) -> StoreResult<Option<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND email_index = $2")
                    .bind(self.tenant).bind(index).fetch_optional(&mut *self.tx).await?)
            }

            async fn users(&mut self) -> StoreResult<Vec<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn disable_user(&mut self, id: UserId, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE users SET disabled_at = $3 WHERE tenant_id = $1 AND id = $2 AND disabled_at IS NULL")
                    .bind(self.tenant).bind(id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_staff_pin(&mut self, user: UserId, pin_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO staff_pins (user_id, tenant_id, pin_hash, failures, locked_until, updated_at) VALUES ($2, $1, $3, 0, NULL, $4) ON CONFLICT (user_id) DO UPDATE SET pin_hash = $3, failures = 0, locked_until = NULL, updated_at = $4")
                    .bind(self.tenant).bind(user).bind(pin_hash).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn staff_pin(&mut self, user: UserId) -> StoreResult<Option<StaffPinRecord>> {
                Ok(sqlx::query_as("SELECT * FROM staff_pins WHERE tenant_id = $1 AND user_id = $2")
                    .bind(self.tenant).bind(user).fetch_optional(&mut *self.tx).await?)
            }

            async fn reserve_pin_attempt(&mut self, user: UserId, max: i32, lock_until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<Option<(String, i32)>> {
                // A row that passes the WHERE with a lock set has an expired lock: count from 1 again.
                Ok(sqlx::query_as("UPDATE staff_pins SET \
                    failures = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END, \
                    locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END) >= $3 THEN $4 ELSE NULL END, \
                    updated_at = $5 \
                    WHERE tenant_id = $1 AND user_id = $2 AND (locked_until IS NULL OR locked_until <= $5) \
                    RETURNING pin_hash, failures")
                    .bind(self.tenant).bind(user).bind(max).bind($time(lock_until)).bind($time(now))
                    .fetch_optional(&mut *self.tx).await?)
            }

            async fn clear_pin_failures(&mut self, user: UserId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE staff_pins SET failures = 0, locked_until = NULL, updated_at = $3 WHERE tenant_id = $1 AND user_id = $2")
                    .bind(self.tenant).bind(user).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn revoke_token(&mut self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO revoked_tokens (jti, tenant_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, jti) DO NOTHING")
                    .bind(jti).bind(self.tenant).bind($time(now)).bind($time(expires_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
                let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM revoked_tokens WHERE tenant_id = $1 AND jti = $2")
                    .bind(self.tenant).bind(jti).fetch_optional(&mut *self.tx).await?;
                Ok(found.is_some())
            }
        }
    };
}
