//! Messages to customers: stored encrypted with one send job per part, in the caller's
//! transaction (a transactional outbox). A worker may store the send jobs leased to itself.
//!
//! `send`: deliver one stored outbound message through its channel's provider.
//! A message that already has a provider id is never sent again.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::WorkerDeps;
use crate::audit::{self, AuditEntry};
use crate::channels::templates::{self, TemplateMessage, TemplatePurpose};
use crate::channels::{ChannelSecrets, Recipient, SendError};
use crate::chats;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{Author, ConversationId, DeliveryStatus, Direction, MessageId, MessageKind, MessageMeta};
use crate::engine::BusinessProfile;
use crate::engine::assistant::Business;
use crate::jobs::{JobFailure, JobKind, JobState};
use crate::owner;
use crate::owner::files::{FileReply, FileSource, SealedFile};
use crate::store::{
    ChannelRecord, ConversationRecord, JobOutcome, JobRecord, MediaRecord, MessageRecord, StatusChange, StoreResult,
    TenantRecord, TenantTx,
};
use crate::tenants;

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
        link_hosts: s.link_hosts.clone(),
    }
}

/// The worker that stores a reply and will send it itself right after its commit.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub worker: &'a str,
    pub until: DateTime<Utc>,
}

/// The parts of one outbound message and who wrote them.
struct Outgoing<'a> {
    reply_to: Option<MessageId>,
    author: Author,
    parts: &'a [String],
    /// Sent as the channel's approved template of this purpose.
    template: Option<TemplatePurpose>,
    /// An owner's file: one message, the parts being its caption.
    file: Option<&'a FileReply>,
}

/// The customer's message an outbound one follows, its conversation (whose chat the message
/// goes to) and the contact's opened key: rows a caller may already hold.
#[derive(Clone, Copy)]
pub struct Thread<'a> {
    pub original: &'a MessageRecord,
    pub conversation: &'a ConversationRecord,
    pub key: &'a DataKey,
}

/// Stores the parts of a reply to `inbound` and enqueues one send job per part.
pub async fn store_reply(
    core: &Core,
    tx: &mut dyn TenantTx,
    inbound: MessageId,
    author: Author,
    parts: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let Some(original) = tx.message(inbound).await? else {
        return Ok(Vec::new());
    };
    let Some((conversation, key)) = thread_of(core, tx, &original).await? else {
        return Ok(Vec::new());
    };
    let thread = Thread { original: &original, conversation: &conversation, key: &key };
    let outgoing = Outgoing { reply_to: Some(inbound), author, parts, template: None, file: None };
    Ok(message_ids(&store_outbound(core, tx, thread, outgoing, None, now).await?))
}

/// Like `store_reply` for the bot, from rows the caller holds, but each send job is inserted
/// already leased by `lease.worker` (running, attempt 1): that worker runs them after commit
/// without claiming them. If it never does (a crash), the lease expires and any worker claims
/// them as usual. Returns the leased jobs.
pub async fn store_reply_leased(
    core: &Core,
    tx: &mut dyn TenantTx,
    thread: Thread<'_>,
    parts: &[String],
    lease: Lease<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<JobRecord>> {
    let outgoing =
        Outgoing { reply_to: Some(thread.original.id), author: Author::Bot, parts, template: None, file: None };
    store_outbound(core, tx, thread, outgoing, Some(lease), now).await
}

/// The outbound messages behind their send jobs.
pub fn message_ids(jobs: &[JobRecord]) -> Vec<MessageId> {
    jobs.iter().map(|job| MessageId(job.subject_id)).collect()
}

/// Stores a message to the customer of a conversation that answers no message in
/// particular (an owner's relay, a wait notice); it goes to the conversation's chat.
pub async fn store_to_customer(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    author: Author,
    parts: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let outgoing = Outgoing { reply_to: None, author, parts, template: None, file: None };
    to_latest_chat(core, tx, conversation, outgoing, now).await
}

/// Stores an owner's file for the conversation's customer: fetched from the provider first, or
/// already sealed (then its media row is recorded here); it goes to the conversation's chat.
pub async fn store_file_to_customer(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    file: &FileReply,
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let parts = [file.caption.trim().to_string()];
    let outgoing = Outgoing { reply_to: None, author: Author::Owner, parts: &parts, template: None, file: Some(file) };
    to_latest_chat(core, tx, conversation, outgoing, now).await
}

/// Stores a system message to the conversation's customer that goes as the channel's approved
/// template of `purpose`; `text` is what it says, for the conversation's history.
pub async fn store_template_to_customer(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    purpose: TemplatePurpose,
    text: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let parts = [text.to_string()];
    let outgoing =
        Outgoing { reply_to: None, author: Author::System, parts: &parts, template: Some(purpose), file: None };
    to_latest_chat(core, tx, conversation, outgoing, now).await
}

/// Stores `outgoing` in the chat of the conversation's latest customer message.
async fn to_latest_chat(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: ConversationId,
    outgoing: Outgoing<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    let recent = tx.recent_messages(conversation, 20).await?;
    let Some(latest) = recent.iter().rev().find(|m| m.direction == Direction::In) else {
        return Ok(Vec::new());
    };
    let Some((conversation, key)) = thread_of(core, tx, latest).await? else {
        return Ok(Vec::new());
    };
    let thread = Thread { original: latest, conversation: &conversation, key: &key };
    Ok(message_ids(&store_outbound(core, tx, thread, outgoing, None, now).await?))
}

/// The conversation of `original` and its contact's opened key, read in `tx`.
async fn thread_of(
    core: &Core,
    tx: &mut dyn TenantTx,
    original: &MessageRecord,
) -> StoreResult<Option<(ConversationRecord, DataKey)>> {
    let Some(contact) = tx.contact(original.contact_id).await? else {
        return Ok(None);
    };
    let Some(conversation) = tx.conversation(original.conversation_id).await? else {
        return Ok(None);
    };
    Ok(Some((conversation, core.keys.vault.unwrap_key(&contact.wrapped_key)?)))
}

/// Stores the messages and their send jobs; returns the jobs.
async fn store_outbound(
    core: &Core,
    tx: &mut dyn TenantTx,
    thread: Thread<'_>,
    outgoing: Outgoing<'_>,
    lease: Option<Lease<'_>>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<JobRecord>> {
    let Outgoing { reply_to, author, parts, template, file } = outgoing;
    let Thread { original, conversation, key } = thread;
    // The conversation's chat, fixed when it was opened: a direct chat's reply never goes to a group.
    let group = chats::group_of(conversation, key)?;
    let template = template.map(|t| t.as_str().to_string());
    let meta = match file.map(|f| &f.source) {
        Some(FileSource::Provider(p)) => MessageMeta { group, ..p.meta().clone() },
        Some(FileSource::Sealed(s)) => {
            MessageMeta { group, mime_type: Some(s.mime_type.clone()), ..Default::default() }
        }
        None => MessageMeta { group, template, ..MessageMeta::default() },
    };
    let meta_enc = contacts::seal_meta(&meta, key);
    let mut jobs = Vec::new();
    for (part, text) in parts.iter().enumerate() {
        let record = MessageRecord {
            id: MessageId::new(),
            tenant_id: original.tenant_id,
            channel_id: original.channel_id,
            conversation_id: original.conversation_id,
            contact_id: original.contact_id,
            direction: Direction::Out,
            author,
            kind: file.map_or(MessageKind::Text, |f| f.kind),
            body_enc: Some(text).filter(|t| file.is_none() || !t.is_empty()).map(|t| key.encrypt(t)),
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
            // A file on the provider is fetched first; its fetch job queues the send.
            let first = match file.map(|f| &f.source) {
                Some(FileSource::Provider(_)) => JobKind::MediaFetch,
                Some(FileSource::Sealed(sealed)) => {
                    tx.insert_media(&sealed_row(&record, sealed, now)).await?;
                    JobKind::Send
                }
                None => JobKind::Send,
            };
            let mut job = JobRecord::new(original.tenant_id, first, record.id.0, core.jobs.max_attempts, now);
            if let Some(lease) = lease {
                job.state = JobState::Running;
                job.attempts = 1;
                job.locked_by = Some(lease.worker.into());
                job.locked_until = Some(lease.until);
            }
            // A new message's job cannot exist yet; only one really inserted is handed back.
            if tx.enqueue_job(&job).await? {
                jobs.push(job);
            }
        }
    }
    Ok(jobs)
}

/// The media row of an owner's uploaded file, part of the message that carries it.
fn sealed_row(message: &MessageRecord, sealed: &SealedFile, now: DateTime<Utc>) -> MediaRecord {
    MediaRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: message.tenant_id,
        contact_id: message.contact_id,
        message_id: message.id,
        part: 0,
        object_key: sealed.path.clone(),
        content_hash: sealed.content_hash.clone(),
        sha256_enc: sealed.sha256_enc.clone(),
        mime_type: sealed.mime_type.clone(),
        size_bytes: sealed.size,
        created_at: now,
    }
}

/// Noted on the job just before the provider is called; a retry's error class replaces it, and a
/// recorded provider id makes it moot.
const HANDING_OVER: &str = "handing_over";

pub async fn send(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let message_id = MessageId(job.subject_id);
    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let message = tx.message(message_id).await?.ok_or_else(|| JobFailure::Permanent("message_missing".into()))?;
    if message.provider_message_id.is_some() {
        tx.commit().await?;
        return crate::jobs::finish_sent_before(&*core.store, worker, job, core.clock.now()).await;
    }
    // The last attempt was cut off (a crash, a shutdown past its grace) while the provider had
    // the message: it may have reached the customer, so the owner decides instead of a resend.
    if job.last_error.as_deref() == Some(HANDING_OVER) {
        return Err(JobFailure::Permanent("delivery_unknown".into()));
    }
    let contact =
        tx.contact(message.contact_id).await?.ok_or_else(|| JobFailure::Permanent("contact_missing".into()))?;
    let channel =
        tx.channel(message.channel_id).await?.ok_or_else(|| JobFailure::Permanent("channel_missing".into()))?;
    let tenant_key = tenants::data_key(&mut *tx, &core.keys).await?;
    // An owner's file: the one stored part it carries.
    let media = match message.kind.is_media() {
        true => tx.media_of_message(message_id).await?.into_iter().next(),
        false => None,
    };
    tx.commit().await?;

    let undecryptable = |_| JobFailure::Permanent("undecryptable".into());
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(undecryptable)?;
    let body = key.decrypt_opt(message.body_enc.as_deref()).map_err(undecryptable)?.unwrap_or_default();
    let meta = contacts::message_meta(&message, &key).map_err(undecryptable)?;
    let to = match meta.group {
        Some(group) => Recipient::Group(group),
        None => contacts::recipient(&contact, &key)?.ok_or_else(|| JobFailure::Permanent("no_recipient".into()))?,
    };
    let secrets = ChannelSecrets::open(&channel.secrets_enc, &tenant_key).map_err(undecryptable)?;
    let template = match meta.template.as_deref().and_then(TemplatePurpose::parse) {
        Some(TemplatePurpose::CustomerFollowUp) => Some(follow_up_template(core, job, &channel).await?),
        Some(_) => return Err(JobFailure::Permanent("template_unknown".into())),
        None => None,
    };

    // Committed before the provider call, on its own: see the in-doubt rule above. The lease is
    // renewed with it, so a send handed over with a reply's earlier parts has its full lease.
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let holding = tx.note_job(job.id, worker, HANDING_OVER, now, core.jobs.lease_until(now)).await?;
    tx.commit().await?;
    if !holding {
        return Ok(()); // the lease lapsed: the job's new holder sends it
    }
    let sent = match &template {
        Some(t) => deps.channels.send_template(&channel, &secrets, &to, t).await,
        None if message.kind.is_media() => {
            let media = media.ok_or_else(|| JobFailure::Permanent("media_gone".into()))?;
            owner::forward_media::send_stored(core, deps, &media, (&channel, &secrets, &to), (&key, &body)).await?
        }
        None => deps.channels.send_text(&channel, &secrets, &to, &body).await,
    };
    deps.metrics.sent(&channel.provider, &sent);
    if template.is_some() {
        deps.metrics.template_sent(TemplatePurpose::CustomerFollowUp.as_str(), &sent);
    }
    let provider_id = match sent {
        Ok(id) => id,
        Err(SendError::WindowClosed) => return window_closed(core, worker, job, &message).await,
        Err(e @ SendError::Retryable(_)) => return Err(JobFailure::Retryable(e.class())),
        Err(e @ SendError::Rejected(_)) => return Err(JobFailure::Permanent(e.class())),
    };

    let recorded = async {
        let now = core.clock.now();
        let mut tx = core.store.begin(job.tenant_id).await?;
        // Record the provider id even if our lease lapsed meanwhile: the message did go out.
        tx.set_provider_message_id(message_id, &provider_id, now).await?;
        if template.is_some() {
            let purpose = TemplatePurpose::CustomerFollowUp.as_str();
            tx.record_template_send(channel.id, purpose, templates::CATEGORY, now).await?;
        }
        tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
        let entry = AuditEntry::new("worker", "message.sent", "message", Some(message_id.to_string()))
            .detail(json!({ "provider": channel.provider, "provider_message_id": provider_id }));
        audit::append(&mut *tx, vec![entry], now).await?;
        tx.commit().await
    };
    if let Err(e) = recorded.await {
        // Not a retry (that would send again): the note stays, and when the lease lapses the
        // next attempt hands the reply to the owner as delivery_unknown.
        tracing::error!(job = %job.id, error = %e, "the provider took the message but recording it failed");
    }
    Ok(())
}

/// Not retried: only a template could reach the customer now; the owner is told instead.
async fn window_closed(core: &Core, worker: &str, job: &JobRecord, message: &MessageRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(());
    }
    if let Some(trail) = owner::late_reply::hold(core, &mut *tx, message, now).await? {
        audit::append(&mut *tx, trail, now).await?;
        tx.commit().await?;
        core.work_queued();
        return Ok(());
    }
    let failed =
        StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some("window_closed"), now };
    tx.advance_message_status(message.id, &failed).await?;
    let mut trail = vec![
        AuditEntry::new("worker", "message.undeliverable", "message", Some(message.id.to_string()))
            .detail(json!({ "error": "window_closed" })),
    ];
    trail.extend(owner::window::customer_unreachable(core, &mut *tx, message, now).await?);
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

/// The follow-up template a system message goes as; refused for good if it is no longer
/// approved or the month's cap was reached meanwhile.
async fn follow_up_template(
    core: &Core,
    job: &JobRecord,
    channel: &ChannelRecord,
) -> Result<TemplateMessage, JobFailure> {
    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let tenant = tx.tenant().await?.ok_or_else(|| JobFailure::Permanent("tenant_missing".into()))?;
    let template = owner::late_reply::follow_up(&mut *tx, channel, &tenant, core.clock.now()).await?;
    tx.commit().await?;
    template.ok_or_else(|| JobFailure::Permanent("template_unavailable".into()))
}
