//! Group commit for webhook ingest. Webhooks of one tenant that arrive while its previous
//! transaction is committing wait and then share the next one: one audit-chain append, one
//! durable commit. Each webhook still gets its 200 only after the commit that holds it.
//!
//! Without it, every webhook paid a full commit (an fsync) while holding the tenant's audit
//! head, so a busy tenant's ingest was bounded by one fsync per message (see BENCHMARKS.md).
//!
//! Provider-neutral persistence of webhooks: contacts, conversations, messages, jobs and
//! audit rows, all in ONE transaction, so a 200 always means "committed".
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::oneshot;

pub use super::customer_messages::IngestReport;
use super::customer_messages::{self, Pending, Ways, actor};
use crate::audit::{self, AuditEntry};
use crate::contacts;
use crate::core::Core;
use crate::domain::{
    ChannelId, DeliveryStatus, Direction, IdentityChange, InboundEvent, InboundMessage, OwnerMessageId, StatusUpdate,
    TemplateStatusChange, TenantId,
};
use crate::jobs::JobKind;
use crate::metrics::Metrics;
use crate::owner::registry;
use crate::owner::window::{customer_unreachable, is_window_closed, owner_unreachable};
use crate::store::{
    Backend, ChannelRecord, ChannelTemplateRecord, JobRecord, OwnerMessageRecord, OwnerRecord, StatusChange,
    StoreError, StoreResult, TenantTx,
};
use crate::tenants;

/// Webhooks per shared transaction at most; bounds one transaction's size and lock time.
pub const MAX_BATCH: usize = 128;
/// Transactions per tenant in flight at once on PostgreSQL: they run their statements side by
/// side and queue for the audit head at the end (and for a customer's rows another one holds;
/// a deadlock aborts one, whose webhooks are then retried alone). SQLite has one writer, so one.
const POSTGRES_COMMITTERS: usize = 4;

/// One webhook waiting for its transaction.
pub struct Submission {
    channel: ChannelRecord,
    events: Vec<InboundEvent>,
    done: oneshot::Sender<StoreResult<IngestReport>>,
}

/// Where a submission's outcome arrives once its transaction committed or failed.
pub type Outcome = oneshot::Receiver<StoreResult<IngestReport>>;

impl Submission {
    pub fn new(channel: ChannelRecord, events: Vec<InboundEvent>) -> (Self, Outcome) {
        let (done, outcome) = oneshot::channel();
        (Self { channel, events, done }, outcome)
    }
}

/// One tenant's waiting webhooks and how many committers work on them.
#[derive(Default)]
struct TenantQueue {
    waiting: Vec<Submission>,
    committers: usize,
}

/// The webhooks waiting per tenant; a tenant is in the map while a committer runs for it.
#[derive(Default)]
pub struct GroupCommit {
    tenants: Mutex<HashMap<TenantId, TenantQueue>>,
}

impl GroupCommit {
    /// Adds a webhook to its tenant's queue; true when it should start another committer.
    fn enqueue(&self, submission: Submission, max_committers: usize) -> bool {
        let mut tenants = self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let queue = tenants.entry(submission.channel.tenant_id).or_default();
        queue.waiting.push(submission);
        let start = queue.committers < max_committers;
        queue.committers += usize::from(start);
        start
    }

    /// The next batch for `tenant`, or `None` (and that committer ends) when none waits.
    fn next_batch(&self, tenant: TenantId) -> Option<Vec<Submission>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let queue = tenants.get_mut(&tenant)?;
        if queue.waiting.is_empty() {
            queue.committers = queue.committers.saturating_sub(1);
            if queue.committers == 0 {
                tenants.remove(&tenant);
            }
            return None;
        }
        let take = queue.waiting.len().min(MAX_BATCH);
        Some(queue.waiting.drain(..take).collect())
    }

    /// After a committer panicked: its tenant's waiting webhooks are answered with an error (their
    /// senders are dropped) and the next webhook starts afresh, instead of waiting forever.
    fn abandon(&self, tenant: TenantId) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.remove(&tenant);
    }
}

/// Abandons the tenant's queue if its committer unwinds.
struct PanicGuard<'a> {
    group: &'a GroupCommit,
    tenant: TenantId,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.group.abandon(self.tenant);
        }
    }
}

/// What a committer works with: the tenants' queues, the core and the ingest metrics.
#[derive(Clone)]
pub struct Committers {
    pub queue: Arc<GroupCommit>,
    pub core: Core,
    pub metrics: Arc<Metrics>,
}

/// Persists one webhook's events and returns once they are committed.
pub async fn ingest(
    committers: &Committers,
    channel: &ChannelRecord,
    events: Vec<InboundEvent>,
) -> StoreResult<IngestReport> {
    let (submission, committed) = Submission::new(channel.clone(), events);
    let tenant = channel.tenant_id;
    let most = match committers.core.store.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => POSTGRES_COMMITTERS,
    };
    if committers.queue.enqueue(submission, most) {
        // Its own task: a sender hanging up must not cancel a transaction others wait on.
        tokio::spawn(run_committer(committers.clone(), tenant));
    }
    committed.await.map_err(|_| StoreError::Invariant("the ingest committer stopped before committing".into()))?
}

async fn run_committer(committers: Committers, tenant: TenantId) {
    let _guard = PanicGuard { group: &committers.queue, tenant };
    while let Some(batch) = committers.queue.next_batch(tenant) {
        commit(&committers.core, &committers.metrics, batch).await;
    }
}

/// Commits a batch (one tenant's) together; if that fails, each webhook alone, so one bad
/// webhook (a constraint, a deadlock, an undecryptable contact) fails only itself. If the
/// database is unreachable, all fail at once rather than each waiting out the pool. Public for
/// tests.
pub async fn commit(core: &Core, metrics: &Metrics, batch: Vec<Submission>) {
    let batch = match still_routed(core, batch).await {
        Ok(batch) => batch,
        Err(failed) => return failed.fail(),
    };
    if batch.len() > 1 {
        let together: Vec<_> = batch.iter().map(|s| (&s.channel, s.events.as_slice())).collect();
        match ingest_together(core, metrics, &together).await {
            Ok(reports) => {
                metrics.ingest_batch(batch.len());
                for (submission, report) in batch.into_iter().zip(reports) {
                    let _ = submission.done.send(Ok(report));
                }
                return;
            }
            Err(StoreError::Database(e)) if unreachable(&e) => {
                return Failed { batch, reason: e.to_string() }.fail();
            }
            Err(e) => {
                tracing::warn!(error = %e, webhooks = batch.len(), "shared ingest transaction refused; retrying each webhook alone");
            }
        }
    }
    for submission in batch {
        let result = ingest_together(core, metrics, &[(&submission.channel, submission.events.as_slice())]).await;
        if result.is_ok() {
            metrics.ingest_batch(1);
        }
        let _ = submission.done.send(result.map(|mut reports| reports.pop().unwrap_or_default()));
    }
}

/// Drops (answering `ChannelGone`) the webhooks whose channel lost its route: a cancelled
/// business stops at once, though `load_channel` took the channel from its cache. One read
/// per channel per batch instead of one per webhook.
async fn still_routed(core: &Core, batch: Vec<Submission>) -> Result<Vec<Submission>, Failed> {
    let mut channels: Vec<(ChannelId, TenantId)> = batch.iter().map(|s| (s.channel.id, s.channel.tenant_id)).collect();
    channels.sort();
    channels.dedup();
    let mut gone = Vec::new();
    for (channel, tenant) in channels {
        match core.store.route_channel(channel).await {
            Ok(Some(route)) if route.tenant_id == tenant => {}
            Ok(_) => gone.push(channel),
            Err(e) => return Err(Failed { batch, reason: e.to_string() }),
        }
    }
    let (routed, unrouted): (Vec<_>, Vec<_>) = batch.into_iter().partition(|s| !gone.contains(&s.channel.id));
    for submission in unrouted {
        let _ = submission.done.send(Err(StoreError::ChannelGone));
    }
    Ok(routed)
}

/// A batch that cannot be committed at all, and why.
struct Failed {
    batch: Vec<Submission>,
    reason: String,
}

impl Failed {
    fn fail(self) {
        tracing::error!(reason = %self.reason, webhooks = self.batch.len(), "ingest batch failed: the database could not be reached or read");
        for submission in self.batch {
            let _ = submission.done.send(Err(StoreError::Invariant(format!("ingest failed: {}", self.reason))));
        }
    }
}

/// The database could not be reached or the connection broke: trying again at once is futile.
fn unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// Applies webhooks of ONE tenant in one transaction, in order, with one audit append; a
/// report per webhook. The group committer (`group_commit`) decides what goes together.
/// Customer messages go in runs (`customer_messages`); any other event keeps its place in between.
pub async fn ingest_together(
    core: &Core,
    metrics: &Metrics,
    webhooks: &[(&ChannelRecord, &[InboundEvent])],
) -> StoreResult<Vec<IngestReport>> {
    let Some(tenant) = webhooks.first().map(|(channel, _)| channel.tenant_id) else {
        return Ok(Vec::new());
    };
    let mut tx = core.store.begin(tenant).await?;
    let now = core.clock.now();
    let mut reports = vec![IngestReport::default(); webhooks.len()];
    let mut trail = Vec::new();
    let mut ways = Ways::default();
    let mut owners: Option<Vec<OwnerRecord>> = None;
    let mut run = Vec::new();
    // A status or an owner's message may queue a job too (a notice, a command).
    let mut queued = false;
    for (webhook, (channel, events)) in webhooks.iter().enumerate() {
        if channel.tenant_id != tenant {
            return Err(StoreError::Invariant("a shared ingest transaction mixed tenants".into()));
        }
        for event in events.iter() {
            let mut owner = None;
            if let InboundEvent::Message(m) = event {
                let pending = Pending::new(core, webhook, channel, m);
                if m.meta.group.is_none() {
                    let known = match &owners {
                        Some(known) => known,
                        None => owners.insert(tx.owners().await?),
                    };
                    owner = pending.sent_by(known).cloned();
                }
                if owner.is_none() {
                    run.push(pending);
                    continue;
                }
                // An owner's message may link a BSUID to the owner: read the owners again after it.
                owners = None;
            }
            ways += customer_messages::store_run(core, &mut *tx, &run, now, &mut reports, &mut trail).await?;
            run.clear();
            let mut batch = Batch {
                core,
                channel,
                now,
                actor: actor(channel),
                report: &mut reports[webhook],
                trail: &mut trail,
                queued: &mut queued,
            };
            match (event, owner) {
                (InboundEvent::Message(m), Some(owner)) => batch.owner_message(&mut *tx, owner, m).await?,
                (InboundEvent::Status(s), _) => batch.status(&mut *tx, s).await?,
                (InboundEvent::IdentityChange(c), _) => batch.identity_change(&mut *tx, c).await?,
                (InboundEvent::TemplateStatus(t), _) => batch.template_status(&mut *tx, t).await?,
                (InboundEvent::Message(_), None) => {}
            }
        }
    }
    ways += customer_messages::store_run(core, &mut *tx, &run, now, &mut reports, &mut trail).await?;
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    metrics.ingest_messages(ways.planned, ways.alone);
    if queued || reports.iter().any(|r| r.stored > 0) {
        core.work_queued();
    }
    Ok(reports)
}

/// The state of one webhook's transaction while its events are applied in order.
struct Batch<'a> {
    core: &'a Core,
    channel: &'a ChannelRecord,
    now: DateTime<Utc>,
    actor: String,
    report: &'a mut IngestReport,
    trail: &'a mut Vec<AuditEntry>,
    queued: &'a mut bool,
}

impl Batch<'_> {
    /// Stores an owner's message (text under the tenant key) and queues its command job.
    async fn owner_message(
        &mut self,
        tx: &mut dyn TenantTx,
        owner: OwnerRecord,
        m: &InboundMessage,
    ) -> StoreResult<()> {
        // Fast path for provider retries, also of a message stored before its sender became an owner.
        if tx.message_exists(self.channel.id, &m.provider_message_id).await? {
            self.duplicate(m);
            return Ok(());
        }
        let key = tenants::data_key(tx, &self.core.keys).await?;
        registry::link_bsuid(tx, &self.core.keys, &key, &owner, &m.from).await?;
        let record = OwnerMessageRecord {
            id: OwnerMessageId::new(),
            tenant_id: self.channel.tenant_id,
            owner_id: owner.id,
            channel_id: self.channel.id,
            escalation_id: None,
            contact_id: None,
            direction: Direction::In,
            route: crate::owner::Route::WhatsApp,
            purpose: crate::owner::Purpose::Command,
            body_enc: key.encrypt_opt(owner_text(m).as_deref()),
            provider_message_id: Some(m.provider_message_id.clone()),
            media_id: None,
            meta_enc: crate::owner::files::ProviderFile::seal(m, &key),
            quoted_provider_id: m.quoted.clone(),
            status: "received".into(),
            status_rank: 0,
            error_code: None,
            created_at: self.now,
            updated_at: self.now,
        };
        if !tx.insert_owner_message(&record).await? {
            self.duplicate(m);
            return Ok(());
        }
        tx.touch_owner_inbound(owner.id, m.sent_at.unwrap_or(self.now)).await?;
        let job = JobRecord::new(
            self.channel.tenant_id,
            JobKind::OwnerCommand,
            record.id.0,
            self.core.jobs.max_attempts,
            self.now,
        );
        tx.enqueue_job(&job).await?;
        self.report.stored += 1;
        self.trail.push(
            AuditEntry::new(&self.actor, "owner.message_received", "owner_message", Some(record.id.to_string()))
                .detail(json!({ "channel": self.channel.id, "owner": owner.id, "job": job.id })),
        );
        Ok(())
    }

    fn duplicate(&mut self, m: &InboundMessage) {
        self.report.duplicates += 1;
        self.trail.push(customer_messages::duplicate_entry(&self.actor, self.channel, m));
    }

    async fn status(&mut self, tx: &mut dyn TenantTx, s: &StatusUpdate) -> StoreResult<()> {
        let change = StatusChange {
            status: s.status.as_str(),
            rank: s.status.rank(),
            error_code: s.error_code.as_deref(),
            now: self.now,
        };
        // A bounce on the closed 24-hour window is often reported here, after the send succeeded.
        let window_closed = s.status == DeliveryStatus::Failed && s.error_code.as_deref().is_some_and(is_window_closed);
        let (subject, from, moved) = if let Some(message) =
            tx.outbound_by_provider_id(self.channel.id, &s.provider_message_id).await?
        {
            let moved = tx.advance_message_status(message.id, &change).await?;
            if moved && window_closed {
                self.trail.extend(customer_unreachable(self.core, tx, &message, self.now).await?);
                *self.queued = true;
            }
            (("message", message.id.to_string()), message.status, moved)
        } else if let Some(message) = tx.owner_message_by_provider_id(self.channel.id, &s.provider_message_id).await?
            && message.direction == Direction::Out
        {
            let moved = tx.advance_owner_message_status(message.id, &change).await?;
            if moved && window_closed {
                self.trail.extend(owner_unreachable(self.core, tx, &message, self.now).await?);
                *self.queued = true;
            }
            (("owner_message", message.id.to_string()), message.status, moved)
        } else {
            self.report.unmatched_statuses += 1;
            return Ok(());
        };
        self.report.statuses += 1;
        let action = if moved { "message.status" } else { "message.status_ignored" };
        self.trail.push(
            AuditEntry::new(&self.actor, action, subject.0, Some(subject.1))
                .detail(json!({ "from": from, "to": s.status.as_str(), "error_code": s.error_code })),
        );
        Ok(())
    }

    async fn identity_change(&mut self, tx: &mut dyn TenantTx, change: &IdentityChange) -> StoreResult<()> {
        if let Some(contact) = contacts::rekey_bsuid(tx, &self.core.keys, change, self.now).await? {
            self.report.identity_changes += 1;
            self.trail.push(AuditEntry::new(&self.actor, "contact.rekeyed", "contact", Some(contact.to_string())));
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// Meta changed a template's status: the channel's row for it follows (a template this
    /// channel does not record is another business's concern, and skipped).
    async fn template_status(&mut self, tx: &mut dyn TenantTx, change: &TemplateStatusChange) -> StoreResult<()> {
        let Some(status) = crate::channels::templates::status_of_event(&change.event) else { return Ok(()) };
        let recorded = tx.channel_templates(self.channel.id).await?;
        let rows = recorded.into_iter().filter(|r| r.name == change.name && r.language == change.language);
        for row in rows.filter(|r| r.status != status) {
            let (from, purpose) = (row.status.clone(), row.purpose.clone());
            tx.set_channel_template(&ChannelTemplateRecord { status: status.into(), updated_at: self.now, ..row })
                .await?;
            self.trail.push(
                AuditEntry::new(&self.actor, "channel.template_status", "channel", Some(self.channel.id.to_string()))
                    .detail(json!({ "template": change.name, "language": change.language, "purpose": purpose,
                        "event": change.event, "from": from, "to": status })),
            );
        }
        Ok(())
    }
}

/// What an owner's message says to the command parser: a tap is its button id, marked as a tap.
fn owner_text(m: &InboundMessage) -> Option<String> {
    match &m.meta.button {
        Some(id) => Some(format!("{}{id}", crate::owner::buttons::TAP)),
        None => m.body.clone(),
    }
}
