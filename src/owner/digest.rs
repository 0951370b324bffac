//! The owner's daily digest on WhatsApp, at the tenant's `digest_time` in its own time zone:
//! yesterday's conversations, the share the bot answered, tickets still open, the slowest
//! owner answer, the five most asked open knowledge gaps (with how to answer them from
//! WhatsApp), and overdue data requests. A durable `owner_digest` job per tenant reschedules
//! itself to the next local digest time.
use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::notify::{About, shorten, to_owners};
use super::texts::OwnerTexts;
use super::{HELD, Purpose};
use crate::audit::{self, AuditEntry};
use crate::clock::local_moment;
use crate::core::Core;
use crate::domain::TicketStatus;
use crate::domain::{OwnerId, OwnerMessageId};
use crate::engine::triggers;
use crate::jobs::{JobFailure, JobKind};
use crate::privacy::requests;
use crate::store::{
    ConversationOps, JobOps, JobOutcome, JobRecord, OwnerMessageRecord, OwnerOps, ReportingOps, Store, StoreResult,
    TenantRecord, TenantTx,
};
use crate::tenants::TenantStatus;

/// Questions listed at most, and their length in the digest.
const QUESTIONS: usize = 5;
const QUESTION_CHARS: usize = 120;

/// The next moment strictly after `now` when the local clock in `zone` shows `at`.
pub fn next_occurrence(now: DateTime<Utc>, at: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&zone).date_naive();
    (0..3)
        .filter_map(|d| local_moment(today + Duration::days(d), at, zone))
        .find(|t| *t > now)
        .unwrap_or(now + Duration::days(1))
}

fn digest_time(tenant: &TenantRecord) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(tenant.settings.digest_time.trim(), "%H:%M").ok()
}

/// Makes sure every tenant has its digest job, due at its next local digest time.
pub async fn schedule_all(store: &dyn Store, max_attempts: i32, now: DateTime<Utc>) -> StoreResult<u64> {
    crate::jobs::ensure_per_tenant(store, JobKind::OwnerDigest, max_attempts, now, |tenant| {
        next_occurrence(now, digest_time(tenant).unwrap_or(NaiveTime::MIN), tenant.settings.zone())
    })
    .await
}

/// The `owner_digest` job: sends yesterday's digest (unless switched off), then waits for the
/// next local digest time.
pub async fn run_job(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let Some(tenant) = tx.tenant().await? else {
        tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
        tx.commit().await?;
        return Ok(());
    };
    let zone = tenant.settings.zone();
    let next = match digest_time(&tenant) {
        Some(at) if tenant.status == TenantStatus::Active => {
            let text = compose(core, &mut *tx, &tenant, now).await?;
            let key = crate::tenants::data_key(&mut *tx, &core.keys).await?;
            let told = match tx.first_channel().await? {
                // The digest quotes several customers: it is sealed with the tenant key.
                Some(channel) => {
                    let about = About { channel, escalation: None, contact: None, key: &key };
                    to_owners(core, &mut *tx, about, Purpose::Digest, &text, now).await?
                }
                None => 0,
            };
            let entry = AuditEntry::new("worker", "owner.digest_sent", "tenant", Some(tenant.id.to_string()))
                .detail(json!({ "owner_messages": told }));
            audit::append(&mut *tx, vec![entry], now).await?;
            next_occurrence(now, at, zone)
        }
        // Switched off (or the tenant is cancelled): look again in a day.
        _ => now + Duration::days(1),
    };
    if tx.finish_job(job.id, worker, &JobOutcome::Later { run_at: next }, now).await? {
        tx.commit().await?;
        core.work_queued();
    }
    Ok(())
}

/// Yesterday in the tenant's zone, and when it began and ended.
fn yesterday_of(tenant: &TenantRecord, now: DateTime<Utc>) -> (chrono::NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let zone = tenant.settings.zone();
    let today = now.with_timezone(&zone).date_naive();
    let yesterday = today - Duration::days(1);
    let from = local_moment(yesterday, NaiveTime::MIN, zone).unwrap_or(now - Duration::days(1));
    let to = local_moment(today, NaiveTime::MIN, zone).unwrap_or(now);
    (yesterday, from, to)
}

/// Tickets the resume limit closed in the window: opened at most that limit (plus a day) before.
async fn unanswered_tickets(
    tx: &mut (impl ConversationOps + ReportingOps + ?Sized),
    tenant: &TenantRecord,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<usize> {
    let earliest = from - Duration::hours(i64::from(tenant.settings.resume_after_hours.max(0)) + 24);
    let opened = tx.escalations_opened(earliest, to).await?;
    Ok(opened
        .iter()
        .filter(|t| t.status == TicketStatus::Unanswered && t.closed_at.is_some_and(|c| from <= c && c < to))
        .count())
}

/// The digest template's parameters for the digest written at `at`: the day, its
/// conversations, the tickets open now, and the tickets nobody answered that day.
pub async fn template_figures(
    tx: &mut (impl ConversationOps + ReportingOps + ?Sized),
    tenant: &TenantRecord,
    at: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let (yesterday, from, to) = yesterday_of(tenant, at);
    let conversations = tx.inbound_stats(from, to).await?.conversations;
    let open = tx.open_escalation_count().await?;
    let unanswered = unanswered_tickets(tx, tenant, from, to).await?;
    Ok(vec![
        yesterday.format("%d-%m-%Y").to_string(),
        conversations.to_string(),
        open.to_string(),
        unanswered.to_string(),
    ])
}

/// Yesterday (in the tenant's zone) in numbers, and the questions the bot could not answer.
pub async fn compose(
    core: &Core,
    tx: &mut dyn TenantTx,
    tenant: &TenantRecord,
    now: DateTime<Utc>,
) -> StoreResult<String> {
    let (yesterday, from, to) = yesterday_of(tenant, now);
    let texts = OwnerTexts::new(&tenant.settings.language);

    let stats = tx.inbound_stats(from, to).await?;
    let bot_share = match stats.inbound {
        0 => "-".to_string(),
        n => format!("{}%", (stats.answered_by_bot * 100 + n / 2) / n),
    };
    let slowest = tx
        .escalations_answered(from, to)
        .await?
        .iter()
        .filter_map(|t| t.answered_at.map(|a| a - t.opened_at))
        .max()
        .map_or_else(
            || "-".to_string(),
            |d| texts.fill("duration", &[("minutes", &d.num_minutes().max(0).to_string())]),
        );
    let questions: Vec<String> = crate::gaps::list::groups_in(core, &mut *tx, QUESTIONS)
        .await?
        .iter()
        .map(|g| {
            texts.fill(
                "digest_gap",
                &[("question", &shorten(g.question.trim(), QUESTION_CHARS)), ("customers", &g.customers.to_string())],
            )
        })
        .collect();
    let unanswered = unanswered_tickets(tx, tenant, from, to).await?;
    let overdue = tx.dsars(true, 10_000).await?.iter().filter(|r| requests::overdue(r, now).is_some()).count();

    let mut parts = vec![texts.fill(
        "digest",
        &[
            ("date", &yesterday.format("%d-%m-%Y").to_string()),
            ("conversations", &stats.conversations.to_string()),
            ("inbound", &stats.inbound.to_string()),
            ("bot_share", &bot_share),
            ("open", &tx.open_escalation_count().await?.to_string()),
            ("slowest", &slowest),
        ],
    )];
    let cost = tx.llm_cost_between(from, to).await?;
    if cost > 0 {
        let usd = cost as f64 / 1e6;
        let idr = crate::analytics::report::rupiah(usd * core.usd_idr_rate);
        parts.push(texts.fill("digest_cost", &[("usd", &format!("{usd:.2}")), ("idr", &idr)]));
    }
    if !questions.is_empty() {
        parts.push(texts.fill("digest_questions", &[("questions", &questions.join("\n"))]));
    }
    if unanswered > 0 {
        let hours = tenant.settings.resume_after_hours.to_string();
        parts.push(texts.fill("digest_unanswered", &[("count", &unanswered.to_string()), ("hours", &hours)]));
    }
    if overdue > 0 {
        parts.push(texts.fill("digest_requests", &[("count", &overdue.to_string())]));
    }
    let bare = triggers::false_alarm_words(&tenant.settings.escalation_keywords);
    if !bare.is_empty() {
        parts.push(texts.fill("digest_keywords", &[("words", &bare.join(", "))]));
    }
    Ok(parts.join("\n\n"))
}

/// The digest went as its template: its full text waits, as a held copy, for the owner to
/// write (a newer digest's copy supersedes an older one still waiting).
pub async fn hold_full_text(
    tx: &mut (impl OwnerOps + ?Sized),
    sent: &OwnerMessageRecord,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for older in tx.held_owner_messages(sent.owner_id).await? {
        if older.purpose == Purpose::Digest {
            tx.move_owner_message_status(older.id, HELD, "superseded", now).await?;
        }
    }
    let copy = OwnerMessageRecord {
        id: OwnerMessageId::new(),
        provider_message_id: None,
        status: HELD.into(),
        status_rank: 0,
        error_code: None,
        created_at: now,
        updated_at: now,
        ..sent.clone()
    };
    tx.insert_owner_message(&copy).await?;
    Ok(())
}

/// The owner wrote, so their window is open: a held digest goes now, as text.
pub async fn release_held(
    core: &Core,
    tx: &mut (impl OwnerOps + JobOps + ?Sized),
    owner: OwnerId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut trail = Vec::new();
    for held in tx.held_owner_messages(owner).await? {
        if tx.move_owner_message_status(held.id, HELD, "queued", now).await? {
            let job = JobRecord::new(held.tenant_id, JobKind::OwnerSend, held.id.0, core.jobs.max_attempts, now);
            // A held forward already had its job (finished without sending): it runs again.
            if !tx.enqueue_job(&job).await? {
                tx.rerun_job(JobKind::OwnerSend, held.id.0, now).await?;
            }
            trail.push(AuditEntry::new("worker", "owner_message.released", "owner_message", Some(held.id.to_string())));
        }
    }
    Ok(trail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_next_digest_is_the_next_local_time_after_now() {
        let jakarta = chrono_tz::Asia::Jakarta;
        let seven = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
        // 06:00 WIB is 23:00 UTC the day before: today's 07:00 WIB is an hour away.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 23, 0, 0).unwrap();
        assert_eq!(next_occurrence(now, seven, jakarta), Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap());
        // Exactly at 07:00 WIB the next one is tomorrow's.
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(next_occurrence(at, seven, jakarta), Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        // A zone with DST: 02:30 does not exist on the spring-forward night; 03:30 is used.
        let berlin = chrono_tz::Europe::Berlin;
        let night = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
        let half_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            next_occurrence(night, half_two, berlin),
            Utc.with_ymd_and_hms(2026, 3, 28, 1, 30, 0).unwrap() + Duration::days(1)
        );
    }
}
