//! The questions the bot could not answer, and every version of every FAQ entry. A supertrait
//! of `TenantTx`; grouping and closing live in `crate::gaps`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreResult, TenantScoped};
use crate::domain::{ContactId, EscalationId, KbEntryId, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnowledgeGapRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// The first gap of the group of similar questions it belongs to.
    pub group_id: Uuid,
    pub escalation_id: EscalationId,
    pub contact_id: ContactId,
    /// The question, masked, encrypted under the customer's key.
    pub question_enc: String,
    /// Its normalised words, space-separated, encrypted under the tenant's key.
    pub terms_enc: String,
    /// `open`, `answered` or `dismissed`.
    pub state: String,
    /// The FAQ entry that answered it.
    pub kb_entry_id: Option<KbEntryId>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One version of an FAQ entry: what it said, who wrote it, from which ticket.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KbVersionRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub entry_id: KbEntryId,
    pub version: i32,
    /// `created`, `updated` or `deleted`.
    pub change: String,
    pub question: String,
    pub answer: String,
    pub keywords: String,
    pub actor: String,
    pub escalation_id: Option<EscalationId>,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait GapOps: TenantScoped + Send {
    async fn insert_gap(&mut self, gap: &KnowledgeGapRecord) -> StoreResult<()>;
    /// The newest open gaps, newest first.
    async fn open_gaps(&mut self, limit: i64) -> StoreResult<Vec<KnowledgeGapRecord>>;
    /// Every gap of a group, oldest first.
    async fn gap_group(&mut self, group: Uuid) -> StoreResult<Vec<KnowledgeGapRecord>>;
    async fn gap_of_escalation(&mut self, escalation: EscalationId) -> StoreResult<Option<KnowledgeGapRecord>>;
    async fn gaps_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<KnowledgeGapRecord>>;
    /// Closes the group's open gaps as `answered` (with the entry) or `dismissed`; how many closed.
    async fn close_gap_group(
        &mut self,
        group: Uuid,
        state: &str,
        entry: Option<KbEntryId>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    async fn insert_kb_version(&mut self, version: &KbVersionRecord) -> StoreResult<()>;
    /// The entry's versions, oldest first.
    async fn kb_versions(&mut self, entry: KbEntryId) -> StoreResult<Vec<KbVersionRecord>>;
}

/// `GapOps` SQL, the same on both backends. Every statement names its tenant.
macro_rules! gap_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::GapOps for $ty {
            async fn insert_gap(&mut self, g: &$crate::store::KnowledgeGapRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO knowledge_gaps (id, tenant_id, group_id, escalation_id, contact_id, question_enc, terms_enc, state, kb_entry_id, closed_by, closed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', NULL, NULL, NULL, $8)")
                    .bind(g.id).bind(self.tenant).bind(g.group_id).bind(g.escalation_id).bind(g.contact_id)
                    .bind(&g.question_enc).bind(&g.terms_enc).bind($time(g.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn open_gaps(&mut self, limit: i64) -> StoreResult<Vec<$crate::store::KnowledgeGapRecord>> {
                Ok(sqlx::query_as("SELECT * FROM knowledge_gaps WHERE tenant_id = $1 AND state = 'open' ORDER BY created_at DESC, id DESC LIMIT $2")
                    .bind(self.tenant).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn gap_group(&mut self, group: uuid::Uuid) -> StoreResult<Vec<$crate::store::KnowledgeGapRecord>> {
                Ok(sqlx::query_as("SELECT * FROM knowledge_gaps WHERE tenant_id = $1 AND group_id = $2 ORDER BY created_at, id")
                    .bind(self.tenant).bind(group).fetch_all(&mut *self.tx).await?)
            }

            async fn gap_of_escalation(&mut self, escalation: $crate::domain::EscalationId) -> StoreResult<Option<$crate::store::KnowledgeGapRecord>> {
                Ok(sqlx::query_as("SELECT * FROM knowledge_gaps WHERE tenant_id = $1 AND escalation_id = $2 LIMIT 1")
                    .bind(self.tenant).bind(escalation).fetch_optional(&mut *self.tx).await?)
            }

            async fn gaps_of_contact(&mut self, contact: $crate::domain::ContactId) -> StoreResult<Vec<$crate::store::KnowledgeGapRecord>> {
                Ok(sqlx::query_as("SELECT * FROM knowledge_gaps WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, id")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn close_gap_group(
                &mut self,
                group: uuid::Uuid,
                state: &str,
                entry: Option<$crate::domain::KbEntryId>,
                actor: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                Ok(sqlx::query("UPDATE knowledge_gaps SET state = $3, kb_entry_id = $4, closed_by = $5, closed_at = $6 WHERE tenant_id = $1 AND group_id = $2 AND state = 'open'")
                    .bind(self.tenant).bind(group).bind(state).bind(entry).bind(actor).bind($time(now))
                    .execute(&mut *self.tx).await?.rows_affected())
            }

            async fn insert_kb_version(&mut self, v: &$crate::store::KbVersionRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO kb_entry_versions (id, tenant_id, entry_id, version, change, question, answer, keywords, actor, escalation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                    .bind(v.id).bind(self.tenant).bind(v.entry_id).bind(v.version).bind(&v.change).bind(&v.question)
                    .bind(&v.answer).bind(&v.keywords).bind(&v.actor).bind(v.escalation_id).bind($time(v.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn kb_versions(&mut self, entry: $crate::domain::KbEntryId) -> StoreResult<Vec<$crate::store::KbVersionRecord>> {
                Ok(sqlx::query_as("SELECT * FROM kb_entry_versions WHERE tenant_id = $1 AND entry_id = $2 ORDER BY version")
                    .bind(self.tenant).bind(entry).fetch_all(&mut *self.tx).await?)
            }
        }
    };
}
