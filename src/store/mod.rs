//! Persistence. `Store` is the pool; `TenantTx` is one transaction scoped to one tenant.
//!
//! The use-case logic (ingest, worker steps) is written once against these traits; the two
//! backends only translate each small operation into SQL. On PostgreSQL every `TenantTx`
//! begins with `set_config('app.tenant_id', …, true)` so row-level security applies.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ChannelId, ContactId, ConversationId, DsarId, EscalationId, JobId, KbEntryId, MessageId, OwnerId, OwnerMessageId,
    TenantId, UserId,
};

#[macro_use]
mod common;
#[macro_use]
mod privacy_sql;
#[macro_use]
mod reporting_sql;
#[macro_use]
mod analytics_sql;
#[macro_use]
mod chats_sql;
mod analytics;
mod chats;
mod ingest;
pub mod postgres;
mod privacy;
mod records;
mod reporting;
pub mod sqlite;

pub use analytics::*;
pub use chats::*;
pub use ingest::*;
pub use privacy::*;
pub use records::*;
pub use reporting::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be decrypted: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// A configuration error: a setting or key that is missing or malformed.
    #[error("{0}")]
    Config(String),
    /// A broken invariant: a row that must exist is gone, or a value could not be encoded.
    #[error("{0}")]
    Invariant(String),
    /// The channel's route is gone (its business was cancelled) since it was loaded.
    #[error("the channel is no longer routed")]
    ChannelGone,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Pool-level statements that read the same on both backends.
mod shared_sql {
    pub const ROUTE_TENANT: &str = "SELECT tenant_id FROM tenant_routes WHERE slug = $1";
    pub const ROUTE_CHANNEL: &str = "SELECT channel_id, tenant_id, provider FROM channel_routes WHERE channel_id = $1";
    pub const RELEASE_JOBS: &str = "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, attempts = attempts - 1 \
                                    WHERE locked_by = $1 AND state = 'running'";
    pub const LIST_TENANTS: &str = "SELECT * FROM tenants ORDER BY created_at, id";
    pub const JOB_COUNTS: &str = "SELECT kind, CASE WHEN state = 'queued' AND run_at <= $1 THEN 'due' WHEN state = 'queued' THEN 'scheduled' ELSE state END AS state, COUNT(*) AS count \
                                  FROM jobs WHERE state <> 'done' GROUP BY 1, 2 ORDER BY 1, 2";
    pub const TENANT_IDS: &str = "SELECT tenant_id FROM tenant_routes ORDER BY tenant_id";
    // In ON CONFLICT DO UPDATE every SET reads the old row, so both CASEs test the same window.
    pub const COUNT_LOGIN_ATTEMPT: &str = "INSERT INTO login_throttle (key, attempts, window_start) VALUES ($1, 1, $2) \
        ON CONFLICT (key) DO UPDATE SET \
        attempts = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.attempts + 1 END, \
        window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
        RETURNING attempts, window_start";
    pub const CLEAR_LOGIN_ATTEMPTS: &str = "DELETE FROM login_throttle WHERE key = $1";
    pub const FORGIVE_LOGIN_ATTEMPT: &str =
        "UPDATE login_throttle SET attempts = attempts - 1 WHERE key = $1 AND attempts > 0";
    pub const FORGET_LOGIN_ATTEMPTS: &str = "DELETE FROM login_throttle WHERE window_start < $1";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The audit keys a store hands to each new transaction; replaced when keys rotate.
#[derive(Default)]
pub(crate) struct AuditKeySlot(std::sync::RwLock<Option<Arc<crate::audit::AuditKeys>>>);

impl AuditKeySlot {
    fn get(&self) -> Option<Arc<crate::audit::AuditKeys>> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn set(&self, keys: Arc<crate::audit::AuditKeys>) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(keys);
    }
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

    /// Installs the `BALAS_AUDIT_KEY` keys every later transaction signs audit rows with.
    fn use_audit_keys(&self, keys: Arc<crate::audit::AuditKeys>);

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

    /// Leases the next runnable job (queued and due, or running with an expired lease) and
    /// returns it with its transaction still open, scoped to the job's tenant: the caller
    /// appends the claim's audit row and commits, so the lease and its audit row are one
    /// durable commit. `None` (nothing due) has already rolled back.
    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<(JobRecord, Box<dyn TenantTx>)>>;

    /// Leases up to `limit` runnable jobs at once, with no audit row: for tests that play a
    /// worker which dies holding them. Workers use `claim_next`.
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

    /// After an erasure: on SQLite, checkpoint and truncate the WAL so deleted pages (already
    /// zeroed by `secure_delete`) leave no copy in the log file; false when a reader kept it
    /// busy (the next checkpoint finishes the job). PostgreSQL relies on vacuum.
    async fn reclaim_deleted(&self) -> StoreResult<bool>;

    /// Jobs not done, by kind and state: `due` (queued and runnable), `scheduled` (queued for
    /// later), `running`, `dead`. For `/metrics`; the queue holds no personal data.
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, String, i64)>>;

    /// Every tenant id, from the routing table (no personal data, readable by the app role).
    async fn tenant_ids(&self) -> StoreResult<Vec<TenantId>>;

    /// Counts one login attempt under each key, in one transaction and shared by every instance.
    /// Each key has a fixed window: one that began at or before its `fresh_after` starts again
    /// at `now`. Returns each key's attempts and window start, in order.
    async fn count_login_attempts(
        &self,
        keys: &[(&[u8], DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, DateTime<Utc>)>>;

    /// After a good login: `clear` starts afresh and each of `forgive` takes one attempt back.
    async fn settle_login_attempts(&self, clear: &[u8], forgive: &[&[u8]]) -> StoreResult<()>;

    /// Drops the attempt windows that began before `before`.
    async fn forget_login_attempts(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    async fn close(&self);
}

/// One transaction in one tenant's scope. Dropping it without `commit` rolls back.
#[async_trait]
pub trait TenantTx: PrivacyOps + ReportingOps + AnalyticsOps + IngestOps + ChatOps + Send {
    fn tenant_id(&self) -> TenantId;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    /// Marks a point the transaction can return to; rolling back returns to the latest mark.
    async fn savepoint(&mut self) -> StoreResult<()>;
    /// Undoes everything since `savepoint`; the transaction goes on.
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;
    /// Keeps what was done since `savepoint` and forgets the mark (no nesting builds up).
    async fn release_savepoint(&mut self) -> StoreResult<()>;

    async fn insert_tenant(&mut self, tenant: &TenantRecord) -> StoreResult<()>;
    async fn update_tenant_settings(
        &mut self,
        name: &str,
        settings: &crate::tenants::TenantSettings,
    ) -> StoreResult<()>;
    async fn tenant(&mut self) -> StoreResult<Option<TenantRecord>>;

    async fn insert_channel(&mut self, channel: &ChannelRecord) -> StoreResult<()>;
    async fn channel(&mut self, id: ChannelId) -> StoreResult<Option<ChannelRecord>>;
    /// The distinct providers of the tenant's channels (no secrets), for the subprocessor list.
    async fn channel_providers(&mut self) -> StoreResult<Vec<String>>;

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

    /// The open conversation of a contact in one chat (`chat_index`; empty for the direct chat).
    async fn open_conversation(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
        chat: &[u8],
    ) -> StoreResult<Option<ConversationRecord>>;
    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Every conversation of one contact, oldest first.
    async fn conversations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<ConversationRecord>>;
    /// Newest activity first; `before` pages on `updated_at`.
    async fn conversations(
        &mut self,
        state: Option<&str>,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// Inserts unless the contact has an open conversation in that chat; returns whether it inserted.
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
    /// Notes what a running job is about to do (in `last_error`) and renews its lease until
    /// `lease_until`, only while `worker` holds it.
    async fn note_job(
        &mut self,
        id: JobId,
        worker: &str,
        note: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Marks the job done / rescheduled / dead, only while `worker` still holds its lease. Done
    /// clears `last_error`: a note such as `handing_over` is moot once the job finished.
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
    async fn escalations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<EscalationRecord>>;
    async fn escalation_by_number(&mut self, number: i32) -> StoreResult<Option<EscalationRecord>>;
    async fn open_escalation(&mut self, conversation: ConversationId) -> StoreResult<Option<EscalationRecord>>;
    /// Open tickets first (oldest first), then closed ones (newest first).
    async fn escalations(&mut self, open_only: bool, limit: i64) -> StoreResult<Vec<EscalationRecord>>;
    /// Writes the ticket's mutable fields.
    async fn update_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<()>;

    /// Inserts unless the provider id is already stored for the channel; returns whether it inserted.
    async fn insert_owner_message(&mut self, message: &OwnerMessageRecord) -> StoreResult<bool>;
    async fn owner_message(&mut self, id: OwnerMessageId) -> StoreResult<Option<OwnerMessageRecord>>;
    /// Messages to owners about one contact (notices, forwards, answers), oldest first.
    async fn owner_messages_about(&mut self, contact: ContactId) -> StoreResult<Vec<OwnerMessageRecord>>;
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

    async fn insert_llm_usage(&mut self, usage: &LlmUsage) -> StoreResult<()>;
    /// Prompt plus completion tokens used since `since`.
    async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Records that the owner was told about this month's exhausted budget; false if already.
    async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool>;

    /// The keys that sign this tenant's audit rows, as installed on the store.
    fn audit_keys(&self) -> Option<Arc<crate::audit::AuditKeys>>;
    /// The chain head, locked until commit so appends from concurrent transactions serialise.
    async fn lock_audit_head(&mut self) -> StoreResult<AuditHead>;
    async fn insert_audit_rows(&mut self, rows: &[AuditRow], head: &AuditHead) -> StoreResult<()>;
    async fn audit_rows_after(&mut self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    async fn audit_head(&mut self) -> StoreResult<Option<AuditHead>>;
}
