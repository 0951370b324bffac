//! The store operations behind privacy work: erasure, correction, STOP, data-subject requests,
//! retention, tenant cancellation and master-key rotation. A supertrait of `TenantTx`, so the
//! same transaction (and its tenant scope) carries them.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreResult, TenantScoped};
use crate::domain::{ContactId, Direction, DsarId};

/// What an erasure deleted, by table; the audit keeps these counts and nothing identifying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasedRows {
    pub messages: u64,
    pub conversations: u64,
    pub escalations: u64,
    pub owner_messages: u64,
    pub jobs: u64,
    pub requests_unlinked: u64,
}

/// A count of deleted rows for one UTC day, folded into `activity_counts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    pub day: String,
    pub metric: &'static str,
    pub count: i64,
}

/// New values for a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactCorrection {
    /// The new name's ciphertext, or `Some(None)` to remove the name.
    pub name_enc: Option<Option<String>>,
    /// The new phone number's blind index and ciphertext.
    pub phone: Option<(Vec<u8>, String)>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DsarRecord {
    pub id: DsarId,
    #[serde(skip)]
    pub tenant_id: crate::domain::TenantId,
    /// Cleared when the contact is erased.
    pub contact_id: Option<ContactId>,
    pub kind: crate::privacy::requests::DsarKind,
    /// `whatsapp`, `api` or `cli`.
    pub source: String,
    pub status: crate::privacy::requests::DsarStatus,
    pub received_at: DateTime<Utc>,
    pub acknowledge_by: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditCheckpoint {
    pub through_seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    pub purged_rows: i64,
}

/// What a retention pass deleted in one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgedContent {
    pub messages: u64,
    pub owner_messages: u64,
    pub escalations: u64,
    pub jobs: u64,
}

#[async_trait]
pub trait PrivacyOps: TenantScoped + Send {
    /// Direction and time of every message of one contact, for the anonymous day counts.
    async fn message_times_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<(Direction, DateTime<Utc>)>>;
    /// The contact, locked until commit where the backend has row locks, so a webhook for
    /// them waits for the erasure instead of failing half-way.
    async fn lock_contact(&mut self, id: ContactId) -> StoreResult<Option<crate::store::ContactRecord>>;
    /// Deletes the contact's messages, conversations, tickets, owner messages about them and
    /// their pending jobs, then the contact row with its wrapped key and blind indexes.
    async fn erase_contact_rows(&mut self, contact: ContactId) -> StoreResult<ErasedRows>;
    /// Drops the text of every `daftar` answer and digest: they name or quote several customers
    /// under the tenant key.
    async fn clear_owner_answers(&mut self) -> StoreResult<u64>;
    async fn add_activity_counts(&mut self, counts: &[ActivityCount]) -> StoreResult<()>;
    async fn activity_counts(&mut self) -> StoreResult<Vec<(String, String, i64)>>;

    /// Applies a correction; false when there is no such contact.
    async fn correct_contact(
        &mut self,
        id: ContactId,
        fix: &ContactCorrection,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Sets or clears the STOP flag; returns whether it changed.
    async fn set_bot_stopped(&mut self, id: ContactId, at: Option<DateTime<Utc>>) -> StoreResult<bool>;

    async fn insert_dsar(&mut self, request: &DsarRecord) -> StoreResult<()>;
    async fn dsar(&mut self, id: DsarId) -> StoreResult<Option<DsarRecord>>;
    /// Pending requests first (earliest deadline first), then closed ones, newest first.
    async fn dsars(&mut self, pending_only: bool, limit: i64) -> StoreResult<Vec<DsarRecord>>;
    /// An open request of this kind for this contact, so a repeated message opens no second one.
    async fn open_dsar_of(
        &mut self,
        contact: ContactId,
        kind: crate::privacy::requests::DsarKind,
    ) -> StoreResult<Option<DsarRecord>>;
    async fn update_dsar(&mut self, request: &DsarRecord) -> StoreResult<()>;

    /// Deletes messages, owner messages and closed tickets older than `cutoff`.
    /// Brings back a finished or dead job of this kind and subject; false when there is none.
    async fn requeue_job(&mut self, kind: &str, subject: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn purge_content_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<PurgedContent>;
    /// Opening times of the closed tickets `purge_content_before` would delete.
    async fn escalation_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<DateTime<Utc>>>;
    async fn message_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<(Direction, DateTime<Utc>)>>;
    async fn purge_llm_usage_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// Finished and dead jobs and expired token revocations: technical records, no content.
    async fn purge_technical_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// The last audit row older than `cutoff` whose successors are all at or after it.
    async fn audit_seq_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Option<i64>>;
    /// Deletes the audit rows up to `through_seq` and records the checkpoint; returns the count.
    async fn purge_audit_through(&mut self, through_seq: i64, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn latest_audit_checkpoint(&mut self) -> StoreResult<Option<AuditCheckpoint>>;

    /// Marks an active tenant cancelled and stops routing its webhooks; false if it was not active.
    async fn cancel_tenant(&mut self, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes every row of the tenant but the audit and its route, and destroys its wrapped key.
    async fn purge_tenant(&mut self) -> StoreResult<u64>;

    async fn contact_count(&mut self) -> StoreResult<i64>;
    /// Contact ids and wrapped keys after `after` in id order, for key rotation.
    async fn wrapped_contact_keys(
        &mut self,
        after: Option<ContactId>,
        limit: i64,
    ) -> StoreResult<Vec<(ContactId, String)>>;
    /// Replaces a wrapped key only if it is still `old`; false when a writer changed it first.
    async fn rewrap_contact_key(&mut self, id: ContactId, old: &str, new: &str) -> StoreResult<bool>;
    async fn rewrap_tenant_key(&mut self, old: &str, new: &str) -> StoreResult<bool>;
}
