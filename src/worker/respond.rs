//! `respond(message)`: read what the engine needs, decide outside any transaction, then store
//! the reply (or the escalation) and finish the job in one transaction.
use serde_json::json;

use super::JobFailure;
use super::escalate::{escalate, profile, store_reply};
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::channels::split_body;
use crate::contacts;
use crate::domain::{Author, ConversationState, MessageId, MessageKind, Provider};
use crate::engine::{self, Decision, Incoming};
use crate::store::{JobOutcome, JobRecord};

pub async fn run(state: &AppState, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let message_id = MessageId(job.subject_id);

    let mut tx = state.store.begin_read(job.tenant_id).await?;
    let message = tx.message(message_id).await?.ok_or_else(|| JobFailure::Permanent("message_missing".into()))?;
    let already_answered = !tx.replies_to(message_id).await?.is_empty();
    let conversation = tx
        .conversation(message.conversation_id)
        .await?
        .ok_or_else(|| JobFailure::Permanent("conversation_missing".into()))?;
    let contact =
        tx.contact(message.contact_id).await?.ok_or_else(|| JobFailure::Permanent("contact_missing".into()))?;
    let faq = tx.kb_entries().await?;
    let profile = profile(&mut *tx).await?;
    let channel =
        tx.channel(message.channel_id).await?.ok_or_else(|| JobFailure::Permanent("channel_missing".into()))?;
    tx.commit().await?;

    let bot_may_answer = ConversationState::parse(&conversation.state).is_some_and(ConversationState::bot_may_answer);
    let decision = if already_answered {
        Decision::Ignore { why: "already_answered" }
    } else if !bot_may_answer {
        Decision::Ignore { why: "conversation_not_with_bot" }
    } else {
        let key = state
            .keys
            .vault
            .unwrap_key(&contact.wrapped_key)
            .map_err(|_| JobFailure::Permanent("undecryptable".into()))?;
        let body =
            key.decrypt_opt(message.body_enc.as_deref()).map_err(|_| JobFailure::Permanent("undecryptable".into()))?;
        let meta = contacts::message_meta(&message, &key).map_err(|_| JobFailure::Permanent("undecryptable".into()))?;
        let incoming =
            Incoming { kind: MessageKind::parse(&message.kind), body: body.as_deref(), in_group: meta.group.is_some() };
        engine::decide(incoming, &faq, &profile, state.config.faq_threshold)
    };

    let now = state.clock.now();
    let mut tx = state.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(()); // our lease was taken over; the other worker owns this job now
    }
    let trail = match decision {
        Decision::Reply { text, basis } => {
            let max = Provider::parse(&channel.provider).map_or(1600, Provider::max_body_chars);
            let current = tx.conversation(conversation.id).await?;
            if current.is_some_and(|c| c.state == ConversationState::Bot.as_str()) {
                let ids = store_reply(state, &mut *tx, message_id, Author::Bot, &split_body(&text, max), now).await?;
                vec![
                    AuditEntry::new("worker", "reply.decided", "message", Some(message_id.to_string()))
                        .detail(json!({ "basis": basis, "messages": ids })),
                ]
            } else {
                vec![skipped(message_id, "conversation_not_with_bot")]
            }
        }
        Decision::Escalate(reason) => {
            escalate(state, &mut *tx, conversation.id, reason, Some(message_id), true, now).await?
        }
        Decision::Ignore { why } => vec![skipped(message_id, why)],
    };
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    state.queue_wake.notify_waiters();
    Ok(())
}

fn skipped(message: MessageId, why: &str) -> AuditEntry {
    AuditEntry::new("worker", "reply.skipped", "message", Some(message.to_string())).detail(json!({ "why": why }))
}
