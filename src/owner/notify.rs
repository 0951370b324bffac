//! Telling owners: the notice of a new ticket, reminders, forwarded customer messages and
//! answers to their commands. Each is an `owner_messages` row with its own send job, written
//! in the caller's transaction. A text about a customer is encrypted with that customer's key.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::texts::OwnerTexts;
use super::tickets::window_left;
use super::{Purpose, Route};
use crate::audit::{self, AuditEntry};
use crate::chats;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{
    ChannelId, ContactId, ConversationId, Direction, EscalationId, OwnerId, OwnerMessageId, Phone, TenantId,
};
use crate::engine::assistant;
use crate::jobs::{JobFailure, JobKind};
use crate::llm::{Attempt, Llm};
use crate::store::{
    ContactRecord, ConversationOps, ConversationRecord, EscalationRecord, JobOps, JobOutcome, JobRecord, MediaOps,
    MessageRecord, OwnerMessageRecord, OwnerOps, StoreResult, TenantOps,
};
use crate::worker::WorkerDeps;
use crate::worker::outbound::business_of;

/// The notice warns when the customer's 24-hour window closes within this many hours.
const WINDOW_WARNING_HOURS: i64 = 4;
/// Messages of the conversation the LLM summarises.
const SUMMARY_MESSAGES: i64 = 12;
/// Forwarded customer text is cut here; the whole message is in the conversation.
const FORWARD_CHARS: usize = 1000;

/// What an owner message is about, and the key its body is encrypted with.
#[derive(Clone, Copy)]
pub struct About<'a> {
    pub channel: ChannelId,
    pub escalation: Option<EscalationId>,
    /// The customer it is about; `key` must then be that contact's key, else the tenant's.
    pub contact: Option<ContactId>,
    pub key: &'a DataKey,
}

/// One message for an owner: its route (`whatsapp` or `email`), why it is sent, its text.
#[derive(Clone, Copy)]
pub struct Note<'a> {
    pub route: Route,
    pub purpose: Purpose,
    pub text: &'a str,
}

/// Queues one message to one owner.
pub async fn queue(
    core: &Core,
    tx: &mut (impl OwnerOps + JobOps + ?Sized),
    owner: OwnerId,
    about: About<'_>,
    note: Note<'_>,
    now: DateTime<Utc>,
) -> StoreResult<OwnerMessageId> {
    let queued = queue_carrying(core, tx, owner, about, (note, None), now).await?;
    queued.ok_or_else(|| crate::store::StoreError::Invariant("a fresh owner message id was taken".into()))
}

/// Queues one message to one owner, carrying a customer's stored attachment when `media` is set;
/// `None` when that attachment was already queued to that owner (a file is forwarded once).
pub async fn queue_carrying(
    core: &Core,
    tx: &mut (impl OwnerOps + JobOps + ?Sized),
    owner: OwnerId,
    about: About<'_>,
    (note, media): (Note<'_>, Option<uuid::Uuid>),
    now: DateTime<Utc>,
) -> StoreResult<Option<OwnerMessageId>> {
    let Note { route, purpose, text } = note;
    let record = OwnerMessageRecord {
        id: OwnerMessageId::new(),
        tenant_id: tx.tenant_id(),
        owner_id: owner,
        channel_id: about.channel,
        escalation_id: about.escalation,
        contact_id: about.contact,
        direction: Direction::Out,
        route,
        purpose,
        body_enc: Some(about.key.encrypt(text)),
        provider_message_id: None,
        quoted_provider_id: None,
        media_id: media,
        meta_enc: None,
        status: "queued".into(),
        status_rank: 0,
        error_code: None,
        created_at: now,
        updated_at: now,
    };
    if !tx.insert_owner_message(&record).await? {
        return Ok(None);
    }
    let job = JobRecord::new(record.tenant_id, JobKind::OwnerSend, record.id.0, core.jobs.max_attempts, now);
    tx.enqueue_job(&job).await?;
    Ok(Some(record.id))
}

/// Queues `text` to every owner on WhatsApp (and by e-mail, see `Purpose::emailed_too`); returns how
/// many messages were queued.
pub async fn to_owners(
    core: &Core,
    tx: &mut (impl OwnerOps + JobOps + ?Sized),
    about: About<'_>,
    purpose: Purpose,
    text: &str,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let email = purpose.emailed_too();
    let mut queued = 0;
    for owner in tx.owners().await? {
        if owner.phone_enc.is_some() || owner.bsuid_enc.is_some() {
            queue(core, tx, owner.id, about, Note { route: Route::WhatsApp, purpose, text }, now).await?;
            queued += 1;
        }
        if email && core.owner_email && owner.email_enc.is_some() {
            queue(core, tx, owner.id, about, Note { route: Route::Email, purpose, text }, now).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// How the owner sees a customer: name and masked number, or the WhatsApp username.
pub fn customer_label(contact: &ContactRecord, key: &DataKey) -> StoreResult<String> {
    let name = key.decrypt_opt(contact.name_enc.as_deref())?;
    let phone = key.decrypt_opt(contact.phone_enc.as_deref())?.and_then(|p| Phone::parse(&p).ok());
    let username = key.decrypt_opt(contact.username_enc.as_deref())?;
    let handle = phone.map(|p| p.masked()).or(username.map(|u| format!("@{u}")));
    Ok(match (name, handle) {
        (Some(name), Some(handle)) => format!("{name} ({handle})"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "?".into(),
    })
}

/// The customer's label, marked when they wrote in a group, so the owner knows who else reads.
fn in_chat(texts: &OwnerTexts, customer: String, in_group: bool) -> String {
    if in_group { texts.fill("in_group", &[("customer", &customer)]) } else { customer }
}

/// The label of a stored contact (`?` when it is gone), for lists that hold several customers.
pub async fn label_of(
    core: &Core,
    tx: &mut (impl ConversationOps + ?Sized),
    contact: ContactId,
) -> StoreResult<String> {
    match tx.contact(contact).await? {
        Some(c) => customer_label(&c, &core.keys.vault.unwrap_key(&c.wrapped_key)?),
        None => Ok("?".into()),
    }
}

/// The `owner_notice` job: tells every owner about a new ticket, with a summary from the LLM
/// when one is configured (asked outside any transaction) and the ticket has none yet.
pub async fn run_notice(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let permanent = |class: &str| JobFailure::Permanent(class.into());
    let id = EscalationId(job.subject_id);
    let (summary, attempts) = match &deps.llm {
        Some(llm) => llm_summary(core, llm, job.tenant_id, id).await?,
        None => (None, Vec::new()),
    };
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let mut ticket = tx.lock_escalation(id).await?.ok_or_else(|| permanent("ticket_missing"))?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(());
    }
    deps.metrics.llm(&attempts);
    let mut trail =
        assistant::record_usage(&mut *tx, ticket.trigger_message_id, ("escalation", id.to_string()), &attempts, now)
            .await?;
    let conversation =
        tx.conversation(ticket.conversation_id).await?.ok_or_else(|| permanent("conversation_missing"))?;
    let contact = tx.contact(ticket.contact_id).await?.ok_or_else(|| permanent("contact_missing"))?;
    let tenant = tx.tenant().await?.ok_or_else(|| permanent("tenant_missing"))?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    if ticket.summary_enc.is_none() {
        ticket.summary_enc = key.encrypt_opt(summary.as_deref());
    }
    let recent = tx.recent_messages(conversation.id, 10).await?;
    let texts = OwnerTexts::new(&tenant.settings.language);
    let text = notice_text(&texts, &ticket, &conversation, &contact, &key, &recent, now)?;
    let about =
        About { channel: conversation.channel_id, escalation: Some(ticket.id), contact: Some(contact.id), key: &key };
    let queued = to_owners(core, &mut *tx, about, Purpose::Notice, &text, now).await?;
    ticket.notified_at = Some(now);
    tx.update_escalation(&ticket).await?;
    if queued == 0 {
        tracing::warn!(tenant = %tenant.id, ticket = ticket.number, "a ticket was opened but the tenant has no owner number");
    }
    trail.push(
        AuditEntry::new("worker", "escalation.notified", "escalation", Some(ticket.id.to_string()))
            .detail(json!({ "ticket": ticket.number, "messages": queued })),
    );
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

/// Asks the LLM for a two-line summary, within the tenant's token budget; one the checks
/// refuse is `None`, and the notice shows the customer's last messages instead.
async fn llm_summary(
    core: &Core,
    llm: &Llm,
    tenant: TenantId,
    id: EscalationId,
) -> Result<(Option<String>, Vec<Attempt>), JobFailure> {
    let mut tx = core.store.begin_read(tenant).await?;
    let Some(ticket) = tx.escalation(id).await?.filter(|t| t.summary_enc.is_none()) else {
        return Ok((None, Vec::new()));
    };
    let Some(tenant) = tx.tenant().await? else { return Ok((None, Vec::new())) };
    let blocked = crate::privacy::subprocessor_changes::blocked_hosts(&mut *tx, core.clock.now()).await?;
    let llm = llm.for_tenant(crate::llm_profiles::choice_of(&tenant, &core.keys, blocked)?);
    let used = tx.llm_tokens_since(assistant::month_start(core.clock.now())).await?;
    let Some(contact) = tx.contact(ticket.contact_id).await? else { return Ok((None, Vec::new())) };
    let recent = tx.recent_messages(ticket.conversation_id, SUMMARY_MESSAGES).await?;
    let faq = tx.kb_entries().await?;
    tx.commit().await?;
    // Past the operator's budget only the shop's own key may summarize.
    let llm = match (used >= tenant.settings.monthly_token_budget, llm.own_key()) {
        (false, _) => llm,
        (true, true) => llm.own_key_only(),
        (true, false) => return Ok((None, Vec::new())),
    };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let mut history = Vec::new();
    for m in &recent {
        if let Some(text) = key.decrypt_opt(m.body_enc.as_deref())? {
            history.push((if m.direction == Direction::In { "user" } else { "assistant" }, text));
        }
    }
    if history.is_empty() {
        return Ok((None, Vec::new()));
    }
    Ok(assistant::summarize(&llm, &business_of(&tenant), &faq, &history).await)
}

/// The notice: who, why, the summary, the last messages, the suggested reply, the window, the commands.
fn notice_text(
    texts: &OwnerTexts,
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    contact: &ContactRecord,
    key: &DataKey,
    recent: &[MessageRecord],
    now: DateTime<Utc>,
) -> StoreResult<String> {
    let number = ticket.number.to_string();
    let customer = in_chat(texts, customer_label(contact, key)?, chats::is_group(conversation));
    let reason = texts.reason(ticket.reason).replace("{ticket}", &number);
    let mut parts = vec![texts.fill("notice", &[("ticket", &number), ("customer", &customer), ("reason", &reason)])];
    // The checked summary when the LLM wrote one, and always the customer's own last words.
    if let Some(summary) = key.decrypt_opt(ticket.summary_enc.as_deref())? {
        parts.push(texts.fill("summary", &[("summary", &summary)]));
    }
    if let Some(lines) = last_customer_lines(recent, key)? {
        parts.push(texts.fill("last_messages", &[("messages", &lines)]));
    }
    if let Some(draft) = key.decrypt_opt(ticket.draft_enc.as_deref())? {
        parts.push(texts.fill("draft", &[("ticket", &number), ("draft", &draft)]));
    }
    if let Some(left) = window_left(conversation, now)
        && left.num_hours() < WINDOW_WARNING_HOURS
    {
        let hours = (left.num_minutes() + 59) / 60;
        parts.push(texts.fill("window_warning", &[("hours", &hours.to_string())]));
    }
    parts.push(texts.fill("commands", &[("ticket", &number)]));
    Ok(parts.join("\n\n"))
}

/// The customer's last three messages, quoted and shortened.
fn last_customer_lines(recent: &[MessageRecord], key: &DataKey) -> StoreResult<Option<String>> {
    let mut lines = Vec::new();
    for message in recent.iter().rev().filter(|m| m.direction == Direction::In) {
        if let Some(text) = key.decrypt_opt(message.body_enc.as_deref())? {
            lines.push(format!("“{}”", shorten(text.trim(), 160)));
        }
        if lines.len() == 3 {
            break;
        }
    }
    lines.reverse();
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

/// Forwards a customer's message on an open ticket to every owner, instead of an answer.
pub async fn forward(
    core: &Core,
    tx: &mut (impl ConversationOps + OwnerOps + JobOps + TenantOps + MediaOps + ?Sized),
    ticket: &EscalationRecord,
    message: &MessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Some(contact) = tx.contact(message.contact_id).await? else { return Ok(Vec::new()) };
    let Some(tenant) = tx.tenant().await? else { return Ok(Vec::new()) };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let texts = OwnerTexts::new(&tenant.settings.language);
    let number = ticket.number.to_string();
    let meta = contacts::message_meta(message, &key)?;
    if message.kind.is_media() && meta.media_ref.is_some() {
        // The file itself goes: now if it is stored, else when the `media_fetch` job stores it.
        return super::forward_media::queue_forwards(core, tx, message.id, now).await;
    }
    let in_group = meta.group.is_some();
    let customer = in_chat(&texts, customer_label(&contact, &key)?, in_group);
    let kind = message.kind;
    let text = match key.decrypt_opt(message.body_enc.as_deref())? {
        Some(body) if kind.carries_question() => texts
            .fill("forward", &[("ticket", &number), ("customer", &customer), ("text", &shorten(&body, FORWARD_CHARS))]),
        _ => texts.fill("forward_media", &[("ticket", &number), ("customer", &customer), ("kind", &texts.kind(kind))]),
    };
    let about =
        About { channel: message.channel_id, escalation: Some(ticket.id), contact: Some(contact.id), key: &key };
    let queued = to_owners(core, tx, about, Purpose::Forward, &text, now).await?;
    Ok(vec![
        AuditEntry::new("worker", "message.forwarded_to_owner", "message", Some(message.id.to_string()))
            .detail(json!({ "ticket": ticket.number, "messages": queued })),
    ])
}

/// A customer message in a conversation the owner has: forwarded to its open ticket (which is
/// returned, for more notes about it), or recorded as skipped when none is open.
pub async fn forward_to_ticket(
    core: &Core,
    tx: &mut (impl ConversationOps + OwnerOps + JobOps + TenantOps + MediaOps + ?Sized),
    conversation: ConversationId,
    message: &MessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<(Option<EscalationRecord>, Vec<AuditEntry>)> {
    match tx.open_escalation(conversation).await? {
        Some(ticket) => {
            let trail = forward(core, tx, &ticket, message, now).await?;
            Ok((Some(ticket), trail))
        }
        None => Ok((
            None,
            vec![
                AuditEntry::new("worker", "reply.skipped", "message", Some(message.id.to_string()))
                    .detail(json!({ "why": "conversation_not_with_bot" })),
            ],
        )),
    }
}

pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}
