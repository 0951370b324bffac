//! The tenant's own rows: its settings, its channels and its LLM usage against the monthly
//! budget. One of the aggregate traits `TenantTx` joins; a use case names only those it needs.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ChannelRecord, ChannelTemplateRecord, LlmUsage, StoreResult, TenantRecord, TenantScoped};
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
    /// Stores (or, with `None`, removes) the tenant's own LLM key, encrypted under its data key.
    async fn set_own_llm_key(&mut self, key_enc: Option<&str>) -> StoreResult<()>;

    async fn insert_channel(&mut self, channel: &ChannelRecord) -> StoreResult<()>;
    async fn channel(&mut self, id: ChannelId) -> StoreResult<Option<ChannelRecord>>;
    /// The distinct providers of the tenant's channels (no secrets), for the subprocessor list.
    async fn channel_providers(&mut self) -> StoreResult<Vec<String>>;
    /// Every channel of the tenant, oldest first.
    async fn channels(&mut self) -> StoreResult<Vec<ChannelRecord>>;
    /// Records (or replaces) the template serving a purpose on a channel in a language.
    async fn set_channel_template(&mut self, template: &ChannelTemplateRecord) -> StoreResult<()>;
    /// The templates recorded for a channel.
    async fn channel_templates(&mut self, channel: ChannelId) -> StoreResult<Vec<ChannelTemplateRecord>>;

    /// Records one template that went out (what it was for, never to whom or what it said).
    /// Templates sent since `since` (this month's, against the cap).
    async fn template_sends_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    async fn record_template_send(
        &mut self,
        channel: ChannelId,
        purpose: &str,
        category: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn insert_llm_usage(&mut self, usage: &LlmUsage) -> StoreResult<()>;
    /// Prompt plus completion tokens used since `since`.
    /// Tokens spent on the operator's keys since `since` (calls with the tenant's own key do not count).
    async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Records that the owner was told about this month's exhausted budget; false if already.
    async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool>;
}

/// `TenantOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each
/// backend in `sqlite.rs` and `postgres.rs`.
macro_rules! tenant_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::TenantOps for $ty {
            async fn insert_tenant(&mut self, t: &TenantRecord) -> StoreResult<()> {
                let s = &t.settings;
                sqlx::query("INSERT INTO tenants (id, slug, name, language, status, wrapped_key, media_policy, answer_groups, description, address, opening_hours, tone, monthly_token_budget, budget_notice_month, created_at, escalation_keywords, max_bot_turns, business_hours, timezone, renotify_minutes, response_target_minutes, human_idle_hours, message_retention_days, dsar_ack_hours, dsar_answer_hours, digest_time, link_hosts, resume_after_hours, announce_resolved, monthly_template_cap, daily_media_bytes_cap, understand_media, llm_profile, llm_fallback_profile, own_llm_key_allowed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)")
                    .bind(t.id).bind(&t.slug).bind(&t.name).bind(&s.language).bind(&t.status).bind(&t.wrapped_key)
                    .bind(&s.media_policy).bind(s.answer_groups).bind(&s.description).bind(&s.address)
                    .bind(&s.opening_hours).bind(&s.tone).bind(s.monthly_token_budget).bind(&t.budget_notice_month)
                    .bind($time(t.created_at)).bind(&s.escalation_keywords).bind(s.max_bot_turns).bind(&s.business_hours)
                    .bind(&s.timezone).bind(s.renotify_minutes).bind(s.response_target_minutes).bind(s.human_idle_hours)
                    .bind(s.message_retention_days).bind(s.dsar_ack_hours).bind(s.dsar_answer_hours).bind(&s.digest_time).bind(&s.link_hosts)
                    .bind(s.resume_after_hours).bind(s.announce_resolved).bind(s.monthly_template_cap).bind(s.daily_media_bytes_cap).bind(s.understand_media)
                    .bind(&s.llm_profile).bind(&s.llm_fallback_profile).bind(s.own_llm_key_allowed)
                    .execute(&mut *self.tx).await?;
                sqlx::query("INSERT INTO tenant_routes (slug, tenant_id) VALUES ($1, $2)")
                    .bind(&t.slug).bind(t.id)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn update_tenant_settings(&mut self, name: &str, s: &crate::tenants::TenantSettings) -> StoreResult<()> {
                sqlx::query("UPDATE tenants SET name = $2, language = $3, media_policy = $4, answer_groups = $5, description = $6, address = $7, opening_hours = $8, tone = $9, monthly_token_budget = $10, escalation_keywords = $11, max_bot_turns = $12, business_hours = $13, timezone = $14, renotify_minutes = $15, response_target_minutes = $16, human_idle_hours = $17, message_retention_days = $18, dsar_ack_hours = $19, dsar_answer_hours = $20, digest_time = $21, link_hosts = $22, resume_after_hours = $23, announce_resolved = $24, monthly_template_cap = $25, daily_media_bytes_cap = $26, understand_media = $27, llm_profile = $28, llm_fallback_profile = $29, own_llm_key_allowed = $30 WHERE id = $1")
                    .bind(self.tenant).bind(name).bind(&s.language).bind(&s.media_policy).bind(s.answer_groups).bind(&s.description)
                    .bind(&s.address).bind(&s.opening_hours).bind(&s.tone).bind(s.monthly_token_budget).bind(&s.escalation_keywords)
                    .bind(s.max_bot_turns).bind(&s.business_hours).bind(&s.timezone).bind(s.renotify_minutes)
                    .bind(s.response_target_minutes).bind(s.human_idle_hours)
                    .bind(s.message_retention_days).bind(s.dsar_ack_hours).bind(s.dsar_answer_hours).bind(&s.digest_time).bind(&s.link_hosts)
                    .bind(s.resume_after_hours).bind(s.announce_resolved).bind(s.monthly_template_cap).bind(s.daily_media_bytes_cap).bind(s.understand_media)
                    .bind(&s.llm_profile).bind(&s.llm_fallback_profile).bind(s.own_llm_key_allowed)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn set_own_llm_key(&mut self, key_enc: Option<&str>) -> StoreResult<()> {
                sqlx::query("UPDATE tenants SET own_llm_key_enc = $2 WHERE id = $1")
                    .bind(self.tenant).bind(key_enc).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn tenant(&mut self) -> StoreResult<Option<TenantRecord>> {
                Ok(sqlx::query_as("SELECT * FROM tenants WHERE id = $1").bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn insert_channel(&mut self, c: &ChannelRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO channels (id, tenant_id, provider, address, secrets_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(c.id).bind(self.tenant).bind(&c.provider).bind(&c.address).bind(&c.secrets_enc).bind($time(c.created_at))
                    .execute(&mut *self.tx).await?;
                sqlx::query("INSERT INTO channel_routes (channel_id, tenant_id, provider) VALUES ($1, $2, $3)")
                    .bind(c.id).bind(self.tenant).bind(&c.provider)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn channel(&mut self, id: ChannelId) -> StoreResult<Option<ChannelRecord>> {
                Ok(sqlx::query_as("SELECT * FROM channels WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn channel_providers(&mut self) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT DISTINCT provider FROM channels WHERE tenant_id = $1 ORDER BY provider")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn channels(&mut self) -> StoreResult<Vec<ChannelRecord>> {
                Ok(sqlx::query_as("SELECT * FROM channels WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn set_channel_template(&mut self, t: &ChannelTemplateRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO channel_templates (tenant_id, channel_id, purpose, language, name, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, channel_id, purpose, language) DO UPDATE SET name = excluded.name, status = excluded.status, updated_at = excluded.updated_at")
                    .bind(self.tenant).bind(t.channel_id).bind(&t.purpose).bind(&t.language).bind(&t.name).bind(&t.status)
                    .bind($time(t.updated_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn channel_templates(&mut self, channel: ChannelId) -> StoreResult<Vec<ChannelTemplateRecord>> {
                Ok(sqlx::query_as("SELECT channel_id, purpose, language, name, status, updated_at FROM channel_templates WHERE tenant_id = $1 AND channel_id = $2 ORDER BY purpose, language")
                    .bind(self.tenant).bind(channel).fetch_all(&mut *self.tx).await?)
            }

            async fn template_sends_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM template_sends WHERE tenant_id = $1 AND sent_at >= $2")
                    .bind(self.tenant).bind($time(since)).fetch_one(&mut *self.tx).await?)
            }

            async fn record_template_send(&mut self, channel: ChannelId, purpose: &str, category: &str, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO template_sends (id, tenant_id, channel_id, purpose, category, sent_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(uuid::Uuid::now_v7()).bind(self.tenant).bind(channel).bind(purpose).bind(category).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_llm_usage(&mut self, u: &LlmUsage) -> StoreResult<()> {
                sqlx::query("INSERT INTO llm_usage (id, tenant_id, message_id, model, outcome, prompt_tokens, completion_tokens, latency_ms, cost_micro_usd, at, own_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                    .bind(u.id).bind(self.tenant).bind(u.message_id).bind(&u.call.model).bind(&u.call.outcome).bind(u.call.prompt_tokens)
                    .bind(u.call.completion_tokens).bind(u.call.latency_ms).bind(u.call.cost_micro_usd).bind($time(u.at)).bind(u.call.own_key)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64> {
                let total: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND own_key = $3")
                    .bind(self.tenant).bind($time(since)).bind(false).fetch_one(&mut *self.tx).await?;
                Ok(total.unwrap_or(0))
            }

            async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE tenants SET budget_notice_month = $2 WHERE id = $1 AND (budget_notice_month IS NULL OR budget_notice_month <> $2)")
                    .bind(self.tenant).bind(month).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
