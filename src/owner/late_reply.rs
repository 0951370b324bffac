//! Late owner replies. When the owner answers after the customer's 24-hour window closed, the
//! reply is held (status `held`), the customer gets the approved follow-up template once ("the
//! shop has answered you; reply to see it"), and the owner is told. The customer's next message
//! reopens the window and releases the held replies, in order, exactly once (each moves from
//! `held` to `queued` in the transaction that queues its send). Still held when the wait
//! (`BALAS_LATE_REPLY_DAYS`) ends, they become `not_delivered` and the owner is told.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Purpose;
use super::notify::{About, customer_label, to_owners};
use super::template_notice::{plain_payloads, sendable_record, template_cap};
use super::texts::OwnerTexts;
use crate::audit::{self, AuditEntry};
use crate::channels::templates::{self, TemplateMessage, TemplatePurpose};
use crate::core::Core;
use crate::domain::{Author, MessageId};
use crate::jobs::{JobFailure, JobKind};
use crate::store::{
    ChannelRecord, ConversationRecord, JobOutcome, JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx,
};
use crate::worker::outbound::store_template_to_customer;

const HELD: &str = "held";
const FOLLOW_UP: TemplatePurpose = TemplatePurpose::CustomerFollowUp;

/// The owner's reply bounced on the customer's closed window: hold it and send the follow-up
/// template. `None` when it cannot be held (not an owner's reply, no window, no approved
/// follow-up): the caller reports it undeliverable as before.
pub async fn hold(
    core: &Core,
    tx: &mut dyn TenantTx,
    message: &MessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<Vec<AuditEntry>>> {
    if message.author != Author::Owner {
        return Ok(None);
    }
    let (Some(channel), Some(tenant)) = (tx.channel(message.channel_id).await?, tx.tenant().await?) else {
        return Ok(None);
    };
    let Some(conversation) = tx.conversation(message.conversation_id).await? else { return Ok(None) };
    if follow_up(tx, &channel, &tenant, now).await?.is_none() {
        return Ok(None);
    }
    if !tx.move_message_status(message.id, "queued", HELD, Some("window_closed"), now).await? {
        return Ok(None);
    }
    tx.mark_conversation_window_closed(conversation.id, now).await?;
    let mut trail = vec![
        AuditEntry::new("worker", "message.held", "message", Some(message.id.to_string()))
            .detail(json!({ "why": "window_closed" })),
    ];
    // One follow-up, one notice to the owner and one wait per batch of held replies.
    if tx.held_messages(conversation.id).await?.len() > 1 {
        return Ok(Some(trail));
    }
    let language = &tenant.settings.language;
    let text = templates::template(FOLLOW_UP).translation(language).body.replace("{{1}}", &tenant.name);
    let sent = store_template_to_customer(core, tx, conversation.id, FOLLOW_UP, &text, now).await?;
    let mut wait = JobRecord::new(message.tenant_id, JobKind::HeldReply, message.id.0, core.jobs.max_attempts, now);
    wait.run_at = now + chrono::Duration::from_std(core.jobs.late_reply_wait).unwrap_or(chrono::Duration::days(7));
    tx.enqueue_job(&wait).await?;
    let days = (wait.run_at - now).num_days().max(1).to_string();
    tell_owners(core, tx, &conversation, "late_reply_held", &[("days", &days)], now).await?;
    trail.push(
        AuditEntry::new("worker", "message.follow_up_sent", "conversation", Some(conversation.id.to_string()))
            .detail(json!({ "messages": sent, "template": FOLLOW_UP.as_str() })),
    );
    Ok(Some(trail))
}

/// The customer wrote: their window is open again, so the held replies go now, in order.
pub async fn release(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: &ConversationRecord,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut released = Vec::new();
    for message in tx.held_messages(conversation.id).await? {
        if tx.move_message_status(message.id, HELD, "queued", None, now).await? {
            // Its send job finished when the window refused it; it runs again from the start.
            if !tx.rerun_job(JobKind::Send, message.id.0, now).await? {
                let job = JobRecord::new(message.tenant_id, JobKind::Send, message.id.0, core.jobs.max_attempts, now);
                tx.enqueue_job(&job).await?;
            }
            released.push(message.id);
        }
    }
    if released.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![
        AuditEntry::new("worker", "message.released", "conversation", Some(conversation.id.to_string()))
            .detail(json!({ "messages": released })),
    ])
}

/// The `held_reply` job: the wait is over; replies still held are not delivered.
pub async fn expire(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(());
    }
    // The reply that started this wait: released (or erased) means its batch is over.
    let Some(first) = tx.message(MessageId(job.subject_id)).await?.filter(|m| m.status == HELD) else {
        tx.commit().await?;
        return Ok(());
    };
    let mut expired = Vec::new();
    // While it is held, every reply held in the conversation joined its batch.
    for message in tx.held_messages(first.conversation_id).await? {
        if tx.move_message_status(message.id, HELD, "not_delivered", Some("window_closed"), now).await? {
            expired.push(message.id);
        }
    }
    if !expired.is_empty() {
        if let Some(conversation) = tx.conversation(first.conversation_id).await? {
            tell_owners(core, &mut *tx, &conversation, "late_reply_not_delivered", &[], now).await?;
        }
        let entry =
            AuditEntry::new("worker", "message.not_delivered", "conversation", Some(first.conversation_id.to_string()))
                .detail(json!({ "messages": expired, "why": "no_answer_to_follow_up" }));
        audit::append(&mut *tx, vec![entry], now).await?;
    }
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

/// The follow-up template to send on this channel now, if one is approved in the tenant's language.
pub async fn follow_up(
    tx: &mut dyn TenantTx,
    channel: &ChannelRecord,
    tenant: &TenantRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<TemplateMessage>> {
    if channel.provider == "fonnte" || template_cap(tx, tenant, now).await?.reached() {
        return Ok(None);
    }
    let language = &tenant.settings.language;
    let recorded = tx.channel_templates(channel.id).await?;
    let Some(record) = sendable_record(&recorded, FOLLOW_UP, language, now) else { return Ok(None) };
    let parameters = vec![templates::parameter(&tenant.name, templates::template(FOLLOW_UP).limits[0])];
    // The customer's tap needs no signature: any message from them releases the reply.
    let payloads = plain_payloads(FOLLOW_UP, channel);
    Ok(Some(TemplateMessage { name: record.name.clone(), language: language.clone(), parameters, payloads }))
}

/// Tells the owners about the conversation's late reply, on its open ticket if there is one.
async fn tell_owners(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: &ConversationRecord,
    text: &str,
    values: &[(&str, &str)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let (Some(contact), Some(tenant)) = (tx.contact(conversation.contact_id).await?, tx.tenant().await?) else {
        return Ok(());
    };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let customer = customer_label(&contact, &key)?;
    let ticket = tx.open_escalation(conversation.id).await?;
    let mut filled = vec![("customer", customer.as_str())];
    filled.extend_from_slice(values);
    let text = OwnerTexts::new(&tenant.settings.language).fill(text, &filled);
    let about = About {
        channel: conversation.channel_id,
        escalation: ticket.map(|t| t.id),
        contact: Some(contact.id),
        key: &key,
    };
    to_owners(core, tx, about, Purpose::Undeliverable, &text, now).await?;
    Ok(())
}
