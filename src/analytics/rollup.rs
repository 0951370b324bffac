//! The rollup: a durable `analytics_rollup` job per tenant folds raw activity into
//! `analytics_conversation_days`, `analytics_tickets` and `analytics_days` every few minutes,
//! recomputing from the local day the last pass was in. Erasure and retention catch it up
//! first, so analytics keep what they delete; the rows they leave get random ids (`anonymize`).
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::{day_key, week_of};
use crate::clock::local_moment;
use crate::core::Core;
use crate::domain::{Author, ContactId, ConversationId, Direction, EscalationId, MessageId, TenantId};
use crate::jobs::{JobFailure, JobKind};
use crate::store::{
    AnalyticsOps, ConversationDay, ConversationOps, JobOutcome, JobRecord, MessageFact, OwnerOps, ReportingOps, Store,
    StoreResult, TEMPLATE_SENDS_METRIC, TenantOps, TicketFact,
};

/// How often the job runs once caught up: how stale analytics can be.
pub const INTERVAL: Duration = Duration::minutes(5);
/// Transactions still open when a pass ran may commit rows dated before it: redo that stretch.
const MARGIN: Duration = Duration::minutes(15);
/// Days per pass, so a first backfill of a large tenant is many short transactions.
const DAYS_PER_PASS: i64 = 31;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub days: i64,
    pub conversation_days: usize,
    pub tickets: usize,
    /// False when days remain (the next pass should follow at once).
    pub caught_up: bool,
}

/// Midnight of a local date, as UTC.
pub fn day_start(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    local_moment(day, NaiveTime::MIN, zone).unwrap_or_else(|| day.and_time(NaiveTime::MIN).and_utc())
}

/// One pass of up to `DAYS_PER_PASS` local days, inside the caller's transaction.
pub async fn roll_up(
    tx: &mut (impl AnalyticsOps + ReportingOps + ?Sized),
    zone: Tz,
    now: DateTime<Utc>,
) -> StoreResult<Pass> {
    let today = now.with_timezone(&zone).date_naive();
    let first = match tx.lock_analytics_state().await? {
        Some(through) => (through - MARGIN).with_timezone(&zone).date_naive(),
        None => tx.first_message_at().await?.map_or(today, |t| t.with_timezone(&zone).date_naive()),
    };
    let first = first.min(today);
    let last = (first + Duration::days(DAYS_PER_PASS - 1)).min(today);
    let mut pass = Pass { caught_up: last == today, ..Pass::default() };
    let mut weeks = BTreeSet::new();
    let mut day = first;
    while day <= last {
        let (from, to) = (day_start(day, zone), day_start(day + Duration::days(1), zone));
        let facts = tx.message_facts(from, to, to + Duration::days(1)).await?;
        let escalated: HashSet<ConversationId> =
            tx.escalations_opened(from, to).await?.iter().map(|t| t.conversation_id).collect();
        let rows = conversation_days(day, from, to, &facts, &escalated);
        tx.upsert_conversation_days(&rows).await?;
        // From the stored rows, so rows an erasure relabelled still count.
        let mut figures = tx.conversation_day_figures(&day_key(day)).await?;
        let (calls, prompt, completion, cost) = tx.llm_totals(from, to).await?;
        let dead = tx.dead_letters_between(from, to).await?;
        figures.extend(
            [
                ("llm_calls", calls),
                ("llm_prompt_tokens", prompt),
                ("llm_completion_tokens", completion),
                ("llm_cost_micro_usd", cost),
                ("dead_letters", dead),
            ]
            .map(|(name, value)| (name.to_string(), value)),
        );
        let templates = tx.template_sends_between(from, to).await?;
        figures.extend(
            templates
                .into_iter()
                .map(|(category, purpose, n)| (format!("{TEMPLATE_SENDS_METRIC}{category}:{purpose}"), n)),
        );
        tx.replace_day_metrics(&day_key(day), &figures).await?;
        weeks.insert(week_of(day));
        pass.conversation_days += rows.len();
        pass.days += 1;
        day += Duration::days(1);
    }
    for monday in weeks {
        let customers = tx.distinct_customers(&day_key(monday), &day_key(monday + Duration::days(6))).await?;
        tx.set_week_customers(&day_key(monday), customers).await?;
    }
    let tickets: Vec<TicketFact> =
        tx.escalations_changed_since(day_start(first, zone)).await?.iter().map(TicketFact::from).collect();
    tx.upsert_ticket_facts(&tickets).await?;
    pass.tickets = tickets.len();
    let through = if pass.caught_up { now } else { day_start(last + Duration::days(1), zone) + MARGIN };
    tx.set_analytics_rolled_through(through).await?;
    Ok(pass)
}

/// Figures older than this get a pass before they are read, so a report is never staler.
pub const FRESH: Duration = Duration::seconds(30);

/// Before a report is read: one pass when the last one is older than `FRESH` (today's figures
/// then include the last half minute's messages), in its own transaction. A failed pass leaves
/// the older figures to read; their `as_of` says how old they are.
pub async fn refresh(store: &dyn Store, tenant: TenantId, now: DateTime<Utc>) {
    if let Err(e) = refresh_pass(store, tenant, now).await {
        tracing::warn!(tenant = %tenant, error = %e, "analytics refresh failed; the report shows the last rollup");
    }
}

async fn refresh_pass(store: &dyn Store, tenant: TenantId, now: DateTime<Utc>) -> StoreResult<()> {
    let fresh = |through: Option<DateTime<Utc>>| through.is_some_and(|t| now - t < FRESH);
    let mut tx = store.begin_read(tenant).await?;
    let through = tx.analytics_rolled_through().await?;
    tx.commit().await?;
    if fresh(through) {
        return Ok(());
    }
    let mut tx = store.begin(tenant).await?;
    // Readers arriving together wait on the state row; the later ones find the figures fresh.
    if fresh(tx.lock_analytics_state().await?) {
        return tx.commit().await;
    }
    let Some(record) = tx.tenant().await? else { return Ok(()) };
    roll_up(&mut *tx, record.settings.zone(), now).await?;
    tx.commit().await
}

/// Passes until today is rolled up: before erasure or retention delete what it counts.
pub async fn catch_up(
    tx: &mut (impl TenantOps + AnalyticsOps + ReportingOps + ?Sized),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(tenant) = tx.tenant().await? else { return Ok(()) };
    let zone = tenant.settings.zone();
    while !roll_up(&mut *tx, zone, now).await?.caught_up {}
    Ok(())
}

/// Gives rollup rows random ids: one customer id per person and ISO week, so weekly distinct
/// counts stay exact while nothing links a week to another or to anyone.
pub async fn anonymize(
    tx: &mut (impl AnalyticsOps + ?Sized),
    rows: Vec<(String, ConversationId, ContactId)>,
) -> StoreResult<usize> {
    let mut weekly: HashMap<(ContactId, NaiveDate), ContactId> = HashMap::new();
    for (day, conversation, contact) in &rows {
        let week = NaiveDate::parse_from_str(day, "%Y-%m-%d").map(week_of).unwrap_or_default();
        let anonymous = *weekly.entry((*contact, week)).or_insert_with(|| ContactId(uuid::Uuid::new_v4()));
        tx.relabel_conversation_day(day, *conversation, ConversationId(uuid::Uuid::new_v4()), anonymous).await?;
    }
    Ok(rows.len())
}

/// Erasure: the customer's rows keep their figures under random ids; their tickets close.
pub async fn forget_contact(
    tx: &mut (impl AnalyticsOps + ConversationOps + OwnerOps + ?Sized),
    contact: ContactId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut rows = Vec::new();
    for conversation in tx.conversations_of_contact(contact).await? {
        rows.extend(
            tx.conversation_day_keys(conversation.id).await?.into_iter().map(|d| (d, conversation.id, contact)),
        );
    }
    anonymize(&mut *tx, rows).await?;
    for ticket in tx.escalations_of_contact(contact).await? {
        tx.retire_ticket_fact(ticket.id, EscalationId(uuid::Uuid::new_v4()), now).await?;
    }
    Ok(())
}

/// Folds one local day's messages into one row per conversation. `facts` may hold replies
/// made after the day: they time the bot's answer but are counted on their own day.
pub fn conversation_days(
    day: NaiveDate,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    facts: &[MessageFact],
    escalated: &HashSet<ConversationId>,
) -> Vec<ConversationDay> {
    let in_day = |m: &&MessageFact| m.created_at >= from && m.created_at < to;
    // When the bot's first reply to each customer message went out.
    let mut answered: HashMap<MessageId, DateTime<Utc>> = HashMap::new();
    for reply in facts.iter().filter(|r| r.author == Author::Bot) {
        if let (Some(question), Some(sent)) = (reply.reply_to, reply.sent_at) {
            answered.entry(question).and_modify(|t| *t = (*t).min(sent)).or_insert(sent);
        }
    }
    let mut rows: BTreeMap<ConversationId, ConversationDay> = BTreeMap::new();
    for m in facts.iter().filter(in_day) {
        let row = rows.entry(m.conversation_id).or_insert_with(|| ConversationDay {
            day: day_key(day),
            conversation_id: m.conversation_id,
            contact_id: m.contact_id,
            inbound: 0,
            bot_out: 0,
            owner_out: 0,
            system_out: 0,
            escalated: i64::from(escalated.contains(&m.conversation_id)),
            bot_first_response_ms: None,
        });
        match (m.direction, m.author) {
            (Direction::In, _) => row.inbound += 1,
            (_, Author::Bot) => row.bot_out += 1,
            (_, Author::Owner) => row.owner_out += 1,
            (_, Author::Customer | Author::System) => row.system_out += 1,
        }
    }
    // The day's first customer message the bot answered sets the conversation's time.
    let mut questions: Vec<&MessageFact> =
        facts.iter().filter(in_day).filter(|m| m.direction == Direction::In).collect();
    questions.sort_by_key(|m| (m.created_at, m.id));
    for question in questions {
        if let (Some(sent), Some(row)) = (answered.get(&question.id), rows.get_mut(&question.conversation_id))
            && row.bot_first_response_ms.is_none()
        {
            row.bot_first_response_ms = Some(two_significant((*sent - question.created_at).num_milliseconds().max(0)));
        }
    }
    rows.into_values().collect()
}

/// Rounds to two significant digits (4 234 → 4 200): percentiles then group into few values.
pub fn two_significant(value: i64) -> i64 {
    let mut scale = 1;
    while value / scale >= 100 {
        scale *= 10;
    }
    (value + scale / 2) / scale * scale
}

/// The `analytics_rollup` job: one pass, then again in `INTERVAL` (at once while backfilling).
pub async fn run_job(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let outcome = match tx.tenant().await? {
        Some(tenant) if tenant.status != crate::tenants::TenantStatus::Purged => {
            let pass = roll_up(&mut *tx, tenant.settings.zone(), now).await?;
            JobOutcome::Later { run_at: if pass.caught_up { now + INTERVAL } else { now } }
        }
        _ => JobOutcome::Done,
    };
    if tx.finish_job(job.id, worker, &outcome, now).await? {
        tx.commit().await?;
        core.work_queued();
    }
    Ok(())
}

/// Makes sure every tenant has its rollup job (run at `serve` start and every 15 minutes).
pub async fn schedule_all(store: &dyn Store, max_attempts: i32, now: DateTime<Utc>) -> StoreResult<u64> {
    crate::jobs::ensure_per_tenant(store, JobKind::AnalyticsRollup, max_attempts, now, |_| now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fact(conversation: ConversationId, direction: &str, author: &str, at: DateTime<Utc>) -> MessageFact {
        MessageFact {
            id: MessageId(uuid::Uuid::now_v7()),
            conversation_id: conversation,
            contact_id: ContactId(uuid::Uuid::nil()),
            direction: Direction::parse(direction).expect("a direction code"),
            author: Author::parse(author).expect("an author code"),
            reply_to: None,
            created_at: at,
            sent_at: Some(at),
        }
    }

    #[test]
    fn rounds_to_two_significant_digits() {
        assert_eq!(
            [0, 7, 99, 104, 4_234, 4_250, 37_412, 999_999].map(two_significant),
            [0, 7, 99, 100, 4_200, 4_300, 37_000, 1_000_000]
        );
    }

    #[test]
    fn days_follow_daylight_saving_time() {
        let berlin = chrono_tz::Europe::Berlin;
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let (from, to) = (day_start(spring, berlin), day_start(spring + Duration::days(1), berlin));
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap());
        assert_eq!(to - from, Duration::hours(23), "the spring day is an hour short");
    }

    #[test]
    fn weeks_start_on_monday() {
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(week_of(sunday), NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(week_of(sunday + Duration::days(1)), sunday + Duration::days(1));
    }

    #[test]
    fn a_day_folds_into_one_row_per_conversation() {
        let zone = chrono_tz::Asia::Jakarta;
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (from, to) = (day_start(day, zone), day_start(day + Duration::days(1), zone));
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 11, 19, 17, 0, 0).unwrap());
        let (a, b) = (ConversationId(uuid::Uuid::now_v7()), ConversationId(uuid::Uuid::now_v7()));
        let question = fact(a, "in", "customer", from + Duration::hours(1));
        let mut unanswered_first = fact(a, "in", "customer", from + Duration::minutes(30));
        unanswered_first.sent_at = None;
        let mut answer = fact(a, "out", "bot", from + Duration::hours(1) + Duration::seconds(3));
        answer.reply_to = Some(question.id);
        answer.sent_at = Some(question.created_at + Duration::milliseconds(4_234));
        // A reply late at night answered after midnight: timed, but counted on its own day.
        let late = fact(b, "in", "customer", to - Duration::seconds(2));
        let mut late_answer = fact(b, "out", "bot", to + Duration::seconds(1));
        late_answer.reply_to = Some(late.id);
        let owner = fact(b, "out", "owner", from + Duration::hours(2));
        let notice = fact(b, "out", "system", from + Duration::hours(2));
        let facts = [question, unanswered_first, answer, late, late_answer, owner, notice];
        let rows = conversation_days(day, from, to, &facts, &HashSet::from([b]));
        let row = |c| rows.iter().find(|r| r.conversation_id == c).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((row(a).inbound, row(a).bot_out, row(a).escalated), (2, 1, 0));
        assert_eq!(row(a).bot_first_response_ms, Some(4_200));
        assert_eq!((row(b).inbound, row(b).bot_out, row(b).owner_out, row(b).system_out), (1, 0, 1, 1));
        assert_eq!((row(b).escalated, row(b).bot_first_response_ms), (1, Some(3_000)));
        assert_eq!(row(a).day, "2026-11-20");
    }
}
