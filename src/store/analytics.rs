//! The store operations behind analytics: reading raw activity for the rollup, writing the
//! rollup tables, and reading them back in day or week buckets. A supertrait of `TenantTx`.
//! Rollup rows hold ids, counts and times only; no content, no identifiers.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EscalationRecord, StoreResult};
use crate::domain::{ContactId, ConversationId, EscalationId, MessageId};

/// One stored message as the rollup sees it: who wrote it and when, never what.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageFact {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub direction: String,
    pub author: String,
    pub reply_to: Option<MessageId>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One conversation on one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationDay {
    pub day: String,
    pub week: String,
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
            reason: t.reason.clone(),
            opened_at: t.opened_at,
            answered_at: t.answered_at,
            closed_at: t.closed_at,
        }
    }
}

/// How report rows are grouped: the SQL column that names the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Day,
    Week,
    /// One bucket for the whole range (named by an empty string).
    Whole,
}

impl Grouping {
    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Whole => "''",
        }
    }
}

/// Conversation figures of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationTotals {
    pub bucket: String,
    pub inbound: i64,
    pub bot_out: i64,
    pub owner_out: i64,
    pub system_out: i64,
    /// Distinct customers who wrote.
    pub customers: i64,
    /// Distinct conversations with a customer message.
    pub conversations: i64,
    /// Of those: answered by the bot, with no ticket and no owner message in the bucket.
    pub bot_resolved: i64,
    /// Of those: with a ticket opened in the bucket.
    pub escalated: i64,
}

#[async_trait]
pub trait AnalyticsOps: Send {
    /// Where the rollup has got to; `None` before its first run.
    async fn analytics_rolled_through(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn set_analytics_rolled_through(&mut self, at: DateTime<Utc>) -> StoreResult<()>;
    /// The oldest stored message's time, where a first rollup starts.
    async fn first_message_at(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Messages created in the window, and the replies to its customer messages made after it.
    async fn message_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<MessageFact>>;
    /// Tickets opened, answered or closed since `since`, and every ticket still open.
    async fn escalations_changed_since(&mut self, since: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>>;
    /// LLM calls, prompt tokens, completion tokens and cost (micro-USD) in the window.
    async fn llm_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<(i64, i64, i64, i64)>;
    /// Jobs that died (dead letters) in the window.
    async fn dead_letters_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64>;
    async fn dead_letter_count(&mut self) -> StoreResult<i64>;

    async fn upsert_conversation_days(&mut self, rows: &[ConversationDay]) -> StoreResult<()>;
    async fn upsert_ticket_facts(&mut self, rows: &[TicketFact]) -> StoreResult<()>;
    async fn set_day_metrics(&mut self, day: &str, week: &str, metrics: &[(&str, i64)]) -> StoreResult<()>;
    /// Erasure: gives a conversation's rollup rows fresh random ids, so nothing links them to anyone.
    async fn relabel_conversation_days(
        &mut self,
        conversation: ConversationId,
        new_conversation: ConversationId,
        new_contact: ContactId,
    ) -> StoreResult<()>;
    async fn relabel_ticket_fact(&mut self, ticket: EscalationId, new_ticket: EscalationId) -> StoreResult<()>;

    /// Local days `from..=to` (YYYY-MM-DD), grouped.
    async fn conversation_totals(
        &mut self,
        from: &str,
        to: &str,
        grouping: Grouping,
    ) -> StoreResult<Vec<ConversationTotals>>;
    /// (bucket, bot first-response ms, how many conversation-days had it).
    async fn first_response_histogram(
        &mut self,
        from: &str,
        to: &str,
        grouping: Grouping,
    ) -> StoreResult<Vec<(String, i64, i64)>>;
    /// (bucket, metric, sum).
    async fn day_metric_totals(
        &mut self,
        from: &str,
        to: &str,
        grouping: Grouping,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// Tickets open at some moment of the window: opened before `to`, not closed before `from`.
    async fn ticket_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<TicketFact>>;
    /// (received, closed) of data requests received before `to` and not closed before `from`.
    async fn data_request_spans(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>>;
}
