//! The one-time review of conversations opened before chats were kept apart: migration 0009
//! lists those that may mix a direct chat and a group in `chat_reviews`. Group ids are
//! encrypted, so the review runs in `serve`, with the keys, before the server takes webhooks.
//!
//! A conversation of one chat goes on, fixed to that chat. One that mixed chats (or whose
//! messages cannot be read) is closed with its open ticket, and the owners are told why. Each
//! step is audited; a conversation leaves the list in the transaction that reviews it.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Chat;
use crate::audit::{self, AuditEntry};
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{ConversationEvent, ConversationId, ConversationState, MessageMeta, TicketStatus};
use crate::owner::notify::{About, customer_label, to_owners};
use crate::owner::texts::OwnerTexts;
use crate::store::{ChatOps, ConversationOps, ConversationRecord, JobOps, OwnerOps, StoreResult, TenantOps, TenantTx};

/// Conversations reviewed per transaction.
const BATCH: i64 = 100;
/// Who the audit names for these steps.
const ACTOR: &str = "system:chat_review";

/// What the review did, for the log line at start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReviewReport {
    pub reviewed: usize,
    /// Left as they were: the customer's direct chat only.
    pub direct: usize,
    /// Fixed to the one group all their messages came from.
    pub group: usize,
    /// Closed because they mixed chats or could not be read.
    pub closed: usize,
    /// Open tickets closed with them (their owners were told).
    pub tickets_closed: usize,
}

/// Reviews every listed conversation of every tenant.
pub async fn run(core: &Core) -> StoreResult<ReviewReport> {
    let mut report = ReviewReport::default();
    for tenant in core.store.tenant_ids().await? {
        loop {
            let now = core.clock.now();
            let mut tx = core.store.begin(tenant).await?;
            let pending = tx.chat_reviews(BATCH).await?;
            if pending.is_empty() {
                tx.commit().await?;
                break;
            }
            let mut trail = Vec::new();
            for id in pending {
                trail.extend(review(core, &mut *tx, id, now, &mut report).await?);
                tx.finish_chat_review(id).await?;
            }
            audit::append(&mut *tx, trail, now).await?;
            tx.commit().await?;
        }
    }
    if report.reviewed > 0 {
        tracing::info!(
            reviewed = report.reviewed,
            direct = report.direct,
            group = report.group,
            closed = report.closed,
            tickets_closed = report.tickets_closed,
            "reviewed the conversations from before group chats were kept apart"
        );
        core.work_queued();
    }
    Ok(report)
}

/// The chats a conversation's customer messages came from; `None` when one cannot be read.
async fn chats_of(
    tx: &mut (impl ChatOps + ?Sized),
    conversation: ConversationId,
    key: &DataKey,
) -> StoreResult<Option<Vec<Option<String>>>> {
    let mut chats = Vec::new();
    for sealed in tx.inbound_metas(conversation).await? {
        let Ok(meta) = contacts::open_meta(sealed.as_deref(), key) else { return Ok(None) };
        if !chats.contains(&meta.group) {
            chats.push(meta.group);
        }
    }
    Ok(Some(chats))
}

async fn review(
    core: &Core,
    tx: &mut dyn TenantTx,
    id: ConversationId,
    now: DateTime<Utc>,
    report: &mut ReviewReport,
) -> StoreResult<Vec<AuditEntry>> {
    report.reviewed += 1;
    let Some(conversation) = tx.conversation(id).await? else { return Ok(Vec::new()) };
    let Some(from) = Some(conversation.state).filter(|s| *s != ConversationState::Closed) else {
        return Ok(Vec::new());
    };
    let key = match tx.contact(conversation.contact_id).await? {
        Some(contact) => core.keys.vault.unwrap_key(&contact.wrapped_key).ok(),
        None => None,
    };
    let chats = match &key {
        Some(key) => chats_of(tx, id, key).await?,
        None => None,
    };
    match (chats.as_deref(), &key) {
        (Some([] | [None]), _) => {
            report.direct += 1;
            Ok(Vec::new())
        }
        (Some([Some(group)]), Some(key)) => {
            let meta = MessageMeta { group: Some(group.clone()), ..MessageMeta::default() };
            let chat = Chat::of(&core.keys.index, conversation.tenant_id, &meta);
            tx.set_conversation_chat(id, &chat.index, chat.seal(key).as_deref()).await?;
            report.group += 1;
            Ok(vec![
                AuditEntry::new(ACTOR, "conversation.chat_fixed", "conversation", Some(id.to_string()))
                    .detail(json!({ "chat": "group" })),
            ])
        }
        _ => close_mixed(core, tx, &conversation, from, key.as_ref(), chats.map(|c| c.len()), now, report).await,
    }
}

/// Closes a conversation that mixed chats, and its open ticket, telling the owners.
#[allow(clippy::too_many_arguments)]
async fn close_mixed(
    core: &Core,
    tx: &mut (impl ConversationOps + OwnerOps + JobOps + TenantOps + ?Sized),
    conversation: &ConversationRecord,
    from: ConversationState,
    key: Option<&DataKey>,
    chats: Option<usize>,
    now: DateTime<Utc>,
    report: &mut ReviewReport,
) -> StoreResult<Vec<AuditEntry>> {
    let Ok(to) = from.on(ConversationEvent::SplitChats) else { return Ok(Vec::new()) };
    if !tx.transition_conversation(conversation.id, from.as_str(), to.as_str(), None, now).await? {
        return Ok(Vec::new());
    }
    report.closed += 1;
    let mut ticket_number = None;
    let mut told = 0;
    if let Some(mut ticket) = tx.open_escalation(conversation.id).await? {
        ticket.status = TicketStatus::Resolved;
        ticket.closed_at = Some(now);
        ticket.closed_by = Some(ACTOR.into());
        tx.update_escalation(&ticket).await?;
        report.tickets_closed += 1;
        ticket_number = Some(ticket.number);
        if let (Some(key), Some(contact), Some(tenant)) =
            (key, tx.contact(conversation.contact_id).await?, tx.tenant().await?)
        {
            let number = ticket.number.to_string();
            let customer = customer_label(&contact, key)?;
            let text = OwnerTexts::new(&tenant.settings.language)
                .fill("chat_split", &[("ticket", &number), ("customer", &customer)]);
            let about =
                About { channel: conversation.channel_id, escalation: Some(ticket.id), contact: Some(contact.id), key };
            told = to_owners(core, tx, about, crate::owner::Purpose::Notice, &text, now).await?;
        }
    }
    Ok(vec![
        AuditEntry::new(ACTOR, "conversation.closed_mixed_chats", "conversation", Some(conversation.id.to_string()))
            .detail(json!({ "from": from.as_str(), "chats": chats, "ticket": ticket_number, "owner_messages": told })),
    ])
}
