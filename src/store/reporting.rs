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
    /// The tenant's oldest channel: where messages not tied to a conversation go out.
    async fn first_channel(&mut self) -> StoreResult<Option<crate::domain::ChannelId>>;
}
