//! `respond(message)`: read what the engine needs, decide outside any transaction (the LLM
//! when configured and within budget, else the offline responder), then store the reply or
//! the escalation, the LLM usage and the audit rows, and finish the job in one transaction.
//! A reply's send jobs are stored leased by this worker, which runs them next.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::WorkerDeps;
use super::outbound::{Lease, Thread, business_of, business_profile, message_ids, store_reply_leased};
use super::understand::{self, Understanding, Understood};
use crate::audit::{self, AuditEntry};
use crate::channels::split_body;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{Author, ConversationState, Direction, EscalationReason, MessageId, MessageKind, Provider};
use crate::engine::assistant::{self, Conversation};
use crate::engine::triggers::{self, BusinessHours, Rules, Turn};
use crate::engine::{self, Decision, Handover, Incoming};
use crate::jobs::JobFailure;
use crate::owner;
use crate::owner::notify::About;
use crate::owner::texts::OwnerTexts;
use crate::owner::tickets::Opening;
use crate::privacy::whatsapp;
use crate::store::{
    ChannelRecord, ConversationRecord, JobOutcome, JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx,
};
use crate::tenants;

/// Earlier messages given to the model, at most; the token budget trims further.
const HISTORY_MESSAGES: i64 = 30;

/// Returns the reply's send jobs, leased by `worker`, for it to run after this commit.
pub async fn run(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<Vec<JobRecord>, JobFailure> {
    let message_id = MessageId(job.subject_id);
    let permanent = |class: &str| JobFailure::Permanent(class.into());

    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let message = tx.message(message_id).await?.ok_or_else(|| permanent("message_missing"))?;
    let already_answered = !tx.replies_to(message_id).await?.is_empty();
    let conversation =
        tx.conversation(message.conversation_id).await?.ok_or_else(|| permanent("conversation_missing"))?;
    let contact = tx.contact(message.contact_id).await?.ok_or_else(|| permanent("contact_missing"))?;
    let tenant = tx.tenant().await?.ok_or_else(|| permanent("tenant_missing"))?;
    let channel = tx.channel(message.channel_id).await?.ok_or_else(|| permanent("channel_missing"))?;
    let faq = tx.kb_entries().await?;
    let history = tx.recent_messages(conversation.id, HISTORY_MESSAGES).await?;
    let month = assistant::month_start(core.clock.now());
    let metered = deps.llm.is_some() || deps.transcriber.is_some();
    let tokens_used = if metered { tx.llm_tokens_since(month).await? } else { 0 };
    // Only an LLM chain has hosts to keep out: the offline responder needs no read.
    let blocked = match deps.llm {
        Some(_) => crate::privacy::subprocessor_changes::blocked_hosts(&mut *tx, core.clock.now()).await?,
        None => Vec::new(),
    };
    tx.commit().await?;

    let mut tenant_llm = deps.llm_for(&tenant, &core.keys, blocked)?;
    // Past the operator's budget a shop's own key still answers, but no fallback on the operator's.
    if tokens_used >= tenant.settings.monthly_token_budget
        && let Some(own) = tenant_llm.as_ref().filter(|l| l.own_key())
    {
        tenant_llm = Some(own.own_key_only());
    }
    let bot_may_answer = conversation.state.bot_may_answer();
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(|_| permanent("undecryptable"))?;
    let body = key.decrypt_opt(message.body_enc.as_deref()).map_err(|_| permanent("undecryptable"))?;
    let meta = contacts::message_meta(&message, &key).map_err(|_| permanent("undecryptable"))?;
    // STOP and HAPUS are the sender's own requests: not taken from a group chat.
    let customer_command = match (&body, message.kind) {
        (Some(text), MessageKind::Text) if !already_answered && meta.group.is_none() => {
            whatsapp::parse(text).filter(|c| whatsapp::applies(*c, &contact))
        }
        _ => None,
    };
    // A photo or voice note the tenant wants understood, once its file is stored.
    let asks_bot =
        !already_answered && customer_command.is_none() && bot_may_answer && contact.bot_stopped_at.is_none();
    let Understanding { understood, mut attempts } = match asks_bot {
        true => {
            let asked = (&message, meta.group.is_some());
            understand::understand(core, deps, (&tenant, tenant_llm.as_ref()), asked, &key, tokens_used).await?
        }
        false => Understanding::none(),
    };
    if matches!(understood, Understood::Pending) {
        return understand::wait_for_file(core, worker, job).await;
    }
    let transcript = understood.transcript();
    let image = understood.image();
    // For a photo: whether the model was asked, and whether it answered.
    let mut image_answered = None;
    let mut dropped = Vec::new();
    let mut over_budget = false;
    let decision = if already_answered {
        Decision::Ignore { why: "already_answered" }
    } else if customer_command.is_some() {
        Decision::Ignore { why: "privacy_command" }
    } else if meta.button.as_deref() == Some(owner::buttons::ButtonAction::See.as_str()) {
        // The follow-up's "see the answer": the held reply it asks for is released below.
        Decision::Ignore { why: "follow_up_tap" }
    } else if !bot_may_answer {
        Decision::Ignore { why: "conversation_not_with_bot" }
    } else if contact.bot_stopped_at.is_some() {
        Decision::Escalate(Handover::because(EscalationReason::BotStopped))
    } else {
        let in_group = meta.group.is_some();
        let incoming = match transcript {
            Some(words) => Incoming { kind: MessageKind::Text, body: Some(words), in_group },
            None => Incoming { kind: message.kind, body: body.as_deref(), in_group },
        };
        let profile = business_profile(&tenant);
        // Earlier messages, decrypted once for the rule triggers and the LLM.
        let earlier: Vec<(&MessageRecord, Option<String>)> = history
            .iter()
            .filter(|m| m.id != message_id)
            .map(|m| (m, key.decrypt_opt(m.body_enc.as_deref()).ok().flatten()))
            .collect();
        let tripped = (incoming.kind.carries_question() && (profile.answer_groups || !incoming.in_group))
            .then(|| rule_trigger(&tenant, incoming.body, &earlier, core.clock.now()))
            .flatten();
        let offline = match tripped {
            Some(reason) => Decision::Escalate(Handover::because(reason)),
            None => engine::decide(incoming, &faq, &profile, deps.faq_threshold),
        };
        // Calls on the tenant's own key do not spend the operator's budget.
        over_budget =
            tenant_llm.as_ref().is_some_and(|l| !l.own_key()) && tokens_used >= tenant.settings.monthly_token_budget;
        // The rate limiter is consulted last: only a call that would really happen spends a cell.
        let llm = tenant_llm.as_ref().filter(|_| {
            matches!(offline, Decision::Reply { .. } | Decision::Escalate(_))
                && tripped.is_none()
                && ((incoming.kind.carries_question() && incoming.body.is_some()) || image.is_some())
                && !over_budget
                && deps.llm_allows(tenant.id, contact.id)
        });
        match (llm, incoming.body.or(image.map(|_| ""))) {
            (Some(llm), Some(question)) => {
                let conversation = Conversation {
                    business: business_of(&tenant),
                    faq: &faq,
                    history: llm_history(&earlier),
                    question,
                    image,
                };
                let asked = assistant::ask(llm, conversation).await;
                image_answered = image.map(|_| asked.decision.is_some());
                attempts.extend(asked.attempts);
                dropped = asked.dropped;
                asked.decision.unwrap_or(offline)
            }
            _ => offline,
        }
    };

    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(Vec::new()); // our lease was taken over; the other worker owns this job now
    }
    deps.metrics.llm(&attempts);
    let mut trail =
        assistant::record_usage(&mut *tx, Some(message_id), ("message", message_id.to_string()), &attempts, now)
            .await?;
    trail.extend(dropped.iter().map(|d| d.audit(message_id)));
    let understood = understand::settle(understood, image_answered);
    trail.extend(understand::record(&mut *tx, &message, &key, &meta, &understood).await?);
    // Whether this transaction queued jobs for any worker (owner messages, notices).
    let mut queued = false;
    let mut handed = Vec::new();
    if over_budget && tx.mark_budget_notice(&month.format("%Y-%m").to_string()).await? {
        tracing::warn!(tenant = %tenant.id, "monthly LLM token budget used up; the offline responder answers");
        let budget = tenant.settings.monthly_token_budget;
        let text =
            OwnerTexts::new(&tenant.settings.language).fill("budget_exhausted", &[("budget", &budget.to_string())]);
        let key = tenants::data_key(&mut *tx, &core.keys).await?;
        let about = About { channel: message.channel_id, escalation: None, contact: None, key: &key };
        let told = owner::notify::to_owners(core, &mut *tx, about, owner::Purpose::Budget, &text, now).await?;
        queued = true;
        trail.push(
            AuditEntry::new("worker", "llm.budget_exhausted", "tenant", Some(tenant.id.to_string()))
                .detail(json!({ "budget": budget, "used": tokens_used, "owner_messages": told })),
        );
    }
    let current = tx.conversation(conversation.id).await?.ok_or_else(|| permanent("conversation_missing"))?;
    // The customer wrote, so their window is open: the owner's held late replies go first.
    let released = owner::late_reply::release(core, &mut *tx, &current, now).await?;
    queued |= !released.is_empty();
    trail.extend(released);
    let with_bot = current.state == ConversationState::Bot;
    if let Some(command) = customer_command {
        let from = whatsapp::Sender { message: &message, contact: &contact, conversation: &current, tenant: &tenant };
        trail.extend(whatsapp::handle(core, &mut *tx, command, from, now).await?);
        queued = true;
    } else {
        let d = Decided {
            decision,
            with_bot,
            already_answered,
            message: &message,
            channel: &channel,
            current: &current,
            key: &key,
        };
        let stored = decided(core, &mut *tx, worker, d, now).await?;
        trail.extend(stored.trail);
        queued |= stored.queued;
        handed = stored.handed;
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    // Waking idle workers for the reply alone would only have them race this one to the database.
    if queued {
        core.work_queued();
    }
    Ok(handed)
}

struct Decided<'a> {
    decision: Decision,
    with_bot: bool,
    already_answered: bool,
    message: &'a MessageRecord,
    channel: &'a ChannelRecord,
    current: &'a ConversationRecord,
    /// The contact's key, opened once for the whole job.
    key: &'a DataKey,
}

/// What storing the decision did, besides the audit rows.
struct Stored {
    trail: Vec<AuditEntry>,
    /// Send jobs leased by this worker, to run after commit.
    handed: Vec<JobRecord>,
    /// Whether jobs were queued for any worker to claim.
    queued: bool,
}

impl Stored {
    fn for_others(trail: Vec<AuditEntry>) -> Self {
        Self { trail, handed: Vec::new(), queued: true }
    }
}

/// Stores what the engine decided: a reply, a ticket, a forward to the owner, or nothing.
async fn decided(
    core: &Core,
    tx: &mut dyn TenantTx,
    worker: &str,
    d: Decided<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Stored> {
    let Decided { decision, with_bot, already_answered, message, channel, current, key } = d;
    let message_id = message.id;
    Ok(match decision {
        // The owner has this conversation: they see the message, the bot stays silent.
        _ if !with_bot && !already_answered => {
            Stored::for_others(owner::notify::forward_to_ticket(core, tx, current.id, message, now).await?.1)
        }
        Decision::Reply { text, basis } => {
            let max = Provider::parse(&channel.provider).map_or(1600, Provider::max_body_chars);
            let lease = Lease { worker, until: core.jobs.lease_until(now) };
            let thread = Thread { original: message, conversation: current, key };
            let handed = store_reply_leased(core, &mut *tx, thread, &split_body(&text, max), lease, now).await?;
            let mut trail = vec![
                AuditEntry::new("worker", "reply.decided", "message", Some(message_id.to_string()))
                    .detail(json!({ "basis": basis, "messages": message_ids(&handed) })),
            ];
            trail.extend(handed.iter().map(|job| super::claimed(job, worker)));
            Stored { trail, handed, queued: false }
        }
        Decision::Escalate(handover) => {
            // A customer who sent STOP gets no automatic holding message either.
            let holding = handover.reason != EscalationReason::BotStopped;
            let opening = Opening::after(Some(message_id), holding);
            let mut trail = owner::escalate(core, tx, current, &handover, opening, now).await?.1;
            // A photo that opened the ticket goes to the owners too, once it is stored.
            if message.kind.is_media() {
                trail.extend(owner::forward_media::queue_forwards(core, tx, message_id, now).await?);
            }
            Stored::for_others(trail)
        }
        Decision::Ignore { why } => Stored { trail: vec![skipped(message_id, why)], handed: Vec::new(), queued: false },
    })
}

fn skipped(message: MessageId, why: &str) -> AuditEntry {
    AuditEntry::new("worker", "reply.skipped", "message", Some(message.to_string())).detail(json!({ "why": why }))
}

/// Earlier text messages, oldest first, as the LLM's chat roles.
fn llm_history(earlier: &[(&MessageRecord, Option<String>)]) -> Vec<(&'static str, String)> {
    earlier
        .iter()
        .filter_map(|(m, text)| Some((if m.direction == Direction::In { "user" } else { "assistant" }, text.clone()?)))
        .collect()
}

/// The tenant's rule triggers (keywords, hours, repeats, bot turns) for this message.
fn rule_trigger(
    tenant: &TenantRecord,
    question: Option<&str>,
    earlier: &[(&MessageRecord, Option<String>)],
    now: DateTime<Utc>,
) -> Option<EscalationReason> {
    let s = &tenant.settings;
    let hours = BusinessHours::parse(&s.business_hours, &s.timezone).ok().flatten();
    let rules = Rules { keywords: &s.escalation_keywords, max_bot_turns: s.max_bot_turns, business_hours: hours };
    // One turn per answered message: the later parts of a split answer do not count.
    let turns: Vec<Turn<'_>> = earlier
        .iter()
        .filter(|(m, _)| m.direction == Direction::In || m.part == 0)
        .map(|(m, text)| match (m.direction, m.author) {
            (Direction::In, _) => Turn::Customer(text.as_deref()),
            (_, Author::Bot) => Turn::Bot,
            _ => Turn::Other,
        })
        .collect();
    triggers::check(question, &turns, &rules, now)
}
