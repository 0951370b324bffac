//! Persistence. `Store` is the pool; `TenantTx` is one transaction scoped to one tenant.
//!
//! The use-case logic (ingest, worker steps) is written once against these traits; the two
//! backends only translate each small operation into SQL. On PostgreSQL every `TenantTx`
//! begins with `set_config('app.tenant_id', …, true)` so row-level security applies.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    ChannelId, ContactId, ConversationId, EscalationId, JobId, KbEntryId, MessageId, OwnerId, OwnerMessageId, TenantId,
    UserId,
};

#[macro_use]
mod common;
pub mod postgres;
pub mod sqlite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be decrypted: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("{0}")]
    Config(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Pool-level statements that read the same on both backends.
mod shared_sql {
    pub const ROUTE_TENANT: &str = "SELECT tenant_id FROM tenant_routes WHERE slug = $1";
    pub const ROUTE_CHANNEL: &str = "SELECT channel_id, tenant_id, provider FROM channel_routes WHERE channel_id = $1";
    pub const RELEASE_JOBS: &str = "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, attempts = attempts - 1 \
                                    WHERE locked_by = $1 AND state = 'running'";
    pub const LIST_TENANTS: &str = "SELECT * FROM tenants ORDER BY created_at, id";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Opens the store named by the URL scheme: `sqlite://…` or `postgres://…`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::Config("BALAS_DATABASE_URL must start with sqlite:// or postgres://".into()))
    }
}

/// The pool-level operations: the only ones that run before a tenant is known.
#[async_trait]
pub trait Store: Send + Sync {
    fn backend(&self) -> Backend;

    /// Applies pending migrations. On PostgreSQL this must run as the schema owner and then
    /// grants the app role (`app_role`) exactly the privileges it needs.
    async fn migrate(&self, app_role: Option<&str>) -> StoreResult<()>;

    /// Refuses to serve through a PostgreSQL role that could bypass row-level security.
    async fn check_app_role(&self) -> StoreResult<()>;

    async fn begin(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>>;

    /// A read-only transaction: on SQLite it does not wait for the single writer, and on
    /// both backends any write through it fails.
    async fn begin_read(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>>;

    /// Tenant slug → tenant id (for login), through a table that holds no personal data.
    async fn route_tenant(&self, slug: &str) -> StoreResult<Option<TenantId>>;

    /// Channel id → tenant, through a table that holds no personal data.
    async fn route_channel(&self, channel: ChannelId) -> StoreResult<Option<ChannelRoute>>;

    /// Leases up to `limit` runnable jobs (queued and due, or running with an expired lease).
    async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// Hands a stopping worker's leased jobs back to the queue without counting an attempt.
    async fn release_jobs(&self, worker: &str) -> StoreResult<u64>;

    /// All tenants; on PostgreSQL this needs the owner URL (a role allowed to bypass RLS).
    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>>;

    async fn ping(&self) -> StoreResult<()>;

    async fn close(&self);
}

/// One transaction in one tenant's scope. Dropping it without `commit` rolls back.
#[async_trait]
pub trait TenantTx: Send {
    fn tenant_id(&self) -> TenantId;
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    async fn insert_tenant(&mut self, tenant: &TenantRecord) -> StoreResult<()>;
    async fn update_tenant_settings(
        &mut self,
        name: &str,
        settings: &crate::tenants::TenantSettings,
    ) -> StoreResult<()>;
    async fn tenant(&mut self) -> StoreResult<Option<TenantRecord>>;

    async fn insert_channel(&mut self, channel: &ChannelRecord) -> StoreResult<()>;
    async fn channel(&mut self, id: ChannelId) -> StoreResult<Option<ChannelRecord>>;

    async fn insert_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<()>;
    async fn kb_entries(&mut self) -> StoreResult<Vec<KbEntry>>;
    /// Rewrites an entry's question, answer and keywords; false when there is no such entry.
    async fn update_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<bool>;
    async fn delete_kb_entry(&mut self, id: KbEntryId) -> StoreResult<bool>;
    /// Deletes every FAQ entry of the tenant; returns how many there were.
    async fn clear_kb_entries(&mut self) -> StoreResult<u64>;

    async fn contact_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<ContactRecord>>;
    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>>;
    /// Inserts unless a contact with the same blind index exists; returns whether it inserted.
    async fn insert_contact(&mut self, contact: &ContactRecord) -> StoreResult<bool>;
    /// Links a newly learned identifier to a contact, only where the contact lacked it.
    async fn link_contact_identity(&mut self, id: ContactId, link: &IdentityLink) -> StoreResult<()>;

    async fn open_conversation(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
    ) -> StoreResult<Option<ConversationRecord>>;
    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Newest activity first; `before` pages on `updated_at`.
    async fn conversations(
        &mut self,
        state: Option<&str>,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// Inserts unless an open conversation exists for the pair; returns whether it inserted.
    async fn insert_conversation(&mut self, conversation: &ConversationRecord) -> StoreResult<bool>;
    /// Moves a conversation from state `from` to `to`; returns false if it was not in `from`
    /// (a concurrent transaction moved it first).
    async fn transition_conversation(
        &mut self,
        id: ConversationId,
        from: &str,
        to: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records an inbound message time; a new inbound also reopens a closed 24-hour window.
    async fn touch_conversation_inbound(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;
    /// The provider said the 24-hour window is closed: no free-form message reaches the customer.
    async fn mark_conversation_window_closed(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;

    async fn message_exists(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<bool>;
    /// Inserts unless the provider id is already stored for the channel (or the reply part
    /// already exists); returns whether it inserted.
    async fn insert_message(&mut self, message: &MessageRecord) -> StoreResult<bool>;
    async fn message(&mut self, id: MessageId) -> StoreResult<Option<MessageRecord>>;
    async fn replies_to(&mut self, inbound: MessageId) -> StoreResult<Vec<MessageRecord>>;
    /// The latest `limit` messages of a conversation, oldest first.
    async fn recent_messages(&mut self, conversation: ConversationId, limit: i64) -> StoreResult<Vec<MessageRecord>>;
    async fn outbound_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<MessageRecord>>;
    /// Moves the status forward only; returns whether it moved.
    async fn advance_message_status(&mut self, id: MessageId, update: &StatusChange<'_>) -> StoreResult<bool>;
    async fn set_provider_message_id(
        &mut self,
        id: MessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Enqueues unless the same (kind, subject) job exists; returns whether it enqueued.
    async fn enqueue_job(&mut self, job: &JobRecord) -> StoreResult<bool>;
    async fn job(&mut self, id: JobId) -> StoreResult<Option<JobRecord>>;
    /// Marks the job done / rescheduled / dead, only while `worker` still holds its lease.
    async fn finish_job(
        &mut self,
        id: JobId,
        worker: &str,
        outcome: &JobOutcome<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn insert_owner(&mut self, owner: &OwnerRecord) -> StoreResult<bool>;
    async fn owners(&mut self) -> StoreResult<Vec<OwnerRecord>>;
    async fn owner(&mut self, id: OwnerId) -> StoreResult<Option<OwnerRecord>>;
    /// Removes an owner number and the messages exchanged with it; false when there is none.
    async fn delete_owner(&mut self, id: OwnerId) -> StoreResult<bool>;
    async fn owner_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<OwnerRecord>>;
    /// Links a BSUID to an owner found by phone, unless the owner has one already.
    async fn link_owner_bsuid(&mut self, id: OwnerId, index: &[u8], bsuid_enc: &str) -> StoreResult<()>;
    /// An owner wrote to the business number: their own 24-hour window is open again.
    async fn touch_owner_inbound(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn mark_owner_window_closed(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;

    /// Takes the tenant's next ticket number (1, 2, …).
    async fn next_ticket_number(&mut self) -> StoreResult<i32>;
    /// Inserts unless the conversation already has an open ticket; returns whether it inserted.
    async fn insert_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<bool>;
    async fn escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    /// The ticket, locked until commit where the backend has row locks.
    async fn lock_escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    async fn escalation_by_number(&mut self, number: i32) -> StoreResult<Option<EscalationRecord>>;
    async fn open_escalation(&mut self, conversation: ConversationId) -> StoreResult<Option<EscalationRecord>>;
    /// Open tickets first (oldest first), then closed ones (newest first).
    async fn escalations(&mut self, open_only: bool, limit: i64) -> StoreResult<Vec<EscalationRecord>>;
    /// Writes the ticket's mutable fields.
    async fn update_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<()>;

    /// Inserts unless the provider id is already stored for the channel; returns whether it inserted.
    async fn insert_owner_message(&mut self, message: &OwnerMessageRecord) -> StoreResult<bool>;
    async fn owner_message(&mut self, id: OwnerMessageId) -> StoreResult<Option<OwnerMessageRecord>>;
    async fn owner_message_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<OwnerMessageRecord>>;
    async fn set_owner_message_sent(
        &mut self,
        id: OwnerMessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn advance_owner_message_status(
        &mut self,
        id: OwnerMessageId,
        update: &StatusChange<'_>,
    ) -> StoreResult<bool>;
    /// Drops a processed command's text: what it did is kept as messages and audit rows.
    async fn clear_owner_message_body(&mut self, id: OwnerMessageId, now: DateTime<Utc>) -> StoreResult<()>;

    /// Inserts unless the e-mail is taken in the tenant; returns whether it inserted.
    async fn insert_user(&mut self, user: &UserRecord) -> StoreResult<bool>;
    async fn user(&mut self, id: UserId) -> StoreResult<Option<UserRecord>>;
    async fn user_by_email_index(&mut self, index: &[u8]) -> StoreResult<Option<UserRecord>>;
    async fn users(&mut self) -> StoreResult<Vec<UserRecord>>;
    async fn disable_user(&mut self, id: UserId, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Sets (or replaces) a user's staff PIN hash and clears its failure count.
    async fn set_staff_pin(&mut self, user: UserId, pin_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn staff_pin(&mut self, user: UserId) -> StoreResult<Option<StaffPinRecord>>;
    /// Stores the failure count and lock after an unlock attempt.
    async fn record_pin_attempt(
        &mut self,
        user: UserId,
        failures: i32,
        locked_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Records a revoked token id until its expiry; false if it was revoked already.
    async fn revoke_token(&mut self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool>;

    async fn insert_llm_usage(&mut self, usage: &LlmUsage) -> StoreResult<()>;
    /// Prompt plus completion tokens used since `since`.
    async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Records that the owner was told about this month's exhausted budget; false if already.
    async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool>;

    /// The chain head, locked until commit so appends from concurrent transactions serialise.
    async fn lock_audit_head(&mut self) -> StoreResult<AuditHead>;
    async fn insert_audit_rows(&mut self, rows: &[AuditRow], head: &AuditHead) -> StoreResult<()>;
    async fn audit_rows_after(&mut self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    async fn audit_head(&mut self) -> StoreResult<Option<AuditHead>>;
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRoute {
    pub channel_id: ChannelId,
    pub tenant_id: TenantId,
    pub provider: String,
}

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: JobId,
    pub tenant_id: TenantId,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: String,
    /// The tenant's data key, wrapped by the master key.
    pub wrapped_key: String,
    #[sqlx(flatten)]
    pub settings: crate::tenants::TenantSettings,
    /// `YYYY-MM` of the last "budget used up" notice, so it is given once a month.
    pub budget_notice_month: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRecord {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub provider: String,
    /// The provider-side address of the business number (Meta phone number id, …).
    pub address: String,
    /// Provider secrets as JSON, encrypted with the tenant's data key.
    pub secrets_enc: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KbEntry {
    pub id: KbEntryId,
    pub tenant_id: TenantId,
    pub question: String,
    pub answer: String,
    /// Extra search terms, space separated.
    pub keywords: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRecord {
    pub id: ContactId,
    pub tenant_id: TenantId,
    /// The contact's own data key, wrapped; deleting it shreds the contact's content.
    pub wrapped_key: String,
    pub bsuid_index: Option<Vec<u8>>,
    pub phone_index: Option<Vec<u8>>,
    pub bsuid_enc: Option<String>,
    pub phone_enc: Option<String>,
    pub username_enc: Option<String>,
    pub name_enc: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which blind index to look a contact up by.
#[derive(Debug, Clone, Copy)]
pub enum IdentityIndex<'a> {
    Bsuid(&'a [u8]),
    Phone(&'a [u8]),
}

/// Identifier columns to fill on an existing contact (each only if still empty), or to
/// replace (`rekey_bsuid`) when Meta reports a changed BSUID.
#[derive(Debug, Clone, Default)]
pub struct IdentityLink {
    pub bsuid: Option<(Vec<u8>, String)>,
    pub phone: Option<(Vec<u8>, String)>,
    pub rekey_bsuid: bool,
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    pub state: String,
    pub escalation_reason: Option<String>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub window_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    /// `in` or `out`.
    pub direction: String,
    pub author: String,
    pub kind: String,
    /// Body encrypted with the contact's data key.
    pub body_enc: Option<String>,
    /// Media and group metadata as JSON, encrypted with the contact's data key.
    pub meta_enc: Option<String>,
    pub provider_message_id: Option<String>,
    /// For a reply: the inbound message it answers, and which part of a split body it is.
    pub reply_to: Option<MessageId>,
    pub part: i32,
    pub status: String,
    pub status_rank: i32,
    pub error_code: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Someone who may use the owner API or dashboard. The e-mail is a blind index (for login)
/// plus ciphertext under the tenant's key; the password is an argon2id PHC string.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email_index: Vec<u8>,
    pub email_enc: String,
    /// `owner`, `staff` or `analytics`.
    pub role: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A user's quick-unlock PIN for the dashboard: its own hash, apart from the password, and
/// a failure count that locks it (kept in the database so the lock holds across instances).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffPinRecord {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub pin_hash: String,
    pub failures: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A number (or WhatsApp account) of the business owner or their staff that receives notices
/// and may send commands. Identifiers are encrypted with the tenant's data key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerRecord {
    pub id: OwnerId,
    pub tenant_id: TenantId,
    pub phone_index: Option<Vec<u8>>,
    pub bsuid_index: Option<Vec<u8>>,
    pub phone_enc: Option<String>,
    pub bsuid_enc: Option<String>,
    pub email_enc: Option<String>,
    pub name_enc: Option<String>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub window_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A ticket: one escalation of one conversation, numbered per tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EscalationRecord {
    pub id: EscalationId,
    pub tenant_id: TenantId,
    pub number: i32,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub trigger_message_id: Option<MessageId>,
    pub reason: String,
    /// `open` (waiting for the owner), `human` (the owner is answering), `handed_back`, `resolved`.
    pub status: String,
    /// Summary and suggested reply for the owner, encrypted with the contact's key.
    pub summary_enc: Option<String>,
    pub draft_enc: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub renotified: i32,
    pub customer_notified_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub last_owner_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// A message to an owner (notice, forward, answer to a command) or from one (a command).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerMessageRecord {
    pub id: OwnerMessageId,
    pub tenant_id: TenantId,
    pub owner_id: OwnerId,
    pub channel_id: ChannelId,
    pub escalation_id: Option<EscalationId>,
    /// When set, the body is encrypted with this contact's key (erasing the contact shreds it);
    /// otherwise with the tenant's key.
    pub contact_id: Option<ContactId>,
    pub direction: String,
    /// `whatsapp` or `email`.
    pub route: String,
    /// `command`, `notice`, `reminder`, `forward`, `answer`, `undeliverable`.
    pub purpose: String,
    pub body_enc: Option<String>,
    pub provider_message_id: Option<String>,
    /// The provider id of the message an inbound command quote-replies to.
    pub quoted_provider_id: Option<String>,
    pub status: String,
    pub status_rank: i32,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StatusChange<'a> {
    pub status: &'a str,
    pub rank: i32,
    pub error_code: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub kind: String,
    pub subject_id: Uuid,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    /// An error class we wrote ourselves; never provider text or message content.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub enum JobOutcome<'a> {
    Done,
    Retry {
        run_at: DateTime<Utc>,
        error: &'a str,
    },
    Dead {
        error: &'a str,
    },
    /// Run again at `run_at` with a fresh attempt count: a timer that is not finished yet.
    Later {
        run_at: DateTime<Utc>,
    },
}

/// One LLM call, stored for analytics and budgets; no text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LlmUsage {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub message_id: Option<MessageId>,
    #[sqlx(flatten)]
    pub call: LlmCall,
    pub at: DateTime<Utc>,
}

/// What one call to one LLM endpoint cost and gave.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LlmCall {
    pub model: String,
    /// `replied`, `escalated`, or `malformed:<class>` / `unavailable:<class>`.
    pub outcome: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub latency_ms: i64,
    pub cost_micro_usd: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub tenant_id: TenantId,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    /// JSON text, stored byte for byte so the hash can be recomputed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}
