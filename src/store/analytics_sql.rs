//! `AnalyticsOps` SQL, the same on both backends. Every statement names its tenant.

macro_rules! analytics_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::AnalyticsOps for $ty {
            async fn analytics_rolled_through(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT rolled_through FROM analytics_state WHERE tenant_id = $1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn set_analytics_rolled_through(&mut self, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO analytics_state (tenant_id, rolled_through) VALUES ($1, $2) \
                    ON CONFLICT (tenant_id) DO UPDATE SET rolled_through = excluded.rolled_through")
                    .bind(self.tenant).bind($time(at)).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn first_message_at(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT created_at FROM messages WHERE tenant_id = $1 ORDER BY created_at LIMIT 1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }

            async fn message_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<$crate::store::MessageFact>> {
                Ok(sqlx::query_as("SELECT id, conversation_id, contact_id, direction, author, reply_to, created_at, sent_at FROM messages \
                    WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
                    UNION ALL \
                    SELECT r.id, r.conversation_id, r.contact_id, r.direction, r.author, r.reply_to, r.created_at, r.sent_at \
                    FROM messages i JOIN messages r ON r.reply_to = i.id AND r.tenant_id = $1 \
                    WHERE i.tenant_id = $1 AND i.direction = 'in' AND i.created_at >= $2 AND i.created_at < $3 AND r.created_at >= $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn escalations_changed_since(&mut self, since: DateTime<Utc>) -> StoreResult<Vec<EscalationRecord>> {
                Ok(sqlx::query_as("SELECT * FROM escalations WHERE tenant_id = $1 AND (opened_at >= $2 OR answered_at >= $2 OR closed_at >= $2 OR closed_at IS NULL)")
                    .bind(self.tenant).bind($time(since)).fetch_all(&mut *self.tx).await?)
            }

            async fn llm_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<(i64, i64, i64, i64)> {
                Ok(sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micro_usd), 0) AS BIGINT) \
                    FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?)
            }

            async fn dead_letters_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state = 'dead' AND updated_at >= $2 AND updated_at < $3")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_one(&mut *self.tx).await?)
            }

            async fn dead_letter_count(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state = 'dead'")
                    .bind(self.tenant).fetch_one(&mut *self.tx).await?)
            }

            async fn upsert_conversation_days(&mut self, rows: &[$crate::store::ConversationDay]) -> StoreResult<()> {
                for r in rows {
                    sqlx::query("INSERT INTO analytics_conversation_days (tenant_id, day, week, conversation_id, contact_id, inbound, bot_out, owner_out, system_out, escalated, bot_first_response_ms) \
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, day, conversation_id) DO UPDATE SET \
                        inbound = excluded.inbound, bot_out = excluded.bot_out, owner_out = excluded.owner_out, system_out = excluded.system_out, \
                        escalated = excluded.escalated, bot_first_response_ms = excluded.bot_first_response_ms")
                        .bind(self.tenant).bind(&r.day).bind(&r.week).bind(r.conversation_id).bind(r.contact_id).bind(r.inbound)
                        .bind(r.bot_out).bind(r.owner_out).bind(r.system_out).bind(r.escalated).bind(r.bot_first_response_ms)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn upsert_ticket_facts(&mut self, rows: &[$crate::store::TicketFact]) -> StoreResult<()> {
                for r in rows {
                    sqlx::query("INSERT INTO analytics_tickets (tenant_id, ticket_id, reason, opened_at, answered_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6) \
                        ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET reason = excluded.reason, answered_at = excluded.answered_at, closed_at = excluded.closed_at")
                        .bind(self.tenant).bind(r.ticket_id).bind(&r.reason).bind($time(r.opened_at))
                        .bind(r.answered_at.map($time)).bind(r.closed_at.map($time))
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn set_day_metrics(&mut self, day: &str, week: &str, metrics: &[(&str, i64)]) -> StoreResult<()> {
                for (metric, value) in metrics {
                    sqlx::query("INSERT INTO analytics_days (tenant_id, day, week, metric, value) VALUES ($1, $2, $3, $4, $5) \
                        ON CONFLICT (tenant_id, day, metric) DO UPDATE SET value = excluded.value")
                        .bind(self.tenant).bind(day).bind(week).bind(*metric).bind(*value)
                        .execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn relabel_conversation_days(&mut self, conversation: ConversationId, new_conversation: ConversationId, new_contact: ContactId) -> StoreResult<()> {
                sqlx::query("UPDATE analytics_conversation_days SET conversation_id = $3, contact_id = $4 WHERE tenant_id = $1 AND conversation_id = $2")
                    .bind(self.tenant).bind(conversation).bind(new_conversation).bind(new_contact)
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn relabel_ticket_fact(&mut self, ticket: EscalationId, new_ticket: EscalationId) -> StoreResult<()> {
                sqlx::query("UPDATE analytics_tickets SET ticket_id = $3 WHERE tenant_id = $1 AND ticket_id = $2")
                    .bind(self.tenant).bind(ticket).bind(new_ticket).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn conversation_totals(&mut self, from: &str, to: &str, grouping: $crate::store::Grouping) -> StoreResult<Vec<$crate::store::ConversationTotals>> {
                // Per conversation first (its bucket's sums), then per bucket: distinct counts stay exact for weeks.
                let sql = format!("SELECT bucket, CAST(SUM(inb) AS BIGINT) AS inbound, CAST(SUM(bot) AS BIGINT) AS bot_out, CAST(SUM(own) AS BIGINT) AS owner_out, CAST(SUM(sys) AS BIGINT) AS system_out, \
                    COUNT(DISTINCT CASE WHEN inb > 0 THEN contact_id END) AS customers, \
                    CAST(SUM(CASE WHEN inb > 0 THEN 1 ELSE 0 END) AS BIGINT) AS conversations, \
                    CAST(SUM(CASE WHEN inb > 0 AND bot > 0 AND own = 0 AND esc = 0 THEN 1 ELSE 0 END) AS BIGINT) AS bot_resolved, \
                    CAST(SUM(CASE WHEN inb > 0 AND esc > 0 THEN 1 ELSE 0 END) AS BIGINT) AS escalated \
                    FROM (SELECT {col} AS bucket, conversation_id, contact_id, SUM(inbound) AS inb, SUM(bot_out) AS bot, SUM(owner_out) AS own, \
                          SUM(system_out) AS sys, SUM(escalated) AS esc \
                          FROM analytics_conversation_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3 \
                          GROUP BY 1, conversation_id, contact_id) per_conversation \
                    GROUP BY bucket ORDER BY bucket", col = grouping.column());
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(self.tenant).bind(from).bind(to).fetch_all(&mut *self.tx).await?)
            }

            async fn first_response_histogram(&mut self, from: &str, to: &str, grouping: $crate::store::Grouping) -> StoreResult<Vec<(String, i64, i64)>> {
                let sql = format!("SELECT {col} AS bucket, bot_first_response_ms, COUNT(*) FROM analytics_conversation_days \
                    WHERE tenant_id = $1 AND day >= $2 AND day <= $3 AND bot_first_response_ms IS NOT NULL \
                    GROUP BY 1, 2 ORDER BY 1, 2", col = grouping.column());
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(self.tenant).bind(from).bind(to).fetch_all(&mut *self.tx).await?)
            }

            async fn day_metric_totals(&mut self, from: &str, to: &str, grouping: $crate::store::Grouping) -> StoreResult<Vec<(String, String, i64)>> {
                let sql = format!("SELECT {col} AS bucket, metric, CAST(SUM(value) AS BIGINT) FROM analytics_days \
                    WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY 1, 2 ORDER BY 1, 2", col = grouping.column());
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(self.tenant).bind(from).bind(to).fetch_all(&mut *self.tx).await?)
            }

            async fn ticket_facts(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<$crate::store::TicketFact>> {
                Ok(sqlx::query_as("SELECT ticket_id, reason, opened_at, answered_at, closed_at FROM analytics_tickets \
                    WHERE tenant_id = $1 AND opened_at < $3 AND (closed_at IS NULL OR closed_at >= $2) ORDER BY opened_at")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }

            async fn data_request_spans(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>> {
                Ok(sqlx::query_as("SELECT received_at, answered_at FROM dsar_requests \
                    WHERE tenant_id = $1 AND received_at < $3 AND (answered_at IS NULL OR answered_at >= $2)")
                    .bind(self.tenant).bind($time(from)).bind($time(to)).fetch_all(&mut *self.tx).await?)
            }
        }
    };
}
