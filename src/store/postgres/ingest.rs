//! `IngestOps` on PostgreSQL: whole lists go as array parameters (`= ANY`, `UNNEST`), so every
//! statement has one fixed text and stays prepared. A statement text that changes with the row
//! count is parsed anew each time, and sqlx 0.9 leaves Nagle's algorithm on: each such parse
//! stalled about 40 ms on a delayed ACK (BENCHMARKS.md).
use async_trait::async_trait;
use uuid::Uuid;

use super::PgTx;
use crate::domain::{ChannelId, ContactId, MessageId};
use crate::store::{ContactRecord, ConversationRecord, InboundTouch, IngestOps, JobRecord, MessageRecord, StoreResult};

#[async_trait]
impl IngestOps for PgTx {
    // The lookups probe the unique index once per value (`LATERAL … LIMIT 1` cannot be turned
    // into a scan): a cached generic plan for `= ANY($n)` filtered a whole channel's messages.
    async fn stored_provider_ids(&mut self, channel: ChannelId, ids: &[&str]) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.id FROM UNNEST($3::text[]) AS p(id) CROSS JOIN LATERAL ( \
             SELECT 1 FROM messages WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = p.id LIMIT 1) AS stored",
        )
        .bind(self.tenant)
        .bind(channel)
        .bind(ids)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn contacts_by_indexes(&mut self, bsuid: &[&[u8]], phone: &[&[u8]]) -> StoreResult<Vec<ContactRecord>> {
        Ok(sqlx::query_as(
            "SELECT c.* FROM UNNEST($2::bytea[]) AS k(ix) CROSS JOIN LATERAL ( \
             SELECT * FROM contacts WHERE tenant_id = $1 AND bsuid_index = k.ix LIMIT 1) AS c \
             UNION SELECT c.* FROM UNNEST($3::bytea[]) AS k(ix) CROSS JOIN LATERAL ( \
             SELECT * FROM contacts WHERE tenant_id = $1 AND phone_index = k.ix LIMIT 1) AS c",
        )
        .bind(self.tenant)
        .bind(bsuid)
        .bind(phone)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn open_conversations_of(
        &mut self,
        channel: ChannelId,
        contacts: &[ContactId],
    ) -> StoreResult<Vec<ConversationRecord>> {
        let contacts: Vec<Uuid> = contacts.iter().map(|c| c.0).collect();
        Ok(sqlx::query_as(
            "SELECT v.* FROM UNNEST($3::uuid[]) AS k(contact) CROSS JOIN LATERAL ( \
             SELECT * FROM conversations WHERE tenant_id = $1 AND channel_id = $2 AND contact_id = k.contact \
             AND state <> 'closed') AS v",
        )
        .bind(self.tenant)
        .bind(channel)
        .bind(contacts)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn insert_contacts(&mut self, contacts: &[ContactRecord]) -> StoreResult<usize> {
        let done = sqlx::query(
            "INSERT INTO contacts (id, tenant_id, wrapped_key, bsuid_index, phone_index, bsuid_enc, phone_enc, username_enc, name_enc, created_at, updated_at) \
             SELECT id, $1, wrapped_key, bsuid_index, phone_index, bsuid_enc, phone_enc, username_enc, name_enc, created_at, updated_at \
             FROM UNNEST($2::uuid[], $3::text[], $4::bytea[], $5::bytea[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[]) \
             AS c(id, wrapped_key, bsuid_index, phone_index, bsuid_enc, phone_enc, username_enc, name_enc, created_at, updated_at) \
             ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant)
        .bind(contacts.iter().map(|c| c.id.0).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.wrapped_key.as_str()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.bsuid_index.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.phone_index.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.bsuid_enc.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.phone_enc.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.username_enc.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.name_enc.as_deref()).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.updated_at).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() as usize)
    }

    async fn insert_conversations(&mut self, conversations: &[ConversationRecord]) -> StoreResult<usize> {
        let done = sqlx::query(
            "INSERT INTO conversations (id, tenant_id, channel_id, contact_id, state, escalation_reason, last_inbound_at, created_at, updated_at, chat_index, chat_enc) \
             SELECT id, $1, channel_id, contact_id, state, escalation_reason, last_inbound_at, created_at, updated_at, chat_index, chat_enc \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bytea[], $11::text[]) \
             AS c(id, channel_id, contact_id, state, escalation_reason, last_inbound_at, created_at, updated_at, chat_index, chat_enc) \
             ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant)
        .bind(conversations.iter().map(|c| c.id.0).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.channel_id.0).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.contact_id.0).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.state.as_str()).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.escalation_reason.map(|r| r.as_str())).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.last_inbound_at).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.updated_at).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.chat_index.as_slice()).collect::<Vec<_>>())
        .bind(conversations.iter().map(|c| c.chat_enc.as_deref()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() as usize)
    }

    async fn insert_messages(&mut self, messages: &[MessageRecord]) -> StoreResult<Vec<MessageId>> {
        let column = |f: fn(&MessageRecord) -> Option<&str>| messages.iter().map(f).collect::<Vec<_>>();
        Ok(sqlx::query_scalar(
            "INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, author, kind, body_enc, provider_message_id, reply_to, part, status, status_rank, error_code, sent_at, created_at, updated_at, meta_enc) \
             SELECT id, $1, channel_id, conversation_id, contact_id, direction, author, kind, body_enc, provider_message_id, reply_to, part, status, status_rank, error_code, sent_at, created_at, updated_at, meta_enc \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::int4[], $13::text[], $14::int4[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::text[]) \
             AS m(id, channel_id, conversation_id, contact_id, direction, author, kind, body_enc, provider_message_id, reply_to, part, status, status_rank, error_code, sent_at, created_at, updated_at, meta_enc) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(self.tenant)
        .bind(messages.iter().map(|m| m.id.0).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.channel_id.0).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.conversation_id.0).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.contact_id.0).collect::<Vec<_>>())
        .bind(column(|m| Some(m.direction.as_str())))
        .bind(column(|m| Some(m.author.as_str())))
        .bind(column(|m| Some(m.kind.as_str())))
        .bind(column(|m| m.body_enc.as_deref()))
        .bind(column(|m| m.provider_message_id.as_deref()))
        .bind(messages.iter().map(|m| m.reply_to.map(|r| r.0)).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.part).collect::<Vec<_>>())
        .bind(column(|m| Some(m.status.as_str())))
        .bind(messages.iter().map(|m| m.status_rank).collect::<Vec<_>>())
        .bind(column(|m| m.error_code.as_deref()))
        .bind(messages.iter().map(|m| m.sent_at).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.created_at).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.updated_at).collect::<Vec<_>>())
        .bind(column(|m| m.meta_enc.as_deref()))
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn enqueue_jobs(&mut self, jobs: &[JobRecord]) -> StoreResult<usize> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, tenant_id, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at) \
             SELECT id, $1, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at \
             FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::int4[], $7::int4[], $8::timestamptz[], $9::text[], $10::timestamptz[], $11::text[], $12::timestamptz[], $13::timestamptz[]) \
             AS j(id, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at) \
             ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant)
        .bind(jobs.iter().map(|j| j.id.0).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.subject_id).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.state.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.attempts).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.max_attempts).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.run_at).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.locked_by.as_deref()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.locked_until).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.last_error.as_deref()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.created_at).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.updated_at).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() as usize)
    }

    async fn touch_conversations_inbound(&mut self, touches: &[InboundTouch]) -> StoreResult<()> {
        // Same effect as one `touch_conversation_inbound` per message, in order.
        sqlx::query(
            "UPDATE conversations SET \
             last_inbound_at = CASE WHEN conversations.last_inbound_at IS NULL OR conversations.last_inbound_at < t.latest THEN t.latest ELSE conversations.last_inbound_at END, \
             window_closed_at = NULL, updated_at = t.last \
             FROM UNNEST($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS t(id, latest, last) \
             WHERE conversations.tenant_id = $1 AND conversations.id = t.id",
        )
        .bind(self.tenant)
        .bind(touches.iter().map(|t| t.conversation.0).collect::<Vec<_>>())
        .bind(touches.iter().map(|t| t.latest).collect::<Vec<_>>())
        .bind(touches.iter().map(|t| t.last).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
