//! Retention, run daily per tenant by a durable job inside `serve` and by `balas retention
//! run`: messages after the tenant's retention period, audit rows after 12 months (whole
//! months, with a checkpoint so `audit verify` still passes), LLM usage and technical records
//! after 90 days, and a cancelled tenant's data and keys 30 days after `tenant cancel`.
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde_json::json;

use super::erase::{message_metric, per_day};
use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::domain::TenantId;
use crate::jobs::{JobFailure, JobKind};
use crate::store::{JobOutcome, JobRecord};
use crate::store::{PurgedContent, Store, StoreResult};
use crate::tenants::TenantStatus;

pub const AUDIT_MONTHS: u32 = 12;
pub const TECHNICAL_DAYS: i64 = 90;
pub const CANCELLED_GRACE_DAYS: i64 = 30;

/// What one pass deleted in one tenant; audited as `retention.purged`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionRun {
    pub content: PurgedContent,
    pub llm_usage: u64,
    pub technical: u64,
    pub audit_rows: u64,
    /// Rows of a cancelled tenant deleted 30 days after cancellation (its key with them).
    pub tenant_rows: Option<u64>,
    /// Analytics rows past retention whose customer id was replaced by a random one.
    pub analytics_rows_anonymized: u64,
}

impl RetentionRun {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One tenant's pass; `None` when there is no such tenant. A purged tenant keeps its passes:
/// its audit rows still age out after 12 months.
pub async fn run_tenant(store: &dyn Store, tenant: TenantId, now: DateTime<Utc>) -> StoreResult<Option<RetentionRun>> {
    let mut tx = store.begin(tenant).await?;
    let Some(record) = tx.tenant().await? else { return Ok(None) };
    let mut run = RetentionRun::default();
    if record.status == TenantStatus::Purged {
        // Nothing but the audit is left, and it still ages out.
    } else if let Some(cancelled) = record.cancelled_at
        && now >= cancelled + Duration::days(CANCELLED_GRACE_DAYS)
    {
        run.tenant_rows = Some(tx.purge_tenant().await?);
    } else {
        // Analytics count what is about to go.
        crate::analytics::rollup::catch_up(&mut *tx, now).await?;
        if let Some(days) = record.settings.message_retention_days {
            let cutoff = now - Duration::days(days.into());
            // Past retention, analytics rows keep their figures but lose the customer's id.
            let cutoff_day = crate::analytics::day_key(cutoff.with_timezone(&record.settings.zone()).date_naive());
            let rows = tx.identified_rows_before(&cutoff_day).await?;
            run.analytics_rows_anonymized = crate::analytics::rollup::anonymize(&mut *tx, rows).await? as u64;
            let mut times: Vec<(&'static str, DateTime<Utc>)> = Vec::new();
            for (direction, at) in tx.message_times_before(cutoff).await? {
                times.push((message_metric(direction), at));
            }
            times.extend(tx.escalation_times_before(cutoff).await?.into_iter().map(|at| ("escalations", at)));
            tx.add_activity_counts(&per_day(times)).await?;
            run.content = tx.purge_content_before(cutoff).await?;
        }
        let technical_cutoff = now - Duration::days(TECHNICAL_DAYS);
        run.llm_usage = tx.purge_llm_usage_before(technical_cutoff).await?;
        run.technical = tx.purge_technical_before(technical_cutoff).await?;
    }
    let mut trail = Vec::new();
    if let Some(through) = tx.audit_seq_before(audit_cutoff(now)).await? {
        run.audit_rows = tx.purge_audit_through(through, now).await?;
        if let Some(checkpoint) = tx.latest_audit_checkpoint().await?
            && run.audit_rows > 0
        {
            // Chains the checkpoint into the log: `audit verify` accepts it only with this row.
            trail.push(AuditEntry::new("retention", "audit.purged", "audit", None).detail(json!({
                "through_seq": checkpoint.through_seq, "hash": checkpoint.hash, "rows": run.audit_rows,
            })));
        }
    }
    if !run.is_empty() {
        let (action, subject) =
            if run.tenant_rows.is_some() { ("tenant.purged", "tenant") } else { ("retention.purged", "tenant") };
        trail.push(AuditEntry::new("retention", action, subject, Some(tenant.to_string())).detail(json!(run)));
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    if !run.is_empty() {
        super::erase::reclaim(store).await;
    }
    Ok(Some(run))
}

/// Once a day per tenant.
pub const PASS_INTERVAL_HOURS: i64 = 24;

/// The `retention` job: one pass, then again tomorrow.
pub async fn run_job(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let pass = run_tenant(&*core.store, job.tenant_id, now).await?;
    // Retention and a purge delete rows only; their sealed objects go here.
    match crate::media::sweep::sweep_tenant(core, job.tenant_id, now).await {
        Ok(0) => {}
        Ok(swept) => tracing::info!(tenant = %job.tenant_id, swept, "media objects without a row deleted"),
        Err(e) => tracing::warn!(error = %e, "the media sweep failed; the next pass retries"),
    }
    let outcome = match pass {
        Some(_) => JobOutcome::Later { run_at: now + Duration::hours(PASS_INTERVAL_HOURS) },
        None => JobOutcome::Done,
    };
    let mut tx = core.store.begin(job.tenant_id).await?;
    tx.finish_job(job.id, worker, &outcome, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes sure every tenant has its retention job, due now (run at `serve` start and every 15 minutes).
pub async fn schedule_all(store: &dyn Store, max_attempts: i32, now: DateTime<Utc>) -> StoreResult<u64> {
    crate::jobs::ensure_per_tenant(store, JobKind::Retention, max_attempts, now, |_| now).await
}

/// The first day of the month 12 months back: audit rows go in whole months.
pub fn audit_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    let months = now.year() * 12 + now.month0() as i32 - AUDIT_MONTHS as i32;
    let (year, month0) = (months.div_euclid(12), months.rem_euclid(12) as u32);
    Utc.with_ymd_and_hms(year, month0 + 1, 1, 0, 0, 0).single().unwrap_or(now - Duration::days(366))
}

/// Marks the tenant cancelled: webhooks stop at once; data and keys go 30 days later.
pub async fn cancel_tenant(store: &dyn Store, tenant: TenantId, actor: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let mut tx = store.begin(tenant).await?;
    let cancelled = tx.cancel_tenant(now).await?;
    if cancelled {
        let purge_at = now + Duration::days(CANCELLED_GRACE_DAYS);
        let entry = AuditEntry::new(actor, "tenant.cancelled", "tenant", Some(tenant.to_string()))
            .detail(json!({ "purge_at": purge_at }));
        audit::append(&mut *tx, vec![entry], now).await?;
    }
    tx.commit().await?;
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_cutoff_is_a_month_start_twelve_months_back() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 13, 5, 0).unwrap();
        assert_eq!(audit_cutoff(at(2026, 11, 22)), Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap());
        assert_eq!(audit_cutoff(at(2026, 1, 1)), Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(audit_cutoff(at(2026, 12, 31)), Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap());
    }
}
