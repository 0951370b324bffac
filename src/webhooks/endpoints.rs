//! The owner's webhook endpoints: register (the secret is shown once), list, delete, rotate the
//! secret, enable again, and the deliveries with their replay. Every one is audited. The API
//! and the CLI are thin adapters over these.
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{EVENTS, ROTATION_OVERLAP, Secret, Sender};
use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::core::Core;
use crate::domain::TenantId;
use crate::jobs::JobKind;
use crate::owner::notify::{About, to_owners};
use crate::owner::texts::OwnerTexts;
use crate::store::{JobRecord, Store, StoreResult, TenantTx, WebhookDeliveryRecord, WebhookEndpointRecord};
use crate::tenants;
use crate::usecase::{UseCaseError, UseCaseResult};

/// Endpoints one tenant may have: each event is sent to each of them.
pub const MAX_ENDPOINTS: usize = 10;
const MAX_URL_CHARS: usize = 2048;
/// Deliveries one listing shows at most.
pub const MAX_LISTED: i64 = 200;

/// What the owner asks for.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub include_content: bool,
}

/// An endpoint as the owner sees it: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub include_content: bool,
    /// `enabled` or `disabled`.
    pub state: String,
    /// `gone` (the endpoint answered 410) or `failing_5_days`.
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation also signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<WebhookEndpointRecord> for EndpointView {
    fn from(e: WebhookEndpointRecord) -> Self {
        Self {
            id: e.id,
            events: e.events.split(' ').map(str::to_string).collect(),
            url: e.url,
            include_content: e.include_content,
            state: e.state,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_until: e.previous_until,
            created_at: e.created_at,
        }
    }
}

/// A delivery as listed: its state and last attempt, never its body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header it is sent with.
    pub webhook_id: String,
    pub event_type: String,
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

impl From<WebhookDeliveryRecord> for DeliveryView {
    fn from(d: WebhookDeliveryRecord) -> Self {
        Self {
            id: d.id,
            webhook_id: d.message_id,
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

/// A new secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct WithSecret {
    pub endpoint: EndpointView,
    pub secret: String,
}

fn not_found() -> UseCaseError {
    UseCaseError::not_found("webhook_endpoint_not_found", "no such webhook endpoint")
}

/// The events asked for, checked and without repeats, in the catalogue's order.
fn checked_events(asked: &[String]) -> UseCaseResult<Vec<&'static str>> {
    if let Some(unknown) = asked.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        let detail = format!("unknown event type {unknown:?}; known: {}", EVENTS.join(", "));
        return Err(UseCaseError::invalid("unknown_event", detail));
    }
    let events: Vec<&'static str> = EVENTS.into_iter().filter(|e| asked.iter().any(|a| a == e)).collect();
    if events.is_empty() {
        return Err(UseCaseError::invalid("no_events", "name at least one event type"));
    }
    Ok(events)
}

/// Registers an endpoint after the outbound guard vetted its URL; answers its secret once.
pub async fn create(
    (store, keys): (&dyn Store, &Keys),
    sender: &Sender,
    (tenant, actor): (TenantId, &str),
    new: NewEndpoint,
    now: DateTime<Utc>,
) -> UseCaseResult<WithSecret> {
    let events = checked_events(&new.events)?;
    let url = new.url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(UseCaseError::invalid("url_too_long", format!("at most {MAX_URL_CHARS} characters")));
    }
    let url =
        sender.guard.vet(url).await.map_err(|refused| {
            UseCaseError::invalid(refused.code(), format!("the endpoint URL is refused: {refused}"))
        })?;
    let mut tx = store.begin(tenant).await?;
    if tx.webhook_endpoints().await?.len() >= MAX_ENDPOINTS {
        let detail = format!("a business has at most {MAX_ENDPOINTS} webhook endpoints");
        return Err(UseCaseError::conflict("too_many_endpoints", detail));
    }
    let key = tenants::data_key(&mut *tx, keys).await?;
    let secret = Secret::generate();
    let record = WebhookEndpointRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        url: url.to_string(),
        events: events.join(" "),
        include_content: new.include_content,
        secret_enc: key.encrypt(secret.expose()),
        previous_secret_enc: None,
        previous_until: None,
        state: "enabled".into(),
        disabled_reason: None,
        failing_since: None,
        created_by: actor.to_string(),
        created_at: now,
        updated_at: now,
    };
    tx.insert_webhook_endpoint(&record).await?;
    // The host only: a URL may carry the receiver's own token in its path or query.
    let detail = json!({ "host": url.host_str(), "events": events, "include_content": new.include_content });
    let entry = AuditEntry::new(actor, "webhook.endpoint_created", "webhook_endpoint", Some(record.id.to_string()));
    audit::append(&mut *tx, vec![entry.detail(detail)], now).await?;
    tx.commit().await?;
    Ok(WithSecret { endpoint: record.into(), secret: secret.expose().to_string() })
}

pub async fn list(
    store: &dyn Store,
    (tenant, actor): (TenantId, &str),
    now: DateTime<Utc>,
) -> UseCaseResult<Vec<EndpointView>> {
    let mut tx = store.begin(tenant).await?;
    let endpoints = tx.webhook_endpoints().await?;
    let entry = AuditEntry::new(actor, "webhook.endpoints_listed", "tenant", Some(tenant.to_string()));
    audit::append(&mut *tx, vec![entry.detail(json!({ "count": endpoints.len() }))], now).await?;
    tx.commit().await?;
    Ok(endpoints.into_iter().map(EndpointView::from).collect())
}

pub async fn delete(
    store: &dyn Store,
    (tenant, actor): (TenantId, &str),
    id: Uuid,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let mut tx = store.begin(tenant).await?;
    if !tx.delete_webhook_endpoint(id).await? {
        return Err(not_found());
    }
    let entry = AuditEntry::new(actor, "webhook.endpoint_deleted", "webhook_endpoint", Some(id.to_string()));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(())
}

/// A new secret; the old one keeps signing beside it for `ROTATION_OVERLAP`.
pub async fn rotate(
    (store, keys): (&dyn Store, &Keys),
    (tenant, actor): (TenantId, &str),
    id: Uuid,
    now: DateTime<Utc>,
) -> UseCaseResult<WithSecret> {
    let mut tx = store.begin(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let secret = Secret::generate();
    let until = now + ROTATION_OVERLAP;
    if !tx.rotate_webhook_secret(id, &key.encrypt(secret.expose()), until, now).await? {
        return Err(not_found());
    }
    let endpoint = tx.webhook_endpoint(id).await?.ok_or_else(not_found)?;
    let entry = AuditEntry::new(actor, "webhook.secret_rotated", "webhook_endpoint", Some(id.to_string()))
        .detail(json!({ "previous_until": until }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(WithSecret { endpoint: endpoint.into(), secret: secret.expose().to_string() })
}

/// Enables a disabled endpoint again; deliveries settled meanwhile can be replayed.
pub async fn enable(
    store: &dyn Store,
    (tenant, actor): (TenantId, &str),
    id: Uuid,
    now: DateTime<Utc>,
) -> UseCaseResult<EndpointView> {
    let mut tx = store.begin(tenant).await?;
    let changed = tx.set_webhook_endpoint_state(id, "enabled", None, now).await?;
    let endpoint = tx.webhook_endpoint(id).await?.ok_or_else(not_found)?;
    if changed {
        let entry = AuditEntry::new(actor, "webhook.endpoint_enabled", "webhook_endpoint", Some(id.to_string()));
        audit::append(&mut *tx, vec![entry], now).await?;
    }
    tx.commit().await?;
    Ok(endpoint.into())
}

pub async fn deliveries(
    store: &dyn Store,
    (tenant, actor): (TenantId, &str),
    id: Uuid,
    now: DateTime<Utc>,
) -> UseCaseResult<Vec<DeliveryView>> {
    let mut tx = store.begin(tenant).await?;
    tx.webhook_endpoint(id).await?.ok_or_else(not_found)?;
    let deliveries = tx.webhook_deliveries(id, MAX_LISTED).await?;
    let entry = AuditEntry::new(actor, "webhook.deliveries_listed", "webhook_endpoint", Some(id.to_string()))
        .detail(json!({ "count": deliveries.len() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(deliveries.into_iter().map(DeliveryView::from).collect())
}

/// Sends a settled delivery again, with the same `webhook-id` and a fresh schedule; the caller
/// wakes a worker.
pub async fn replay(
    store: &dyn Store,
    (tenant, actor): (TenantId, &str),
    (endpoint, delivery): (Uuid, Uuid),
    now: DateTime<Utc>,
) -> UseCaseResult<DeliveryView> {
    let mut tx = store.begin(tenant).await?;
    let found = tx.webhook_endpoint(endpoint).await?.ok_or_else(not_found)?;
    let missing = || UseCaseError::not_found("webhook_delivery_not_found", "no such delivery of this endpoint");
    let record = tx.webhook_delivery(delivery).await?.filter(|d| d.endpoint_id == endpoint).ok_or_else(missing)?;
    if !found.enabled() {
        return Err(UseCaseError::conflict("endpoint_disabled", "enable the endpoint before replaying to it"));
    }
    if !tx.reopen_webhook_delivery(record.id, now).await? {
        return Err(UseCaseError::conflict("delivery_pending", "the delivery is still being attempted"));
    }
    let job = JobRecord::new(tenant, JobKind::WebhookDelivery, record.id, super::queue::JOB_ATTEMPTS, now);
    if !tx.rerun_job(JobKind::WebhookDelivery, record.id, now).await? {
        tx.enqueue_job(&job).await?;
    }
    let entry = AuditEntry::new(actor, "webhook.replayed", "webhook_delivery", Some(record.id.to_string()))
        .detail(json!({ "endpoint": endpoint, "event": record.event_type, "webhook_id": record.message_id }));
    audit::append(&mut *tx, vec![entry], now).await?;
    let view = tx.webhook_delivery(record.id).await?.ok_or_else(missing)?;
    tx.commit().await?;
    Ok(view.into())
}

/// Tells every owner on WhatsApp (and by e-mail) that an endpoint was disabled, and why.
pub async fn tell_owners_disabled(
    core: &Core,
    tx: &mut dyn TenantTx,
    endpoint: &WebhookEndpointRecord,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let (Some(tenant), Some(channel)) = (tx.tenant().await?, tx.channels().await?.into_iter().next()) else {
        return Ok(0);
    };
    let texts = OwnerTexts::new(&tenant.settings.language);
    let why = texts.fill(if reason == "gone" { "webhook_gone" } else { "webhook_failing" }, &[]);
    let host = url::Url::parse(&endpoint.url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let text = texts.fill("webhook_disabled", &[("host", &host), ("why", &why)]);
    let key = tenants::data_key(&mut *tx, &core.keys).await?;
    let about = About { channel: channel.id, escalation: None, contact: None, key: &key };
    to_owners(core, tx, about, crate::owner::Purpose::Webhook, &text, now).await
}
