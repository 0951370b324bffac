//! The `TenantTx` operations whose SQL is the same on both backends, written once and
//! expanded for each. Each backend passes its transaction type, how it binds a timestamp,
//! and the few methods whose SQL differs (`$specific`).
//!
//! Every query names its tenant (`tenant_id = $1`), on SQLite because there is no RLS and on
//! PostgreSQL as a second fence next to it.

macro_rules! tenant_tx_impl {
    ($ty:ty, time = $time:path, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::TenantTx for $ty {
            $($specific)*

            fn tenant_id(&self) -> TenantId {
                self.tenant
            }

            async fn commit(self: Box<Self>) -> StoreResult<()> {
                Ok(self.tx.commit().await?)
            }

            async fn savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("ROLLBACK TO SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn release_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("RELEASE SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_tenant(&mut self, t: &TenantRecord) -> StoreResult<()> {
                let s = &t.settings;
                sqlx::query("INSERT INTO tenants (id, slug, name, language, status, wrapped_key, media_policy, answer_groups, description, address, opening_hours, tone, monthly_token_budget, budget_notice_month, created_at, escalation_keywords, max_bot_turns, business_hours, timezone, renotify_minutes, customer_notice_minutes, human_idle_hours, message_retention_days, dsar_ack_hours, dsar_answer_hours, digest_time, link_hosts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)")
                    .bind(t.id).bind(&t.slug).bind(&t.name).bind(&s.language).bind(&t.status).bind(&t.wrapped_key)
                    .bind(&s.media_policy).bind(s.answer_groups).bind(&s.description).bind(&s.address)
                    .bind(&s.opening_hours).bind(&s.tone).bind(s.monthly_token_budget).bind(&t.budget_notice_month)
                    .bind($time(t.created_at)).bind(&s.escalation_keywords).bind(s.max_bot_turns).bind(&s.business_hours)
                    .bind(&s.timezone).bind(s.renotify_minutes).bind(s.customer_notice_minutes).bind(s.human_idle_hours)
                    .bind(s.message_retention_days).bind(s.dsar_ack_hours).bind(s.dsar_answer_hours).bind(&s.digest_time).bind(&s.link_hosts)
                    .execute(&mut *self.tx).await?;
                sqlx::query("INSERT INTO tenant_routes (slug, tenant_id) VALUES ($1, $2)")
                    .bind(&t.slug).bind(t.id)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn update_tenant_settings(&mut self, name: &str, s: &crate::tenants::TenantSettings) -> StoreResult<()> {
                sqlx::query("UPDATE tenants SET name = $2, language = $3, media_policy = $4, answer_groups = $5, description = $6, address = $7, opening_hours = $8, tone = $9, monthly_token_budget = $10, escalation_keywords = $11, max_bot_turns = $12, business_hours = $13, timezone = $14, renotify_minutes = $15, customer_notice_minutes = $16, human_idle_hours = $17, message_retention_days = $18, dsar_ack_hours = $19, dsar_answer_hours = $20, digest_time = $21, link_hosts = $22 WHERE id = $1")
                    .bind(self.tenant).bind(name).bind(&s.language).bind(&s.media_policy).bind(s.answer_groups).bind(&s.description)
                    .bind(&s.address).bind(&s.opening_hours).bind(&s.tone).bind(s.monthly_token_budget).bind(&s.escalation_keywords)
                    .bind(s.max_bot_turns).bind(&s.business_hours).bind(&s.timezone).bind(s.renotify_minutes)
                    .bind(s.customer_notice_minutes).bind(s.human_idle_hours)
                    .bind(s.message_retention_days).bind(s.dsar_ack_hours).bind(s.dsar_answer_hours).bind(&s.digest_time).bind(&s.link_hosts)
                    .execute(&mut *self.tx).await?;
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

            async fn insert_kb_entry(&mut self, e: &KbEntry) -> StoreResult<()> {
                sqlx::query("INSERT INTO kb_entries (id, tenant_id, question, answer, keywords, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(e.id).bind(self.tenant).bind(&e.question).bind(&e.answer).bind(&e.keywords).bind($time(e.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn kb_entries(&mut self) -> StoreResult<Vec<KbEntry>> {
                Ok(sqlx::query_as("SELECT * FROM kb_entries WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn update_kb_entry(&mut self, e: &KbEntry) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE kb_entries SET question = $3, answer = $4, keywords = $5 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(e.id).bind(&e.question).bind(&e.answer).bind(&e.keywords)
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_kb_entry(&mut self, id: KbEntryId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM kb_entries WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn clear_kb_entries(&mut self) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM kb_entries WHERE tenant_id = $1").bind(self.tenant).execute(&mut *self.tx).await?.rows_affected())
            }

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

            async fn conversations(&mut self, state: Option<&str>, before: Option<DateTime<Utc>>, limit: i64) -> StoreResult<Vec<ConversationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM conversations WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR updated_at < $3) ORDER BY updated_at DESC, id DESC LIMIT $4")
                    .bind(self.tenant).bind(state).bind(before.map($time)).bind(limit)
                    .fetch_all(&mut *self.tx).await?)
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

            async fn enqueue_job(&mut self, j: &JobRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO jobs (id, tenant_id, kind, subject_id, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING")
                    .bind(j.id).bind(self.tenant).bind(&j.kind).bind(j.subject_id).bind(&j.state).bind(j.attempts).bind(j.max_attempts)
                    .bind($time(j.run_at)).bind(&j.locked_by).bind(j.locked_until.map($time)).bind(&j.last_error)
                    .bind($time(j.created_at)).bind($time(j.updated_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job(&mut self, id: JobId) -> StoreResult<Option<JobRecord>> {
                Ok(sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn note_job(&mut self, id: JobId, worker: &str, note: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> StoreResult<bool> {
                let sql = "UPDATE jobs SET last_error = $4, updated_at = $5, locked_until = $6 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'";
                let noted = sqlx::query(sql).bind(self.tenant).bind(id).bind(worker).bind(note).bind($time(now)).bind($time(lease_until))
                    .execute(&mut *self.tx).await?;
                Ok(noted.rows_affected() == 1)
            }

            async fn finish_job(&mut self, id: JobId, worker: &str, outcome: &JobOutcome<'_>, now: DateTime<Utc>) -> StoreResult<bool> {
                let (sql, run_at, error) = match outcome {
                    JobOutcome::Done => ("UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, updated_at = $4, last_error = NULL WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", None, None),
                    JobOutcome::Retry { run_at, error } => ("UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $4, run_at = $5, last_error = $6 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", Some(*run_at), Some(*error)),
                    JobOutcome::Dead { error } => ("UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, updated_at = $4, last_error = $5 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", None, Some(*error)),
                    JobOutcome::Later { run_at } => ("UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $4, run_at = $5, attempts = 0, last_error = NULL WHERE tenant_id = $1 AND id = $2 AND locked_by = $3 AND state = 'running'", Some(*run_at), None),
                };
                let mut query = sqlx::query(sql).bind(self.tenant).bind(id).bind(worker).bind($time(now));
                if let Some(run_at) = run_at {
                    query = query.bind($time(run_at));
                }
                if let Some(error) = error {
                    query = query.bind(error);
                }
                Ok(query.execute(&mut *self.tx).await?.rows_affected() == 1)
            }

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
                sqlx::query("UPDATE escalations SET status = $3, summary_enc = $4, draft_enc = $5, notified_at = $6, renotified = $7, customer_notified_at = $8, answered_at = $9, last_owner_at = $10, closed_at = $11, closed_by = $12 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(e.id).bind(&e.status).bind(&e.summary_enc).bind(&e.draft_enc).bind(e.notified_at.map($time))
                    .bind(e.renotified).bind(e.customer_notified_at.map($time)).bind(e.answered_at.map($time))
                    .bind(e.last_owner_at.map($time)).bind(e.closed_at.map($time)).bind(&e.closed_by)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_owner_message(&mut self, m: &OwnerMessageRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO owner_messages (id, tenant_id, owner_id, channel_id, escalation_id, contact_id, direction, route, purpose, body_enc, provider_message_id, quoted_provider_id, status, status_rank, error_code, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING")
                    .bind(m.id).bind(self.tenant).bind(m.owner_id).bind(m.channel_id).bind(m.escalation_id).bind(m.contact_id)
                    .bind(&m.direction).bind(&m.route).bind(&m.purpose).bind(&m.body_enc).bind(&m.provider_message_id)
                    .bind(&m.quoted_provider_id).bind(&m.status).bind(m.status_rank).bind(&m.error_code)
                    .bind($time(m.created_at)).bind($time(m.updated_at))
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

            async fn clear_owner_message_body(&mut self, id: OwnerMessageId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE owner_messages SET body_enc = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_user(&mut self, u: &UserRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO users (id, tenant_id, email_index, email_enc, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
                    .bind(u.id).bind(self.tenant).bind(&u.email_index).bind(&u.email_enc).bind(&u.role).bind(&u.password_hash)
                    .bind($time(u.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn user(&mut self, id: UserId) -> StoreResult<Option<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn user_by_email_index(&mut self, index: &[u8]) -> StoreResult<Option<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND email_index = $2")
                    .bind(self.tenant).bind(index).fetch_optional(&mut *self.tx).await?)
            }

            async fn users(&mut self) -> StoreResult<Vec<UserRecord>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn disable_user(&mut self, id: UserId, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE users SET disabled_at = $3 WHERE tenant_id = $1 AND id = $2 AND disabled_at IS NULL")
                    .bind(self.tenant).bind(id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_staff_pin(&mut self, user: UserId, pin_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO staff_pins (user_id, tenant_id, pin_hash, failures, locked_until, updated_at) VALUES ($2, $1, $3, 0, NULL, $4) ON CONFLICT (user_id) DO UPDATE SET pin_hash = $3, failures = 0, locked_until = NULL, updated_at = $4")
                    .bind(self.tenant).bind(user).bind(pin_hash).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn staff_pin(&mut self, user: UserId) -> StoreResult<Option<StaffPinRecord>> {
                Ok(sqlx::query_as("SELECT * FROM staff_pins WHERE tenant_id = $1 AND user_id = $2")
                    .bind(self.tenant).bind(user).fetch_optional(&mut *self.tx).await?)
            }

            async fn reserve_pin_attempt(&mut self, user: UserId, max: i32, lock_until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<Option<(String, i32)>> {
                // A row that passes the WHERE with a lock set has an expired lock: count from 1 again.
                Ok(sqlx::query_as("UPDATE staff_pins SET \
                    failures = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END, \
                    locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failures + 1 END) >= $3 THEN $4 ELSE NULL END, \
                    updated_at = $5 \
                    WHERE tenant_id = $1 AND user_id = $2 AND (locked_until IS NULL OR locked_until <= $5) \
                    RETURNING pin_hash, failures")
                    .bind(self.tenant).bind(user).bind(max).bind($time(lock_until)).bind($time(now))
                    .fetch_optional(&mut *self.tx).await?)
            }

            async fn clear_pin_failures(&mut self, user: UserId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE staff_pins SET failures = 0, locked_until = NULL, updated_at = $3 WHERE tenant_id = $1 AND user_id = $2")
                    .bind(self.tenant).bind(user).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn revoke_token(&mut self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO revoked_tokens (jti, tenant_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, jti) DO NOTHING")
                    .bind(jti).bind(self.tenant).bind($time(now)).bind($time(expires_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
                let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM revoked_tokens WHERE tenant_id = $1 AND jti = $2")
                    .bind(self.tenant).bind(jti).fetch_optional(&mut *self.tx).await?;
                Ok(found.is_some())
            }

            async fn insert_llm_usage(&mut self, u: &LlmUsage) -> StoreResult<()> {
                sqlx::query("INSERT INTO llm_usage (id, tenant_id, message_id, model, outcome, prompt_tokens, completion_tokens, latency_ms, cost_micro_usd, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(u.id).bind(self.tenant).bind(u.message_id).bind(&u.call.model).bind(&u.call.outcome).bind(u.call.prompt_tokens)
                    .bind(u.call.completion_tokens).bind(u.call.latency_ms).bind(u.call.cost_micro_usd).bind($time(u.at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn llm_tokens_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64> {
                let total: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM llm_usage WHERE tenant_id = $1 AND at >= $2")
                    .bind(self.tenant).bind($time(since)).fetch_one(&mut *self.tx).await?;
                Ok(total.unwrap_or(0))
            }

            async fn mark_budget_notice(&mut self, month: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE tenants SET budget_notice_month = $2 WHERE id = $1 AND (budget_notice_month IS NULL OR budget_notice_month <> $2)")
                    .bind(self.tenant).bind(month).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn audit_rows_after(&mut self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                    .bind(self.tenant).bind(after_seq).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn audit_head(&mut self) -> StoreResult<Option<AuditHead>> {
                Ok(sqlx::query_as("SELECT seq, hash, key_id FROM audit_heads WHERE tenant_id = $1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }
        }
    };
}
