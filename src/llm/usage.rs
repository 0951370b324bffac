//! What LLM calls cost: one `llm_usage` row and two audit rows per call (no text in either),
//! and the calendar month the tenant's token budget counts.
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Attempt;
use crate::audit::AuditEntry;
use crate::domain::MessageId;
use crate::store::{LlmUsage, StoreResult, TenantTx};

/// Records every attempt; the audit rows name `subject` (e.g. the message or ticket).
pub async fn record(
    tx: &mut dyn TenantTx,
    message: Option<MessageId>,
    subject: (&'static str, String),
    attempts: &[Attempt],
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let (subject_type, subject_id) = subject;
    let mut trail = Vec::new();
    for a in attempts {
        let usage =
            LlmUsage { id: Uuid::now_v7(), tenant_id: tx.tenant_id(), message_id: message, call: a.clone(), at: now };
        tx.insert_llm_usage(&usage).await?;
        let id = Some(subject_id.clone());
        trail.push(
            AuditEntry::new("worker", "llm.requested", subject_type, id.clone()).detail(json!({ "model": a.model })),
        );
        let done = matches!(a.outcome.as_str(), "replied" | "escalated" | "summarized");
        let action = if done { "llm.replied" } else { "llm.failed" };
        trail.push(AuditEntry::new("worker", action, subject_type, id).detail(json!({
            "model": a.model,
            "outcome": a.outcome,
            "prompt_tokens": a.prompt_tokens,
            "completion_tokens": a.completion_tokens,
            "latency_ms": a.latency_ms,
        })));
    }
    Ok(trail)
}

/// The first instant of the current UTC month: budgets are per calendar month.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now)
}
