//! PostgreSQL backend: row-level security per tenant, `FOR UPDATE SKIP LOCKED` job claims,
//! and a migration step that grants the app role only what it needs.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::*;

mod ingest;
mod nodelay;

/// Tables the app role may read and write; `audit_log` is insert-and-select only.
const APP_TABLES: &[&str] = &[
    "tenants",
    "channels",
    "channel_routes",
    "channel_templates",
    "template_sends",
    "media_objects",
    "kb_entries",
    "contacts",
    "conversations",
    "messages",
    "jobs",
    "audit_heads",
    "llm_usage",
    "owners",
    "escalations",
    "owner_messages",
    "users",
    "staff_pins",
    "revoked_tokens",
    "tenant_routes",
    "dsar_requests",
    "activity_counts",
    "analytics_conversation_days",
    "analytics_tickets",
    "analytics_days",
    "analytics_weeks",
    "analytics_state",
    "chat_reviews",
    "login_throttle",
    "webhook_endpoints",
    "webhook_deliveries",
    "knowledge_gaps",
    "kb_entry_versions",
    "tenant_subprocessors",
    "subprocessor_changes",
];

pub struct PgStore {
    pool: PgPool,
    audit_keys: AuditKeySlot,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse()?;
        // Over a Unix socket there is no Nagle to turn off.
        let tcp_port = options.get_socket().is_none().then(|| options.get_port());
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |_connection, _meta| {
                Box::pin(async move {
                    if let Some(port) = tcp_port
                        && let Err(e) = nodelay::set_on_connections_to(port)
                    {
                        tracing::warn!(error = %e, "could not turn Nagle's algorithm off on database connections");
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, audit_keys: AuditKeySlot::default() })
    }
}

impl PgStore {
    /// Every tenant transaction starts by scoping row-level security to its tenant.
    /// Begin and scope go as one simple query: one round trip fewer for every transaction. The
    /// tenant id is a UUID rendered by its type, so formatting it into the text is safe.
    async fn begin_with(&self, tenant: TenantId, begin: &'static str) -> StoreResult<Box<dyn TenantTx>> {
        let statement = format!("{begin}; SELECT set_config('app.tenant_id', '{}', true)", tenant.0.hyphenated());
        let tx = self.pool.begin_with(sqlx::AssertSqlSafe(statement)).await?;
        Ok(Box::new(PgTx { tx, tenant, audit_keys: self.audit_keys.get() }))
    }
}

/// Leases up to `$4` runnable jobs to worker `$1` at `$2` until `$3`; returns the jobs.
const CLAIM_JOBS: &str = "WITH next AS ( \
        SELECT id FROM jobs \
        WHERE (state = 'queued' AND run_at <= $2) OR (state = 'running' AND locked_until < $2) \
        ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, locked_by = $1, locked_until = $3, updated_at = $2 \
     FROM next WHERE j.id = next.id \
     RETURNING j.*";

fn pg_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

/// Role names go into GRANT statements, which take no bind parameters: allow plain names only.
fn checked_role(role: &str) -> StoreResult<&str> {
    let ok = !role.is_empty()
        && role.len() <= 63
        && role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !role.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(role)
    } else {
        Err(StoreError::Config(format!("app role name {role:?} must be lowercase letters, digits and underscores")))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn use_audit_keys(&self, keys: Arc<crate::audit::AuditKeys>) {
        self.audit_keys.set(keys);
    }

    async fn migrate(&self, app_role: Option<&str>) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await?;
        let Some(role) = app_role else { return Ok(()) };
        let role = checked_role(role)?;
        let (me,): (String,) = sqlx::query_as("SELECT current_user::text").fetch_one(&self.pool).await?;
        if me == role {
            return Err(StoreError::Config(format!(
                "BALAS_DATABASE_URL and BALAS_DATABASE_OWNER_URL both use role {role:?}; the app must connect as a role that does not own the tables"
            )));
        }
        let mut tx = self.pool.begin().await?;
        let statements = [
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {role}", APP_TABLES.join(", ")),
            format!("REVOKE ALL ON audit_log FROM {role}"),
            format!("GRANT SELECT, INSERT ON audit_log TO {role}"),
            format!("GRANT SELECT ON audit_checkpoints TO {role}"),
            format!("GRANT EXECUTE ON FUNCTION balas_purge_audit(bigint) TO {role}"),
        ];
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn check_app_role(&self) -> StoreResult<()> {
        let (name, superuser, bypass, owns): (String, bool, bool, bool) = sqlx::query_as(
            "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, \
             EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = 'public' AND t.tableowner = current_user) \
             FROM pg_roles r WHERE r.rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        let problem = if superuser {
            "is a superuser"
        } else if bypass {
            "has BYPASSRLS"
        } else if owns {
            "owns the tables"
        } else {
            return Ok(());
        };
        Err(StoreError::Config(format!(
            "BALAS_DATABASE_URL connects as role {name:?}, which {problem}: row-level security would not protect tenants. \
             Connect as a separate app role and run `balas migrate` with BALAS_DATABASE_OWNER_URL to grant it."
        )))
    }

    async fn begin(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        self.begin_with(tenant, "BEGIN").await
    }

    async fn begin_read(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        self.begin_with(tenant, "BEGIN READ ONLY").await
    }

    async fn route_tenant(&self, slug: &str) -> StoreResult<Option<TenantId>> {
        Ok(sqlx::query_scalar(shared_sql::ROUTE_TENANT).bind(slug).fetch_optional(&self.pool).await?)
    }

    async fn route_channel(&self, channel: ChannelId) -> StoreResult<Option<ChannelRoute>> {
        Ok(sqlx::query_as(shared_sql::ROUTE_CHANNEL).bind(channel).fetch_optional(&self.pool).await?)
    }

    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<(JobRecord, Box<dyn TenantTx>)>> {
        let mut tx = self.pool.begin().await?;
        // `jobs` has no RLS (ids and states only); the tenant scope is set once the job is known.
        let job: Option<JobRecord> = sqlx::query_as(CLAIM_JOBS)
            .bind(worker)
            .bind(now)
            .bind(lease_until)
            .bind(1i64)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = job else {
            tx.rollback().await?;
            return Ok(None);
        };
        let tenant = job.tenant_id;
        Ok(Some((job, Box::new(PgTx::scoped(tx, tenant, self.audit_keys.get()).await?))))
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedJob>> {
        Ok(sqlx::query_as(CLAIM_JOBS)
            .bind(worker)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn release_jobs(&self, worker: &str) -> StoreResult<u64> {
        let done = sqlx::query(shared_sql::RELEASE_JOBS).bind(worker).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        Ok(sqlx::query_as(shared_sql::LIST_TENANTS).fetch_all(&self.pool).await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn reclaim_deleted(&self) -> StoreResult<bool> {
        Ok(true)
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(shared_sql::JOB_COUNTS).bind(now).fetch_all(&self.pool).await?)
    }

    async fn tenant_ids(&self) -> StoreResult<Vec<TenantId>> {
        Ok(sqlx::query_scalar(shared_sql::TENANT_IDS).fetch_all(&self.pool).await?)
    }

    async fn count_login_attempts(
        &self,
        keys: &[(&[u8], DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        let mut tx = self.pool.begin().await?;
        let mut counts = Vec::with_capacity(keys.len());
        for (key, fresh_after) in keys {
            let row: (i64, DateTime<Utc>) = sqlx::query_as(shared_sql::COUNT_LOGIN_ATTEMPT)
                .bind(*key)
                .bind(now)
                .bind(*fresh_after)
                .fetch_one(&mut *tx)
                .await?;
            counts.push(row);
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn settle_login_attempts(&self, clear: &[u8], forgive: &[&[u8]]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(shared_sql::CLEAR_LOGIN_ATTEMPTS).bind(clear).execute(&mut *tx).await?;
        for key in forgive {
            sqlx::query(shared_sql::FORGIVE_LOGIN_ATTEMPT).bind(*key).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn forget_login_attempts(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(shared_sql::FORGET_LOGIN_ATTEMPTS).bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
    tenant: TenantId,
    audit_keys: Option<Arc<crate::audit::AuditKeys>>,
}

impl PgTx {
    /// Scopes row-level security to `tenant` for the rest of the transaction.
    async fn scoped(
        mut tx: sqlx::Transaction<'static, Postgres>,
        tenant: TenantId,
        audit_keys: Option<Arc<crate::audit::AuditKeys>>,
    ) -> StoreResult<Self> {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(tenant.to_string()).execute(&mut *tx).await?;
        Ok(Self { tx, tenant, audit_keys })
    }
}

tenant_tx_impl!(PgTx);
tenant_ops_impl!(PgTx, time = pg_time);
kb_ops_impl!(PgTx, time = pg_time);
user_ops_impl!(PgTx, time = pg_time);
conversation_ops_impl!(PgTx, time = pg_time);
job_ops_impl!(PgTx, time = pg_time);

owner_ops_impl!(PgTx, time = pg_time, {
    async fn lock_escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>> {
        Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
            .bind(self.tenant)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }
});

audit_ops_impl!(PgTx, {
    fn audit_keys(&self) -> Option<Arc<crate::audit::AuditKeys>> {
        self.audit_keys.clone()
    }

    async fn insert_audit_rows(&mut self, rows: &[AuditRow], head: &AuditHead) -> StoreResult<()> {
        // Arrays keep one statement text for any row count, so it stays prepared (see `ingest`).
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject_type, subject_id, detail, prev_hash, hash, key_id) \
             SELECT $1, seq, at, actor, action, subject_type, subject_id, detail, prev_hash, hash, key_id \
             FROM UNNEST($2::int8[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
             AS a(seq, at, actor, action, subject_type, subject_id, detail, prev_hash, hash, key_id)",
        )
        .bind(self.tenant)
        .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject_id.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.prev_hash.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.key_id.as_deref()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("UPDATE audit_heads SET seq = $2, hash = $3, key_id = $4 WHERE tenant_id = $1")
            .bind(self.tenant)
            .bind(head.seq)
            .bind(&head.hash)
            .bind(&head.key_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn lock_audit_head(&mut self) -> StoreResult<AuditHead> {
        sqlx::query("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING")
            .bind(self.tenant)
            .bind(crate::audit::GENESIS_HASH)
            .execute(&mut *self.tx)
            .await?;
        // The row lock serialises concurrent appends to this tenant's chain until commit.
        Ok(sqlx::query_as("SELECT seq, hash, key_id FROM audit_heads WHERE tenant_id = $1 FOR UPDATE")
            .bind(self.tenant)
            .fetch_one(&mut *self.tx)
            .await?)
    }
});

privacy_ops_impl!(PgTx, time = pg_time, {
    async fn lock_contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>> {
        Ok(sqlx::query_as("SELECT * FROM contacts WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
            .bind(self.tenant)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn purge_audit_through(&mut self, through_seq: i64, _now: DateTime<Utc>) -> StoreResult<u64> {
        // The app role may not delete audit rows; this owner-defined function, which checks
        // their age against the database clock, is the one way.
        let purged: i64 =
            sqlx::query_scalar("SELECT balas_purge_audit($1)").bind(through_seq).fetch_one(&mut *self.tx).await?;
        Ok(purged.max(0) as u64)
    }
});

chat_ops_impl!(PgTx);
media_ops_impl!(PgTx, time = pg_time);
webhook_ops_impl!(PgTx, time = pg_time);
gap_ops_impl!(PgTx, time = pg_time);
subprocessor_ops_impl!(PgTx, time = pg_time);
reporting_ops_impl!(PgTx, time = pg_time);

// A hash of the distinct customers beats COUNT(DISTINCT)'s sort (a busy tenant's year: 40 ms, not 56 ms).
analytics_ops_impl!(
    PgTx,
    time = pg_time,
    distinct_customers = "SELECT COUNT(*) FROM (SELECT DISTINCT contact_id FROM analytics_conversation_days \
        WHERE tenant_id = $1 AND inbound > 0 AND day >= $2 AND day <= $3) customers"
);
