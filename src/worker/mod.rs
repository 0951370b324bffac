//! The durable job queue's worker: claims jobs with a lease, runs them, retries with
//! exponential backoff and jitter, and dead-letters after the maximum number of attempts.
//!
//! A respond job hands its reply's send jobs to the worker that ran it: they are inserted
//! already leased by it, in the respond transaction, and it runs them right after that commit.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::DefaultKeyedRateLimiter;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::channels::Clients;
use crate::core::Core;
use crate::domain::{ContactId, DeliveryStatus, EscalationReason, MessageId, TenantId};
use crate::engine::Handover;
use crate::jobs::{JobFailure, JobKind, backoff};
use crate::llm::Llm;
use crate::metrics::Metrics;
use crate::owner;
use crate::owner::email::Mailer;
use crate::store::{JobOutcome, JobRecord, StatusChange, StoreResult, TenantTx};

pub mod outbound;
mod respond;
mod understand;

pub type CustomerLimiter = DefaultKeyedRateLimiter<(TenantId, ContactId)>;

/// What the worker needs beyond the `Core`: the provider clients, the LLM and its
/// per-customer limiter, the mailer, the metrics, and the offline responder's threshold.
#[derive(Clone)]
pub struct WorkerDeps {
    /// The provider clients that send replies.
    pub channels: Arc<Clients>,
    pub llm: Option<Arc<Llm>>,
    /// Voice notes to text, for tenants that understand media.
    pub transcriber: Option<Arc<crate::transcription::Transcriber>>,
    /// LLM replies per customer per minute (in this process).
    pub llm_limiter: Arc<CustomerLimiter>,
    pub mailer: Option<Arc<Mailer>>,
    pub metrics: Arc<Metrics>,
    /// Minimum FAQ match confidence for the offline responder to answer.
    pub faq_threshold: f64,
    /// Sends the shop's outbound webhooks through the outbound guard.
    pub webhooks: Arc<crate::webhooks::Sender>,
}

impl WorkerDeps {
    /// The tenant's model chain: its profile, fallback and own key, without `blocked` hosts
    /// (None without an LLM, or when every model is blocked).
    pub fn llm_for(
        &self,
        tenant: &crate::store::TenantRecord,
        keys: &crate::config::Keys,
        blocked: Vec<String>,
    ) -> crate::store::StoreResult<Option<Llm>> {
        match &self.llm {
            Some(llm) => {
                let chain = llm.for_tenant(crate::llm_profiles::choice_of(tenant, keys, blocked)?);
                Ok(Some(chain).filter(|c| !c.is_empty()))
            }
            None => Ok(None),
        }
    }

    /// Whether this customer may get another LLM reply now (a per-minute limit).
    pub fn llm_allows(&self, tenant: TenantId, contact: ContactId) -> bool {
        self.llm_limiter.check_key(&(tenant, contact)).is_ok()
    }
}

pub struct Worker {
    core: Core,
    deps: WorkerDeps,
    id: String,
    /// Once cancelled, no job handed to this worker is started: it keeps the lease until
    /// `release_jobs` at shutdown gives it back, or the lease expires.
    stopping: CancellationToken,
}

impl Worker {
    pub fn new(core: Core, deps: WorkerDeps, name: &str) -> Self {
        let suffix = Uuid::new_v4().simple().to_string();
        Self { core, deps, id: format!("{name}-{}", &suffix[..8]), stopping: CancellationToken::new() }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The worker stops starting handed-over jobs once `stopping` is cancelled (as `run` does
    /// with its shutdown token). Tests use it to stop a worker right after a respond commit.
    pub fn stopping_on(mut self, stopping: CancellationToken) -> Self {
        self.stopping = stopping;
        self
    }

    /// Runs due jobs one by one until none is due; returns how many ran. Tests and the demo
    /// use this to drain the queue deterministically.
    pub async fn run_until_idle(&self) -> StoreResult<usize> {
        let mut ran = 0;
        loop {
            match self.run_once().await? {
                0 => return Ok(ran),
                n => ran += n,
            }
        }
    }

    /// Claims one due job and runs it, then the send jobs it handed to this worker; returns
    /// how many jobs ran (0: nothing was due).
    pub async fn run_once(&self) -> StoreResult<usize> {
        let now = self.core.clock.now();
        let Some((job, mut tx)) = self.core.store.claim_next(&self.id, now, self.core.jobs.lease_until(now)).await?
        else {
            return Ok(0);
        };
        // In the claim's own transaction: a lease is never taken without its audit row.
        audit::append(&mut *tx, vec![claimed(&job, &self.id)], now).await?;
        tx.commit().await?;
        // More may be due: the next idle worker looks while this one runs the job.
        self.core.work_queued();
        let mut handed = VecDeque::from(self.execute(job).await?);
        let mut ran = 1;
        while let Some(next) = handed.pop_front() {
            if self.stopping.is_cancelled() {
                break;
            }
            // One failing must not strand the others: they are leased to this worker.
            match self.execute(next).await {
                Ok(more) => handed.extend(more),
                Err(e) => {
                    tracing::error!(worker = %self.id, error = %e, "a handed-over job failed; its lease will run out")
                }
            }
            ran += 1;
        }
        Ok(ran)
    }

    /// The background loop: wakes on new work or every poll interval, stops on `shutdown`.
    /// A job in flight finishes; the caller releases leases of jobs cut off by a timeout.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.stopping = shutdown.clone();
        let wake = self.core.queue_wake.clone();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let pause = match self.run_once().await {
                Ok(0) => self.core.jobs.poll_interval,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(worker = %self.id, error = %e, "claiming a job failed");
                    Duration::from_secs(1)
                }
            };
            // Waits only when idle, so a wake never lands on a busy worker; one sent since the
            // empty claim above was kept as a permit and ends this wait at once.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Runs a job this worker holds (claimed, or handed over leased); returns the send jobs
    /// it handed to this worker in turn.
    async fn execute(&self, job: JobRecord) -> StoreResult<Vec<JobRecord>> {
        let kind = job.kind;
        let waited = (self.core.clock.now() - job.run_at).to_std().unwrap_or_default();
        let started = std::time::Instant::now();
        let mut handed = Vec::new();
        let result = match kind {
            // A job re-claimed after crashes past its budget is not run again.
            _ if job.attempts > job.max_attempts => Err(JobFailure::Permanent("attempts_exhausted".into())),
            JobKind::Respond => respond::run(&self.core, &self.deps, &self.id, &job).await.map(|sends| handed = sends),
            JobKind::Send => outbound::send(&self.core, &self.deps, &self.id, &job).await,
            JobKind::OwnerNotice => owner::notify::run_notice(&self.core, &self.deps, &self.id, &job).await,
            JobKind::OwnerSend => owner::deliver::run(&self.core, &self.deps, &self.id, &job).await,
            JobKind::OwnerCommand => owner::inbox::run(&self.core, &self.id, &job).await,
            JobKind::TicketTimer => owner::timers::run(&self.core, &self.id, &job).await,
            JobKind::Retention => crate::privacy::retention::run_job(&self.core, &self.id, &job).await,
            JobKind::OwnerDigest => owner::digest::run_job(&self.core, &self.id, &job).await,
            JobKind::AnalyticsRollup => crate::analytics::rollup::run_job(&self.core, &self.id, &job).await,
            JobKind::HeldReply => owner::late_reply::expire(&self.core, &self.id, &job).await,
            JobKind::MediaFetch => crate::media::fetch::run(&self.core, &self.id, &job).await,
            JobKind::WebhookDelivery => crate::webhooks::deliver::run(&self.core, &self.deps, &self.id, &job).await,
            JobKind::Unknown => Err(JobFailure::Permanent("unknown_kind".into())),
        };
        self.deps.metrics.job(job.kind.as_str(), waited, started.elapsed());
        if let Err(failure) = result {
            self.fail(&job, failure).await?;
        }
        Ok(handed)
    }

    /// Reschedules with backoff, or dead-letters once attempts are spent or the failure is
    /// permanent.
    async fn fail(&self, job: &JobRecord, failure: JobFailure) -> StoreResult<()> {
        let now = self.core.clock.now();
        let mut tx = self.core.store.begin(job.tenant_id).await?;
        let trail = match &failure {
            JobFailure::Permanent(class) => self.dead_letter(&mut *tx, job, class, now).await?,
            JobFailure::Retryable(class) if job.attempts >= job.max_attempts => {
                self.dead_letter(&mut *tx, job, class, now).await?
            }
            JobFailure::Retryable(class) => self.reschedule(&mut *tx, job, class, now).await?,
        };
        let Some(trail) = trail else { return Ok(()) }; // the lease was lost; its new holder decides
        audit::append(&mut *tx, trail, now).await?;
        tx.commit().await?;
        self.core.work_queued();
        Ok(())
    }

    async fn reschedule(
        &self,
        tx: &mut dyn TenantTx,
        job: &JobRecord,
        class: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<AuditEntry>>> {
        let run_at = now + backoff(self.core.jobs.retry_base, job.attempts);
        if !tx.finish_job(job.id, &self.id, &JobOutcome::Retry { run_at, error: class }, now).await? {
            return Ok(None);
        }
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = class, %run_at, "job failed; retry scheduled");
        Ok(Some(vec![
            AuditEntry::new("worker", "job.failed", "job", Some(job.id.to_string()))
                .detail(json!({ "kind": job.kind, "attempt": job.attempts, "error": class, "retry_at": run_at })),
        ]))
    }

    /// A dead reply escalates the conversation: the owner must answer what the bot could not.
    async fn dead_letter(
        &self,
        tx: &mut dyn TenantTx,
        job: &JobRecord,
        class: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<AuditEntry>>> {
        if !tx.finish_job(job.id, &self.id, &JobOutcome::Dead { error: class }, now).await? {
            return Ok(None);
        }
        tracing::warn!(job = %job.id, kind = %job.kind, error = class, "job dead-lettered");
        let mut trail =
            vec![AuditEntry::new("worker", "job.dead", "job", Some(job.id.to_string())).detail(
                json!({ "kind": job.kind, "subject": job.subject_id, "attempts": job.attempts, "error": class }),
            )];
        if job.kind == JobKind::MediaFetch {
            // A reply waiting to understand the file falls back to the media policy now.
            tx.wake_job(JobKind::Respond, job.subject_id, now).await?;
            trail.extend(crate::media::fetch::tell_owners(&self.core, tx, job, class, now).await?);
            return Ok(Some(trail));
        }
        let is_send = job.kind == JobKind::Send;
        if !is_send && job.kind != JobKind::Respond {
            return Ok(Some(trail)); // owner-side jobs: the audit row and the dead job are the record
        }
        let message_id = MessageId(job.subject_id);
        let Some(message) = tx.message(message_id).await? else {
            return Ok(Some(trail));
        };
        let Some(conversation) = tx.conversation(message.conversation_id).await? else {
            return Ok(Some(trail));
        };
        if is_send {
            let failed =
                StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some(class), now };
            tx.advance_message_status(message_id, &failed).await?;
        }
        // A customer we could not reach gets no holding message either.
        let holding = !is_send;
        let handover = Handover::because(EscalationReason::ReplyFailed);
        let opening = owner::tickets::Opening::after(Some(message_id), holding);
        trail.extend(owner::escalate(&self.core, tx, &conversation, &handover, opening, now).await?.1);
        Ok(Some(trail))
    }
}

/// The audit row of a worker taking a job, in the transaction that gives it the lease.
pub fn claimed(job: &JobRecord, worker: &str) -> AuditEntry {
    AuditEntry::new("worker", "job.claimed", "job", Some(job.id.to_string()))
        .detail(json!({ "kind": job.kind, "attempt": job.attempts, "worker": worker }))
}
