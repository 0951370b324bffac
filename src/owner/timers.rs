//! The `ticket_timer` job, one per ticket, woken by the durable queue at its next due time
//! (read from the injectable clock): remind the owner of an unanswered ticket; when the
//! owner-response target passes, tell the customer honestly when to expect an answer; after
//! the resume limit, give a ticket nobody answered back to the bot as `unanswered`; warn the
//! owner once before a waiting customer's 24-hour window closes; and give a silent human-mode
//! conversation back to the bot. Every ticket ends.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::Purpose;
use super::notify::{About, customer_label, to_owners};
use super::texts::OwnerTexts;
use super::tickets::{idle_timeout, resume_unanswered, window_left};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::domain::{Author, EscalationId, EscalationReason, TicketStatus};
use crate::engine::triggers::BusinessHours;
use crate::engine::{Template, render};
use crate::jobs::JobFailure;
use crate::store::{ContactRecord, ConversationRecord, EscalationRecord, JobOutcome, JobRecord};
use crate::tenants::TenantSettings;
use crate::worker::outbound::store_to_customer;

/// Reminders per ticket at most; after that the ticket waits quietly in `daftar` and the API.
const MAX_REMINDERS: i32 = 3;
/// An open ticket's timer looks again at least this often, so settings changes take effect.
const RECHECK: Duration = Duration::hours(1);
/// The soonest a timer runs again.
const RETRY: Duration = Duration::minutes(1);
/// WhatsApp's customer-service window, and how long before it closes the owner is warned.
const WINDOW: Duration = Duration::hours(24);
const WINDOW_WARNING: Duration = Duration::hours(4);

/// When a new ticket's timer first runs.
pub fn first_due(settings: &TenantSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = [settings.renotify_minutes, settings.response_target_minutes].into_iter().filter(|m| *m > 0).min();
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
    let channel = tx.channel(conversation.channel_id).await?.ok_or_else(|| permanent("channel_missing"))?;
    // Fonnte sends through a linked phone: it has no 24-hour window.
    let windowed = channel.provider != "fonnte";
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
        if let Some(due) = customer_notice_due(&ticket, &contact, settings)
            && now >= due
        {
            // A closed window would refuse the message: recorded as not sent, never retried.
            let entry = if window_left(&conversation, now).is_some() {
                let when = expected_answer(settings, now);
                let text = render(Template::Overdue, &settings.language, &tenant.name).replace("{when}", &when);
                let ids = store_to_customer(core, &mut *tx, conversation.id, Author::System, &[text], now).await?;
                AuditEntry::new("timer", "escalation.customer_told_when", "escalation", subject.clone())
                    .detail(json!({ "ticket": ticket.number, "messages": ids }))
            } else {
                AuditEntry::new("timer", "escalation.customer_notice_not_sent", "escalation", subject.clone())
                    .detail(json!({ "ticket": ticket.number, "notice": "overdue", "why": "window_closed" }))
            };
            ticket.customer_notified_at = Some(now);
            trail.push(entry);
        }
        if let Some(due) = resume_due(&ticket, settings)
            && now >= due
            && let Some(entry) = resume_unanswered(&mut *tx, &mut ticket, now).await?
        {
            trail.push(entry);
            let hours = settings.resume_after_hours.to_string();
            let text = texts.fill("unanswered", &[("ticket", &number), ("customer", &customer), ("hours", &hours)]);
            to_owners(core, &mut *tx, about, Purpose::Idle, &text, now).await?;
        }
    }
    if ticket.closed_at.is_none()
        && let Some(due) = window_warning_due(&ticket, &conversation, windowed, now)
        && now >= due
        && let Some(last) = conversation.last_inbound_at
    {
        let waited = (now - last).num_hours().to_string();
        // Rounded up: "closes in 4 hours" at 20 h 1 min, never "in 0 hours".
        let left = ((last + WINDOW - now).num_minutes() + 59).div_euclid(60).max(1).to_string();
        let text = texts.fill(
            "window_closing",
            &[("ticket", &number), ("customer", &customer), ("hours", &waited), ("left", &left)],
        );
        let queued = to_owners(core, &mut *tx, about, Purpose::Reminder, &text, now).await?;
        ticket.window_warned_at = Some(now);
        trail.push(
            AuditEntry::new("timer", "escalation.window_warning", "escalation", subject.clone())
                .detail(json!({ "ticket": ticket.number, "messages": queued })),
        );
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

    let outcome = match next_due(&ticket, &conversation, &contact, settings, windowed, now) {
        _ if ticket.closed_at.is_some() => JobOutcome::Done,
        // A due time already past (its move refused, e.g. by a concurrent change) is tried again
        // in a minute, not at once: a timer never spins.
        Some(due) => JobOutcome::Later { run_at: due.max(now + RETRY).min(now + RECHECK) },
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

/// When the owner-response target passes, counted in business hours when those are set.
fn customer_notice_due(
    ticket: &EscalationRecord,
    contact: &ContactRecord,
    settings: &TenantSettings,
) -> Option<DateTime<Utc>> {
    // A customer who sent STOP, or whose erasure receipt said when, gets no automatic message.
    let silent = contact.bot_stopped_at.is_some() || ticket.reason == EscalationReason::ErasureRequested;
    (settings.response_target_minutes > 0 && ticket.customer_notified_at.is_none() && !silent)
        .then(|| notice_due(ticket.opened_at, settings.response_target_minutes, hours_of(settings)))
}

/// The target in business minutes; but a customer who writes near closing time, or while the
/// shop is closed, is told at closing time (or after the target on the wall clock) that the
/// answer comes at the next opening, not left to wonder overnight.
fn notice_due(opened: DateTime<Utc>, minutes: i32, hours: Option<BusinessHours>) -> DateTime<Utc> {
    let wall = opened + Duration::minutes(i64::from(minutes));
    let Some(hours) = hours else { return wall };
    if !hours.is_open(opened) {
        return wall;
    }
    let mut closing = opened;
    while hours.is_open(closing) && closing < opened + Duration::days(1) {
        closing += Duration::minutes(1);
    }
    after_business_minutes(opened, minutes, Some(hours)).min(closing)
}

/// A ticket the owner never answered goes back to the bot after the resume limit (wall clock).
fn resume_due(ticket: &EscalationRecord, settings: &TenantSettings) -> Option<DateTime<Utc>> {
    (settings.resume_after_hours > 0 && ticket.answered_at.is_none())
        .then(|| ticket.opened_at + Duration::hours(i64::from(settings.resume_after_hours)))
}

fn hours_of(settings: &TenantSettings) -> Option<BusinessHours> {
    BusinessHours::parse(&settings.business_hours, &settings.timezone).ok().flatten()
}

/// `start` plus `minutes` of open time: closed hours do not count. Walks minute by minute, for
/// at most two weeks (a target longer than that is a setting nobody means).
fn after_business_minutes(start: DateTime<Utc>, minutes: i32, hours: Option<BusinessHours>) -> DateTime<Utc> {
    let Some(hours) = hours else { return start + Duration::minutes(i64::from(minutes)) };
    let (mut at, mut left) = (start, minutes);
    let limit = start + Duration::days(14);
    while left > 0 && at < limit {
        if hours.is_open(at) {
            left -= 1;
        }
        at += Duration::minutes(1);
    }
    at
}

/// When the customer may expect an answer, in the tenant's language: soon, while the business
/// is open; outside its hours, the next opening ("besok pukul 08:00").
fn expected_answer(settings: &TenantSettings, now: DateTime<Utc>) -> String {
    let english = settings.language == "en";
    let Some(hours) = hours_of(settings).filter(|h| !h.is_open(now)) else {
        return if english { "as soon as possible".into() } else { "secepatnya".into() };
    };
    let mut at = now;
    while !hours.is_open(at) && at < now + Duration::days(8) {
        at += Duration::minutes(1);
    }
    let local = at.with_timezone(&hours.zone);
    let days = (local.date_naive() - now.with_timezone(&hours.zone).date_naive()).num_days();
    let time = local.format("%H:%M");
    match (english, days) {
        (false, 0) => format!("saat toko buka lagi, hari ini pukul {time}"),
        (false, 1) => format!("saat toko buka lagi, besok pukul {time}"),
        (false, _) => format!("saat toko buka lagi, {} pukul {time}", local.format("%d-%m-%Y")),
        (true, 0) => format!("when the shop opens again, today at {time}"),
        (true, 1) => format!("when the shop opens again, tomorrow at {time}"),
        (true, _) => format!("when the shop opens again, on {} at {time}", local.format("%d-%m-%Y")),
    }
}

/// When to warn the owner that the customer's window closes in 4 hours: once per message of
/// the customer's that nobody answered, on a ticket opened before then (the notice of a later
/// ticket already warns), never on a provider without a window, never once it has closed.
fn window_warning_due(
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    windowed: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !windowed || !matches!(ticket.status, TicketStatus::Open | TicketStatus::Human) {
        return None;
    }
    let last = conversation.last_inbound_at?;
    let due = last + WINDOW - WINDOW_WARNING;
    let answered = [ticket.answered_at, ticket.last_owner_at].into_iter().flatten().any(|at| at >= last);
    let warned = ticket.window_warned_at.is_some_and(|at| at >= last);
    let open = now < last + WINDOW;
    (!answered && !warned && open && ticket.opened_at < due).then_some(due)
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
    windowed: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let warning = window_warning_due(ticket, conversation, windowed, now);
    let candidates = match ticket.status {
        TicketStatus::Open => vec![
            reminder_due(ticket, settings),
            customer_notice_due(ticket, contact, settings),
            resume_due(ticket, settings),
            warning,
        ],
        TicketStatus::Human => vec![idle_due(ticket, conversation, settings), warning],
        TicketStatus::HandedBack | TicketStatus::Resolved | TicketStatus::Unanswered => vec![],
    };
    candidates.into_iter().flatten().min()
}
