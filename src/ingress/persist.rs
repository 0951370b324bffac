//! Provider-neutral persistence of webhooks: contacts, conversations, messages, jobs and
//! audit rows, all in ONE transaction, so a 200 always means "committed".
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::contacts;
use crate::domain::{
    Author, ConversationId, ConversationState, DeliveryStatus, IdentityChange, InboundEvent, InboundMessage, MessageId,
    OwnerMessageId, StatusUpdate,
};
use crate::owner::registry;
use crate::owner::window::{customer_unreachable, is_window_closed, owner_unreachable};
use crate::store::{
    ChannelRecord, ContactRecord, ConversationRecord, JobRecord, MessageRecord, OwnerMessageRecord, OwnerRecord,
    StatusChange, StoreError, StoreResult, TenantTx,
};
use crate::tenants;
use crate::worker::JobKind;

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
pub async fn ingest_together(
    state: &AppState,
    webhooks: &[(&ChannelRecord, &[InboundEvent])],
) -> StoreResult<Vec<IngestReport>> {
    let Some(tenant) = webhooks.first().map(|(channel, _)| channel.tenant_id) else {
        return Ok(Vec::new());
    };
    let mut tx = state.store.begin(tenant).await?;
    let now = state.clock.now();
    let mut trail = Vec::new();
    let mut reports = Vec::with_capacity(webhooks.len());
    for (channel, events) in webhooks {
        if channel.tenant_id != tenant {
            return Err(StoreError::Config("a shared ingest transaction mixed tenants".into()));
        }
        let mut batch = Batch {
            state,
            channel,
            now,
            actor: format!("provider:{}", channel.provider),
            report: IngestReport::default(),
            trail: std::mem::take(&mut trail),
        };
        for event in events.iter() {
            match event {
                InboundEvent::Message(m) => batch.message(&mut *tx, m).await?,
                InboundEvent::Status(s) => batch.status(&mut *tx, s).await?,
                InboundEvent::IdentityChange(c) => batch.identity_change(&mut *tx, c).await?,
            }
        }
        trail = batch.trail;
        reports.push(batch.report);
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    if reports.iter().any(|r| r.stored > 0) {
        state.queue_wake.notify_waiters();
    }
    Ok(reports)
}

/// The state of one webhook's transaction while its events are applied in order.
struct Batch<'a> {
    state: &'a AppState,
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
            && let Some(owner) = registry::identify(tx, &self.state.keys, &m.from).await?
        {
            return self.owner_message(tx, owner, m).await;
        }
        let contact = contacts::resolve(tx, &self.state.keys, &m.from, self.now).await?;
        let conversation = self.open_conversation(tx, &contact.record).await?;
        let id = MessageId::new();
        let record = MessageRecord {
            id,
            tenant_id: self.channel.tenant_id,
            channel_id: self.channel.id,
            conversation_id: conversation,
            contact_id: contact.record.id,
            direction: "in".into(),
            author: Author::Customer.as_str().into(),
            kind: m.kind.as_str().into(),
            body_enc: contact.key.encrypt_opt(m.body.as_deref()),
            meta_enc: contacts::seal_meta(&m.meta, &contact.key),
            provider_message_id: Some(m.provider_message_id.clone()),
            reply_to: None,
            part: 0,
            status: "received".into(),
            status_rank: 0,
            error_code: None,
            sent_at: m.sent_at,
            created_at: self.now,
            updated_at: self.now,
        };
        if !tx.insert_message(&record).await? {
            self.duplicate(m);
            return Ok(());
        }
        tx.touch_conversation_inbound(conversation, m.sent_at.unwrap_or(self.now)).await?;
        let job =
            JobRecord::new(self.channel.tenant_id, JobKind::Respond, id.0, self.state.config.max_attempts, self.now);
        tx.enqueue_job(&job).await?;
        self.report.stored += 1;
        if contact.created {
            self.trail.push(AuditEntry::new(
                &self.actor,
                "contact.created",
                "contact",
                Some(contact.record.id.to_string()),
            ));
        }
        self.trail.push(AuditEntry::new(&self.actor, "message.received", "message", Some(id.to_string())).detail(
            json!({ "channel": self.channel.id, "conversation": conversation, "kind": m.kind.as_str(), "job": job.id }),
        ));
        Ok(())
    }

    /// Stores an owner's message (text under the tenant key) and queues its command job.
    async fn owner_message(
        &mut self,
        tx: &mut dyn TenantTx,
        owner: OwnerRecord,
        m: &InboundMessage,
    ) -> StoreResult<()> {
        let key = tenants::data_key(tx, &self.state.keys).await?;
        registry::link_bsuid(tx, &self.state.keys, &key, &owner, &m.from).await?;
        let record = OwnerMessageRecord {
            id: OwnerMessageId::new(),
            tenant_id: self.channel.tenant_id,
            owner_id: owner.id,
            channel_id: self.channel.id,
            escalation_id: None,
            contact_id: None,
            direction: "in".into(),
            route: "whatsapp".into(),
            purpose: "command".into(),
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
            self.state.config.max_attempts,
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
        self.trail.push(
            AuditEntry::new(&self.actor, "message.duplicate_ignored", "channel", Some(self.channel.id.to_string()))
                .detail(json!({ "provider_message_id": m.provider_message_id })),
        );
    }

    async fn open_conversation(&self, tx: &mut dyn TenantTx, contact: &ContactRecord) -> StoreResult<ConversationId> {
        if let Some(open) = tx.open_conversation(self.channel.id, contact.id).await? {
            return Ok(open.id);
        }
        let fresh = ConversationRecord {
            id: ConversationId::new(),
            tenant_id: self.channel.tenant_id,
            channel_id: self.channel.id,
            contact_id: contact.id,
            state: ConversationState::Bot.as_str().into(),
            escalation_reason: None,
            last_inbound_at: None,
            window_closed_at: None,
            created_at: self.now,
            updated_at: self.now,
        };
        if tx.insert_conversation(&fresh).await? {
            return Ok(fresh.id);
        }
        // A concurrent transaction opened it first and has committed, so it is visible now.
        let open = tx.open_conversation(self.channel.id, contact.id).await?;
        open.map(|c| c.id).ok_or_else(|| StoreError::Config("open conversation vanished during insert".into()))
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
                self.trail.extend(customer_unreachable(self.state, tx, &message, self.now).await?);
            }
            (("message", message.id.to_string()), message.status, moved)
        } else if let Some(message) = tx.owner_message_by_provider_id(self.channel.id, &s.provider_message_id).await?
            && message.direction == "out"
        {
            let moved = tx.advance_owner_message_status(message.id, &change).await?;
            if moved && window_closed {
                self.trail.extend(owner_unreachable(self.state, tx, &message, self.now).await?);
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
        if let Some(contact) = contacts::rekey_bsuid(tx, &self.state.keys, change, self.now).await? {
            self.report.identity_changes += 1;
            self.trail.push(AuditEntry::new(&self.actor, "contact.rekeyed", "contact", Some(contact.to_string())));
        }
        Ok(())
    }
}
