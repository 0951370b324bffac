//! Persistence. `Store` is the pool; `TenantTx` is one transaction scoped to one tenant.
//!
//! The transaction interface is split by aggregate, one trait per file: `TenantOps` (the
//! tenant, its channels, LLM usage), `KbOps`, `UserOps` (users, staff PINs, revoked tokens),
//! `ConversationOps` (contacts, conversations, messages), `JobOps`, `OwnerOps` (owners, tickets,
//! owner messages), `AuditOps`, `PrivacyOps`, `ReportingOps`, `AnalyticsOps`, `IngestOps`,
//! `ChatOps`, `MediaOps` and `WebhookOps`. Each extends `TenantScoped` (`tenant_id`). `TenantTx` adds only commit and
//! savepoints and is their union, so `Box<dyn TenantTx>` carries them all; a use case names
//! the traits it needs (`&mut dyn JobOps`, or `&mut (impl OwnerOps + JobOps + ?Sized)`), and a
//! `&mut dyn TenantTx` coerces to either.
//!
//! The use-case logic (ingest, worker steps) is written once against these traits; the two
//! backends only translate each small operation into SQL, written once per aggregate as a macro
//! in that aggregate's trait file and expanded in `sqlite.rs` and `postgres.rs`. On PostgreSQL
//! every `TenantTx` begins with `set_config('app.tenant_id', …, true)` so row-level security
//! applies.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ChannelId, ContactId, ConversationId, DsarId, EscalationId, JobId, KbEntryId, MessageId, OwnerId, OwnerMessageId,
    TenantId, UserId,
};

/// The transaction itself, the same on both backends: its tenant, commit and savepoints. The aggregate
/// traits it joins are each written once in their own trait file's SQL macro and expanded for each
/// backend, which passes its transaction type, how it binds a timestamp, and the few methods whose SQL
/// differs (`$specific`).  Every query names its tenant (`tenant_id = $1`), on SQLite because there is
/// no RLS and on PostgreSQL as a second fence next to it.
macro_rules! tenant_tx_impl {
    ($ty:ty) => {
        impl $crate::store::TenantScoped for $ty {
            fn tenant_id(&self) -> TenantId {
                self.tenant
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::TenantTx for $ty {
            async fn commit(self: Box<Self>) -> StoreResult<()> {
                Ok(self.tx.commit().await?)
            }

            async fn savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("ROLLBACK TO SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn release_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("RELEASE SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }
        }
    };
}

#[macro_use]
mod analytics;
#[macro_use]
mod audit;
#[macro_use]
mod chats;
#[macro_use]
mod conversations;
#[macro_use]
mod gaps;
mod ingest;
#[macro_use]
mod jobs;
#[macro_use]
mod kb;
#[macro_use]
mod media;
#[macro_use]
mod owners;
#[macro_use]
mod privacy;
mod records;
#[macro_use]
mod reporting;
#[macro_use]
mod subprocessors;
#[macro_use]
mod tenant;
#[macro_use]
mod users;
#[macro_use]
mod webhooks;
// After the trait files: each backend expands their SQL macros.
pub mod postgres;
pub mod sqlite;

pub use analytics::*;
pub use audit::*;
pub use chats::*;
pub use conversations::*;
pub use gaps::*;
pub use ingest::*;
pub use jobs::*;
pub use kb::*;
pub use media::*;
pub use owners::*;
pub use privacy::*;
pub use records::*;
pub use reporting::*;
pub use subprocessors::*;
pub use tenant::*;
pub use users::*;
pub use webhooks::*;

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

/// The tenant a transaction is scoped to: every aggregate trait extends it, so a use case that
/// names only `JobOps` can still stamp its rows with the tenant.
pub trait TenantScoped: Send {
    fn tenant_id(&self) -> TenantId;
}

/// One transaction in one tenant's scope. Dropping it without `commit` rolls back. Its own
/// methods end or mark the transaction; the operations are the aggregate traits it joins,
/// and a use case takes the narrowest of them it needs (`&mut dyn JobOps`, or a generic
/// over two or three), which a `&mut dyn TenantTx` coerces to.
#[async_trait]
pub trait TenantTx:
    TenantOps
    + KbOps
    + UserOps
    + ConversationOps
    + JobOps
    + OwnerOps
    + AuditOps
    + PrivacyOps
    + ReportingOps
    + AnalyticsOps
    + IngestOps
    + ChatOps
    + MediaOps
    + WebhookOps
    + GapOps
    + SubprocessorOps
    + TenantScoped
    + Send
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    /// Marks a point the transaction can return to; rolling back returns to the latest mark.
    async fn savepoint(&mut self) -> StoreResult<()>;
    /// Undoes everything since `savepoint`; the transaction goes on.
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;
    /// Keeps what was done since `savepoint` and forgets the mark (no nesting builds up).
    async fn release_savepoint(&mut self) -> StoreResult<()>;
}
