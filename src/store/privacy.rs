//! The store operations behind privacy work: erasure, correction, STOP, data-subject requests,
//! retention, tenant cancellation and master-key rotation. A supertrait of `TenantTx`, so the
//! same transaction (and its tenant scope) carries them.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreResult, TenantScoped};
use crate::domain::{ContactId, Direction, DsarId};

/// What an erasure deleted, by table; the audit keeps these counts and nothing identifying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasedRows {
    pub messages: u64,
    /// Stored attachments (their sealed objects are deleted after the commit).
    pub media: u64,
    pub conversations: u64,
    pub escalations: u64,
    pub owner_messages: u64,
    pub jobs: u64,
    /// Questions the bot could not answer, in the customer's words (masked).
    pub knowledge_gaps: u64,
    pub requests_unlinked: u64,
}

/// A count of deleted rows for one UTC day, folded into `activity_counts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    pub day: String,
    pub metric: &'static str,
    pub count: i64,
}

/// New values for a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactCorrection {
    /// The new name's ciphertext, or `Some(None)` to remove the name.
    pub name_enc: Option<Option<String>>,
    /// The new phone number's blind index and ciphertext.
    pub phone: Option<(Vec<u8>, String)>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DsarRecord {
    pub id: DsarId,
    #[serde(skip)]
    pub tenant_id: crate::domain::TenantId,
    /// Cleared when the contact is erased.
    pub contact_id: Option<ContactId>,
    pub kind: crate::privacy::requests::DsarKind,
    /// `whatsapp`, `api` or `cli`.
    pub source: String,
    pub status: crate::privacy::requests::DsarStatus,
    pub received_at: DateTime<Utc>,
    pub acknowledge_by: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditCheckpoint {
    pub through_seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    pub purged_rows: i64,
}

/// What a retention pass deleted in one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgedContent {
    pub messages: u64,
    /// Stored attachments of those messages; the sweeper deletes their objects.
    pub media: u64,
    pub owner_messages: u64,
    pub escalations: u64,
    pub jobs: u64,
}

#[async_trait]
pub trait PrivacyOps: TenantScoped + Send {
    /// Direction and time of every message of one contact, for the anonymous day counts.
    async fn message_times_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<(Direction, DateTime<Utc>)>>;
    /// The contact, locked until commit where the backend has row locks, so a webhook for
    /// them waits for the erasure instead of failing half-way.
    async fn lock_contact(&mut self, id: ContactId) -> StoreResult<Option<crate::store::ContactRecord>>;
    /// Deletes the contact's messages, conversations, tickets, owner messages about them and
    /// their pending jobs, then the contact row with its wrapped key and blind indexes.
    async fn erase_contact_rows(&mut self, contact: ContactId) -> StoreResult<ErasedRows>;
    /// Drops the text of every `daftar` answer and digest: they name or quote several customers
    /// under the tenant key.
    async fn clear_owner_answers(&mut self) -> StoreResult<u64>;
    async fn add_activity_counts(&mut self, counts: &[ActivityCount]) -> StoreResult<()>;
    async fn activity_counts(&mut self) -> StoreResult<Vec<(String, String, i64)>>;

    /// Applies a correction; false when there is no such contact.
    async fn correct_contact(
        &mut self,
        id: ContactId,
        fix: &ContactCorrection,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Sets or clears the STOP flag; returns whether it changed.
    async fn set_bot_stopped(&mut self, id: ContactId, at: Option<DateTime<Utc>>) -> StoreResult<bool>;

    async fn insert_dsar(&mut self, request: &DsarRecord) -> StoreResult<()>;
    async fn dsar(&mut self, id: DsarId) -> StoreResult<Option<DsarRecord>>;
    /// Pending requests first (earliest deadline first), then closed ones, newest first.
    async fn dsars(&mut self, pending_only: bool, limit: i64) -> StoreResult<Vec<DsarRecord>>;
    /// An open request of this kind for this contact, so a repeated message opens no second one.
    async fn open_dsar_of(
        &mut self,
        contact: ContactId,
        kind: crate::privacy::requests::DsarKind,
    ) -> StoreResult<Option<DsarRecord>>;
    async fn update_dsar(&mut self, request: &DsarRecord) -> StoreResult<()>;

    /// Deletes messages, owner messages and closed tickets older than `cutoff`.
    /// Brings back a finished or dead job of this kind and subject; false when there is none.
    async fn requeue_job(&mut self, kind: &str, subject: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn purge_content_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<PurgedContent>;
    /// Opening times of the closed tickets `purge_content_before` would delete.
    async fn escalation_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<DateTime<Utc>>>;
    async fn message_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<(Direction, DateTime<Utc>)>>;
    async fn purge_llm_usage_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// Finished and dead jobs, expired token revocations and settled webhook deliveries: technical records, no content.
    async fn purge_technical_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// The last audit row older than `cutoff` whose successors are all at or after it.
    async fn audit_seq_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Option<i64>>;
    /// Deletes the audit rows up to `through_seq` and records the checkpoint; returns the count.
    async fn purge_audit_through(&mut self, through_seq: i64, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn latest_audit_checkpoint(&mut self) -> StoreResult<Option<AuditCheckpoint>>;

    /// Marks an active tenant cancelled and stops routing its webhooks; false if it was not active.
    async fn cancel_tenant(&mut self, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes every row of the tenant but the audit and its route, and destroys its wrapped key.
    async fn purge_tenant(&mut self) -> StoreResult<u64>;

    async fn contact_count(&mut self) -> StoreResult<i64>;
    /// Contact ids and wrapped keys after `after` in id order, for key rotation.
    async fn wrapped_contact_keys(
        &mut self,
        after: Option<ContactId>,
        limit: i64,
    ) -> StoreResult<Vec<(ContactId, String)>>;
    /// Replaces a wrapped key only if it is still `old`; false when a writer changed it first.
    async fn rewrap_contact_key(&mut self, id: ContactId, old: &str, new: &str) -> StoreResult<bool>;
    async fn rewrap_tenant_key(&mut self, old: &str, new: &str) -> StoreResult<bool>;
}

/// `PrivacyOps` SQL, the same on both backends. Every statement names its tenant. `$specific` holds the
/// audit purge, which differs. Expanded for each backend in `sqlite.rs` and `postgres.rs`.
macro_rules! privacy_ops_impl {
    ($ty:ty, time = $time:path, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::PrivacyOps for $ty {
            $($specific)*

            async fn message_times_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<($crate::domain::Direction, DateTime<Utc>)>> {
                Ok(sqlx::query_as("SELECT direction, created_at FROM messages WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn erase_contact_rows(&mut self, contact: ContactId) -> StoreResult<ErasedRows> {
                let mut erased = ErasedRows::default();
                let (t, c) = (self.tenant, contact);
                // Pending work about the contact first: it would otherwise act on deleted rows.
                erased.jobs = sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND subject_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND contact_id = $2 UNION SELECT id FROM escalations WHERE tenant_id = $1 AND contact_id = $2 UNION SELECT id FROM owner_messages WHERE tenant_id = $1 AND contact_id = $2 UNION SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2)")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.owner_messages = sqlx::query("DELETE FROM owner_messages WHERE tenant_id = $1 AND (contact_id = $2 OR escalation_id IN (SELECT id FROM escalations WHERE tenant_id = $1 AND contact_id = $2))")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.knowledge_gaps = sqlx::query("DELETE FROM knowledge_gaps WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.escalations = sqlx::query("DELETE FROM escalations WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                sqlx::query("UPDATE llm_usage SET message_id = NULL WHERE tenant_id = $1 AND message_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND contact_id = $2)")
                    .bind(t).bind(c).execute(&mut *self.tx).await?;
                erased.media = sqlx::query("DELETE FROM media_objects WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.messages = sqlx::query("DELETE FROM messages WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.conversations = sqlx::query("DELETE FROM conversations WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                erased.requests_unlinked = sqlx::query("UPDATE dsar_requests SET contact_id = NULL WHERE tenant_id = $1 AND contact_id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?.rows_affected();
                sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
                    .bind(t).bind(c).execute(&mut *self.tx).await?;
                Ok(erased)
            }

            async fn clear_owner_answers(&mut self) -> StoreResult<u64> {
                Ok(sqlx::query("UPDATE owner_messages SET body_enc = NULL WHERE tenant_id = $1 AND purpose IN ('answer', 'digest') AND body_enc IS NOT NULL")
                    .bind(self.tenant).execute(&mut *self.tx).await?.rows_affected())
            }

            async fn add_activity_counts(&mut self, counts: &[ActivityCount]) -> StoreResult<()> {
                for c in counts {
                    sqlx::query("INSERT INTO activity_counts (tenant_id, day, metric, count) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, day, metric) DO UPDATE SET count = activity_counts.count + excluded.count")
                        .bind(self.tenant).bind(&c.day).bind(c.metric).bind(c.count).execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn activity_counts(&mut self) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as("SELECT day, metric, count FROM activity_counts WHERE tenant_id = $1 ORDER BY day, metric")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn correct_contact(&mut self, id: ContactId, fix: &ContactCorrection, now: DateTime<Utc>) -> StoreResult<bool> {
                let found = sqlx::query("UPDATE contacts SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(now)).execute(&mut *self.tx).await?.rows_affected() == 1;
                if let Some(name) = &fix.name_enc {
                    sqlx::query("UPDATE contacts SET name_enc = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(self.tenant).bind(id).bind(name).execute(&mut *self.tx).await?;
                }
                if let Some((index, enc)) = &fix.phone {
                    sqlx::query("UPDATE contacts SET phone_index = $3, phone_enc = $4 WHERE tenant_id = $1 AND id = $2")
                        .bind(self.tenant).bind(id).bind(index).bind(enc).execute(&mut *self.tx).await?;
                }
                Ok(found)
            }

            async fn set_bot_stopped(&mut self, id: ContactId, at: Option<DateTime<Utc>>) -> StoreResult<bool> {
                let query = if at.is_some() {
                    "UPDATE contacts SET bot_stopped_at = $3 WHERE tenant_id = $1 AND id = $2 AND bot_stopped_at IS NULL"
                } else {
                    "UPDATE contacts SET bot_stopped_at = $3 WHERE tenant_id = $1 AND id = $2 AND bot_stopped_at IS NOT NULL"
                };
                Ok(sqlx::query(query).bind(self.tenant).bind(id).bind(at.map($time))
                    .execute(&mut *self.tx).await?.rows_affected() == 1)
            }

            async fn insert_dsar(&mut self, r: &DsarRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO dsar_requests (id, tenant_id, contact_id, kind, source, status, received_at, acknowledge_by, answer_by, acknowledged_at, answered_at, closed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .bind(r.id).bind(self.tenant).bind(r.contact_id).bind(&r.kind).bind(&r.source).bind(&r.status)
                    .bind($time(r.received_at)).bind($time(r.acknowledge_by)).bind($time(r.answer_by))
                    .bind(r.acknowledged_at.map($time)).bind(r.answered_at.map($time)).bind(&r.closed_by)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn dsar(&mut self, id: DsarId) -> StoreResult<Option<DsarRecord>> {
                Ok(sqlx::query_as("SELECT * FROM dsar_requests WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn dsars(&mut self, pending_only: bool, limit: i64) -> StoreResult<Vec<DsarRecord>> {
                Ok(sqlx::query_as("SELECT * FROM dsar_requests WHERE tenant_id = $1 AND ($2 = 0 OR status IN ('open', 'acknowledged')) \
                    ORDER BY CASE WHEN status IN ('open', 'acknowledged') THEN 0 ELSE 1 END, \
                    CASE WHEN status IN ('open', 'acknowledged') THEN answer_by END, received_at DESC LIMIT $3")
                    .bind(self.tenant).bind(i32::from(pending_only)).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn open_dsar_of(&mut self, contact: ContactId, kind: $crate::privacy::requests::DsarKind) -> StoreResult<Option<DsarRecord>> {
                Ok(sqlx::query_as("SELECT * FROM dsar_requests WHERE tenant_id = $1 AND contact_id = $2 AND kind = $3 AND status IN ('open', 'acknowledged')")
                    .bind(self.tenant).bind(contact).bind(kind).fetch_optional(&mut *self.tx).await?)
            }

            async fn update_dsar(&mut self, r: &DsarRecord) -> StoreResult<()> {
                sqlx::query("UPDATE dsar_requests SET status = $3, acknowledged_at = $4, answered_at = $5, closed_by = $6, contact_id = $7 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(r.id).bind(&r.status).bind(r.acknowledged_at.map($time))
                    .bind(r.answered_at.map($time)).bind(&r.closed_by).bind(r.contact_id)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn escalation_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT opened_at FROM escalations WHERE tenant_id = $1 AND closed_at < $2")
                    .bind(self.tenant).bind($time(cutoff)).fetch_all(&mut *self.tx).await?)
            }

            async fn message_times_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Vec<($crate::domain::Direction, DateTime<Utc>)>> {
                Ok(sqlx::query_as("SELECT direction, created_at FROM messages WHERE tenant_id = $1 AND created_at < $2")
                    .bind(self.tenant).bind($time(cutoff)).fetch_all(&mut *self.tx).await?)
            }

            async fn purge_content_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<PurgedContent> {
                let (t, at) = (self.tenant, $time(cutoff));
                let mut purged = PurgedContent::default();
                purged.jobs = sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND state IN ('queued', 'dead') AND subject_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                    .bind(t).bind(at).execute(&mut *self.tx).await?.rows_affected();
                purged.owner_messages = sqlx::query("DELETE FROM owner_messages WHERE tenant_id = $1 AND (created_at < $2 OR escalation_id IN (SELECT id FROM escalations WHERE tenant_id = $1 AND closed_at < $2))")
                    .bind(t).bind(at).execute(&mut *self.tx).await?.rows_affected();
                purged.escalations = sqlx::query("DELETE FROM escalations WHERE tenant_id = $1 AND closed_at < $2")
                    .bind(t).bind(at).execute(&mut *self.tx).await?.rows_affected();
                // A newer reply keeps its row; only its link to the deleted question goes.
                sqlx::query("UPDATE messages SET reply_to = NULL WHERE tenant_id = $1 AND created_at >= $2 AND reply_to IN (SELECT id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                    .bind(t).bind(at).execute(&mut *self.tx).await?;
                sqlx::query("UPDATE llm_usage SET message_id = NULL WHERE tenant_id = $1 AND message_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                    .bind(t).bind(at).execute(&mut *self.tx).await?;
                purged.media = sqlx::query("DELETE FROM media_objects WHERE tenant_id = $1 AND message_id IN (SELECT id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                    .bind(t).bind(at).execute(&mut *self.tx).await?.rows_affected();
                purged.messages = sqlx::query("DELETE FROM messages WHERE tenant_id = $1 AND created_at < $2")
                    .bind(t).bind(at).execute(&mut *self.tx).await?.rows_affected();
                Ok(purged)
            }

            async fn requeue_job(&mut self, kind: &str, subject: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE jobs SET state = 'queued', attempts = 0, run_at = $4, locked_by = NULL, locked_until = NULL, updated_at = $4 WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3 AND state IN ('done', 'dead')")
                    .bind(self.tenant).bind(kind).bind(subject).bind($time(now))
                    .execute(&mut *self.tx).await?.rows_affected() == 1)
            }

            async fn purge_llm_usage_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM llm_usage WHERE tenant_id = $1 AND at < $2")
                    .bind(self.tenant).bind($time(cutoff)).execute(&mut *self.tx).await?.rows_affected())
            }

            async fn purge_technical_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
                let jobs = sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND state IN ('done', 'dead') AND updated_at < $2")
                    .bind(self.tenant).bind($time(cutoff)).execute(&mut *self.tx).await?.rows_affected();
                let tokens = sqlx::query("DELETE FROM revoked_tokens WHERE tenant_id = $1 AND expires_at < $2")
                    .bind(self.tenant).bind($time(cutoff)).execute(&mut *self.tx).await?.rows_affected();
                let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND state <> 'pending' AND created_at < $2")
                    .bind(self.tenant).bind($time(cutoff)).execute(&mut *self.tx).await?.rows_affected();
                Ok(jobs + tokens + deliveries)
            }

            async fn audit_seq_before(&mut self, cutoff: DateTime<Utc>) -> StoreResult<Option<i64>> {
                let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE tenant_id = $1 AND at >= $2")
                    .bind(self.tenant).bind($time(cutoff)).fetch_one(&mut *self.tx).await?;
                let last_old: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE tenant_id = $1 AND at < $2")
                    .bind(self.tenant).bind($time(cutoff)).fetch_one(&mut *self.tx).await?;
                Ok(match (last_old, first_kept) {
                    (Some(old), Some(kept)) => Some(old.min(kept - 1)).filter(|s| *s > 0),
                    (old, None) => old,
                    (None, Some(_)) => None,
                })
            }

            async fn latest_audit_checkpoint(&mut self) -> StoreResult<Option<AuditCheckpoint>> {
                Ok(sqlx::query_as("SELECT through_seq, hash, at, purged_rows FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY through_seq DESC LIMIT 1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn cancel_tenant(&mut self, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE tenants SET status = 'cancelled', cancelled_at = $2 WHERE id = $1 AND status = 'active'")
                    .bind(self.tenant).bind($time(now)).execute(&mut *self.tx).await?.rows_affected() == 1;
                if done {
                    sqlx::query("DELETE FROM channel_routes WHERE tenant_id = $1").bind(self.tenant).execute(&mut *self.tx).await?;
                }
                Ok(done)
            }

            async fn purge_tenant(&mut self) -> StoreResult<u64> {
                // Children before parents. The audit chain, its head and checkpoints stay, and so
                // does the tenant's route, which keeps retention walking its audit.
                let mut rows = 0;
                for table in [
                    "jobs", "knowledge_gaps", "kb_entry_versions", "tenant_subprocessors", "subprocessor_changes", "webhook_deliveries", "webhook_endpoints", "owner_messages", "escalations", "llm_usage", "media_objects", "messages", "conversations", "dsar_requests",
                    "contacts", "owners", "staff_pins", "revoked_tokens", "users", "kb_entries", "channel_routes",
                    "channel_templates", "template_sends", "channels", "activity_counts", "analytics_conversation_days", "analytics_tickets", "analytics_days",
                    "analytics_weeks", "analytics_state", "chat_reviews",
                ] {
                    let sql = format!("DELETE FROM {table} WHERE tenant_id = $1");
                    rows += sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.tenant).execute(&mut *self.tx).await?.rows_affected();
                }
                sqlx::query("UPDATE tenants SET status = 'purged', wrapped_key = '' WHERE id = $1")
                    .bind(self.tenant).execute(&mut *self.tx).await?;
                Ok(rows)
            }

            async fn contact_count(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE tenant_id = $1")
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?)
            }

            async fn wrapped_contact_keys(&mut self, after: Option<ContactId>, limit: i64) -> StoreResult<Vec<(ContactId, String)>> {
                let query = if after.is_some() {
                    "SELECT id, wrapped_key FROM contacts WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                } else {
                    "SELECT id, wrapped_key FROM contacts WHERE tenant_id = $1 AND $2 IS NULL ORDER BY id LIMIT $3"
                };
                Ok(sqlx::query_as(query).bind(self.tenant).bind(after).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn rewrap_contact_key(&mut self, id: ContactId, old: &str, new: &str) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE contacts SET wrapped_key = $4 WHERE tenant_id = $1 AND id = $2 AND wrapped_key = $3")
                    .bind(self.tenant).bind(id).bind(old).bind(new).execute(&mut *self.tx).await?.rows_affected() == 1)
            }

            async fn rewrap_tenant_key(&mut self, old: &str, new: &str) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE tenants SET wrapped_key = $3 WHERE id = $1 AND wrapped_key = $2")
                    .bind(self.tenant).bind(old).bind(new).execute(&mut *self.tx).await?.rows_affected() == 1)
            }
        }
    };
}
