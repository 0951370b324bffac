//! Provider-neutral persistence of webhooks: contacts, conversations, messages, jobs and
//! audit rows, all in ONE transaction, so a 200 always means "committed".
use chrono::{DateTime, Utc};
use serde_json::json;

pub use super::customer_messages::IngestReport;
use super::customer_messages::{self, Pending, Ways, actor};
use crate::audit::{self, AuditEntry};
use crate::contacts;
use crate::core::Core;
use crate::domain::{
    DeliveryStatus, Direction, IdentityChange, InboundEvent, InboundMessage, OwnerMessageId, StatusUpdate,
};
use crate::jobs::JobKind;
use crate::metrics::Metrics;
use crate::owner::registry;
use crate::owner::window::{customer_unreachable, is_window_closed, owner_unreachable};
use crate::store::{
    ChannelRecord, JobRecord, OwnerMessageRecord, OwnerRecord, StatusChange, StoreError, StoreResult, TenantTx,
};
use crate::tenants;

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
            let mut batch =
                Batch { core, channel, now, actor: actor(channel), report: &mut reports[webhook], trail: &mut trail };
            match (event, owner) {
                (InboundEvent::Message(m), Some(owner)) => batch.owner_message(&mut *tx, owner, m).await?,
                (InboundEvent::Status(s), _) => batch.status(&mut *tx, s).await?,
                (InboundEvent::IdentityChange(c), _) => batch.identity_change(&mut *tx, c).await?,
                (InboundEvent::Message(_), None) => {}
            }
        }
    }
    ways += customer_messages::store_run(core, &mut *tx, &run, now, &mut reports, &mut trail).await?;
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    metrics.ingest_messages(ways.planned, ways.alone);
    if reports.iter().any(|r| r.stored > 0) {
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
            body_enc: key.encrypt_opt(m.body.as_deref()),
            provider_message_id: Some(m.provider_message_id.clone()),
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
            }
            (("message", message.id.to_string()), message.status, moved)
        } else if let Some(message) = tx.owner_message_by_provider_id(self.channel.id, &s.provider_message_id).await?
            && message.direction == Direction::Out
        {
            let moved = tx.advance_owner_message_status(message.id, &change).await?;
            if moved && window_closed {
                self.trail.extend(owner_unreachable(self.core, tx, &message, self.now).await?);
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
