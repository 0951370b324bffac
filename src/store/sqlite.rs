//! SQLite backend: one writer connection (SQLite has one writer anyway; in-process
//! serialisation avoids busy errors) plus a small read pool. WAL, synchronous=FULL.
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous, SqliteTypeInfo,
};
use sqlx::{Encode, Sqlite, Type};

use super::*;

mod ingest;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    audit_keys: AuditKeySlot,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Deleted content is overwritten with zeros, so an erasure leaves no bytes behind.
            .pragma("secure_delete", "ON");
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_lazy_with(options.read_only(true));
        Ok(Self { writer, reader, audit_keys: AuditKeySlot::default() })
    }
}

/// Timestamps as fixed-width text (`2026-11-22T08:00:00.000000Z`) so that SQL string
/// comparison is time comparison; sqlx's own encoding varies the fraction width.
#[derive(Debug, Clone, Copy)]
pub struct SqlTime(DateTime<Utc>);

/// Leases up to `$4` runnable jobs to worker `$1` at `$2` until `$3`; returns the jobs.
const CLAIM_JOBS: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $3, updated_at = $2 \
     WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $2) OR (state = 'running' AND locked_until < $2) ORDER BY run_at, id LIMIT $4) \
     RETURNING *";

fn sql_time(t: DateTime<Utc>) -> SqlTime {
    SqlTime(t)
}

impl Type<Sqlite> for SqlTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for SqlTime {
    fn encode_by_ref(&self, buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), buf)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn use_audit_keys(&self, keys: Arc<crate::audit::AuditKeys>) {
        self.audit_keys.set(keys);
    }

    async fn migrate(&self, _app_role: Option<&str>) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite").run(&self.writer).await?;
        Ok(())
    }

    async fn check_app_role(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn begin(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteTx { tx, tenant, audit_keys: self.audit_keys.get() }))
    }

    async fn begin_read(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        let tx = self.reader.begin().await?;
        Ok(Box::new(SqliteTx { tx, tenant, audit_keys: self.audit_keys.get() }))
    }

    async fn route_tenant(&self, slug: &str) -> StoreResult<Option<TenantId>> {
        Ok(sqlx::query_scalar(shared_sql::ROUTE_TENANT).bind(slug).fetch_optional(&self.reader).await?)
    }

    async fn route_channel(&self, channel: ChannelId) -> StoreResult<Option<ChannelRoute>> {
        Ok(sqlx::query_as(shared_sql::ROUTE_CHANNEL).bind(channel).fetch_optional(&self.reader).await?)
    }

    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<(JobRecord, Box<dyn TenantTx>)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let job: Option<JobRecord> = sqlx::query_as(CLAIM_JOBS)
            .bind(worker)
            .bind(sql_time(now))
            .bind(sql_time(lease_until))
            .bind(1i64)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = job else {
            tx.rollback().await?;
            return Ok(None);
        };
        let tenant = job.tenant_id;
        Ok(Some((job, Box::new(SqliteTx { tx, tenant, audit_keys: self.audit_keys.get() }))))
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
            .bind(sql_time(now))
            .bind(sql_time(lease_until))
            .bind(limit)
            .fetch_all(&self.writer)
            .await?)
    }

    async fn release_jobs(&self, worker: &str) -> StoreResult<u64> {
        let done = sqlx::query(shared_sql::RELEASE_JOBS).bind(worker).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        Ok(sqlx::query_as(shared_sql::LIST_TENANTS).fetch_all(&self.reader).await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn reclaim_deleted(&self) -> StoreResult<bool> {
        // A busy checkpoint reports it in its row rather than as an error: retry briefly.
        for _ in 0..20 {
            let (busy, _, _): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.writer).await?;
            if busy == 0 {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(false)
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(shared_sql::JOB_COUNTS).bind(sql_time(now)).fetch_all(&self.reader).await?)
    }

    async fn tenant_ids(&self) -> StoreResult<Vec<TenantId>> {
        Ok(sqlx::query_scalar(shared_sql::TENANT_IDS).fetch_all(&self.reader).await?)
    }

    async fn count_login_attempts(
        &self,
        keys: &[(&[u8], DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut counts = Vec::with_capacity(keys.len());
        for (key, fresh_after) in keys {
            let row: (i64, DateTime<Utc>) = sqlx::query_as(shared_sql::COUNT_LOGIN_ATTEMPT)
                .bind(*key)
                .bind(sql_time(now))
                .bind(sql_time(*fresh_after))
                .fetch_one(&mut *tx)
                .await?;
            counts.push(row);
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn settle_login_attempts(&self, clear: &[u8], forgive: &[&[u8]]) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(shared_sql::CLEAR_LOGIN_ATTEMPTS).bind(clear).execute(&mut *tx).await?;
        for key in forgive {
            sqlx::query(shared_sql::FORGIVE_LOGIN_ATTEMPT).bind(*key).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn forget_login_attempts(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(shared_sql::FORGET_LOGIN_ATTEMPTS).bind(sql_time(before)).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
    tenant: TenantId,
    audit_keys: Option<Arc<crate::audit::AuditKeys>>,
}

tenant_tx_impl!(SqliteTx);
tenant_ops_impl!(SqliteTx, time = sql_time);
kb_ops_impl!(SqliteTx, time = sql_time);
user_ops_impl!(SqliteTx, time = sql_time);
conversation_ops_impl!(SqliteTx, time = sql_time);
job_ops_impl!(SqliteTx, time = sql_time);

owner_ops_impl!(SqliteTx, time = sql_time, {
    async fn lock_escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>> {
        // BEGIN IMMEDIATE already serialises writers.
        Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }
});

audit_ops_impl!(SqliteTx, {
    fn audit_keys(&self) -> Option<Arc<crate::audit::AuditKeys>> {
        self.audit_keys.clone()
    }

    async fn insert_audit_rows(&mut self, rows: &[AuditRow], head: &AuditHead) -> StoreResult<()> {
        // One statement per chunk: a shared ingest transaction appends hundreds of rows.
        let tenant = self.tenant;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject_type, subject_id, detail, prev_hash, hash, key_id) ",
            );
            insert.push_values(chunk, |mut row, r| {
                row.push_bind(tenant)
                    .push_bind(r.seq)
                    .push_bind(sql_time(r.at))
                    .push_bind(&r.actor)
                    .push_bind(&r.action)
                    .push_bind(&r.subject_type)
                    .push_bind(&r.subject_id)
                    .push_bind(&r.detail)
                    .push_bind(&r.prev_hash)
                    .push_bind(&r.hash)
                    .push_bind(&r.key_id);
            });
            insert.build().execute(&mut *self.tx).await?;
        }
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
        // BEGIN IMMEDIATE already holds the write lock; no row lock needed.
        sqlx::query("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING")
            .bind(self.tenant)
            .bind(crate::audit::GENESIS_HASH)
            .execute(&mut *self.tx)
            .await?;
        Ok(sqlx::query_as("SELECT seq, hash, key_id FROM audit_heads WHERE tenant_id = $1")
            .bind(self.tenant)
            .fetch_one(&mut *self.tx)
            .await?)
    }
});

privacy_ops_impl!(SqliteTx, time = sql_time, {
    async fn lock_contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>> {
        // BEGIN IMMEDIATE already serialises writers.
        Ok(sqlx::query_as("SELECT * FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn purge_audit_through(&mut self, through_seq: i64, now: DateTime<Utc>) -> StoreResult<u64> {
        let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2")
            .bind(self.tenant)
            .bind(through_seq)
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(hash) = hash else { return Ok(0) };
        // SQLite has no roles: the guard trigger is lifted for this one statement, inside the transaction.
        sqlx::query("DROP TRIGGER audit_log_no_delete").execute(&mut *self.tx).await?;
        let purged = sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq <= $2")
            .bind(self.tenant)
            .bind(through_seq)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        sqlx::query(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        )
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (tenant_id, through_seq, hash, at, purged_rows) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.tenant)
        .bind(through_seq)
        .bind(hash)
        .bind(sql_time(now))
        .bind(purged as i64)
        .execute(&mut *self.tx)
        .await?;
        Ok(purged)
    }
});

chat_ops_impl!(SqliteTx);
media_ops_impl!(SqliteTx, time = sql_time);
webhook_ops_impl!(SqliteTx, time = sql_time);
gap_ops_impl!(SqliteTx, time = sql_time);
subprocessor_ops_impl!(SqliteTx, time = sql_time);
reporting_ops_impl!(SqliteTx, time = sql_time);

// Over long ranges SQLite's planner would walk the day range and sort every row by customer;
// the partial index is already in customer order (a busy tenant's year: 24 ms, not 127 ms).
analytics_ops_impl!(
    SqliteTx,
    time = sql_time,
    distinct_customers = "SELECT COUNT(DISTINCT contact_id) FROM analytics_conversation_days INDEXED BY analytics_customer_days \
        WHERE tenant_id = $1 AND inbound > 0 AND day >= $2 AND day <= $3"
);
