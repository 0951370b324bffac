//! Privacy commands a customer can send on WhatsApp: `STOP`/`BERHENTI` silences the bot for
//! them (their messages go to the owner), `MULAI`/`START` brings it back, and
//! `HAPUS DATA SAYA`/`DELETE MY DATA` opens an erasure request for the owner to approve.
use chrono::{DateTime, Utc};

use super::requests::{self, DsarKind, DsarStatus};
use crate::audit::AuditEntry;
use crate::core::Core;
use crate::domain::{Author, ConversationState, EscalationReason};
use crate::engine::Handover;
use crate::engine::templates::{Template, render};
use crate::owner::notify::{self, About};
use crate::owner::texts::OwnerTexts;
use crate::owner::tickets::Opening;
use crate::store::{ContactRecord, ConversationRecord, MessageRecord, StoreResult, TenantRecord, TenantTx};
use crate::worker::outbound::store_reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerCommand {
    Stop,
    Start,
    EraseMyData,
}

/// The whole message must be the command (case, spacing and end punctuation aside), so
/// "stop dulu, saya mau tanya" stays a question.
pub fn parse(text: &str) -> Option<CustomerCommand> {
    let words: Vec<String> =
        text.trim().trim_end_matches(['.', '!', '?']).split_whitespace().map(str::to_uppercase).collect();
    match words.join(" ").as_str() {
        "STOP" | "BERHENTI" | "UNSUBSCRIBE" => Some(CustomerCommand::Stop),
        "MULAI" | "START" => Some(CustomerCommand::Start),
        "HAPUS DATA SAYA" | "HAPUS DATA" | "DELETE MY DATA" => Some(CustomerCommand::EraseMyData),
        _ => None,
    }
}

/// MULAI from a customer the bot already serves is an ordinary message, not a command.
pub fn applies(command: CustomerCommand, contact: &ContactRecord) -> bool {
    command != CustomerCommand::Start || contact.bot_stopped_at.is_some()
}

/// Everything `respond` knows about the message that carried the command.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub message: &'a MessageRecord,
    pub contact: &'a ContactRecord,
    pub conversation: &'a ConversationRecord,
    pub tenant: &'a TenantRecord,
}

/// Runs the command in the job's transaction; returns the audit rows to append.
pub async fn handle(
    core: &Core,
    tx: &mut dyn TenantTx,
    command: CustomerCommand,
    from: Sender<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Sender { message, contact, tenant, .. } = from;
    let language = &tenant.settings.language;
    let mut trail = Vec::new();
    let subject = Some(contact.id.to_string());
    match command {
        CustomerCommand::Stop => {
            if tx.set_bot_stopped(contact.id, Some(now)).await? {
                let (request, opened) = requests::open(tx, Some(contact.id), DsarKind::Stop, "whatsapp", now).await?;
                trail.extend(opened);
                let confirm = render(Template::Stopped, language, &tenant.name);
                store_reply(core, tx, message.id, Author::Bot, &[confirm], now).await?;
                trail.push(AuditEntry::new("customer", "contact.bot_stopped", "contact", subject));
                trail.extend(requests::close(tx, request.id, DsarStatus::Done, "worker", now).await?);
            }
            trail.extend(to_owner(core, tx, &from, EscalationReason::BotStopped, now).await?);
        }
        CustomerCommand::Start => {
            if tx.set_bot_stopped(contact.id, None).await? {
                let confirm = render(Template::Restarted, language, &tenant.name);
                store_reply(core, tx, message.id, Author::Bot, &[confirm], now).await?;
                trail.push(AuditEntry::new("customer", "contact.bot_restarted", "contact", subject));
            }
        }
        CustomerCommand::EraseMyData => {
            let (request, opened) = requests::open(tx, Some(contact.id), DsarKind::Erasure, "whatsapp", now).await?;
            if let Some(entry) = opened {
                trail.push(entry);
                // The receipt is the acknowledgement: the customer knows the request arrived.
                trail.extend(requests::acknowledge(tx, request.id, "worker", now).await?);
                let deadline = request.answer_by.format("%d-%m-%Y").to_string();
                let short = request.id.to_string().chars().take(8).collect::<String>();
                let receipt = render(Template::ErasureReceived, language, &tenant.name)
                    .replace("{request}", &short)
                    .replace("{deadline}", &deadline);
                store_reply(core, tx, message.id, Author::Bot, &[receipt], now).await?;
            }
            trail.extend(to_owner(core, tx, &from, EscalationReason::ErasureRequested, now).await?);
        }
    }
    Ok(trail)
}

/// Opens a ticket for the owner, or forwards the message to the one already open (with the
/// way to approve an erasure, which a new ticket's notice gives by its reason).
async fn to_owner(
    core: &Core,
    tx: &mut dyn TenantTx,
    from: &Sender<'_>,
    reason: EscalationReason,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Some(current) = tx.conversation(from.conversation.id).await? else { return Ok(Vec::new()) };
    if current.state == ConversationState::Bot {
        let opening = Opening { trigger: Some(from.message.id), holding_message: false, notify_owners: true };
        return Ok(crate::owner::escalate(core, tx, &current, &Handover::because(reason), opening, now).await?.1);
    }
    let (ticket, trail) = notify::forward_to_ticket(core, tx, current.id, from.message, now).await?;
    if let Some(ticket) = ticket
        && reason == EscalationReason::ErasureRequested
    {
        let key = core.keys.vault.unwrap_key(&from.contact.wrapped_key)?;
        let number = ticket.number.to_string();
        let text = OwnerTexts::new(&from.tenant.settings.language).fill("erasure_hint", &[("ticket", &number)]);
        let about = About {
            channel: from.message.channel_id,
            escalation: Some(ticket.id),
            contact: Some(from.contact.id),
            key: &key,
        };
        notify::to_owners(core, tx, about, crate::owner::Purpose::Erasure, &text, now).await?;
    }
    Ok(trail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_message_is_a_command() {
        assert_eq!(parse(" stop "), Some(CustomerCommand::Stop));
        assert_eq!(parse("Berhenti!"), Some(CustomerCommand::Stop));
        assert_eq!(parse("mulai"), Some(CustomerCommand::Start));
        assert_eq!(parse("hapus  data saya."), Some(CustomerCommand::EraseMyData));
        assert_eq!(parse("DELETE MY DATA"), Some(CustomerCommand::EraseMyData));
        assert_eq!(parse("stop dulu, saya mau tanya"), None);
        assert_eq!(parse("tolong hapus data saya ya"), None);
        assert_eq!(parse(""), None);
    }
}
