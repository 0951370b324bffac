//! One tenant's job rows: enqueue, read, note and finish under the worker's lease. Claiming
//! runs before a tenant is known, so it is on `Store`. One of the aggregate traits `TenantTx` joins.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{JobOutcome, JobRecord, StoreResult, TenantScoped};
use crate::domain::JobId;

#[async_trait]
pub trait JobOps: TenantScoped + Send {
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
}
