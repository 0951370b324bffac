//! Customers and what they said: contacts, their conversations and the messages in them.
//! One of the aggregate traits `TenantTx` joins; the ingest path's set-based statements are
//! `IngestOps`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    ContactRecord, ConversationRecord, IdentityIndex, IdentityLink, MessageRecord, StatusChange, StoreResult,
    TenantScoped,
};
use crate::domain::{ChannelId, ContactId, ConversationId, MessageId};

#[async_trait]
pub trait ConversationOps: TenantScoped + Send {
    async fn contact_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<ContactRecord>>;
    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>>;
    /// Inserts unless a contact with the same blind index exists; returns whether it inserted.
    async fn insert_contact(&mut self, contact: &ContactRecord) -> StoreResult<bool>;
    /// Links a newly learned identifier to a contact, only where the contact lacked it.
    async fn link_contact_identity(&mut self, id: ContactId, link: &IdentityLink) -> StoreResult<()>;

    /// The open conversation of a contact in one chat (`chat_index`; empty for the direct chat).
    async fn open_conversation(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
        chat: &[u8],
    ) -> StoreResult<Option<ConversationRecord>>;
    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Every conversation of one contact, oldest first.
    async fn conversations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<ConversationRecord>>;
    /// Newest activity first; `before` pages on `updated_at`, then on the id when one is given
    /// (conversations often share a second).
    async fn conversations(
        &mut self,
        state: Option<&str>,
        before: Option<Before>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// Open conversations whose customer's latest message has no bot or owner answer yet (a
    /// failed send is none), newest activity first; paged like `conversations`.
    async fn unanswered_conversations(
        &mut self,
        before: Option<Before>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// How many conversations are in each state, and how many are unanswered (as above).
    async fn conversation_counts(&mut self) -> StoreResult<(Vec<(String, i64)>, i64)>;
    /// Inserts unless the contact has an open conversation in that chat; returns whether it inserted.
    async fn insert_conversation(&mut self, conversation: &ConversationRecord) -> StoreResult<bool>;
    /// Moves a conversation from state `from` to `to`; returns false if it was not in `from`
    /// (a concurrent transaction moved it first).
    async fn transition_conversation(
        &mut self,
        id: ConversationId,
        from: &str,
        to: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records an inbound message time; a new inbound also reopens a closed 24-hour window.
    async fn touch_conversation_inbound(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;
    /// The provider said the 24-hour window is closed: no free-form message reaches the customer.
    async fn mark_conversation_window_closed(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;

    async fn message_exists(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<bool>;
    /// Inserts unless the provider id is already stored for the channel (or the reply part
    /// already exists); returns whether it inserted.
    async fn insert_message(&mut self, message: &MessageRecord) -> StoreResult<bool>;
    async fn message(&mut self, id: MessageId) -> StoreResult<Option<MessageRecord>>;
    async fn replies_to(&mut self, inbound: MessageId) -> StoreResult<Vec<MessageRecord>>;
    /// The latest `limit` messages of a conversation, oldest first.
    async fn recent_messages(&mut self, conversation: ConversationId, limit: i64) -> StoreResult<Vec<MessageRecord>>;
    async fn outbound_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<MessageRecord>>;
    /// Moves a message from status `from` to `to` (a late reply held, released or expired);
    /// returns false if it was not in `from`, so each move happens once.
    async fn move_message_status(
        &mut self,
        id: MessageId,
        from: &str,
        to: &str,
        error_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The conversation's held late replies, in the order they were written.
    async fn held_messages(&mut self, conversation: ConversationId) -> StoreResult<Vec<MessageRecord>>;
    /// Moves the status forward only; returns whether it moved.
    async fn advance_message_status(&mut self, id: MessageId, update: &StatusChange<'_>) -> StoreResult<bool>;
    async fn set_provider_message_id(
        &mut self,
        id: MessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Where the next page of conversations starts: before this `updated_at`, and, at that same
/// time, before this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Before {
    pub updated_at: DateTime<Utc>,
    pub id: Option<ConversationId>,
}

/// SQL for: conversation `c`'s customer's latest message has no bot or owner answer (a failed
/// send is none); `$1` is the tenant.
macro_rules! unanswered_sql {
    () => {
        "EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = $1 AND m.conversation_id = c.id AND m.direction = 'in') \
         AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.tenant_id = $1 AND r.conversation_id = c.id AND r.direction = 'out' \
         AND r.author IN ('bot', 'owner') AND r.status <> 'failed' AND r.created_at >= (SELECT MAX(m.created_at) FROM messages m \
         WHERE m.tenant_id = $1 AND m.conversation_id = c.id AND m.direction = 'in'))"
    };
}

/// The page condition on `c` with `$2` the time and `$3` the id of `Before`.
macro_rules! before_sql {
    () => {
        "($2 IS NULL OR c.updated_at < $2 OR (c.updated_at = $2 AND $3 IS NOT NULL AND c.id < $3))"
    };
}

/// `ConversationOps` SQL, the same on both backends. Every statement names its tenant. Expanded for
/// each backend in `sqlite.rs` and `postgres.rs`.
macro_rules! conversation_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::ConversationOps for $ty {
            async fn contact_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<ContactRecord>> {
                let query = match index {
                    IdentityIndex::Bsuid(_) => "SELECT * FROM contacts WHERE tenant_id = $1 AND bsuid_index = $2",
                    IdentityIndex::Phone(_) => "SELECT * FROM contacts WHERE tenant_id = $1 AND phone_index = $2",
                };
                let (IdentityIndex::Bsuid(value) | IdentityIndex::Phone(value)) = index;
                Ok(sqlx::query_as(query).bind(self.tenant).bind(value).fetch_optional(&mut *self.tx).await?)
            }

            async fn contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>> {
                Ok(sqlx::query_as("SELECT * FROM contacts WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn insert_contact(&mut self, c: &ContactRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO contacts (id, tenant_id, wrapped_key, bsuid_index, phone_index, bsuid_enc, phone_enc, username_enc, name_enc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING")
                    .bind(c.id).bind(self.tenant).bind(&c.wrapped_key).bind(&c.bsuid_index).bind(&c.phone_index)
                    .bind(&c.bsuid_enc).bind(&c.phone_enc).bind(&c.username_enc).bind(&c.name_enc)
                    .bind($time(c.created_at)).bind($time(c.updated_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn link_contact_identity(&mut self, id: ContactId, link: &IdentityLink) -> StoreResult<()> {
                let now = link.now.map($time);
                if let Some((index, enc)) = &link.bsuid {
                    let query = if link.rekey_bsuid {
                        "UPDATE contacts SET bsuid_index = $3, bsuid_enc = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1 AND bsuid_index = $3)"
                    } else {
                        "UPDATE contacts SET bsuid_index = $3, bsuid_enc = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND bsuid_index IS NULL AND NOT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1 AND bsuid_index = $3)"
                    };
                    sqlx::query(query).bind(self.tenant).bind(id).bind(index).bind(enc).bind(now.clone())
                        .execute(&mut *self.tx).await?;
                }
                if let Some((index, enc)) = &link.phone {
                    sqlx::query("UPDATE contacts SET phone_index = $3, phone_enc = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND phone_index IS NULL AND NOT EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1 AND phone_index = $3)")
                        .bind(self.tenant).bind(id).bind(index).bind(enc).bind(now)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn open_conversation(&mut self, channel: ChannelId, contact: ContactId, chat: &[u8]) -> StoreResult<Option<ConversationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM conversations WHERE tenant_id = $1 AND channel_id = $2 AND contact_id = $3 AND chat_index = $4 AND state <> 'closed'")
                    .bind(self.tenant).bind(channel).bind(contact).bind(chat).fetch_optional(&mut *self.tx).await?)
            }

            async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn conversations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<ConversationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM conversations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, id")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn conversations(&mut self, state: Option<&str>, before: Option<$crate::store::Before>, limit: i64) -> StoreResult<Vec<ConversationRecord>> {
                Ok(sqlx::query_as(concat!("SELECT c.* FROM conversations c WHERE c.tenant_id = $1 AND ", before_sql!(), " AND ($4 IS NULL OR c.state = $4) ORDER BY c.updated_at DESC, c.id DESC LIMIT $5"))
                    .bind(self.tenant).bind(before.map(|b| $time(b.updated_at))).bind(before.and_then(|b| b.id)).bind(state).bind(limit)
                    .fetch_all(&mut *self.tx).await?)
            }

            async fn unanswered_conversations(&mut self, before: Option<$crate::store::Before>, limit: i64) -> StoreResult<Vec<ConversationRecord>> {
                Ok(sqlx::query_as(concat!("SELECT c.* FROM conversations c WHERE c.tenant_id = $1 AND c.state <> 'closed' AND ", before_sql!(), " AND ",
                        unanswered_sql!(), " ORDER BY c.updated_at DESC, c.id DESC LIMIT $4"))
                    .bind(self.tenant).bind(before.map(|b| $time(b.updated_at))).bind(before.and_then(|b| b.id)).bind(limit)
                    .fetch_all(&mut *self.tx).await?)
            }

            async fn conversation_counts(&mut self) -> StoreResult<(Vec<(String, i64)>, i64)> {
                let states = sqlx::query_as("SELECT state, COUNT(*) FROM conversations WHERE tenant_id = $1 GROUP BY state")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?;
                let unanswered = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM conversations c WHERE c.tenant_id = $1 AND c.state <> 'closed' AND ", unanswered_sql!()))
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?;
                Ok((states, unanswered))
            }

            async fn insert_conversation(&mut self, c: &ConversationRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO conversations (id, tenant_id, channel_id, contact_id, state, escalation_reason, last_inbound_at, created_at, updated_at, chat_index, chat_enc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING")
                    .bind(c.id).bind(self.tenant).bind(c.channel_id).bind(c.contact_id).bind(&c.state).bind(&c.escalation_reason)
                    .bind(c.last_inbound_at.map($time)).bind($time(c.created_at)).bind($time(c.updated_at))
                    .bind(&c.chat_index).bind(&c.chat_enc)
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn transition_conversation(&mut self, id: ConversationId, from: &str, to: &str, reason: Option<&str>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE conversations SET state = $4, escalation_reason = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND state = $3")
                    .bind(self.tenant).bind(id).bind(from).bind(to).bind(reason).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn touch_conversation_inbound(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE conversations SET last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $3 THEN $3 ELSE last_inbound_at END, window_closed_at = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn mark_conversation_window_closed(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE conversations SET window_closed_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn message_exists(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<bool> {
                let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM messages WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3")
                    .bind(self.tenant).bind(channel).bind(provider_message_id).fetch_optional(&mut *self.tx).await?;
                Ok(found.is_some())
            }

            async fn insert_message(&mut self, m: &MessageRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, author, kind, body_enc, provider_message_id, reply_to, part, status, status_rank, error_code, sent_at, created_at, updated_at, meta_enc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING")
                    .bind(m.id).bind(self.tenant).bind(m.channel_id).bind(m.conversation_id).bind(m.contact_id)
                    .bind(&m.direction).bind(&m.author).bind(&m.kind).bind(&m.body_enc).bind(&m.provider_message_id)
                    .bind(m.reply_to).bind(m.part).bind(&m.status).bind(m.status_rank).bind(&m.error_code)
                    .bind(m.sent_at.map($time)).bind($time(m.created_at)).bind($time(m.updated_at)).bind(&m.meta_enc)
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn message(&mut self, id: MessageId) -> StoreResult<Option<MessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM messages WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn replies_to(&mut self, inbound: MessageId) -> StoreResult<Vec<MessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM messages WHERE tenant_id = $1 AND reply_to = $2 ORDER BY part")
                    .bind(self.tenant).bind(inbound).fetch_all(&mut *self.tx).await?)
            }

            async fn recent_messages(&mut self, conversation: ConversationId, limit: i64) -> StoreResult<Vec<MessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM (SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3) AS recent ORDER BY created_at, id")
                    .bind(self.tenant).bind(conversation).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn outbound_by_provider_id(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<Option<MessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM messages WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3 AND direction = 'out'")
                    .bind(self.tenant).bind(channel).bind(provider_message_id).fetch_optional(&mut *self.tx).await?)
            }

            async fn move_message_status(&mut self, id: MessageId, from: &str, to: &str, error_code: Option<&str>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE messages SET status = $4, error_code = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND status = $3")
                    .bind(self.tenant).bind(id).bind(from).bind(to).bind(error_code).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn held_messages(&mut self, conversation: ConversationId) -> StoreResult<Vec<MessageRecord>> {
                Ok(sqlx::query_as("SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND status = 'held' ORDER BY created_at, part, id")
                    .bind(self.tenant).bind(conversation)
                    .fetch_all(&mut *self.tx).await?)
            }

            async fn advance_message_status(&mut self, id: MessageId, u: &StatusChange<'_>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE messages SET status = $3, status_rank = $4, error_code = COALESCE($5, error_code), updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND status_rank < $4")
                    .bind(self.tenant).bind(id).bind(u.status).bind(u.rank).bind(u.error_code).bind($time(u.now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_provider_message_id(&mut self, id: MessageId, provider_message_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE messages SET provider_message_id = $3, sent_at = $4, updated_at = $4, status = CASE WHEN status_rank < 1 THEN 'sent' ELSE status END, status_rank = CASE WHEN status_rank < 1 THEN 1 ELSE status_rank END WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind(provider_message_id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }
        }
    };
}
