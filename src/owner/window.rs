//! The 24-hour customer-service window. When a provider refuses a message because the
//! window has closed (Meta 131047, Twilio 63016), at send time or later in a status webhook,
//! the message is not retried: the window is marked closed and the owner is told another way.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::notify::{About, Note, customer_label, queue, to_owners};
use super::texts::OwnerTexts;
use super::{Purpose, Route};
use crate::audit::AuditEntry;
use crate::core::Core;
use crate::domain::{ConversationState, EscalationReason};
use crate::engine::Handover;
use crate::store::{
    ConversationOps, JobOps, MessageRecord, OwnerMessageRecord, OwnerOps, StoreResult, TenantOps, TenantTx,
};
use crate::tenants;

/// Provider error codes that mean "outside the 24-hour window".
pub fn is_window_closed(error_code: &str) -> bool {
    matches!(error_code, "131047" | "63016" | "window_closed")
}

/// A message to a customer bounced on the closed window: mark it, and tell the owner once
/// (on the open ticket, or by opening one when the bot had the conversation).
pub async fn customer_unreachable(
    core: &Core,
    tx: &mut dyn TenantTx,
    message: &MessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Some(conversation) = tx.conversation(message.conversation_id).await? else { return Ok(Vec::new()) };
    if conversation.window_closed_at.is_some() {
        return Ok(Vec::new()); // another part of the same answer bounced first; the owner knows
    }
    tx.mark_conversation_window_closed(conversation.id, now).await?;
    let mut trail = vec![
        AuditEntry::new("worker", "conversation.window_closed", "conversation", Some(conversation.id.to_string()))
            .detail(json!({ "message": message.id })),
    ];
    if let Some(ticket) = tx.open_escalation(conversation.id).await? {
        let Some(contact) = tx.contact(conversation.contact_id).await? else { return Ok(trail) };
        let Some(tenant) = tx.tenant().await? else { return Ok(trail) };
        let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
        let customer = customer_label(&contact, &key)?;
        let text = OwnerTexts::new(&tenant.settings.language)
            .fill("undeliverable", &[("ticket", &ticket.number.to_string()), ("customer", &customer)]);
        let about = About {
            channel: conversation.channel_id,
            escalation: Some(ticket.id),
            contact: Some(contact.id),
            key: &key,
        };
        to_owners(core, tx, about, Purpose::Undeliverable, &text, now).await?;
    } else if conversation.state == ConversationState::Bot {
        let handover = Handover::because(EscalationReason::WindowClosed);
        let opening = super::tickets::Opening::after(message.reply_to, false);
        trail.extend(super::escalate(core, tx, &conversation, &handover, opening, now).await?.1);
    }
    Ok(trail)
}

/// A message to an owner bounced on the owner's own closed window: mark it, and send it by
/// e-mail when the owner has an address and SMTP is configured.
pub async fn owner_unreachable(
    core: &Core,
    tx: &mut (impl ConversationOps + OwnerOps + JobOps + TenantOps + ?Sized),
    message: &OwnerMessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    tx.mark_owner_window_closed(message.owner_id, now).await?;
    let Some(owner) = tx.owner(message.owner_id).await? else { return Ok(Vec::new()) };
    // Notices went by e-mail already; an answer to a command needs none (the owner just wrote).
    let wants_email = !message.purpose.emailed_too() && !message.purpose.is_answer();
    let by_email = message.route == Route::WhatsApp && wants_email && core.owner_email && owner.email_enc.is_some();
    if by_email {
        let key = match message.contact_id {
            Some(id) => match tx.contact(id).await? {
                Some(contact) => core.keys.vault.unwrap_key(&contact.wrapped_key)?,
                None => return Ok(Vec::new()),
            },
            None => tenants::data_key(tx, &core.keys).await?,
        };
        let body = key.decrypt_opt(message.body_enc.as_deref())?.unwrap_or_default();
        let about = About {
            channel: message.channel_id,
            escalation: message.escalation_id,
            contact: message.contact_id,
            key: &key,
        };
        let note = Note { route: Route::Email, purpose: message.purpose, text: &body };
        queue(core, tx, owner.id, about, note, now).await?;
    }
    Ok(vec![
        AuditEntry::new("worker", "owner.window_closed", "owner", Some(owner.id.to_string()))
            .detail(json!({ "owner_message": message.id, "purpose": message.purpose, "email_fallback": by_email })),
    ])
}
