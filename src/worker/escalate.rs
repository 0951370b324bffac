//! Handing a conversation to the owner. The full owner loop (notices, tickets, commands)
//! builds on this; what holds already: the transition happens once, is audited, and the
//! customer gets the holding message once.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::JobKind;
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::contacts;
use crate::domain::{Author, ConversationId, ConversationState, EscalationReason, MessageId, MessageMeta};
use crate::engine::{BusinessProfile, Template, render};
use crate::store::{JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx};

/// Moves the conversation from `bot` to `escalated`; returns the audit entries to append.
/// Does nothing when the conversation is not with the bot any more.
pub async fn escalate(
    state: &AppState,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    reason: EscalationReason,
    trigger: Option<MessageId>,
    holding_message: bool,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let moved = tx
        .transition_conversation(
            conversation,
            ConversationState::Bot.as_str(),
            ConversationState::Escalated.as_str(),
            Some(reason.as_str()),
            now,
        )
        .await?;
    if !moved {
        return Ok(Vec::new());
    }
    let mut trail = vec![
        AuditEntry::new("worker", "conversation.escalated", "conversation", Some(conversation.to_string()))
            .detail(json!({ "from": "bot", "to": "escalated", "reason": reason.as_str(), "trigger": trigger })),
    ];
    if holding_message && let Some(trigger) = trigger {
        let (language, name) =
            tx.tenant().await?.map(|t| (t.settings.language, t.name)).unwrap_or(("id".into(), String::new()));
        let text = render(Template::Holding, &language, &name);
        let ids = store_reply(state, tx, trigger, Author::System, &[text], now).await?;
        trail.push(
            AuditEntry::new("worker", "reply.holding", "message", Some(trigger.to_string()))
                .detail(json!({ "messages": ids })),
        );
    }
    Ok(trail)
}

/// The engine's view of the tenant.
pub(super) fn business_profile(tenant: &TenantRecord) -> BusinessProfile {
    BusinessProfile {
        name: tenant.name.clone(),
        language: tenant.settings.language.clone(),
        escalate_media: tenant.settings.media_policy == "escalate",
        answer_groups: tenant.settings.answer_groups,
    }
}

/// Stores the parts of a reply to `inbound` and enqueues one send job per part.
pub(super) async fn store_reply(
    state: &AppState,
    tx: &mut dyn TenantTx,
    inbound: MessageId,
    author: Author,
    parts: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let Some(original) = tx.message(inbound).await? else {
        return Ok(Vec::new());
    };
    let Some(contact) = tx.contact(original.contact_id).await? else {
        return Ok(Vec::new());
    };
    let key = state.keys.vault.unwrap_key(&contact.wrapped_key)?;
    // A reply to a group message goes back to the group.
    let group = contacts::message_meta(&original, &key)?.group;
    let meta_enc = contacts::seal_meta(&MessageMeta { group, ..MessageMeta::default() }, &key);
    let mut ids = Vec::new();
    for (part, text) in parts.iter().enumerate() {
        let record = MessageRecord {
            id: MessageId::new(),
            tenant_id: original.tenant_id,
            channel_id: original.channel_id,
            conversation_id: original.conversation_id,
            contact_id: original.contact_id,
            direction: "out".into(),
            author: author.as_str().into(),
            kind: "text".into(),
            body_enc: Some(key.encrypt(text)),
            meta_enc: meta_enc.clone(),
            provider_message_id: None,
            reply_to: Some(inbound),
            part: part as i32,
            status: "queued".into(),
            status_rank: 0,
            error_code: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        };
        if tx.insert_message(&record).await? {
            let job = JobRecord::new(original.tenant_id, JobKind::Send, record.id.0, state.config.max_attempts, now);
            tx.enqueue_job(&job).await?;
            ids.push(record.id);
        }
    }
    Ok(ids)
}
