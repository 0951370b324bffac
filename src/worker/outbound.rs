//! Messages to customers: stored encrypted with one send job per part, in the caller's
//! transaction (a transactional outbox). A worker may store the send jobs leased to itself.
use chrono::{DateTime, Utc};

use crate::chats;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{Author, ConversationId, Direction, MessageId, MessageKind, MessageMeta};
use crate::engine::BusinessProfile;
use crate::jobs::{JobKind, JobState};
use crate::llm::prompt::Business;
use crate::store::{ConversationRecord, JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx};

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
    let outgoing = Outgoing { reply_to: Some(inbound), author, parts };
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
    let outgoing = Outgoing { reply_to: Some(thread.original.id), author: Author::Bot, parts };
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
    let recent = tx.recent_messages(conversation, 20).await?;
    let Some(latest) = recent.iter().rev().find(|m| m.direction == Direction::In) else {
        return Ok(Vec::new());
    };
    let Some((conversation, key)) = thread_of(core, tx, latest).await? else {
        return Ok(Vec::new());
    };
    let thread = Thread { original: latest, conversation: &conversation, key: &key };
    let outgoing = Outgoing { reply_to: None, author, parts };
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
    let Outgoing { reply_to, author, parts } = outgoing;
    let Thread { original, conversation, key } = thread;
    // The conversation's chat, fixed when it was opened: a direct chat's reply never goes to a group.
    let group = chats::group_of(conversation, key)?;
    let meta_enc = contacts::seal_meta(&MessageMeta { group, ..MessageMeta::default() }, key);
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
            kind: MessageKind::Text,
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
            let mut job = JobRecord::new(original.tenant_id, JobKind::Send, record.id.0, core.jobs.max_attempts, now);
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
