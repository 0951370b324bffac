//! Provider-neutral persistence of webhooks: contacts, conversations, messages, jobs and
//! audit rows, all in ONE transaction, so a 200 always means "committed".
use chrono::{DateTime, Utc};
use serde_json::json;

use super::message_run::{Pending, Plan};
use crate::audit::{self, AuditEntry};
use crate::chats::Chat;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{
    Author, ContactId, ConversationId, ConversationState, DeliveryStatus, Direction, IdentityChange, InboundEvent,
    InboundMessage, JobId, MessageId, OwnerMessageId, StatusUpdate,
};
use crate::jobs::JobKind;
use crate::metrics::Metrics;
use crate::owner::registry;
use crate::owner::window::{customer_unreachable, is_window_closed, owner_unreachable};
use crate::store::{
    ChannelRecord, ContactRecord, ConversationRecord, JobRecord, MessageRecord, OwnerMessageRecord, OwnerRecord,
    StatusChange, StoreError, StoreResult, TenantTx,
};
use crate::tenants;

/// What one webhook changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub stored: usize,
    pub duplicates: usize,
    pub statuses: usize,
    pub unmatched_statuses: usize,
    pub identity_changes: usize,
}

/// Applies webhooks of ONE tenant in one transaction, in order, with one audit append; a
/// report per webhook. The group committer (`group_commit`) decides what goes together.
/// Customer messages go in runs (`message_run`); any other event keeps its place in between.
pub async fn ingest_together(
    core: &Core,
    metrics: &Metrics,
    webhooks: &[(&ChannelRecord, &[InboundEvent])],
) -> StoreResult<Vec<IngestReport>> {
    let Some(tenant) = webhooks.first().map(|(channel, _)| channel.tenant_id) else {
        return Ok(Vec::new());
    };
    let mut tx = core.store.begin(tenant).await?;
    let mut apply = Apply {
        core,
        now: core.clock.now(),
        trail: Vec::new(),
        reports: vec![IngestReport::default(); webhooks.len()],
        planned: 0,
        alone: 0,
    };
    let mut owners: Option<Vec<OwnerRecord>> = None;
    let mut run = Vec::new();
    for (webhook, (channel, events)) in webhooks.iter().enumerate() {
        if channel.tenant_id != tenant {
            return Err(StoreError::Invariant("a shared ingest transaction mixed tenants".into()));
        }
        for event in events.iter() {
            if let InboundEvent::Message(m) = event {
                let pending = Pending::new(core, webhook, channel, m);
                if m.meta.group.is_some() {
                    run.push(pending);
                    continue;
                }
                let known = match &owners {
                    Some(known) => known,
                    None => owners.insert(tx.owners().await?),
                };
                if !pending.is_from_owner(known) {
                    run.push(pending);
                    continue;
                }
                // An owner's message may link a BSUID to the owner: read the owners again after it.
                owners = None;
            }
            apply.run(&mut *tx, &run).await?;
            run.clear();
            apply.event(&mut *tx, webhook, channel, event).await?;
        }
    }
    apply.run(&mut *tx, &run).await?;
    audit::append(&mut *tx, apply.trail, apply.now).await?;
    tx.commit().await?;
    metrics.ingest_messages(apply.planned, apply.alone);
    if apply.reports.iter().any(|r| r.stored > 0) {
        core.work_queued();
    }
    Ok(apply.reports)
}

/// One shared transaction's progress: a report per webhook and the audit rows so far.
struct Apply<'a> {
    core: &'a Core,
    now: DateTime<Utc>,
    trail: Vec<AuditEntry>,
    reports: Vec<IngestReport>,
    /// Customer messages applied in set-based plans (for the metric, after commit).
    planned: usize,
    /// Customer messages applied one at a time (idem).
    alone: usize,
}

impl<'a> Apply<'a> {
    /// Stores a run of customer messages, in set-based plans where it can.
    async fn run(&mut self, tx: &mut dyn TenantTx, run: &[Pending<'_>]) -> StoreResult<()> {
        let mut rest = run;
        while !rest.is_empty() {
            // A plan pays for itself over several messages; one goes the per-message way.
            if let [single] = rest {
                return self.message_alone(tx, single).await;
            }
            let mut plan = Plan::build(self.core, tx, rest, self.now).await?;
            let covered = plan.covered();
            if plan.write(tx).await? {
                plan.record(rest, &mut self.reports, &mut self.trail);
                self.planned += covered;
            } else {
                tracing::debug!(
                    messages = covered,
                    "a concurrent transaction wrote first; storing the run message by message"
                );
                for pending in &rest[..covered] {
                    self.message_alone(tx, pending).await?;
                }
            }
            // The plan stopped before a message that links an identifier: that one goes alone.
            let Some(next) = rest.get(covered) else { break };
            self.message_alone(tx, next).await?;
            rest = &rest[covered + 1..];
        }
        Ok(())
    }

    /// Applies one event the per-message way.
    async fn event(
        &mut self,
        tx: &mut dyn TenantTx,
        webhook: usize,
        channel: &ChannelRecord,
        event: &InboundEvent,
    ) -> StoreResult<()> {
        let mut batch = self.batch(webhook, channel);
        let applied = match event {
            InboundEvent::Message(m) => batch.message(tx, m).await,
            InboundEvent::Status(s) => batch.status(tx, s).await,
            InboundEvent::IdentityChange(c) => batch.identity_change(tx, c).await,
        };
        self.settle(webhook, batch);
        applied
    }

    async fn message_alone(&mut self, tx: &mut dyn TenantTx, pending: &Pending<'_>) -> StoreResult<()> {
        let mut batch = self.batch(pending.webhook, pending.channel);
        let applied = batch.message(tx, pending.message).await;
        self.settle(pending.webhook, batch);
        self.alone += 1;
        applied
    }

    /// Lends the webhook's report and the trail to a per-message `Batch`.
    fn batch<'b>(&mut self, webhook: usize, channel: &'b ChannelRecord) -> Batch<'b>
    where
        'a: 'b,
    {
        Batch {
            core: self.core,
            channel,
            now: self.now,
            actor: actor(channel),
            report: std::mem::take(&mut self.reports[webhook]),
            trail: std::mem::take(&mut self.trail),
        }
    }

    fn settle(&mut self, webhook: usize, batch: Batch<'_>) {
        self.reports[webhook] = batch.report;
        self.trail = batch.trail;
    }
}

pub(super) fn actor(channel: &ChannelRecord) -> String {
    format!("provider:{}", channel.provider)
}

pub(super) fn duplicate_entry(actor: &str, channel: &ChannelRecord, m: &InboundMessage) -> AuditEntry {
    AuditEntry::new(actor, "message.duplicate_ignored", "channel", Some(channel.id.to_string()))
        .detail(json!({ "provider_message_id": m.provider_message_id }))
}

pub(super) fn contact_created_entry(actor: &str, contact: ContactId) -> AuditEntry {
    AuditEntry::new(actor, "contact.created", "contact", Some(contact.to_string()))
}

pub(super) fn received_entry(
    actor: &str,
    channel: &ChannelRecord,
    m: &InboundMessage,
    id: MessageId,
    conversation: ConversationId,
    job: JobId,
) -> AuditEntry {
    AuditEntry::new(actor, "message.received", "message", Some(id.to_string()))
        .detail(json!({ "channel": channel.id, "conversation": conversation, "kind": m.kind.as_str(), "job": job }))
}

/// A customer's new conversation in one chat, answered by the bot; `key` is the contact's.
pub(super) fn new_conversation(
    channel: &ChannelRecord,
    contact: ContactId,
    chat: &Chat,
    key: &DataKey,
    now: DateTime<Utc>,
) -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::new(),
        tenant_id: channel.tenant_id,
        channel_id: channel.id,
        contact_id: contact,
        state: ConversationState::Bot,
        escalation_reason: None,
        last_inbound_at: None,
        window_closed_at: None,
        created_at: now,
        updated_at: now,
        chat_index: chat.index.clone(),
        chat_enc: chat.seal(key),
    }
}

/// A customer's message as stored: text and metadata under the contact's own key.
pub(super) fn inbound_record(
    channel: &ChannelRecord,
    m: &InboundMessage,
    contact: ContactId,
    conversation: ConversationId,
    key: &DataKey,
    now: DateTime<Utc>,
) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        tenant_id: channel.tenant_id,
        channel_id: channel.id,
        conversation_id: conversation,
        contact_id: contact,
        direction: Direction::In,
        author: Author::Customer,
        kind: m.kind,
        body_enc: key.encrypt_opt(m.body.as_deref()),
        meta_enc: contacts::seal_meta(&m.meta, key),
        provider_message_id: Some(m.provider_message_id.clone()),
        reply_to: None,
        part: 0,
        status: "received".into(),
        status_rank: 0,
        error_code: None,
        sent_at: m.sent_at,
        created_at: now,
        updated_at: now,
    }
}

/// The state of one webhook's transaction while its events are applied in order.
struct Batch<'a> {
    core: &'a Core,
    channel: &'a ChannelRecord,
    now: DateTime<Utc>,
    actor: String,
    report: IngestReport,
    trail: Vec<AuditEntry>,
}

impl Batch<'_> {
    async fn message(&mut self, tx: &mut dyn TenantTx, m: &InboundMessage) -> StoreResult<()> {
        // Fast path for provider retries; the unique index below settles concurrent races.
        if tx.message_exists(self.channel.id, &m.provider_message_id).await? {
            self.duplicate(m);
            return Ok(());
        }
        // A direct message from an owner number is a command, never a customer message.
        if m.meta.group.is_none()
            && let Some(owner) = registry::identify(tx, &self.core.keys, &m.from).await?
        {
            return self.owner_message(tx, owner, m).await;
        }
        let contact = contacts::resolve(tx, &self.core.keys, &m.from, self.now).await?;
        let chat = Chat::of(&self.core.keys.index, self.channel.tenant_id, &m.meta);
        let conversation = self.open_conversation(tx, &contact.record, &chat, &contact.key).await?;
        let record = inbound_record(self.channel, m, contact.record.id, conversation, &contact.key, self.now);
        let id = record.id;
        if !tx.insert_message(&record).await? {
            self.duplicate(m);
            return Ok(());
        }
        tx.touch_conversation_inbound(conversation, m.sent_at.unwrap_or(self.now)).await?;
        let job = JobRecord::new(self.channel.tenant_id, JobKind::Respond, id.0, self.core.jobs.max_attempts, self.now);
        tx.enqueue_job(&job).await?;
        self.report.stored += 1;
        if contact.created {
            self.trail.push(contact_created_entry(&self.actor, contact.record.id));
        }
        self.trail.push(received_entry(&self.actor, self.channel, m, id, conversation, job.id));
        Ok(())
    }

    /// Stores an owner's message (text under the tenant key) and queues its command job.
    async fn owner_message(
        &mut self,
        tx: &mut dyn TenantTx,
        owner: OwnerRecord,
        m: &InboundMessage,
    ) -> StoreResult<()> {
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
        self.trail.push(duplicate_entry(&self.actor, self.channel, m));
    }

    /// The contact's open conversation in this chat, or a new one fixed to it.
    async fn open_conversation(
        &self,
        tx: &mut dyn TenantTx,
        contact: &ContactRecord,
        chat: &Chat,
        key: &DataKey,
    ) -> StoreResult<ConversationId> {
        if let Some(open) = tx.open_conversation(self.channel.id, contact.id, &chat.index).await? {
            return Ok(open.id);
        }
        let fresh = new_conversation(self.channel, contact.id, chat, key, self.now);
        if tx.insert_conversation(&fresh).await? {
            return Ok(fresh.id);
        }
        // A concurrent transaction opened it first and has committed, so it is visible now.
        let open = tx.open_conversation(self.channel.id, contact.id, &chat.index).await?;
        open.map(|c| c.id).ok_or_else(|| StoreError::Invariant("open conversation vanished during insert".into()))
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
