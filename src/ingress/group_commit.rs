//! Group commit for webhook ingest. Webhooks of one tenant that arrive while its previous
//! transaction is committing wait and then share the next one: one audit-chain append, one
//! durable commit. Each webhook still gets its 200 only after the commit that holds it.
//!
//! Without it, every webhook paid a full commit (an fsync) while holding the tenant's audit
//! head, so a busy tenant's ingest was bounded by one fsync per message (see BENCHMARKS.md).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::persist::{self, IngestReport};
use crate::core::Core;
use crate::domain::{ChannelId, InboundEvent, TenantId};
use crate::metrics::Metrics;
use crate::store::{Backend, ChannelRecord, StoreError, StoreResult};

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
        match persist::ingest_together(core, metrics, &together).await {
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
        let result =
            persist::ingest_together(core, metrics, &[(&submission.channel, submission.events.as_slice())]).await;
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
