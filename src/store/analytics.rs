//! The store operations behind analytics: reading raw activity for the rollup, writing the
//! rollup tables, and reading them back in day or week buckets. A supertrait of `TenantTx`.
//! Rollup rows hold ids, counts and times only; no content, no identifiers.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EscalationRecord, StoreResult, TenantScoped};
use crate::domain::{Author, ContactId, ConversationId, Direction, EscalationId, MessageId};

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
}

impl From<&EscalationRecord> for TicketFact {
    fn from(t: &EscalationRecord) -> Self {
        Self {
            ticket_id: t.id,
            reason: t.reason.to_string(),
            opened_at: t.opened_at,
            answered_at: t.answered_at,
            closed_at: t.closed_at,
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
