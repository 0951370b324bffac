//! `IngestOps` on SQLite: lists become multi-row statements and `IN (…)` lists, split so no
//! statement exceeds SQLite's bind limit. (No network: a statement text that changes with the
//! row count costs only its parse here; PostgreSQL uses arrays instead.)
use async_trait::async_trait;

use super::{SqliteTx, sql_time};
use crate::domain::{ChannelId, ContactId, MessageId};
use crate::store::{
    ContactRecord, ConversationRecord, InboundTouch, IngestOps, JobRecord, MessageRecord, ROWS_PER_STATEMENT,
    StoreResult,
};

#[async_trait]
impl IngestOps for SqliteTx {
    async fn stored_provider_ids(&mut self, channel: ChannelId, ids: &[&str]) -> StoreResult<Vec<String>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let mut select = sqlx::QueryBuilder::new("SELECT provider_message_id FROM messages WHERE tenant_id = ");
            select
                .push_bind(self.tenant)
                .push(" AND channel_id = ")
                .push_bind(channel)
                .push(" AND provider_message_id IS NOT NULL AND provider_message_id IN (");
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            select.push(")");
            found.extend(select.build_query_scalar::<String>().fetch_all(&mut *self.tx).await?);
        }
        Ok(found)
    }

    async fn contacts_by_indexes(&mut self, bsuid: &[&[u8]], phone: &[&[u8]]) -> StoreResult<Vec<ContactRecord>> {
        let mut found = Vec::new();
        // `IS NOT NULL` lets both backends use the partial unique indexes.
        for (column, indexes) in [("bsuid_index", bsuid), ("phone_index", phone)] {
            for chunk in indexes.chunks(ROWS_PER_STATEMENT) {
                let mut select = sqlx::QueryBuilder::new("SELECT * FROM contacts WHERE tenant_id = ");
                select.push_bind(self.tenant).push(format_args!(" AND {column} IS NOT NULL AND {column} IN ("));
                let mut list = select.separated(", ");
                for index in chunk {
                    list.push_bind(*index);
                }
                select.push(")");
                found.extend(select.build_query_as::<ContactRecord>().fetch_all(&mut *self.tx).await?);
            }
        }
        found.sort_by_key(|c: &ContactRecord| c.id);
        found.dedup_by_key(|c| c.id);
        Ok(found)
    }

    async fn open_conversations_of(
        &mut self,
        channel: ChannelId,
        contacts: &[ContactId],
    ) -> StoreResult<Vec<ConversationRecord>> {
        let mut found = Vec::new();
        for chunk in contacts.chunks(ROWS_PER_STATEMENT) {
            let mut select = sqlx::QueryBuilder::new("SELECT * FROM conversations WHERE tenant_id = ");
            select
                .push_bind(self.tenant)
                .push(" AND channel_id = ")
                .push_bind(channel)
                .push(" AND state <> 'closed' AND contact_id IN (");
            let mut list = select.separated(", ");
            for contact in chunk {
                list.push_bind(*contact);
            }
            select.push(")");
            found.extend(select.build_query_as::<ConversationRecord>().fetch_all(&mut *self.tx).await?);
        }
        Ok(found)
    }

    async fn insert_contacts(&mut self, contacts: &[ContactRecord]) -> StoreResult<usize> {
        let tenant = self.tenant;
        let mut inserted = 0;
        for chunk in contacts.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO contacts (id, tenant_id, wrapped_key, bsuid_index, phone_index, bsuid_enc, phone_enc, username_enc, name_enc, created_at, updated_at) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(c.id)
                    .push_bind(tenant)
                    .push_bind(&c.wrapped_key)
                    .push_bind(&c.bsuid_index)
                    .push_bind(&c.phone_index)
                    .push_bind(&c.bsuid_enc)
                    .push_bind(&c.phone_enc)
                    .push_bind(&c.username_enc)
                    .push_bind(&c.name_enc)
                    .push_bind(sql_time(c.created_at))
                    .push_bind(sql_time(c.updated_at));
            });
            insert.push(" ON CONFLICT DO NOTHING");
            inserted += insert.build().execute(&mut *self.tx).await?.rows_affected() as usize;
        }
        Ok(inserted)
    }

    async fn insert_conversations(&mut self, conversations: &[ConversationRecord]) -> StoreResult<usize> {
        let tenant = self.tenant;
        let mut inserted = 0;
        for chunk in conversations.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO conversations (id, tenant_id, channel_id, contact_id, state, escalation_reason, last_inbound_at, created_at, updated_at, chat_index, chat_enc) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(c.id)
                    .push_bind(tenant)
                    .push_bind(c.channel_id)
                    .push_bind(c.contact_id)
                    .push_bind(c.state)
                    .push_bind(c.escalation_reason)
                    .push_bind(c.last_inbound_at.map(sql_time))
                    .push_bind(sql_time(c.created_at))
                    .push_bind(sql_time(c.updated_at))
                    .push_bind(&c.chat_index)
                    .push_bind(&c.chat_enc);
            });
            insert.push(" ON CONFLICT DO NOTHING");
            inserted += insert.build().execute(&mut *self.tx).await?.rows_affected() as usize;
        }
        Ok(inserted)
    }

    async fn insert_messages(&mut self, messages: &[MessageRecord]) -> StoreResult<Vec<MessageId>> {
        let tenant = self.tenant;
        let mut inserted = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, author, kind, body_enc, provider_message_id, reply_to, part, status, status_rank, error_code, sent_at, created_at, updated_at, meta_enc) ",
            );
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(m.id)
                    .push_bind(tenant)
                    .push_bind(m.channel_id)
                    .push_bind(m.conversation_id)
                    .push_bind(m.contact_id)
                    .push_bind(m.direction)
                    .push_bind(m.author)
                    .push_bind(m.kind)
                    .push_bind(&m.body_enc)
                    .push_bind(&m.provider_message_id)
                    .push_bind(m.reply_to)
                    .push_bind(m.part)
                    .push_bind(&m.status)
                    .push_bind(m.status_rank)
                    .push_bind(&m.error_code)
                    .push_bind(m.sent_at.map(sql_time))
                    .push_bind(sql_time(m.created_at))
                    .push_bind(sql_time(m.updated_at))
                    .push_bind(&m.meta_enc);
            });
            insert.push(" ON CONFLICT DO NOTHING RETURNING id");
            inserted.extend(insert.build_query_scalar::<MessageId>().fetch_all(&mut *self.tx).await?);
        }
        Ok(inserted)
    }

    async fn enqueue_jobs(&mut self, jobs: &[JobRecord]) -> StoreResult<usize> {
        let tenant = self.tenant;
        let mut inserted = 0;
        for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO jobs (id, tenant_id, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at) ",
            );
            insert.push_values(chunk, |mut row, j| {
                row.push_bind(j.id)
                    .push_bind(tenant)
                    .push_bind(j.kind)
                    .push_bind(j.subject_id)
                    .push_bind(j.state)
                    .push_bind(j.attempts)
                    .push_bind(j.max_attempts)
                    .push_bind(sql_time(j.run_at))
                    .push_bind(&j.locked_by)
                    .push_bind(j.locked_until.map(sql_time))
                    .push_bind(&j.last_error)
                    .push_bind(sql_time(j.created_at))
                    .push_bind(sql_time(j.updated_at));
            });
            insert.push(" ON CONFLICT DO NOTHING");
            inserted += insert.build().execute(&mut *self.tx).await?.rows_affected() as usize;
        }
        Ok(inserted)
    }

    async fn touch_conversations_inbound(&mut self, touches: &[InboundTouch]) -> StoreResult<()> {
        for chunk in touches.chunks(ROWS_PER_STATEMENT) {
            let mut update = sqlx::QueryBuilder::new("WITH touch (id, latest, last) AS (");
            update.push_values(chunk, |mut row, t| {
                row.push_bind(t.conversation).push_bind(sql_time(t.latest)).push_bind(sql_time(t.last));
            });
            // Same effect as one `touch_conversation_inbound` per message, in order.
            update.push(") UPDATE conversations SET \
                last_inbound_at = CASE WHEN conversations.last_inbound_at IS NULL OR conversations.last_inbound_at < touch.latest THEN touch.latest ELSE conversations.last_inbound_at END, \
                window_closed_at = NULL, updated_at = touch.last FROM touch WHERE conversations.tenant_id = ");
            update.push_bind(self.tenant).push(" AND conversations.id = touch.id");
            update.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}
