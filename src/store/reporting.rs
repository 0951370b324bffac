//! Counts over a time window for the owner's digest (and, later, analytics): a supertrait of
//! `TenantTx` like `PrivacyOps`. Numbers only; the caller decrypts what it must show.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EscalationRecord, StoreResult, TenantScoped};

/// Customer messages in a window and how the bot did with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InboundStats {
    pub inbound: i64,
    pub conversations: i64,
    /// Inbound messages with at least one bot-written reply.
    pub answered_by_bot: i64,
}

#[async_trait]
pub trait ReportingOps: TenantScoped + Send {
    async fn inbound_stats(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<InboundStats>;
    /// Tickets opened in the window, oldest first.
    async fn escalations_opened(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<EscalationRecord>>;
    /// Tickets the owner first answered in the window.
    async fn escalations_answered(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<EscalationRecord>>;
    async fn open_escalation_count(&mut self) -> StoreResult<i64>;
    /// What the LLM calls in [from, to) cost, in millionths of a dollar (own-key calls included).
    async fn llm_cost_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64>;
    /// The tenant's oldest channel: where messages not tied to a conversation go out.
    async fn first_channel(&mut self) -> StoreResult<Option<crate::domain::ChannelId>>;
}

/// `ReportingOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each
/// backend in `sqlite.rs` and `postgres.rs`.
macro_rules! reporting_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::ReportingOps for $ty {
            async fn inbound_stats(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<$crate::store::InboundStats> {
                Ok(sqlx::query_as("SELECT COUNT(*) AS inbound, COUNT(DISTINCT m.conversation_id) AS conversations, \
                    COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM messages r WHERE r.tenant_id = $1 AND r.reply_to = m.id AND r.author = 'bot') THEN 1 ELSE 0 END), 0) AS answered_by_bot \
                    FROM messages m WHERE m.tenant_id = $1 AND m.direction = 'in' AND m.created_at >= $2 AND m.created_at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?)
            }

            async fn escalations_opened(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND opened_at >= $2 AND opened_at < $3 ORDER BY opened_at")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn escalations_answered(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND answered_at >= $2 AND answered_at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn first_channel(&mut self) -> StoreResult<Option<crate::domain::ChannelId>> {
                Ok(sqlx::query_scalar("SELECT id FROM channels WHERE tenant_id = $1 ORDER BY created_at, id LIMIT 1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn llm_cost_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64> {
                let total: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(cost_micro_usd) AS BIGINT) FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?;
                Ok(total.unwrap_or(0))
            }

            async fn open_escalation_count(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM escalations WHERE tenant_id = $1 AND closed_at IS NULL")
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?)
            }
        }
    };
}
