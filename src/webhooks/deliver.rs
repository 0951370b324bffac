//! The `webhook_delivery` job: signs one event for one endpoint, POSTs it through the outbound
//! guard with no redirects, and records the attempt. A 2xx within 15 s delivers it; a failure
//! waits for the next step of `SCHEDULE` (or the endpoint's `retry-after` on 429, 502 and 504);
//! 410, or five days of failures, disable the endpoint and tell its owners.
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::json;
use uuid::Uuid;

use super::{DISABLE_AFTER, SCHEDULE, Secret, payload, signature};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::fetch_guard::FetchError;
use crate::jobs::JobFailure;
use crate::store::{JobOutcome, JobRecord, TenantTx, WebhookAttempt, WebhookDeliveryRecord, WebhookEndpointRecord};
use crate::tenants;
use crate::worker::WorkerDeps;

/// The longest `retry-after` honoured: the schedule's longest step.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 3600);

/// What the delivery is ready for.
enum Ready {
    Send(Box<Prepared>),
    /// The endpoint is disabled: settled as failed without sending.
    Disabled(Uuid),
    /// Deleted, settled, or its endpoint deleted: nothing to do.
    Nothing,
}

struct Prepared {
    delivery: WebhookDeliveryRecord,
    endpoint: WebhookEndpointRecord,
    body: Vec<u8>,
    content: bool,
    secrets: Vec<Secret>,
}

/// What one attempt got back.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

impl Answer {
    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn gone(&self) -> bool {
        self.status == Some(StatusCode::GONE.as_u16())
    }
}

pub async fn run(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let prepared = match prepare(core, job).await? {
        Ready::Send(prepared) => prepared,
        Ready::Disabled(delivery) => return settle_disabled(core, worker, job, delivery).await,
        Ready::Nothing => return finish(core, worker, job).await,
    };
    let Prepared { delivery, endpoint, body, content, secrets } = *prepared;
    let timestamp = core.clock.now().timestamp();
    let signed = signature::header(&secrets, &delivery.message_id, timestamp, &body)
        .map_err(|_| JobFailure::Permanent("bad_secret".into()))?;
    let headers = headers(&delivery.message_id, timestamp, &signed)?;
    let answer = answer(deps.webhooks.guard.post(&endpoint.url, headers, body).await);
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let trail = record(core, &mut *tx, (&delivery, &endpoint), &answer, content, now).await?;
    let outcome = match trail.next {
        Some(run_at) => JobOutcome::Later { run_at },
        None => JobOutcome::Done,
    };
    if !tx.finish_job(job.id, worker, &outcome, now).await? {
        return Ok(()); // the lease lapsed meanwhile: its new holder sends again (at least once)
    }
    audit::append(&mut *tx, trail.entries, now).await?;
    tx.commit().await?;
    if trail.told_owners {
        core.work_queued();
    }
    Ok(())
}

/// Reads the delivery, its endpoint and secrets, and renders the body, in one read transaction.
async fn prepare(core: &Core, job: &JobRecord) -> Result<Ready, JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let Some(delivery) = tx.webhook_delivery(job.subject_id).await? else { return Ok(Ready::Nothing) };
    let endpoint = tx.webhook_endpoint(delivery.endpoint_id).await?;
    let Some(endpoint) = endpoint.filter(|_| delivery.state == "pending") else { return Ok(Ready::Nothing) };
    if !endpoint.enabled() {
        return Ok(Ready::Disabled(delivery.id));
    }
    let key = tenants::data_key(&mut *tx, &core.keys).await?;
    let bad = |_| JobFailure::Permanent("bad_secret".into());
    let mut secrets = vec![Secret::parse(&key.decrypt(&endpoint.secret_enc)?).map_err(bad)?];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret_enc, endpoint.previous_until)
        && until > now
    {
        secrets.push(Secret::parse(&key.decrypt(previous)?).map_err(bad)?);
    }
    let (body, content) = payload::render(core, &mut *tx, &delivery, endpoint.include_content).await?;
    tx.commit().await?;
    Ok(Ready::Send(Box::new(Prepared { delivery, endpoint, body, content, secrets })))
}

fn headers(id: &str, timestamp: i64, signature: &str) -> Result<HeaderMap, JobFailure> {
    let value = |v: &str| HeaderValue::from_str(v).map_err(|_| JobFailure::Permanent("bad_header".into()));
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", value(id)?);
    headers.insert("webhook-timestamp", value(&timestamp.to_string())?);
    headers.insert("webhook-signature", value(signature)?);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(headers)
}

fn answer(result: Result<reqwest::Response, FetchError>) -> Answer {
    match result {
        Ok(response) => {
            let status = response.status();
            let throttled = matches!(status.as_u16(), 429 | 502 | 504);
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|_| throttled)
                .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
            let error = (!status.is_success()).then(|| format!("status_{}", status.as_u16()));
            Answer { status: Some(status.as_u16()), error, retry_after }
        }
        Err(FetchError::Refused(refusal)) => {
            Answer { status: None, error: Some(refusal.code().into()), retry_after: None }
        }
        Err(FetchError::Transport(e)) => {
            let class = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            Answer { status: None, error: Some(class.into()), retry_after: None }
        }
    }
}

/// What recording an attempt decided.
struct Recorded {
    entries: Vec<AuditEntry>,
    /// When the next attempt is due; `None`: the delivery is settled.
    next: Option<DateTime<Utc>>,
    told_owners: bool,
}

/// Records the attempt on the delivery and the endpoint's failure streak, and disables the
/// endpoint on 410 or after `DISABLE_AFTER` of failures.
async fn record(
    core: &Core,
    tx: &mut dyn TenantTx,
    (delivery, endpoint): (&WebhookDeliveryRecord, &WebhookEndpointRecord),
    answer: &Answer,
    content: bool,
    now: DateTime<Utc>,
) -> Result<Recorded, JobFailure> {
    let attempt = delivery.attempts + 1;
    let delivered = answer.delivered();
    let next = match SCHEDULE.get(attempt as usize) {
        Some(step) if !delivered && !answer.gone() => {
            let wait = answer.retry_after.map_or(*step, |after| after.max(*step));
            Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(10)))
        }
        _ => None,
    };
    let state = match (delivered, next) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let status = answer.status.map(i32::from);
    let error = answer.error.as_deref();
    tx.record_webhook_attempt(delivery.id, &WebhookAttempt { state, status, error, at: now, next }).await?;
    let action = if content { "webhook.content_sent" } else { "webhook.attempted" };
    let mut entries = vec![
        AuditEntry::new("worker", action, "webhook_delivery", Some(delivery.id.to_string()))
            .detail(json!({ "endpoint": endpoint.id, "event": delivery.event_type, "webhook_id": delivery.message_id,
                "attempt": attempt, "status": status, "error": error, "outcome": state })),
    ];
    let mut told_owners = false;
    if delivered {
        tx.set_webhook_failing(endpoint.id, None).await?;
    } else {
        tx.set_webhook_failing(endpoint.id, Some(now)).await?;
        let failing_since = endpoint.failing_since.unwrap_or(now);
        let reason = if answer.gone() {
            Some("gone")
        } else if now - failing_since >= DISABLE_AFTER {
            Some("failing_5_days")
        } else {
            None
        };
        if let Some(reason) = reason
            && tx.set_webhook_endpoint_state(endpoint.id, "disabled", Some(reason), now).await?
        {
            let told = super::endpoints::tell_owners_disabled(core, tx, endpoint, reason, now).await?;
            told_owners = told > 0;
            entries.push(
                AuditEntry::new(
                    "worker",
                    "webhook.endpoint_disabled",
                    "webhook_endpoint",
                    Some(endpoint.id.to_string()),
                )
                .detail(json!({ "reason": reason, "failing_since": failing_since, "owner_messages": told })),
            );
        }
    }
    Ok(Recorded { entries, next, told_owners })
}

/// A delivery whose endpoint was disabled before it was sent: settled as failed, not sent.
async fn settle_disabled(core: &Core, worker: &str, job: &JobRecord, delivery: Uuid) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let attempt =
        WebhookAttempt { state: "failed", status: None, error: Some("endpoint_disabled"), at: now, next: None };
    if tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        tx.record_webhook_attempt(delivery, &attempt).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn finish(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
    tx.commit().await?;
    Ok(())
}
