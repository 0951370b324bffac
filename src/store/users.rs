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
