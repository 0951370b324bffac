//! The owner loop's rows: owner numbers, tickets (escalations) and the messages exchanged
//! with owners. One of the aggregate traits `TenantTx` joins.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    EscalationRecord, IdentityIndex, OwnerMessageRecord, OwnerRecord, StatusChange, StoreResult, TenantScoped,
};
use crate::domain::{ChannelId, ContactId, ConversationId, EscalationId, OwnerId, OwnerMessageId};

#[async_trait]
pub trait OwnerOps: TenantScoped + Send {
    async fn insert_owner(&mut self, owner: &OwnerRecord) -> StoreResult<bool>;
    async fn owners(&mut self) -> StoreResult<Vec<OwnerRecord>>;
    async fn owner(&mut self, id: OwnerId) -> StoreResult<Option<OwnerRecord>>;
    /// Removes an owner number and the messages exchanged with it; false when there is none.
    async fn delete_owner(&mut self, id: OwnerId) -> StoreResult<bool>;
    async fn owner_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<OwnerRecord>>;
    /// Links a BSUID to an owner found by phone, unless the owner has one already.
    async fn link_owner_bsuid(&mut self, id: OwnerId, index: &[u8], bsuid_enc: &str) -> StoreResult<()>;
    /// An owner wrote to the business number: their own 24-hour window is open again.
    async fn touch_owner_inbound(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn mark_owner_window_closed(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;

    /// Takes the tenant's next ticket number (1, 2, …).
    async fn next_ticket_number(&mut self) -> StoreResult<i32>;
    /// Inserts unless the conversation already has an open ticket; returns whether it inserted.
    async fn insert_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<bool>;
    async fn escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    /// The ticket, locked until commit where the backend has row locks.
    async fn lock_escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    async fn escalations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<EscalationRecord>>;
    async fn escalation_by_number(&mut self, number: i32) -> StoreResult<Option<EscalationRecord>>;
    async fn open_escalation(&mut self, conversation: ConversationId) -> StoreResult<Option<EscalationRecord>>;
    /// Open tickets first (oldest first), then closed ones (newest first).
    async fn escalations(&mut self, open_only: bool, limit: i64) -> StoreResult<Vec<EscalationRecord>>;
    /// Writes the ticket's mutable fields.
    async fn update_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<()>;

    /// Inserts unless the provider id is already stored for the channel; returns whether it inserted.
    async fn insert_owner_message(&mut self, message: &OwnerMessageRecord) -> StoreResult<bool>;
    async fn owner_message(&mut self, id: OwnerMessageId) -> StoreResult<Option<OwnerMessageRecord>>;
    /// Messages to owners about one contact (notices, forwards, answers), oldest first.
    async fn owner_messages_about(&mut self, contact: ContactId) -> StoreResult<Vec<OwnerMessageRecord>>;
    async fn owner_message_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<OwnerMessageRecord>>;
    async fn set_owner_message_sent(
        &mut self,
        id: OwnerMessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn advance_owner_message_status(
        &mut self,
        id: OwnerMessageId,
        update: &StatusChange<'_>,
    ) -> StoreResult<bool>;
    /// Drops a processed command's text: what it did is kept as messages and audit rows.
    async fn clear_owner_message_body(&mut self, id: OwnerMessageId, now: DateTime<Utc>) -> StoreResult<()>;
    /// An owner's held messages (a digest's full text waiting for them to write), oldest first.
    async fn held_owner_messages(&mut self, owner: OwnerId) -> StoreResult<Vec<OwnerMessageRecord>>;
    /// Whether an owner message already carries this customer attachment.
    async fn media_forwarded(&mut self, media: uuid::Uuid) -> StoreResult<bool>;
    /// Moves an owner message from status `from` to `to`; false if it was not in `from`.
    async fn move_owner_message_status(
        &mut self,
        id: OwnerMessageId,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// `OwnerOps` SQL, the same on both backends. Every statement names its tenant. `$specific` holds the
/// ticket lock, which differs. Expanded for each backend in `sqlite.rs` and `postgres.rs`.
macro_rules! owner_ops_impl {
    ($ty:ty, time = $time:path, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::OwnerOps for $ty {
            $($specific)*

            async fn insert_owner(&mut self, o: &OwnerRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO owners (id, tenant_id, phone_index, bsuid_index, phone_enc, bsuid_enc, email_enc, name_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING")
                    .bind(o.id).bind(self.tenant).bind(&o.phone_index).bind(&o.bsuid_index).bind(&o.phone_enc).bind(&o.bsuid_enc)
                    .bind(&o.email_enc).bind(&o.name_enc).bind($time(o.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn owners(&mut self) -> StoreResult<Vec<OwnerRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owners WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn owner(&mut self, id: OwnerId) -> StoreResult<Option<OwnerRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owners WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn delete_owner(&mut self, id: OwnerId) -> StoreResult<bool> {
                sqlx::query("DELETE FROM owner_messages WHERE tenant_id = $1 AND owner_id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                let done = sqlx::query("DELETE FROM owners WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn owner_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<OwnerRecord>> {
                let query = match index {
                    IdentityIndex::Bsuid(_) => "SELECT * FROM owners WHERE tenant_id = $1 AND bsuid_index = $2",
                    IdentityIndex::Phone(_) => "SELECT * FROM owners WHERE tenant_id = $1 AND phone_index = $2",
                };
                let (IdentityIndex::Bsuid(value) | IdentityIndex::Phone(value)) = index;
                Ok(sqlx::query_as(query).bind(self.tenant).bind(value).fetch_optional(&mut *self.tx).await?)
            }

            async fn link_owner_bsuid(&mut self, id: OwnerId, index: &[u8], bsuid_enc: &str) -> StoreResult<()> {
                sqlx::query("UPDATE owners SET bsuid_index = $3, bsuid_enc = $4 WHERE tenant_id = $1 AND id = $2 AND bsuid_index IS NULL AND NOT EXISTS (SELECT 1 FROM owners WHERE tenant_id = $1 AND bsuid_index = $3)")
                    .bind(self.tenant).bind(id).bind(index).bind(bsuid_enc)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn touch_owner_inbound(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE owners SET last_inbound_at = $3, window_closed_at = NULL WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn mark_owner_window_closed(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE owners SET window_closed_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn next_ticket_number(&mut self) -> StoreResult<i32> {
                Ok(sqlx::query_scalar("UPDATE tenants SET last_ticket_number = last_ticket_number + 1 WHERE id = $1 RETURNING last_ticket_number")
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?)
            }

            async fn insert_escalation(&mut self, e: &EscalationRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO escalations (id, tenant_id, number, conversation_id, contact_id, trigger_message_id, reason, status, summary_enc, draft_enc, opened_at, customer_notified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING")
                    .bind(e.id).bind(self.tenant).bind(e.number).bind(e.conversation_id).bind(e.contact_id).bind(e.trigger_message_id)
                    .bind(&e.reason).bind(&e.status).bind(&e.summary_enc).bind(&e.draft_enc).bind($time(e.opened_at))
                    .bind(e.customer_notified_at.map($time))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn escalations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY opened_at, number")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn escalation_by_number(&mut self, number: i32) -> StoreResult<Option<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND number = $2")
                    .bind(self.tenant).bind(number).fetch_optional(&mut *self.tx).await?)
            }

            async fn open_escalation(&mut self, conversation: ConversationId) -> StoreResult<Option<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND conversation_id = $2 AND closed_at IS NULL")
                    .bind(self.tenant).bind(conversation).fetch_optional(&mut *self.tx).await?)
            }

            async fn escalations(&mut self, open_only: bool, limit: i64) -> StoreResult<Vec<EscalationRecord>> {
                let query = if open_only {
                    "SELECT * FROM escalations WHERE tenant_id = $1 AND closed_at IS NULL ORDER BY opened_at, number LIMIT $2"
                } else {
                    "SELECT * FROM escalations WHERE tenant_id = $1 ORDER BY closed_at IS NOT NULL, opened_at DESC, number DESC LIMIT $2"
                };
                Ok(sqlx::query_as(query).bind(self.tenant).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn update_escalation(&mut self, e: &EscalationRecord) -> StoreResult<()> {
                sqlx::query("UPDATE escalations SET status = $3, summary_enc = $4, draft_enc = $5, notified_at = $6, renotified = $7, customer_notified_at = $8, answered_at = $9, last_owner_at = $10, closed_at = $11, closed_by = $12, window_warned_at = $13 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(e.id).bind(&e.status).bind(&e.summary_enc).bind(&e.draft_enc).bind(e.notified_at.map($time))
                    .bind(e.renotified).bind(e.customer_notified_at.map($time)).bind(e.answered_at.map($time))
                    .bind(e.last_owner_at.map($time)).bind(e.closed_at.map($time)).bind(&e.closed_by)
                    .bind(e.window_warned_at.map($time))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_owner_message(&mut self, m: &OwnerMessageRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO owner_messages (id, tenant_id, owner_id, channel_id, escalation_id, contact_id, direction, route, purpose, body_enc, provider_message_id, quoted_provider_id, status, status_rank, error_code, created_at, updated_at, media_id, meta_enc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING")
                    .bind(m.id).bind(self.tenant).bind(m.owner_id).bind(m.channel_id).bind(m.escalation_id).bind(m.contact_id)
                    .bind(&m.direction).bind(&m.route).bind(&m.purpose).bind(&m.body_enc).bind(&m.provider_message_id)
                    .bind(&m.quoted_provider_id).bind(&m.status).bind(m.status_rank).bind(&m.error_code)
                    .bind($time(m.created_at)).bind($time(m.updated_at)).bind(m.media_id).bind(&m.meta_enc)
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn owner_message(&mut self, id: OwnerMessageId) -> StoreResult<Option<OwnerMessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owner_messages WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn owner_messages_about(&mut self, contact: ContactId) -> StoreResult<Vec<OwnerMessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owner_messages WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, id")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn owner_message_by_provider_id(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<Option<OwnerMessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owner_messages WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3")
                    .bind(self.tenant).bind(channel).bind(provider_message_id).fetch_optional(&mut *self.tx).await?)
            }

            async fn set_owner_message_sent(&mut self, id: OwnerMessageId, provider_message_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE owner_messages SET provider_message_id = $3, updated_at = $4, status = CASE WHEN status_rank < 1 THEN 'sent' ELSE status END, status_rank = CASE WHEN status_rank < 1 THEN 1 ELSE status_rank END WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind(provider_message_id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn advance_owner_message_status(&mut self, id: OwnerMessageId, u: &StatusChange<'_>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE owner_messages SET status = $3, status_rank = $4, error_code = COALESCE($5, error_code), updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND status_rank < $4")
                    .bind(self.tenant).bind(id).bind(u.status).bind(u.rank).bind(u.error_code).bind($time(u.now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn media_forwarded(&mut self, media: uuid::Uuid) -> StoreResult<bool> {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM owner_messages WHERE tenant_id = $1 AND media_id = $2")
                    .bind(self.tenant).bind(media).fetch_one(&mut *self.tx).await?;
                Ok(found > 0)
            }

            async fn held_owner_messages(&mut self, owner: OwnerId) -> StoreResult<Vec<OwnerMessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM owner_messages WHERE tenant_id = $1 AND owner_id = $2 AND status = 'held' ORDER BY created_at, id")
                    .bind(self.tenant).bind(owner).fetch_all(&mut *self.tx).await?)
            }

            async fn move_owner_message_status(&mut self, id: OwnerMessageId, from: &str, to: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE owner_messages SET status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND status = $3")
                    .bind(self.tenant).bind(id).bind(from).bind(to).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn clear_owner_message_body(&mut self, id: OwnerMessageId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE owner_messages SET body_enc = NULL, meta_enc = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }
        }
    };
}
