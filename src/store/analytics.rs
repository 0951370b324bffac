//! The store operations behind analytics: reading raw activity for the rollup, writing the
//! rollup tables, and reading them back in day or week buckets. A supertrait of `TenantTx`.
//! Rollup rows hold ids, counts and times only; no content, no identifiers.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EscalationRecord, StoreResult, TenantScoped};
use crate::domain::{Author, ContactId, ConversationId, Direction, EscalationId, MessageId};

/// The prefix of the day metrics that count template sends (`template_sends:<category>:<purpose>`).
pub const TEMPLATE_SENDS_METRIC: &str = "template_sends:";
/// The prefix of the day metrics that hold the bot's first-response histogram.
pub const FIRST_RESPONSE_METRIC: &str = "bot_first_response_ms:";

/// One stored message as the rollup sees it: who wrote it and when, never what.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageFact {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub direction: Direction,
    pub author: Author,
    pub reply_to: Option<MessageId>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One conversation on one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationDay {
    pub day: String,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub inbound: i64,
    pub bot_out: i64,
    pub owner_out: i64,
    pub system_out: i64,
    /// 1 when a ticket was opened for the conversation that day.
    pub escalated: i64,
    pub bot_first_response_ms: Option<i64>,
}

/// A ticket's times and reason.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketFact {
    pub ticket_id: EscalationId,
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Closed by the resume limit with no owner answer (status `unanswered`).
    pub unanswered: bool,
}

impl From<&EscalationRecord> for TicketFact {
    fn from(t: &EscalationRecord) -> Self {
        Self {
            ticket_id: t.id,
            reason: t.reason.to_string(),
            opened_at: t.opened_at,
            answered_at: t.answered_at,
            closed_at: t.closed_at,
            unanswered: t.status == crate::domain::TicketStatus::Unanswered,
        }
    }
}

#[async_trait]
pub trait AnalyticsOps: TenantScoped + Send {
    /// Where the rollup has got to; `None` before its first run.
    async fn analytics_rolled_through(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    /// The same, with the tenant's rollup state locked until commit: passes of one tenant
    /// (the job, an erasure, retention) never interleave.
    async fn lock_analytics_state(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn set_analytics_rolled_through(&mut self, at: DateTime<Utc>) -> StoreResult<()>;
    /// The oldest stored message's time, where a first rollup starts.
    async fn first_message_at(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Messages created in the window, and the replies to its customer messages made after it
    /// (up to `until`: later answers are not timed).
    async fn message_facts(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageFact>>;
    /// Tickets opened, answered or closed since `since`, and every ticket still open.
    async fn escalations_changed_since(&mut self, since: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>>;
    /// LLM calls, prompt tokens, completion tokens and cost (micro-USD) in the window.
    async fn llm_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<(i64, i64, i64, i64)>;
    /// Templates sent in the window: (category, purpose, count).
    async fn template_sends_between(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// Jobs that died (dead letters) in the window.
    async fn dead_letters_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64>;
    async fn dead_letter_count(&mut self) -> StoreResult<i64>;

    async fn upsert_conversation_days(&mut self, rows: &[ConversationDay]) -> StoreResult<()>;
    async fn upsert_ticket_facts(&mut self, rows: &[TicketFact]) -> StoreResult<()>;
    /// The day's figures from its conversation rows: (metric, value), the histogram included.
    async fn conversation_day_figures(&mut self, day: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Replaces every figure of one day.
    async fn replace_day_metrics(&mut self, day: &str, metrics: &[(String, i64)]) -> StoreResult<()>;
    /// Distinct customers who wrote on the local days `from..=to`.
    async fn distinct_customers(&mut self, from: &str, to: &str) -> StoreResult<i64>;
    async fn set_week_customers(&mut self, week: &str, customers: i64) -> StoreResult<()>;
    /// The days on which a conversation has a rollup row.
    async fn conversation_day_keys(&mut self, conversation: ConversationId) -> StoreResult<Vec<String>>;
    /// Rollup rows before local day `day` whose customer still exists: (day, conversation, contact).
    async fn identified_rows_before(&mut self, day: &str) -> StoreResult<Vec<(String, ConversationId, ContactId)>>;
    /// Gives one rollup row other ids, so nothing links it to anyone.
    async fn relabel_conversation_day(
        &mut self,
        day: &str,
        conversation: ConversationId,
        new_conversation: ConversationId,
        new_contact: ContactId,
    ) -> StoreResult<()>;
    /// Erasure: the ticket's fact gets a random id and, if still open, closes now.
    async fn retire_ticket_fact(
        &mut self,
        ticket: EscalationId,
        new_ticket: EscalationId,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// (day, metric, value) of the local days `from..=to`.
    async fn day_metrics(&mut self, from: &str, to: &str) -> StoreResult<Vec<(String, String, i64)>>;
    /// (week, customers) of the weeks whose Mondays are `from..=to`.
    async fn week_customers(&mut self, from: &str, to: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Tickets open at some moment of the window: opened before `to`, not closed before `from`.
    async fn ticket_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<TicketFact>>;
    /// (received, closed) of data requests received before `to` and not closed before `from`.
    async fn data_request_spans(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>>;
}

/// `AnalyticsOps` SQL, the same on both backends but for the distinct-customer count each backend
/// passes in. Every statement names its tenant. Expanded for each backend in `sqlite.rs` and
/// `postgres.rs`.
macro_rules! analytics_ops_impl {
    ($ty:ty, time = $time:path, distinct_customers = $distinct:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::AnalyticsOps for $ty {
            async fn analytics_rolled_through(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
                let through: Option<Option<DateTime<Utc>>> = sqlx::query_scalar("SELECT rolled_through FROM analytics_state WHERE tenant_id = $1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?;
                Ok(through.flatten())
            }

            async fn lock_analytics_state(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
                sqlx::query("INSERT INTO analytics_state (tenant_id, rolled_through) VALUES ($1, NULL) ON CONFLICT (tenant_id) DO NOTHING")
                    .bind(self.tenant).execute(&mut *self.tx).await?;
                // A no-op update takes the row lock on PostgreSQL (SQLite's writers are serial already).
                sqlx::query("UPDATE analytics_state SET tenant_id = tenant_id WHERE tenant_id = $1")
                    .bind(self.tenant).execute(&mut *self.tx).await?;
                self.analytics_rolled_through().await
            }

            async fn set_analytics_rolled_through(&mut self, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO analytics_state (tenant_id, rolled_through) VALUES ($1, $2) \
                    ON CONFLICT (tenant_id) DO UPDATE SET rolled_through = excluded.rolled_through")
                    .bind(self.tenant).bind($time(at)).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn first_message_at(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT created_at FROM messages WHERE tenant_id = $1 ORDER BY created_at LIMIT 1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn message_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<Vec<$crate::store::MessageFact>> {
                Ok(sqlx::query_as("SELECT id, conversation_id, contact_id, direction, author, reply_to, created_at, sent_at FROM messages \
                    WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
                    UNION ALL \
                    SELECT r.id, r.conversation_id, r.contact_id, r.direction, r.author, r.reply_to, r.created_at, r.sent_at \
                    FROM messages i JOIN messages r ON r.reply_to = i.id AND r.tenant_id = $1 \
                    WHERE i.tenant_id = $1 AND i.direction = 'in' AND i.created_at >= $2 AND i.created_at < $3 AND r.created_at >= $3 AND r.created_at < $4")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).bind($time(until)).fetch_all(&mut *self.tx).await?)
            }

            async fn escalations_changed_since(&mut self, since: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND (opened_at >= $2 OR answered_at >= $2 OR closed_at >= $2 OR closed_at IS NULL)")
                    .bind(self.tenant).bind($time(since)).fetch_all(&mut *self.tx).await?)
            }

            async fn llm_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<(i64, i64, i64, i64)> {
                Ok(sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micro_usd), 0) AS BIGINT) \
                    FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?)
            }

            async fn template_sends_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as("SELECT category, purpose, COUNT(*) FROM template_sends WHERE tenant_id = $1 AND sent_at >= $2 AND sent_at < $3 GROUP BY category, purpose ORDER BY category, purpose")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn dead_letters_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state = 'dead' AND updated_at >= $2 AND updated_at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?)
            }

            async fn dead_letter_count(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state = 'dead'")
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?)
            }

            async fn upsert_conversation_days(&mut self, rows: &[$crate::store::ConversationDay]) -> StoreResult<()> {
                for r in rows {
                    sqlx::query("INSERT INTO analytics_conversation_days (tenant_id, day, conversation_id, contact_id, inbound, bot_out, owner_out, system_out, escalated, bot_first_response_ms) \
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, day, conversation_id) DO UPDATE SET \
                        inbound = excluded.inbound, bot_out = excluded.bot_out, owner_out = excluded.owner_out, system_out = excluded.system_out, \
                        escalated = excluded.escalated, bot_first_response_ms = excluded.bot_first_response_ms")
                        .bind(self.tenant).bind(&r.day).bind(r.conversation_id).bind(r.contact_id).bind(r.inbound)
                        .bind(r.bot_out).bind(r.owner_out).bind(r.system_out).bind(r.escalated).bind(r.bot_first_response_ms)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn upsert_ticket_facts(&mut self, rows: &[$crate::store::TicketFact]) -> StoreResult<()> {
                for r in rows {
                    sqlx::query("INSERT INTO analytics_tickets (tenant_id, ticket_id, reason, opened_at, answered_at, closed_at, unanswered) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                        ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET reason = excluded.reason, answered_at = excluded.answered_at, closed_at = excluded.closed_at, unanswered = excluded.unanswered")
                        .bind(self.tenant).bind(r.ticket_id).bind(&r.reason).bind($time(r.opened_at))
                        .bind(r.answered_at.map($time)).bind(r.closed_at.map($time)).bind(r.unanswered)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn conversation_day_figures(&mut self, day: &str) -> StoreResult<Vec<(String, i64)>> {
                let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as("SELECT \
                    CAST(COALESCE(SUM(inbound), 0) AS BIGINT), CAST(COALESCE(SUM(bot_out), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(owner_out), 0) AS BIGINT), CAST(COALESCE(SUM(system_out), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN inbound > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN inbound > 0 AND bot_out > 0 AND owner_out = 0 AND escalated = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN inbound > 0 AND escalated > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    COUNT(DISTINCT CASE WHEN inbound > 0 THEN contact_id END) \
                    FROM analytics_conversation_days WHERE tenant_id = $1 AND day = $2")
                    .bind(self.tenant).bind(day).fetch_one(&mut *self.tx).await?;
                let names = ["inbound", "outbound_bot", "outbound_owner", "outbound_system", "conversations", "bot_resolved", "escalated", "customers"];
                let values = [row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7];
                let mut figures: Vec<(String, i64)> = names.iter().zip(values).map(|(n, v)| (n.to_string(), v)).collect();
                let histogram: Vec<(i64, i64)> = sqlx::query_as("SELECT bot_first_response_ms, COUNT(*) FROM analytics_conversation_days \
                    WHERE tenant_id = $1 AND day = $2 AND bot_first_response_ms IS NOT NULL GROUP BY 1 ORDER BY 1")
                    .bind(self.tenant).bind(day).fetch_all(&mut *self.tx).await?;
                figures.extend(histogram.into_iter().map(|(ms, n)| (format!("{}{ms}", $crate::store::FIRST_RESPONSE_METRIC), n)));
                Ok(figures)
            }

            async fn replace_day_metrics(&mut self, day: &str, metrics: &[(String, i64)]) -> StoreResult<()> {
                sqlx::query("DELETE FROM analytics_days WHERE tenant_id = $1 AND day = $2").bind(self.tenant).bind(day).execute(&mut *self.tx).await?;
                for (metric, value) in metrics.iter().filter(|(_, v)| *v != 0) {
                    sqlx::query("INSERT INTO analytics_days (tenant_id, day, metric, value) VALUES ($1, $2, $3, $4)")
                        .bind(self.tenant).bind(day).bind(metric).bind(*value)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn distinct_customers(&mut self, from: &str, to: &str) -> StoreResult<i64> {
                // A few weeks read the day range; longer ranges take the backend's way.
                let days = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
                let short = matches!((days(from), days(to)), (Some(a), Some(b)) if (b - a).num_days() <= 31);
                let sql = if short {
                    "SELECT COUNT(DISTINCT contact_id) FROM analytics_conversation_days WHERE tenant_id = $1 AND inbound > 0 AND day >= $2 AND day <= $3"
                } else {
                    $distinct
                };
                Ok(sqlx::query_scalar(sql).bind(self.tenant).bind(from).bind(to).fetch_one(&mut *self.tx).await?)
            }

            async fn set_week_customers(&mut self, week: &str, customers: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO analytics_weeks (tenant_id, week, customers) VALUES ($1, $2, $3) \
                    ON CONFLICT (tenant_id, week) DO UPDATE SET customers = excluded.customers")
                    .bind(self.tenant).bind(week).bind(customers).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn conversation_day_keys(&mut self, conversation: ConversationId) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT day FROM analytics_conversation_days WHERE tenant_id = $1 AND conversation_id = $2")
                    .bind(self.tenant).bind(conversation).fetch_all(&mut *self.tx).await?)
            }

            async fn identified_rows_before(&mut self, day: &str) -> StoreResult<Vec<(String, ConversationId, ContactId)>> {
                Ok(sqlx::query_as("SELECT a.day, a.conversation_id, a.contact_id FROM analytics_conversation_days a \
                    WHERE a.tenant_id = $1 AND a.day < $2 AND EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = $1 AND c.id = a.contact_id)")
                    .bind(self.tenant).bind(day).fetch_all(&mut *self.tx).await?)
            }

            async fn relabel_conversation_day(&mut self, day: &str, conversation: ConversationId, new_conversation: ConversationId, new_contact: ContactId) -> StoreResult<()> {
                sqlx::query("UPDATE analytics_conversation_days SET conversation_id = $4, contact_id = $5 WHERE tenant_id = $1 AND day = $2 AND conversation_id = $3")
                    .bind(self.tenant).bind(day).bind(conversation).bind(new_conversation).bind(new_contact)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn retire_ticket_fact(&mut self, ticket: EscalationId, new_ticket: EscalationId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE analytics_tickets SET ticket_id = $3, closed_at = COALESCE(closed_at, $4) WHERE tenant_id = $1 AND ticket_id = $2")
                    .bind(self.tenant).bind(ticket).bind(new_ticket).bind($time(now)).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn day_metrics(&mut self, from: &str, to: &str) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as("SELECT day, metric, value FROM analytics_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3")
                    .bind(self.tenant).bind(from).bind(to).fetch_all(&mut *self.tx).await?)
            }

            async fn week_customers(&mut self, from: &str, to: &str) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as("SELECT week, customers FROM analytics_weeks WHERE tenant_id = $1 AND week >= $2 AND week <= $3")
                    .bind(self.tenant).bind(from).bind(to).fetch_all(&mut *self.tx).await?)
            }

            async fn ticket_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<$crate::store::TicketFact>> {
                Ok(sqlx::query_as("SELECT ticket_id, reason, opened_at, answered_at, closed_at, unanswered FROM analytics_tickets \
                    WHERE tenant_id = $1 AND opened_at < $3 AND (closed_at IS NULL OR closed_at >= $2) ORDER BY opened_at")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn data_request_spans(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>> {
                Ok(sqlx::query_as("SELECT received_at, answered_at FROM dsar_requests \
                    WHERE tenant_id = $1 AND received_at < $3 AND (answered_at IS NULL OR answered_at >= $2)")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }
        }
    };
}
