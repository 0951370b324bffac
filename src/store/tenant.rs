//! The tenant's own rows: its settings, its channels and its LLM usage against the monthly
//! budget. One of the aggregate traits `TenantTx` joins; a use case names only those it needs.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ChannelRecord, LlmUsage, StoreResult, TenantRecord, TenantScoped};
use crate::domain::ChannelId;

#[async_trait]
pub trait TenantOps: TenantScoped + Send {
    async fn insert_tenant(&mut self, tenant: &TenantRecord) -> StoreResult<()>;
    async fn update_tenant_settings(
        &mut self,
        name: &str,
        settings: &crate::tenants::TenantSettings,
    ) -> StoreResult<()>;
    async fn tenant(&mut self) -> StoreResult<Option<TenantRecord>>;

    async fn insert_channel(&mut self, channel: &ChannelRecord) -> StoreResult<()>;
    async fn channel(&mut self, id: ChannelId) -> StoreResult<Option<ChannelRecord>>;
    /// The distinct providers of the tenant's channels (no secrets), for the subprocessor list.
    async fn channel_providers(&mut self) -> StoreResult<Vec<String>>;

    async fn insert_llm_usage(&mut self, usage: &LlmUsage) -> StoreResult<()>;
    /// Prompt plus completion tokens used since `since`.
    async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Records that the owner was told about this month's exhausted budget; false if already.
    async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool>;
}
