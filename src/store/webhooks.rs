//! A shop's webhook endpoints and the deliveries queued for them. A supertrait of `TenantTx`;
//! the signing and sending live in `crate::webhooks`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreResult, TenantScoped};
use crate::domain::TenantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookEndpointRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub url: String,
    /// The event types it takes, space-separated.
    pub events: String,
    /// Whether payloads carry message text and phone numbers (the owner chose so, audited).
    pub include_content: bool,
    /// The `whsec_…` secret, encrypted under the tenant's data key.
    pub secret_enc: String,
    /// The secret before the last rotation, which also signs until `previous_until`.
    pub previous_secret_enc: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    /// `enabled` or `disabled`.
    pub state: String,
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last delivered one.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpointRecord {
    pub fn takes(&self, event: &str) -> bool {
        self.events.split(' ').any(|e| e == event)
    }

    pub fn enabled(&self) -> bool {
        self.state == "enabled"
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookDeliveryRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub endpoint_id: Uuid,
    /// The `webhook-id` header: the same on every attempt and replay.
    pub message_id: String,
    pub event_type: String,
    /// The JSON body without the masked label and content, which are added when it is sent.
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What one attempt ended in, recorded on its delivery.
#[derive(Debug, Clone)]
pub struct WebhookAttempt<'a> {
    /// The delivery's state after it: `pending` (another attempt is due), `delivered` or `failed`.
    pub state: &'a str,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub next: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait WebhookOps: TenantScoped + Send {
    async fn insert_webhook_endpoint(&mut self, endpoint: &WebhookEndpointRecord) -> StoreResult<()>;
    async fn webhook_endpoints(&mut self) -> StoreResult<Vec<WebhookEndpointRecord>>;
    async fn webhook_endpoint(&mut self, id: Uuid) -> StoreResult<Option<WebhookEndpointRecord>>;
    /// The enabled endpoints, for queueing an event.
    async fn enabled_webhook_endpoints(&mut self) -> StoreResult<Vec<WebhookEndpointRecord>>;
    /// Deletes the endpoint and its deliveries; false when there was none.
    async fn delete_webhook_endpoint(&mut self, id: Uuid) -> StoreResult<bool>;
    /// Installs a new secret; the current one becomes the previous until `previous_until`.
    async fn rotate_webhook_secret(
        &mut self,
        id: Uuid,
        secret_enc: &str,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Enables (clearing the failure streak) or disables the endpoint; false when it was already so.
    async fn set_webhook_endpoint_state(
        &mut self,
        id: Uuid,
        state: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Starts the failure streak at `at` unless one runs (`Some`), or ends it (`None`).
    async fn set_webhook_failing(&mut self, id: Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()>;
    async fn insert_webhook_deliveries(&mut self, deliveries: &[WebhookDeliveryRecord]) -> StoreResult<()>;
    async fn webhook_delivery(&mut self, id: Uuid) -> StoreResult<Option<WebhookDeliveryRecord>>;
    /// The endpoint's deliveries, newest first.
    async fn webhook_deliveries(&mut self, endpoint: Uuid, limit: i64) -> StoreResult<Vec<WebhookDeliveryRecord>>;
    async fn record_webhook_attempt(&mut self, id: Uuid, attempt: &WebhookAttempt<'_>) -> StoreResult<bool>;
    /// Makes a settled delivery pending again with a fresh schedule (a replay).
    async fn reopen_webhook_delivery(&mut self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
}

/// `WebhookOps` SQL, the same on both backends. Every statement names its tenant.
macro_rules! webhook_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::WebhookOps for $ty {
            async fn insert_webhook_endpoint(&mut self, e: &$crate::store::WebhookEndpointRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO webhook_endpoints (id, tenant_id, url, events, include_content, secret_enc, previous_secret_enc, previous_until, state, disabled_reason, failing_since, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, NULL, NULL, $8, $9, $9)")
                    .bind(e.id).bind(self.tenant).bind(&e.url).bind(&e.events).bind(e.include_content).bind(&e.secret_enc)
                    .bind(&e.state).bind(&e.created_by).bind($time(e.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn webhook_endpoints(&mut self) -> StoreResult<Vec<$crate::store::WebhookEndpointRecord>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn webhook_endpoint(&mut self, id: uuid::Uuid) -> StoreResult<Option<$crate::store::WebhookEndpointRecord>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn enabled_webhook_endpoints(&mut self) -> StoreResult<Vec<$crate::store::WebhookEndpointRecord>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND state = 'enabled' ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn delete_webhook_endpoint(&mut self, id: uuid::Uuid) -> StoreResult<bool> {
                sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                let done = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn rotate_webhook_secret(&mut self, id: uuid::Uuid, secret_enc: &str, previous_until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE webhook_endpoints SET previous_secret_enc = secret_enc, secret_enc = $3, previous_until = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind(secret_enc).bind($time(previous_until)).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_webhook_endpoint_state(&mut self, id: uuid::Uuid, state: &str, reason: Option<&str>, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE webhook_endpoints SET state = $3, disabled_reason = $4, failing_since = NULL, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND state <> $3")
                    .bind(self.tenant).bind(id).bind(state).bind(reason).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_webhook_failing(&mut self, id: uuid::Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()> {
                let query = match at {
                    Some(at) => sqlx::query("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3) WHERE tenant_id = $1 AND id = $2").bind(self.tenant).bind(id).bind($time(at)),
                    None => sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE tenant_id = $1 AND id = $2").bind(self.tenant).bind(id),
                };
                query.execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_webhook_deliveries(&mut self, deliveries: &[$crate::store::WebhookDeliveryRecord]) -> StoreResult<()> {
                // Multi-row: a burst of messages for a busy endpoint costs one statement per run.
                let tenant = self.tenant;
                for chunk in deliveries.chunks($crate::store::ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::new("INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, message_id, event_type, payload, state, attempts, next_attempt_at, created_at) ");
                    insert.push_values(chunk, |mut row, d| {
                        row.push_bind(d.id).push_bind(tenant).push_bind(d.endpoint_id).push_bind(&d.message_id)
                            .push_bind(&d.event_type).push_bind(&d.payload).push("'pending'").push("0")
                            .push_bind($time(d.created_at)).push_bind($time(d.created_at));
                    });
                    insert.build().execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            async fn webhook_delivery(&mut self, id: uuid::Uuid) -> StoreResult<Option<$crate::store::WebhookDeliveryRecord>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn webhook_deliveries(&mut self, endpoint: uuid::Uuid, limit: i64) -> StoreResult<Vec<$crate::store::WebhookDeliveryRecord>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3")
                    .bind(self.tenant).bind(endpoint).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn record_webhook_attempt(&mut self, id: uuid::Uuid, a: &$crate::store::WebhookAttempt<'_>) -> StoreResult<bool> {
                let delivered = (a.state == "delivered").then_some(a.at);
                let done = sqlx::query("UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, last_status = $4, last_error = $5, last_attempt_at = $6, next_attempt_at = $7, delivered_at = COALESCE($8, delivered_at) WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).bind(a.state).bind(a.status).bind(a.error).bind($time(a.at))
                    .bind(a.next.map($time)).bind(delivered.map($time))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn reopen_webhook_delivery(&mut self, id: uuid::Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $3 WHERE tenant_id = $1 AND id = $2 AND state <> 'pending'")
                    .bind(self.tenant).bind(id).bind($time(now))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
