//! One tenant's job rows: enqueue, read, note and finish under the worker's lease. Claiming
//! runs before a tenant is known, so it is on `Store`. One of the aggregate traits `TenantTx` joins.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{JobOutcome, JobRecord, StoreResult, TenantScoped};
use uuid::Uuid;

use crate::domain::JobId;
use crate::jobs::JobKind;

#[async_trait]
pub trait JobOps: TenantScoped + Send {
    /// Enqueues unless the same (kind, subject) job exists; returns whether it enqueued.
    async fn enqueue_job(&mut self, job: &JobRecord) -> StoreResult<bool>;
    async fn job(&mut self, id: JobId) -> StoreResult<Option<JobRecord>>;
    /// Runs a finished (kind, subject) job again from its first attempt, due now; returns
    /// whether there was one to run (a held reply's send, released).
    async fn rerun_job(&mut self, kind: JobKind, subject: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    /// The latest (kind, subject) job, if any.
    async fn job_of(&mut self, kind: JobKind, subject: Uuid) -> StoreResult<Option<JobRecord>>;
    /// Makes a queued (kind, subject) job due now; returns whether one was waiting.
    async fn wake_job(&mut self, kind: JobKind, subject: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
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
}

/// `JobOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each backend
/// in `sqlite.rs` and `postgres.rs`.
macro_rules! job_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::JobOps for $ty {
            async fn enqueue_job(&mut self, j: &JobRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO jobs (id, tenant_id, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING")
                    .bind(j.id).bind(self.tenant).bind(&j.kind).bind(j.subject_id).bind(&j.state).bind(j.attempts).bind(j.max_attempts)
                    .bind($time(j.run_at)).bind(&j.locked_by).bind(j.locked_until.map($time)).bind(&j.last_error)
                    .bind($time(j.created_at)).bind($time(j.updated_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job(&mut self, id: JobId) -> StoreResult<Option<JobRecord>> {
                Ok(sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn rerun_job(&mut self, kind: $crate::jobs::JobKind, subject: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
                let sql = "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $4, locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = $4 WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3 AND state IN ('done', 'dead')";
                let done = sqlx::query(sql).bind(self.tenant).bind(&kind).bind(subject).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job_of(&mut self, kind: $crate::jobs::JobKind, subject: uuid::Uuid) -> StoreResult<Option<JobRecord>> {
                Ok(sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3 ORDER BY created_at DESC, id DESC LIMIT 1")
                    .bind(self.tenant).bind(&kind).bind(subject).fetch_optional(&mut *self.tx).await?)
            }

            async fn wake_job(&mut self, kind: $crate::jobs::JobKind, subject: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
                let sql = "UPDATE jobs SET run_at = $4, updated_at = $4 WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3 AND state = 'queued' AND run_at > $4";
                let done = sqlx::query(sql).bind(self.tenant).bind(&kind).bind(subject).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn note_job(&mut self, id: JobId, worker: &str, note: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> StoreResult<bool> {
                let sql = "UPDATE jobs SET last_error = $4, updated_at = $5, locked_until = $6 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'";
                let noted = sqlx::query(sql).bind(self.tenant).bind(id).bind(worker).bind(note).bind($time(now)).bind($time(lease_until))
                    .execute(&mut *self.tx).await?;
                Ok(noted.rows_affected() == 1)
            }

            async fn finish_job(&mut self, id: JobId, worker: &str, outcome: &JobOutcome<'_>, now: DateTime<Utc>) -> StoreResult<bool> {
                let (sql, run_at, error) = match outcome {
                    JobOutcome::Done => ("UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, updated_at = $4, last_error = NULL WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", None, None),
                    JobOutcome::Retry { run_at, error } => ("UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $4, run_at = $5, last_error = $6 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", Some(*run_at), Some(*error)),
                    JobOutcome::Dead { error } => ("UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, updated_at = $4, last_error = $5 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", None, Some(*error)),
                    JobOutcome::Later { run_at } => ("UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $4, run_at = $5, attempts = 0, last_error = NULL WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", Some(*run_at), None),
                };
                let mut query = sqlx::query(sql).bind(self.tenant).bind(id).bind(worker).bind($time(now));
                if let Some(run_at) = run_at {
                    query = query.bind($time(run_at));
                }
                if let Some(error) = error {
                    query = query.bind(error);
                }
                Ok(query.execute(&mut *self.tx).await?.rows_affected() == 1)
            }
        }
    };
}
