//! The `owner_command` job: runs what an owner typed on WhatsApp, answers them briefly, and
//! drops the stored command text (what it did lives on as messages and audit rows).
use chrono::{DateTime, Utc};
use serde_json::json;

use super::buttons::{ButtonAction, Signer, Tap};
use super::commands::{self, Command};
use super::files::{FileReply, FileSource, ProviderFile};
use super::gap_commands;
use super::notify::{About, Note, customer_label, label_of, queue};
use super::texts::OwnerTexts;
use super::tickets::{self, Action, ActionError};
use super::{Purpose, Route};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{ContactId, Direction, EscalationId, OwnerMessageId, TicketStatus};
use crate::jobs::JobFailure;
use crate::privacy::requests::DsarKind;
use crate::store::{
    ConversationOps, EscalationRecord, JobOutcome, JobRecord, OwnerMessageRecord, OwnerOps, StoreError, TenantTx,
};
use crate::tenants;

/// At most this many tickets in the answer to `daftar`.
const LIST_LIMIT: i64 = 20;

pub async fn run(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let permanent = |class: &str| JobFailure::Permanent(class.into());
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let message =
        tx.owner_message(OwnerMessageId(job.subject_id)).await?.ok_or_else(|| permanent("message_missing"))?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(());
    }
    let tenant = tx.tenant().await?.ok_or_else(|| permanent("tenant_missing"))?;
    // The owner wrote: a digest held behind their closed window goes now.
    let mut trail = super::digest::release_held(core, &mut *tx, message.owner_id, now).await?;
    let texts = OwnerTexts::new(&tenant.settings.language);
    let tenant_key = tenants::data_key(&mut *tx, &core.keys).await?;
    let body = tenant_key.decrypt_opt(message.body_enc.as_deref())?.unwrap_or_default();
    let quoted = quoted_ticket(&mut *tx, &message).await?;
    let file = ProviderFile::open(message.meta_enc.as_deref(), &tenant_key)?;
    let command = match &file {
        Some(_) => commands::parse_file(&body, quoted.is_some()),
        None => commands::parse(&body, quoted.is_some()),
    };
    let actor = format!("owner:{}", message.owner_id);

    let mut customer = None;
    let mut erased = false;
    let mut purpose = Purpose::Answer;
    let (kind, answer, ticket) = match (command, file) {
        (Command::List, _) => ("list", Some(list(core, &mut *tx, &texts).await?), None),
        // `parse_file` runs only for a message with a file: a file command without one is a help.
        (Command::Help, _) | (Command::File { .. } | Command::UnnamedFile, None) => {
            ("help", Some(texts.fill("help", &[])), None)
        }
        (Command::UnnamedFile, Some(file)) => {
            let kind = texts.kind(file.kind());
            ("file_help", Some(texts.fill("file_help", &[("kind", &kind)])), None)
        }
        (Command::File { number, caption }, Some(file)) => {
            let found = find_ticket(&mut *tx, number, quoted).await?;
            let shown = number.or(found.as_ref().map(|t| t.number)).unwrap_or_default().to_string();
            let reply = FileReply { kind: file.kind(), caption, source: FileSource::Provider(file) };
            let action = Action::SendFile(Box::new(reply));
            let done = on_ticket(core, &mut *tx, found, &shown, action, &actor, &texts, now).await?;
            trail.extend(done.trail);
            customer = done.customer;
            (done.kind, Some(done.text), done.ticket)
        }
        (Command::Erase { number }, _) => {
            let found = find_ticket(&mut *tx, number, quoted).await?;
            let shown = number.or(found.as_ref().map(|t| t.number)).unwrap_or_default().to_string();
            let (kind, text, rows) = erase(&mut *tx, found, &shown, &actor, &texts, now).await?;
            // Only a done erasure leaves audit rows.
            erased = !rows.is_empty();
            trail.extend(rows);
            (kind, Some(text), None)
        }
        (Command::Ticket { number, action }, _) => {
            let found = find_ticket(&mut *tx, number, quoted).await?;
            let shown = number.or(found.as_ref().map(|t| t.number)).unwrap_or_default().to_string();
            let done = on_ticket(core, &mut *tx, found, &shown, action, &actor, &texts, now).await?;
            trail.extend(done.trail);
            customer = done.customer;
            purpose = done.purpose;
            (done.kind, Some(done.text), done.ticket)
        }
        (Command::Faq { number, answer }, _) => {
            let found = find_ticket(&mut *tx, number, quoted).await?;
            let shown = number.or(found.as_ref().map(|t| t.number)).unwrap_or_default().to_string();
            let done = gap_commands::faq(core, &mut *tx, found, &shown, answer, &actor, &texts, now).await?;
            trail.extend(done.trail);
            customer = done.customer;
            purpose = done.purpose;
            (done.kind, Some(done.text), done.ticket)
        }
        (Command::AnswerWaiting { number }, _) => {
            let found = find_ticket(&mut *tx, number, quoted).await?;
            let shown = number.or(found.as_ref().map(|t| t.number)).unwrap_or_default().to_string();
            let done = gap_commands::answer_waiting(core, &mut *tx, found, &shown, &actor, &texts, now).await?;
            trail.extend(done.trail);
            (done.kind, Some(done.text), done.ticket)
        }
        (Command::Tap(id), _) => {
            let signer = Signer { index: &core.keys.index, tenant: job.tenant_id, owner: message.owner_id };
            let tap = signer.read(&id);
            if tap == Tap::Forged {
                trail.push(
                    AuditEntry::new(&actor, "owner.button_refused", "owner_message", Some(message.id.to_string()))
                        .detail(json!({ "why": "signature" })),
                );
            }
            let target = match tap {
                Tap::Ticket { action, ticket } => Some((action, Some(ticket))),
                Tap::Quoted(action) => Some((action, quoted)),
                Tap::Forged | Tap::Unknown => None,
            };
            match target {
                None => ("help", Some(texts.fill("help", &[])), None),
                Some((action, ticket)) => {
                    let found = match ticket {
                        Some(id) if action.ticket_action().is_some() || tapped_gap(action) => {
                            tx.lock_escalation(id).await?
                        }
                        _ => None,
                    };
                    let shown = found.as_ref().map(|t| t.number).unwrap_or_default().to_string();
                    let done = match (action, action.ticket_action()) {
                        (_, Some(act)) => on_ticket(core, &mut *tx, found, &shown, act, &actor, &texts, now).await?,
                        (ButtonAction::Faq, None) => {
                            gap_commands::faq(core, &mut *tx, found, &shown, None, &actor, &texts, now).await?
                        }
                        (ButtonAction::All, None) => {
                            gap_commands::answer_waiting(core, &mut *tx, found, &shown, &actor, &texts, now).await?
                        }
                        // The digest's or a follow-up's button: what it asks for is released on any message.
                        _ => Done::silent(),
                    };
                    trail.extend(done.trail);
                    customer = done.customer;
                    purpose = done.purpose;
                    (done.kind, Some(done.text).filter(|t| !t.is_empty()), done.ticket)
                }
            }
        }
    };

    // An answer naming a customer is encrypted with that customer's key.
    let about = About {
        channel: message.channel_id,
        escalation: ticket,
        contact: customer.as_ref().map(|(id, _)| *id),
        key: customer.as_ref().map_or(&tenant_key, |(_, key)| key),
    };
    if let Some(answer) = &answer {
        let note = Note { route: Route::WhatsApp, purpose, text: answer };
        queue(core, &mut *tx, message.owner_id, about, note, now).await?;
    }
    tx.clear_owner_message_body(message.id, now).await?;
    trail.push(
        AuditEntry::new(&actor, "owner.command", "owner_message", Some(message.id.to_string()))
            .detail(json!({ "command": kind, "ticket": ticket, "quoted": quoted.is_some() })),
    );
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    if erased {
        crate::privacy::erase::reclaim(&*core.store).await;
    }
    core.work_queued();
    Ok(())
}

/// What an action on a found ticket did, and how the owner's answer goes.
pub struct Done {
    pub kind: &'static str,
    pub text: String,
    pub ticket: Option<EscalationId>,
    pub trail: Vec<AuditEntry>,
    pub customer: Option<(ContactId, DataKey)>,
    /// `Replied` and `FaqSaved` carry the knowledge-gap buttons.
    pub purpose: Purpose,
}

impl Done {
    pub fn not_found(texts: &OwnerTexts, shown: &str) -> Self {
        let text = texts.fill("not_found", &[("ticket", shown)]);
        Self { kind: "not_found", text, ticket: None, trail: vec![], customer: None, purpose: Purpose::Answer }
    }

    /// A tap that needs no answer.
    fn silent() -> Self {
        Self { kind: "tap", text: String::new(), ticket: None, trail: vec![], customer: None, purpose: Purpose::Answer }
    }

    pub fn from_answer(answer: Answer, ticket: EscalationId) -> Self {
        // A reply that went out offers to save it as an FAQ entry.
        let purpose = if answer.kind == "reply" { Purpose::Replied } else { Purpose::Answer };
        Self {
            kind: answer.kind,
            text: answer.text,
            ticket: Some(ticket),
            trail: answer.trail,
            customer: answer.customer,
            purpose,
        }
    }
}

/// A tap that acts on a ticket's knowledge gap.
fn tapped_gap(action: ButtonAction) -> bool {
    matches!(action, ButtonAction::Faq | ButtonAction::All)
}

/// Runs a typed command's or a tapped button's action on the ticket, if one was found.
#[allow(clippy::too_many_arguments)]
async fn on_ticket(
    core: &Core,
    tx: &mut dyn TenantTx,
    found: Option<EscalationRecord>,
    shown: &str,
    action: Action,
    actor: &str,
    texts: &OwnerTexts,
    now: DateTime<Utc>,
) -> Result<Done, StoreError> {
    let Some(ticket) = found else { return Ok(Done::not_found(texts, shown)) };
    let id = ticket.id;
    let mut answer = act(core, tx, ticket, action, actor, texts, now).await?;
    if answer.kind == "reply" {
        answer.text = format!("{}\n{}", answer.text, texts.fill("faq_hint", &[("ticket", shown)]));
    }
    Ok(Done::from_answer(answer, id))
}

/// The ticket named by number, else the one the owner quote-replied to, locked.
async fn find_ticket(
    tx: &mut dyn OwnerOps,
    number: Option<i32>,
    quoted: Option<EscalationId>,
) -> Result<Option<EscalationRecord>, StoreError> {
    match (number, quoted) {
        (Some(n), _) => match tx.escalation_by_number(n).await? {
            Some(t) => tx.lock_escalation(t.id).await,
            None => Ok(None),
        },
        (None, Some(id)) => tx.lock_escalation(id).await,
        (None, None) => Ok(None),
    }
}

/// `#12 hapus`: erases the ticket's customer, only if they asked for it (an open erasure request).
async fn erase(
    tx: &mut dyn TenantTx,
    ticket: Option<EscalationRecord>,
    shown: &str,
    actor: &str,
    texts: &OwnerTexts,
    now: DateTime<Utc>,
) -> Result<(&'static str, String, Vec<AuditEntry>), StoreError> {
    let Some(ticket) = ticket else {
        return Ok(("not_found", texts.fill("not_found", &[("ticket", shown)]), vec![]));
    };
    let Some(request) = tx.open_dsar_of(ticket.contact_id, DsarKind::Erasure).await? else {
        return Ok(("no_erasure_request", texts.fill("no_erasure_request", &[("ticket", shown)]), vec![]));
    };
    let (erasure, trail) = crate::privacy::erase::erase_in(tx, ticket.contact_id, actor, Some(request.id), now).await?;
    let values = [
        ("ticket", shown),
        ("messages", &erasure.deleted.messages.to_string()),
        ("tickets", &erasure.deleted.escalations.to_string()),
    ];
    Ok(("erase", texts.fill("erased", &values), trail))
}

/// The ticket of the notice an owner quote-replied to, if it was one of ours.
async fn quoted_ticket(
    tx: &mut dyn OwnerOps,
    message: &OwnerMessageRecord,
) -> Result<Option<EscalationId>, StoreError> {
    let Some(quoted) = &message.quoted_provider_id else { return Ok(None) };
    let original = tx.owner_message_by_provider_id(message.channel_id, quoted).await?;
    Ok(original.filter(|m| m.direction == Direction::Out).and_then(|m| m.escalation_id))
}

pub struct Answer {
    pub kind: &'static str,
    pub text: String,
    pub trail: Vec<AuditEntry>,
    /// The ticket's customer and their key, which encrypts the answer.
    pub customer: Option<(ContactId, DataKey)>,
}

/// Runs the action and words the outcome for the owner.
pub async fn act(
    core: &Core,
    tx: &mut dyn TenantTx,
    ticket: EscalationRecord,
    action: Action,
    actor: &str,
    texts: &OwnerTexts,
    now: DateTime<Utc>,
) -> Result<Answer, StoreError> {
    let number = ticket.number.to_string();
    let contact = match tx.contact(ticket.contact_id).await? {
        Some(c) => Some((c.id, core.keys.vault.unwrap_key(&c.wrapped_key)?, c)),
        None => None,
    };
    let label = match &contact {
        Some((_, key, c)) => customer_label(c, key)?,
        None => "?".into(),
    };
    let values = [("ticket", number.as_str()), ("customer", label.as_str())];
    let (kind, name, trail) = match (&action, tickets::apply(core, tx, ticket, action.clone(), actor, now).await) {
        (_, Err(ActionError::Store(e))) => return Err(e),
        (_, Err(ActionError::Closed)) => ("closed", "closed", vec![]),
        (_, Err(ActionError::NoDraft)) => ("no_draft", "no_draft", vec![]),
        (_, Err(e)) => {
            let text = texts.fill("refused", &[("ticket", &number), ("why", e.code())]);
            return Ok(Answer {
                kind: "refused",
                text,
                trail: vec![],
                customer: contact.map(|(id, key, _)| (id, key)),
            });
        }
        (Action::Reply(_) | Action::SendDraft, Ok(a)) => ("reply", "sent", a.trail),
        (Action::SendFile(_), Ok(a)) => ("file", "sent", a.trail),
        (Action::TakeOver, Ok(a)) => ("take_over", "taken", a.trail),
        (Action::HandBack, Ok(a)) => ("hand_back", "released", a.trail),
        (Action::Resolve, Ok(a)) => ("resolve", "resolved", a.trail),
    };
    let text = texts.fill(name, &values);
    Ok(Answer { kind, text, trail, customer: contact.map(|(id, key, _)| (id, key)) })
}

/// The open tickets, oldest first.
async fn list(
    core: &Core,
    tx: &mut (impl OwnerOps + ConversationOps + ?Sized),
    texts: &OwnerTexts,
) -> Result<String, StoreError> {
    let open = tx.escalations(true, LIST_LIMIT).await?;
    if open.is_empty() {
        return Ok(texts.fill("list_empty", &[]));
    }
    let mut lines = vec![texts.fill("list_header", &[])];
    for ticket in open {
        let customer = label_of(core, tx, ticket.contact_id).await?;
        let status = texts.fill(if ticket.status == TicketStatus::Human { "status.human" } else { "status.open" }, &[]);
        lines.push(texts.fill(
            "list_item",
            &[
                ("ticket", &ticket.number.to_string()),
                ("customer", &customer),
                ("reason", &texts.reason(ticket.reason)),
                ("status", &status),
            ],
        ));
    }
    Ok(lines.join("\n"))
}
