//! The durable jobs themselves: their kinds and states, how one fails, the retry backoff, and
//! the helpers that create and schedule them. The worker runs jobs; ingress, the owner loop,
//! privacy and analytics enqueue them. All of them take the job vocabulary from here, so none
//! has to reach into the worker for it.
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use uuid::Uuid;

use crate::domain::text_code::text_code;
use crate::domain::{JobId, TenantId};
use crate::store::{JobOutcome, JobRecord, Store, StoreError, StoreResult, TenantRecord};

/// How jobs are run: attempts, lease, retry backoff and the idle poll.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// Attempts per job before it is dead-lettered.
    pub max_attempts: i32,
    /// How long a worker holds a job before another may take it over.
    pub lease: Duration,
    /// The first retry's delay; later ones back off from it.
    pub retry_base: Duration,
    /// How often an idle worker looks for due jobs without being woken.
    pub poll_interval: Duration,
    /// How long a late owner reply waits for the customer to reopen their window.
    pub late_reply_wait: Duration,
}

impl JobSettings {
    /// How long a job taken now is held before any worker may take it over.
    pub fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(2))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Decide and store the answer to one inbound message.
    Respond,
    /// Deliver one outbound message through its provider.
    Send,
    /// Tell the owners about a new ticket (subject: the ticket).
    OwnerNotice,
    /// Deliver one message to an owner (subject: the owner message).
    OwnerSend,
    /// Run what an owner typed on WhatsApp (subject: the owner message).
    OwnerCommand,
    /// A ticket's reminders and idle timeout (subject: the ticket); reschedules itself.
    TicketTimer,
    /// The tenant's daily retention pass (subject: the tenant); reschedules itself.
    Retention,
    /// The owners' daily digest (subject: the tenant); reschedules itself.
    OwnerDigest,
    AnalyticsRollup,
    /// A late owner reply still held when its wait ends (subject: the first held message).
    HeldReply,
    /// Download and store a customer message's attachments (subject: the message).
    MediaFetch,
    /// Send one event to one of the shop's webhook endpoints (subject: the delivery); reschedules itself.
    WebhookDelivery,
    /// A kind this build does not know (written by another release): dead-lettered.
    Unknown,
}

text_code!(JobKind, parse;
    Respond => "respond",
    Send => "send",
    OwnerNotice => "owner_notice",
    OwnerSend => "owner_send",
    OwnerCommand => "owner_command",
    TicketTimer => "ticket_timer",
    Retention => "retention",
    OwnerDigest => "owner_digest",
    HeldReply => "held_reply",
    MediaFetch => "media_fetch",
    WebhookDelivery => "webhook_delivery",
    AnalyticsRollup => "analytics_rollup";
    else Unknown
);

/// Where a job is in its life; stored as `jobs.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Leased to a worker until `locked_until`.
    Running,
    Done,
    /// Dead-lettered: attempts spent or a permanent failure.
    Dead,
}

text_code!(JobState, parse; Queued => "queued", Running => "running", Done => "done", Dead => "dead");

impl JobRecord {
    pub fn new(tenant: TenantId, kind: JobKind, subject: Uuid, max_attempts: i32, now: DateTime<Utc>) -> Self {
        Self {
            id: JobId::new(),
            tenant_id: tenant,
            kind,
            subject_id: subject,
            state: JobState::Queued,
            attempts: 0,
            max_attempts,
            run_at: now,
            locked_by: None,
            locked_until: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Why a job did not complete. The class is our own short code: it is stored and audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    Retryable(String),
    Permanent(String),
}

impl From<crate::crypto::CryptoError> for JobFailure {
    fn from(_: crate::crypto::CryptoError) -> Self {
        Self::Permanent("undecryptable".into())
    }
}

impl From<StoreError> for JobFailure {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "job step failed on the database");
        match e {
            StoreError::Crypto(_) => Self::Permanent("undecryptable".into()),
            _ => Self::Retryable("database".into()),
        }
    }
}

/// Makes sure every tenant has its one `kind` job (subject: the tenant), due at `due(tenant)`;
/// a finished or dead one (e.g. the database was down too long) is brought back, not lost.
/// Returns how many it (re)scheduled.
pub async fn ensure_per_tenant(
    store: &dyn Store,
    kind: JobKind,
    max_attempts: i32,
    now: DateTime<Utc>,
    due: impl Fn(&TenantRecord) -> DateTime<Utc> + Send + Sync,
) -> StoreResult<u64> {
    let mut added = 0;
    for tenant in store.tenant_ids().await? {
        let mut tx = store.begin(tenant).await?;
        if let Some(record) = tx.tenant().await? {
            let mut job = JobRecord::new(tenant, kind, tenant.0, max_attempts, now);
            job.run_at = due(&record);
            let scheduled =
                tx.enqueue_job(&job).await? || tx.requeue_job(job.kind.as_str(), tenant.0, job.run_at).await?;
            added += u64::from(scheduled);
        }
        tx.commit().await?;
    }
    Ok(added)
}

/// A send job whose message already has a provider id (a retry after the provider answered):
/// only the job is left to finish; the message is never sent twice by us.
pub async fn finish_sent_before(
    store: &dyn Store,
    worker: &str,
    job: &JobRecord,
    now: DateTime<Utc>,
) -> Result<(), JobFailure> {
    let mut tx = store.begin(job.tenant_id).await?;
    tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
    tx.commit().await?;
    Ok(())
}

/// `base · 2^(attempt-1)`, capped at 15 minutes, with ±25% jitter so retries spread out.
pub fn backoff(base: Duration, attempt: i32) -> chrono::Duration {
    let exp = attempt.clamp(1, 20) - 1;
    let raw = base.as_secs_f64() * 2f64.powi(exp);
    let capped = raw.min(15.0 * 60.0);
    let jitter = rand::rng().random_range(0.75..=1.25);
    chrono::Duration::milliseconds((capped * jitter * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1).num_milliseconds();
        assert!((1500..=2500).contains(&first), "{first}");
        let fifth = backoff(base, 5).num_milliseconds();
        assert!((24_000..=40_000).contains(&fifth), "{fifth}");
        let late = backoff(base, 30).num_milliseconds();
        assert!(late <= 15 * 60 * 1250, "{late}");
    }
}
