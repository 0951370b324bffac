//! Messages to customers: stored encrypted with one send job per part, in the caller's
//! transaction (a transactional outbox).
use chrono::{DateTime, Utc};

use super::JobKind;
use crate::app::AppState;
use crate::contacts;
use crate::domain::{Author, ConversationId, MessageId, MessageMeta};
use crate::engine::BusinessProfile;
use crate::llm::prompt::Business;
use crate::store::{JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx};

/// The engine's view of the tenant.
pub fn business_profile(tenant: &TenantRecord) -> BusinessProfile {
    BusinessProfile {
        name: tenant.name.clone(),
        language: tenant.settings.language.clone(),
        escalate_media: tenant.settings.media_policy == "escalate",
        answer_groups: tenant.settings.answer_groups,
    }
}

/// The LLM's view of the business.
pub fn business_of(tenant: &TenantRecord) -> Business {
    let s = &tenant.settings;
    Business {
        name: tenant.name.clone(),
        description: s.description.clone(),
        address: s.address.clone(),
        opening_hours: s.opening_hours.clone(),
        tone: s.tone.clone(),
        language: s.language.clone(),
    }
}

/// Stores the parts of a reply to `inbound` and enqueues one send job per part.
pub async fn store_reply(
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
    store_outbound(state, tx, &original, Some(inbound), author, parts, now).await
}

/// Stores a message to the customer of a conversation that answers no message in
/// particular (an owner's relay, a wait notice); it goes where the latest inbound came from.
pub async fn store_to_customer(
    state: &AppState,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    author: Author,
    parts: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let recent = tx.recent_messages(conversation, 20).await?;
    let Some(latest) = recent.iter().rev().find(|m| m.direction == "in") else {
        return Ok(Vec::new());
    };
    store_outbound(state, tx, latest, None, author, parts, now).await
}

async fn store_outbound(
    state: &AppState,
    tx: &mut dyn TenantTx,
    original: &MessageRecord,
    reply_to: Option<MessageId>,
    author: Author,
    parts: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let Some(contact) = tx.contact(original.contact_id).await? else {
        return Ok(Vec::new());
    };
    let key = state.keys.vault.unwrap_key(&contact.wrapped_key)?;
    // A reply to a group message goes back to the group.
    let group = contacts::message_meta(original, &key)?.group;
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
            reply_to,
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
