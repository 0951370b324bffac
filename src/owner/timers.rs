//! The `ticket_timer` job, one per ticket, woken by the durable queue at its next due time
//! (read from the injectable clock): remind the owner of an unanswered ticket, tell a waiting
//! customer once that an answer is coming, and give a silent human-mode conversation back to
//! the bot.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::Purpose;
use super::notify::{About, customer_label, to_owners};
use super::texts::OwnerTexts;
use super::tickets::{idle_timeout, window_left};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::domain::{Author, EscalationId, EscalationReason, TicketStatus};
use crate::engine::{Template, render};
use crate::jobs::JobFailure;
use crate::store::{ContactRecord, ConversationRecord, EscalationRecord, JobOutcome, JobRecord};
use crate::tenants::TenantSettings;
use crate::worker::outbound::store_to_customer;

/// Reminders per ticket at most; after that the ticket waits quietly in `daftar` and the API.
const MAX_REMINDERS: i32 = 3;
/// An open ticket's timer looks again at least this often, so settings changes take effect.
const RECHECK: Duration = Duration::hours(1);

/// When a new ticket's timer first runs.
pub fn first_due(settings: &TenantSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = [settings.renotify_minutes, settings.customer_notice_minutes].into_iter().filter(|m| *m > 0).min();
    minutes.map_or(now + RECHECK, |m| now + Duration::minutes(i64::from(m)))
}

pub async fn run(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let permanent = |class: &str| JobFailure::Permanent(class.into());
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let mut ticket =
        tx.lock_escalation(EscalationId(job.subject_id)).await?.ok_or_else(|| permanent("ticket_missing"))?;
    let tenant = tx.tenant().await?.ok_or_else(|| permanent("tenant_missing"))?;
    let conversation =
        tx.conversation(ticket.conversation_id).await?.ok_or_else(|| permanent("conversation_missing"))?;
    let contact = tx.contact(ticket.contact_id).await?.ok_or_else(|| permanent("contact_missing"))?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let settings = &tenant.settings;
    let texts = OwnerTexts::new(&settings.language);
    let number = ticket.number.to_string();
    let customer = customer_label(&contact, &key)?;
    let about =
        About { channel: conversation.channel_id, escalation: Some(ticket.id), contact: Some(contact.id), key: &key };
    let mut trail = Vec::new();
    let subject = Some(ticket.id.to_string());

    if ticket.closed_at.is_none() && ticket.status == TicketStatus::Open {
        if let Some(due) = reminder_due(&ticket, settings)
            && now >= due
        {
            let minutes = (now - ticket.opened_at).num_minutes().to_string();
            let text = texts.fill("reminder", &[("ticket", &number), ("customer", &customer), ("minutes", &minutes)]);
            let queued = to_owners(core, &mut *tx, about, Purpose::Reminder, &text, now).await?;
            ticket.renotified += 1;
            ticket.notified_at = Some(now);
            trail.push(
                AuditEntry::new("timer", "escalation.reminded", "escalation", subject.clone())
                    .detail(json!({ "ticket": ticket.number, "reminder": ticket.renotified, "messages": queued })),
            );
        }
        if let Some(due) = customer_notice_due(&ticket, &conversation, &contact, settings, now)
            && now >= due
        {
            let text = render(Template::Wait, &settings.language, &tenant.name);
            let ids = store_to_customer(core, &mut *tx, conversation.id, Author::System, &[text], now).await?;
            ticket.customer_notified_at = Some(now);
            trail.push(
                AuditEntry::new("timer", "escalation.customer_told_to_wait", "escalation", subject.clone())
                    .detail(json!({ "ticket": ticket.number, "messages": ids })),
            );
        }
    }
    if ticket.closed_at.is_none()
        && ticket.status == TicketStatus::Human
        && let Some(due) = idle_due(&ticket, &conversation, settings)
        && now >= due
        && let Some(entry) = idle_timeout(&mut *tx, &mut ticket, now).await?
    {
        trail.push(entry);
        let hours = settings.human_idle_hours.to_string();
        let text = texts.fill("idle", &[("ticket", &number), ("customer", &customer), ("hours", &hours)]);
        to_owners(core, &mut *tx, about, Purpose::Idle, &text, now).await?;
    }
    tx.update_escalation(&ticket).await?;

    let outcome = match next_due(&ticket, &conversation, &contact, settings, now) {
        _ if ticket.closed_at.is_some() => JobOutcome::Done,
        Some(due) => JobOutcome::Later { run_at: due.min(now + RECHECK) },
        None => JobOutcome::Later { run_at: now + RECHECK },
    };
    if !tx.finish_job(job.id, worker, &outcome, now).await? {
        return Ok(());
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

fn reminder_due(ticket: &EscalationRecord, settings: &TenantSettings) -> Option<DateTime<Utc>> {
    (settings.renotify_minutes > 0 && ticket.renotified < MAX_REMINDERS).then(|| {
        ticket.notified_at.unwrap_or(ticket.opened_at) + Duration::minutes(i64::from(settings.renotify_minutes))
    })
}

/// Only while the customer can still be reached: a closed window would refuse the message.
fn customer_notice_due(
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    contact: &ContactRecord,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let reachable = window_left(conversation, now).is_some();
    // A customer who sent STOP, or whose erasure receipt said when, gets no automatic message.
    let silent = contact.bot_stopped_at.is_some() || ticket.reason == EscalationReason::ErasureRequested;
    (settings.customer_notice_minutes > 0 && ticket.customer_notified_at.is_none() && reachable && !silent)
        .then(|| ticket.opened_at + Duration::minutes(i64::from(settings.customer_notice_minutes)))
}

/// Silence means neither the customer nor the owner wrote.
fn idle_due(
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    settings: &TenantSettings,
) -> Option<DateTime<Utc>> {
    if settings.human_idle_hours <= 0 {
        return None;
    }
    let last = [ticket.last_owner_at, ticket.answered_at, conversation.last_inbound_at, Some(ticket.opened_at)]
        .into_iter()
        .flatten()
        .max()?;
    Some(last + Duration::hours(i64::from(settings.human_idle_hours)))
}

fn next_due(
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    contact: &ContactRecord,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let candidates = match ticket.status {
        TicketStatus::Open => {
            vec![reminder_due(ticket, settings), customer_notice_due(ticket, conversation, contact, settings, now)]
        }
        TicketStatus::Human => vec![idle_due(ticket, conversation, settings)],
        TicketStatus::HandedBack | TicketStatus::Resolved => vec![],
    };
    candidates.into_iter().flatten().min()
}
