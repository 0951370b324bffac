//! The knowledge-gap commands on WhatsApp: `#12 faq <answer>` answers the customer and saves
//! the FAQ entry, `#12 faq` (or "Jadikan FAQ") saves the last answer, and `#12 semua` (or
//! "Kirim ke semua") answers the customers still waiting on the same question.
use chrono::{DateTime, Utc};

use super::Purpose;
use super::inbox::{Done, act};
use super::texts::OwnerTexts;
use super::tickets::Action;
use crate::core::Core;
use crate::gaps::close::{self, SaveError};
use crate::store::{EscalationRecord, StoreError, TenantTx};

/// `#12 faq [answer]`: with an answer, replies first (a refused reply saves nothing); then
/// saves the answer (or the owner's last one) as an FAQ entry for the ticket's question.
#[allow(clippy::too_many_arguments)]
pub async fn faq(
    core: &Core,
    tx: &mut dyn TenantTx,
    found: Option<EscalationRecord>,
    shown: &str,
    answer: Option<String>,
    actor: &str,
    texts: &OwnerTexts,
    now: DateTime<Utc>,
) -> Result<Done, StoreError> {
    let Some(ticket) = found else { return Ok(Done::not_found(texts, shown)) };
    let id = ticket.id;
    let number = ticket.number.to_string();
    let (mut lines, mut trail, customer) = match &answer {
        Some(text) => {
            let replied = act(core, tx, ticket.clone(), Action::Reply(text.clone()), actor, texts, now).await?;
            if replied.kind != "reply" {
                return Ok(Done::from_answer(replied, id));
            }
            (vec![replied.text], replied.trail, replied.customer)
        }
        None => (Vec::new(), Vec::new(), None),
    };
    // The reply moved the ticket's status only; saving reads its question, customer and conversation.
    let mut purpose = Purpose::Answer;
    let kind = match close::save_from_ticket(core, tx, &ticket, answer.as_deref(), actor, now).await {
        Ok(saved) => {
            trail.extend(saved.trail);
            lines.push(
                texts.fill(if answer.is_some() { "faq_saved" } else { "faq_saved_only" }, &[("ticket", &number)]),
            );
            if !saved.waiting.is_empty() {
                let count = saved.waiting.len().to_string();
                lines.push(texts.fill("faq_waiting", &[("ticket", &number), ("count", &count)]));
                purpose = Purpose::FaqSaved;
            }
            "faq"
        }
        Err(SaveError::Store(e)) => return Err(e),
        Err(SaveError::NoQuestion) => {
            lines.push(texts.fill("faq_no_question", &[("ticket", &number)]));
            "faq_no_question"
        }
        Err(SaveError::NoAnswer) => {
            lines.push(texts.fill("faq_no_answer", &[("ticket", &number)]));
            "faq_no_answer"
        }
        Err(SaveError::NamesCustomer) => {
            lines.push(texts.fill("faq_names_customer", &[("ticket", &number)]));
            "faq_names_customer"
        }
        Err(SaveError::Invalid(_)) => {
            lines.push(texts.fill("faq_invalid", &[]));
            "faq_invalid"
        }
    };
    Ok(Done { kind, text: lines.join("\n"), ticket: Some(id), trail, customer, purpose })
}

/// `#12 semua`: the FAQ answer of the ticket's question to every other customer still waiting on it.
#[allow(clippy::too_many_arguments)]
pub async fn answer_waiting(
    core: &Core,
    tx: &mut dyn TenantTx,
    found: Option<EscalationRecord>,
    shown: &str,
    actor: &str,
    texts: &OwnerTexts,
    now: DateTime<Utc>,
) -> Result<Done, StoreError> {
    let Some(ticket) = found else { return Ok(Done::not_found(texts, shown)) };
    let number = ticket.number.to_string();
    let (answered, trail) = match tx.gap_of_escalation(ticket.id).await? {
        Some(gap) => close::answer_waiting(core, tx, gap.group_id, Some(ticket.id), actor, now).await?,
        None => (Vec::new(), Vec::new()),
    };
    let (kind, text) = if answered.is_empty() {
        ("waiting_none", texts.fill("waiting_none", &[("ticket", &number)]))
    } else {
        ("waiting_answered", texts.fill("waiting_answered", &[("count", &answered.len().to_string())]))
    };
    Ok(Done { kind, text, ticket: Some(ticket.id), trail, customer: None, purpose: Purpose::Answer })
}
