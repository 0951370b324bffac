//! Closing gaps: an answer becomes a versioned FAQ entry for the question and closes its group
//! (from a ticket on WhatsApp, or from the group on the API and dashboard); the customers still
//! waiting on the same question are answered with it only when the owner chooses so.
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::list::{question_of, waiting_tickets};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::domain::{Author, Direction, EscalationId, KbEntryId, MessageKind, TenantId};
use crate::kb::{self, KbError, Written};
use crate::owner::tickets::{self, Action};
use crate::store::{EscalationRecord, KbEntry, KnowledgeGapRecord, StoreError, TenantTx};
use crate::usecase::{UseCaseError, UseCaseResult};

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The ticket holds no customer text to ask the question (a photo, a deleted message).
    #[error("the ticket has no question in words")]
    NoQuestion,
    /// No answer of the owner's on the ticket yet ("Jadikan FAQ" before any answer).
    #[error("the ticket has no answer yet")]
    NoAnswer,
    /// The answer names this customer (their name or number): an FAQ entry is for everyone.
    #[error("the answer names the ticket's customer")]
    NamesCustomer,
    #[error(transparent)]
    Invalid(#[from] KbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::crypto::CryptoError> for SaveError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::Store(e.into())
    }
}

/// A saved FAQ entry, the group it closed, and the customers still waiting on that question.
pub struct Saved {
    pub entry: KbEntry,
    pub group: Option<Uuid>,
    pub waiting: Vec<EscalationId>,
    pub trail: Vec<AuditEntry>,
}

/// Saves `answer` (or, without one, the owner's last answer on the ticket) as an FAQ entry for
/// the ticket's question, and closes the question's gap group as answered by it.
pub async fn save_from_ticket(
    core: &Core,
    tx: &mut dyn TenantTx,
    ticket: &EscalationRecord,
    answer: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Saved, SaveError> {
    let contact = tx.contact(ticket.contact_id).await?.ok_or(SaveError::NoQuestion)?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let gap = tx.gap_of_escalation(ticket.id).await?;
    let question = match &gap {
        Some(gap) => key.decrypt(&gap.question_enc)?,
        None => trigger_question(tx, ticket, &key).await?.ok_or(SaveError::NoQuestion)?,
    };
    let answer = match answer {
        Some(text) => text.to_string(),
        None => last_owner_answer(tx, ticket, &key).await?.ok_or(SaveError::NoAnswer)?,
    };
    if names_customer(&answer, &contact, &key)? {
        return Err(SaveError::NamesCustomer);
    }
    let item = kb::checked_item(&question, &answer, String::new())?;
    let written = Written { actor, ticket: Some(ticket.id) };
    let (entry, created) = kb::create_in(tx, ticket.tenant_id, item, written, now).await?;
    let mut trail = vec![created];
    let (group, waiting) = match &gap {
        Some(gap) => {
            let members = tx.gap_group(gap.group_id).await?;
            let closed = tx.close_gap_group(gap.group_id, "answered", Some(entry.id), actor, now).await?;
            trail.push(closed_entry(actor, gap.group_id, "answered", closed, Some(entry.id)));
            (Some(gap.group_id), waiting_tickets(tx, &members, Some(ticket.id)).await?)
        }
        None => (None, Vec::new()),
    };
    Ok(Saved { entry, group, waiting, trail })
}

/// Whether `answer` holds the customer's name (a word of it, three letters or more, not a
/// stopword) or their
/// number: saved as an FAQ entry it would reach every other customer who asks.
fn names_customer(
    answer: &str,
    contact: &crate::store::ContactRecord,
    key: &crate::crypto::DataKey,
) -> Result<bool, SaveError> {
    // Normalised tokens: a name's "Kak" or "Bu" is a stopword, not a name.
    let words: Vec<String> = crate::engine::text::tokens(answer);
    let name = key.decrypt_opt(contact.name_enc.as_deref())?.unwrap_or_default();
    let named = crate::engine::text::tokens(&name).iter().any(|w| w.chars().count() >= 3 && words.contains(w));
    let digits: String = answer.chars().filter(char::is_ascii_digit).collect();
    let phone = key.decrypt_opt(contact.phone_enc.as_deref())?.unwrap_or_default();
    let local: String = phone.chars().filter(char::is_ascii_digit).skip(2).collect();
    Ok(named || (local.len() >= 8 && digits.contains(&local)))
}

/// The ticket's first message, masked, when it was text (a ticket opened for a reason that
/// records no gap still asked something).
async fn trigger_question(
    tx: &mut dyn TenantTx,
    ticket: &EscalationRecord,
    key: &crate::crypto::DataKey,
) -> Result<Option<String>, SaveError> {
    let Some(id) = ticket.trigger_message_id else { return Ok(None) };
    let Some(message) = tx.message(id).await? else { return Ok(None) };
    let Some(body) = key.decrypt_opt(message.body_enc.as_deref())? else { return Ok(None) };
    let name = tx.tenant().await?.map(|t| t.name).unwrap_or_default();
    Ok(Some(super::masked_question(&body, &[name.as_str()])).filter(|q| !q.is_empty()))
}

/// The owner's latest text to the customer since the ticket opened.
async fn last_owner_answer(
    tx: &mut dyn TenantTx,
    ticket: &EscalationRecord,
    key: &crate::crypto::DataKey,
) -> Result<Option<String>, SaveError> {
    let messages = tx.recent_messages(ticket.conversation_id, 50).await?;
    let last = messages.iter().rev().find(|m| {
        m.direction == Direction::Out
            && m.author == Author::Owner
            && m.kind == MessageKind::Text
            && m.created_at >= ticket.opened_at
    });
    match last {
        Some(m) => Ok(key.decrypt_opt(m.body_enc.as_deref())?),
        None => Ok(None),
    }
}

fn closed_entry(actor: &str, group: Uuid, state: &str, closed: u64, entry: Option<KbEntryId>) -> AuditEntry {
    AuditEntry::new(actor, "gap.closed", "gap_group", Some(group.to_string()))
        .detail(json!({ "state": state, "gaps": closed, "kb_entry": entry }))
}

/// Sends the group's FAQ answer to every customer still waiting on it, as the business, and
/// gives each conversation back to the bot; a ticket that moved meanwhile is left alone.
pub async fn answer_waiting(
    core: &Core,
    tx: &mut dyn TenantTx,
    group: Uuid,
    except: Option<EscalationId>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<EscalationId>, Vec<AuditEntry>), StoreError> {
    let members = tx.gap_group(group).await?;
    let Some(entry_id) = members.iter().find_map(|g| g.kb_entry_id) else { return Ok((Vec::new(), Vec::new())) };
    let Some(entry) = tx.kb_entry(entry_id).await? else { return Ok((Vec::new(), Vec::new())) };
    let mut answered = Vec::new();
    let mut trail = Vec::new();
    for id in waiting_tickets(tx, &members, except).await? {
        let Some(ticket) = tx.lock_escalation(id).await? else { continue };
        let Ok(replied) = tickets::apply(core, tx, ticket, Action::Reply(entry.answer.clone()), actor, now).await
        else {
            continue;
        };
        trail.extend(replied.trail);
        if let Ok(back) = tickets::apply(core, tx, replied.ticket, Action::HandBack, actor, now).await {
            trail.extend(back.trail);
        }
        answered.push(id);
    }
    if answered.is_empty() {
        return Ok((answered, trail));
    }
    trail.push(
        AuditEntry::new(actor, "gap.waiting_answered", "gap_group", Some(group.to_string()))
            .detail(json!({ "kb_entry": entry_id, "tickets": answered })),
    );
    Ok((answered, trail))
}

/// No open group with this id in the tenant.
pub fn not_found() -> UseCaseError {
    UseCaseError::not_found("gap_not_found", "no open unanswered question with this id in your tenant")
}

/// What answering a group did.
#[derive(Debug, serde::Serialize)]
pub struct GroupAnswered {
    pub kb_entry: KbEntry,
    /// The waiting customers' tickets answered with it (only when asked to).
    pub answered_tickets: Vec<EscalationId>,
}

/// The owner's answer to a group from the API or the dashboard: `question` (default: the
/// newest wording) and `answer` become an FAQ entry, the group closes, and with `to_waiting`
/// the customers still waiting get the answer.
pub async fn answer_group(
    core: &Core,
    tenant: TenantId,
    actor: &str,
    group: Uuid,
    reply: (Option<&str>, &str),
    to_waiting: bool,
) -> UseCaseResult<GroupAnswered> {
    let (question, answer) = reply;
    let now = core.clock.now();
    let mut tx = core.store.begin(tenant).await?;
    let open = open_members(&mut *tx, group).await?;
    let Some(newest) = open.last() else { return Err(not_found()) };
    let question = match question.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => q.to_string(),
        None => question_of(core, &mut *tx, &mut Default::default(), newest).await?.ok_or_else(not_found)?,
    };
    let item = kb::checked_item(&question, answer, String::new())
        .map_err(|e| UseCaseError::invalid("invalid_faq_entry", e.to_string()))?;
    let written = Written { actor, ticket: open.first().map(|g| g.escalation_id) };
    let (entry, created) = kb::create_in(&mut *tx, tenant, item, written, now).await?;
    let closed = tx.close_gap_group(group, "answered", Some(entry.id), actor, now).await?;
    let mut trail = vec![created, closed_entry(actor, group, "answered", closed, Some(entry.id))];
    let mut answered_tickets = Vec::new();
    if to_waiting {
        let (answered, rows) = answer_waiting(core, &mut *tx, group, None, actor, now).await?;
        answered_tickets = answered;
        trail.extend(rows);
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(GroupAnswered { kb_entry: entry, answered_tickets })
}

/// Closes a group without an FAQ entry (a question the shop will not answer in the FAQ).
pub async fn dismiss_group(core: &Core, tenant: TenantId, actor: &str, group: Uuid) -> UseCaseResult<()> {
    let now = core.clock.now();
    let mut tx = core.store.begin(tenant).await?;
    let closed = tx.close_gap_group(group, "dismissed", None, actor, now).await?;
    if closed == 0 {
        return Err(not_found());
    }
    audit::append(&mut *tx, vec![closed_entry(actor, group, "dismissed", closed, None)], now).await?;
    tx.commit().await?;
    Ok(())
}

/// The group's open gaps, oldest first.
async fn open_members(tx: &mut dyn TenantTx, group: Uuid) -> UseCaseResult<Vec<KnowledgeGapRecord>> {
    Ok(tx.gap_group(group).await?.into_iter().filter(|g| g.state == "open").collect())
}
