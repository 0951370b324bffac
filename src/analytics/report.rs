//! Reads the rollup in day or week buckets of the tenant's zone, with a total for the range
//! and a snapshot for now. Counts, shares, times and costs only: no text, no numbers, no names.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::rollup::day_start;
use super::{day_key, week_of};
use crate::store::{AnalyticsOps, FIRST_RESPONSE_METRIC, StoreResult, TEMPLATE_SENDS_METRIC, TenantRecord, TicketFact};

/// A ticket unanswered this long is overdue when the tenant's reminders are off.
const DEFAULT_OVERDUE_MINUTES: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// ISO weeks (Monday to Sunday), clipped to the range.
    Week,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub granularity: Granularity,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub timezone: String,
    /// `day` or `week` (weeks start on Monday and are clipped to the range).
    pub granularity: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The rollup includes activity up to this moment (it runs every few minutes).
    pub as_of: Option<DateTime<Utc>>,
    pub buckets: Vec<Bucket>,
    pub total: Bucket,
    pub now: Snapshot,
    /// Rupiah per US dollar, set by the operator (`BALAS_USD_IDR_RATE`), for the IDR costs.
    pub usd_idr_rate: f64,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub messages: Messages,
    /// Distinct customers who wrote.
    pub customers: i64,
    /// Distinct conversations with a customer message.
    pub conversations: i64,
    /// Conversations the bot answered with no ticket and no owner message.
    pub bot_resolved: Share,
    /// Conversations that got a ticket.
    pub escalated: Share,
    /// Tickets opened, by reason.
    pub escalations: Escalations,
    pub bot_first_response_seconds: Percentiles,
    /// From a ticket's opening to the owner's first answer, by the day it opened.
    pub owner_response_seconds: Percentiles,
    /// At the bucket's end (or now, for the current one).
    pub tickets: Tickets,
    pub llm: Llm,
    /// WhatsApp templates sent (each one is billed by the provider), by category and purpose.
    pub templates: Templates,
    /// Jobs that gave up after their last attempt.
    pub dead_letters: i64,
    /// Data-subject requests open at the bucket's end.
    pub data_requests_open: i64,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Messages {
    pub inbound: i64,
    pub outbound_bot: i64,
    pub outbound_owner: i64,
    /// Automatic notices (holding messages, confirmations).
    pub outbound_system: i64,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Share {
    pub count: i64,
    /// Of `conversations`, 0 to 1; null without conversations.
    pub share: Option<f64>,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Escalations {
    pub opened: i64,
    pub reasons: BTreeMap<String, i64>,
    /// Of those opened, how many the owner never answered before the resume limit.
    pub unanswered: i64,
}

/// Nearest-rank percentiles; null without samples. Bot times are kept to two significant digits.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub samples: i64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Tickets {
    pub open: i64,
    /// Open and unanswered past the tenant's first reminder.
    pub overdue: i64,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Llm {
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// At each profile's own per-token prices.
    pub estimated_cost_usd: f64,
    /// The same in rupiah, at the operator's rate (`usd_idr_rate` of the report).
    pub estimated_cost_idr: f64,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Templates {
    pub sent: i64,
    /// Category (`utility` for balas's own) → purpose (`owner_escalation`, …) → templates sent.
    pub by_category: BTreeMap<String, BTreeMap<String, i64>>,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub open_tickets: i64,
    pub overdue_tickets: i64,
    pub dead_letters: i64,
    pub open_data_requests: i64,
}

/// Figures summed over a bucket's days, before shaping.
#[derive(Debug, Default)]
struct Sums {
    figures: HashMap<String, i64>,
    /// Bot first-response ms → conversations.
    histogram: BTreeMap<i64, i64>,
}

impl Sums {
    fn add(&mut self, metric: &str, value: i64) {
        match metric.strip_prefix(FIRST_RESPONSE_METRIC).map(str::parse::<i64>) {
            Some(Ok(ms)) => *self.histogram.entry(ms).or_default() += value,
            Some(Err(_)) => {}
            None => *self.figures.entry(metric.to_string()).or_default() += value,
        }
    }

    fn get(&self, metric: &str) -> i64 {
        self.figures.get(metric).copied().unwrap_or(0)
    }
}

/// The report for `range`, read in the caller's (read-only) transaction. Days come summed
/// from `analytics_days`; customers are counted distinct per bucket, not summed.
pub async fn build(
    tx: &mut dyn AnalyticsOps,
    tenant: &TenantRecord,
    range: Range,
    (now, usd_idr_rate): (DateTime<Utc>, f64),
) -> StoreResult<Report> {
    let zone = tenant.settings.zone();
    let spans = spans(range);
    let (from_key, to_key) = (day_key(range.from), day_key(range.to));
    let mut bucket_of_day: HashMap<String, usize> = HashMap::new();
    for (i, (start, end)) in spans.iter().enumerate() {
        let mut day = *start;
        while day <= *end {
            bucket_of_day.insert(day_key(day), i);
            day += Duration::days(1);
        }
    }
    let mut sums: Vec<Sums> = spans.iter().map(|_| Sums::default()).collect();
    let mut whole = Sums::default();
    for (day, metric, value) in tx.day_metrics(&from_key, &to_key).await? {
        let Some(&i) = bucket_of_day.get(&day) else { continue };
        sums[i].add(&metric, value);
        whole.add(&metric, value);
    }
    let weeks: HashMap<String, i64> = match range.granularity {
        Granularity::Week => tx.week_customers(&day_key(week_of(range.from)), &to_key).await?.into_iter().collect(),
        Granularity::Day => HashMap::new(),
    };

    let window = (day_start(range.from, zone), day_start(range.to + Duration::days(1), zone));
    let tickets = tx.ticket_facts(window.0, window.1.max(now)).await?;
    let requests = tx.data_request_spans(window.0, window.1.max(now)).await?;
    let overdue_after = match tenant.settings.renotify_minutes {
        0 => Duration::minutes(DEFAULT_OVERDUE_MINUTES),
        minutes => Duration::minutes(minutes.into()),
    };
    let facts = Facts::new(&tickets, &requests, overdue_after, now);

    let mut buckets = Vec::new();
    for ((start, end), sum) in spans.iter().zip(&sums) {
        let customers = match range.granularity {
            Granularity::Day => sum.get("customers"),
            // A whole week was counted by the rollup; a week cut by the range is counted here.
            Granularity::Week if (*end - *start).num_days() == 6 => weeks.get(&day_key(*start)).copied().unwrap_or(0),
            Granularity::Week => tx.distinct_customers(&day_key(*start), &day_key(*end)).await?,
        };
        buckets.push(shape(sum, customers, (*start, *end), zone, &facts));
    }
    let customers = tx.distinct_customers(&from_key, &to_key).await?;
    let mut total = shape(&whole, customers, (range.from, range.to), zone, &facts);
    for bucket in buckets.iter_mut().chain(std::iter::once(&mut total)) {
        bucket.llm.estimated_cost_idr = (bucket.llm.estimated_cost_usd * usd_idr_rate).round();
    }
    let at = facts.moment(now);
    let snapshot = Snapshot {
        open_tickets: facts.open_count(at),
        overdue_tickets: facts.overdue_count(at),
        dead_letters: tx.dead_letter_count().await?,
        open_data_requests: facts.requests_open_at(at),
    };
    Ok(Report {
        timezone: tenant.settings.timezone.clone(),
        granularity: if range.granularity == Granularity::Week { "week" } else { "day" },
        from: range.from,
        to: range.to,
        as_of: tx.analytics_rolled_through().await?,
        buckets,
        total,
        now: snapshot,
        usd_idr_rate,
    })
}

fn shape(sum: &Sums, customers: i64, days: (NaiveDate, NaiveDate), zone: chrono_tz::Tz, facts: &Facts<'_>) -> Bucket {
    let conversations = sum.get("conversations");
    let share = |count: i64| Share { count, share: (conversations > 0).then(|| count as f64 / conversations as f64) };
    let histogram: Vec<(i64, i64)> = sum.histogram.iter().map(|(ms, n)| (*ms, *n)).collect();
    let mut bucket = Bucket {
        start: Some(days.0),
        end: Some(days.1),
        messages: Messages {
            inbound: sum.get("inbound"),
            outbound_bot: sum.get("outbound_bot"),
            outbound_owner: sum.get("outbound_owner"),
            outbound_system: sum.get("outbound_system"),
        },
        customers,
        conversations,
        bot_resolved: share(sum.get("bot_resolved")),
        escalated: share(sum.get("escalated")),
        bot_first_response_seconds: percentiles(&histogram, 1000.0),
        llm: Llm {
            calls: sum.get("llm_calls"),
            prompt_tokens: sum.get("llm_prompt_tokens"),
            completion_tokens: sum.get("llm_completion_tokens"),
            estimated_cost_usd: sum.get("llm_cost_micro_usd") as f64 / 1e6,
            estimated_cost_idr: 0.0,
        },
        templates: templates_of(sum),
        dead_letters: sum.get("dead_letters"),
        ..Bucket::default()
    };
    facts.fill(&mut bucket, day_start(days.0, zone), day_start(days.1 + Duration::days(1), zone));
    bucket
}

/// The `template_sends:<category>:<purpose>` figures, nested.
fn templates_of(sum: &Sums) -> Templates {
    let mut templates = Templates::default();
    for (metric, n) in &sum.figures {
        let Some((category, purpose)) = metric.strip_prefix(TEMPLATE_SENDS_METRIC).and_then(|m| m.split_once(':'))
        else {
            continue;
        };
        templates.sent += n;
        *templates.by_category.entry(category.into()).or_default().entry(purpose.into()).or_default() += n;
    }
    templates
}

/// The buckets of `range` as (first day, last day).
fn spans(range: Range) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut day = range.from;
    while day <= range.to {
        let end = match range.granularity {
            Granularity::Day => day,
            Granularity::Week => (week_of(day) + Duration::days(6)).min(range.to),
        };
        out.push((day, end));
        day = end + Duration::days(1);
    }
    out
}

/// Ticket and request times, read once for the whole range.
struct Facts<'a> {
    /// Sorted by opening time (the query's order).
    tickets: &'a [TicketFact],
    /// Closing times, sorted: open at `at` = opened before it minus closed before it.
    closings: Vec<DateTime<Utc>>,
    /// Tickets that went unanswered past `overdue_after` at some point: the only overdue candidates.
    slow: Vec<&'a TicketFact>,
    requests: &'a [(DateTime<Utc>, Option<DateTime<Utc>>)],
    now: DateTime<Utc>,
    overdue_after: Duration,
}

impl<'a> Facts<'a> {
    fn new(
        tickets: &'a [TicketFact],
        requests: &'a [(DateTime<Utc>, Option<DateTime<Utc>>)],
        overdue_after: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        let mut closings: Vec<DateTime<Utc>> = tickets.iter().filter_map(|t| t.closed_at).collect();
        closings.sort_unstable();
        let slow = tickets
            .iter()
            .filter(|t| {
                let settled = [t.answered_at, t.closed_at].into_iter().flatten().min();
                settled.is_none_or(|s| s - t.opened_at > overdue_after)
            })
            .collect();
        Self { tickets, closings, slow, requests, now, overdue_after }
    }

    fn fill(&self, bucket: &mut Bucket, opens: DateTime<Utc>, closes: DateTime<Utc>) {
        let first = self.tickets.partition_point(|t| t.opened_at < opens);
        let opened = &self.tickets[first..self.tickets.partition_point(|t| t.opened_at < closes).max(first)];
        bucket.escalations.opened = opened.len() as i64;
        bucket.escalations.unanswered = opened.iter().filter(|t| t.unanswered).count() as i64;
        for t in opened {
            *bucket.escalations.reasons.entry(t.reason.clone()).or_default() += 1;
        }
        let mut waits: Vec<(i64, i64)> =
            opened.iter().filter_map(|t| t.answered_at.map(|a| ((a - t.opened_at).num_seconds().max(0), 1))).collect();
        waits.sort_unstable();
        bucket.owner_response_seconds = percentiles(&waits, 1.0);
        let end = closes.min(self.moment(self.now));
        bucket.tickets = Tickets { open: self.open_count(end), overdue: self.overdue_count(end) };
        bucket.data_requests_open = self.requests_open_at(end);
    }

    /// `now` as a bucket end: just after it, so what happened this instant counts.
    fn moment(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::microseconds(1)
    }

    /// Tickets open just before `at` (an exclusive end); a ticket closes after it opens.
    fn open_count(&self, at: DateTime<Utc>) -> i64 {
        let opened = self.tickets.partition_point(|t| t.opened_at < at);
        let closed = self.closings.partition_point(|c| *c < at);
        opened.saturating_sub(closed) as i64
    }

    fn overdue_count(&self, at: DateTime<Utc>) -> i64 {
        let overdue = |t: &&&TicketFact| {
            t.opened_at < at
                && t.closed_at.is_none_or(|c| c >= at)
                && t.answered_at.is_none_or(|a| a >= at)
                && at - t.opened_at > self.overdue_after
        };
        self.slow.iter().filter(overdue).count() as i64
    }

    fn requests_open_at(&self, at: DateTime<Utc>) -> i64 {
        self.requests.iter().filter(|(received, closed)| *received < at && closed.is_none_or(|c| c >= at)).count()
            as i64
    }
}

/// Nearest-rank p50 and p90 of (value, count) pairs sorted by value, divided by `unit`.
pub fn percentiles(sorted: &[(i64, i64)], unit: f64) -> Percentiles {
    let samples: i64 = sorted.iter().map(|(_, n)| n).sum();
    let rank = |p: i64| {
        let wanted = (samples * p + 99) / 100;
        let mut seen = 0;
        sorted.iter().find(|(_, n)| {
            seen += n;
            seen >= wanted
        })
    };
    let at = |p| (samples > 0).then(|| rank(p).map(|(v, _)| *v as f64 / unit)).flatten();
    Percentiles { samples, p50: at(50), p90: at(90) }
}

/// Rupiah the Indonesian way: `Rp12.345`.
pub fn rupiah(amount: f64) -> String {
    let digits = format!("{:.0}", amount.max(0.0));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("Rp{grouped}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<(i64, i64)> = (1..=10).map(|v| (v * 1000, 1)).collect();
        let p = percentiles(&values, 1000.0);
        assert_eq!((p.samples, p.p50, p.p90), (10, Some(5.0), Some(9.0)));
        let p = percentiles(&[(2000, 9), (60_000, 1)], 1000.0);
        assert_eq!((p.p50, p.p90), (Some(2.0), Some(2.0)));
        let p = percentiles(&[(2000, 8), (60_000, 2)], 1000.0);
        assert_eq!(p.p90, Some(60.0));
        assert_eq!(percentiles(&[], 1.0).p50, None);
    }

    #[test]
    fn open_and_overdue_counts_match_a_plain_scan() {
        use chrono::TimeZone;
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let at = |minutes: i64| t0 + Duration::minutes(minutes);
        let ticket = |opened, answered: Option<i64>, closed: Option<i64>| TicketFact {
            ticket_id: crate::domain::EscalationId::new(),
            reason: "keyword".into(),
            opened_at: at(opened),
            answered_at: answered.map(at),
            closed_at: closed.map(at),
            unanswered: answered.is_none() && closed.is_some(),
        };
        let tickets = vec![
            ticket(0, Some(10), Some(20)),
            ticket(5, None, None),
            ticket(30, Some(100), None),
            ticket(40, None, Some(50)),
            ticket(60, Some(61), Some(200)),
        ];
        let facts = Facts::new(&tickets, &[], Duration::minutes(30), at(1_000));
        for minute in [0, 1, 15, 25, 36, 45, 55, 70, 99, 101, 150, 250] {
            let e = at(minute);
            let open = tickets.iter().filter(|t| t.opened_at < e && t.closed_at.is_none_or(|c| c >= e)).count();
            let overdue = tickets
                .iter()
                .filter(|t| {
                    t.opened_at < e && t.closed_at.is_none_or(|c| c >= e) && t.answered_at.is_none_or(|a| a >= e)
                })
                .filter(|t| e - t.opened_at > Duration::minutes(30))
                .count();
            assert_eq!(
                (facts.open_count(e), facts.overdue_count(e)),
                (open as i64, overdue as i64),
                "at minute {minute}"
            );
        }
        let mut bucket = Bucket::default();
        facts.fill(&mut bucket, at(0), at(1_000));
        assert_eq!((bucket.escalations.opened, bucket.escalations.unanswered), (5, 1), "the one closed unanswered");
    }

    #[test]
    fn weeks_are_clipped_to_the_range() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let range = Range { from: day(12), to: day(24), granularity: Granularity::Week };
        assert_eq!(spans(range), vec![(day(12), day(15)), (day(16), day(22)), (day(23), day(24))]);
        assert_eq!(spans(Range { granularity: Granularity::Day, ..range }).len(), 13);
    }
}
