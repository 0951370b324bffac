//! Data-subject requests and their clock: every request gets an acknowledge-by and an
//! answer-by deadline from the tenant's settings (7 and 30 days by default, down to 72 h).
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::audit::AuditEntry;
use crate::domain::text_code::text_code;
use crate::domain::{ContactId, DsarId};
use crate::store::{DsarRecord, PrivacyOps, StoreError, StoreResult, TenantOps};

pub const KINDS: [&str; 4] = ["access", "correction", "erasure", "stop"];

/// What a data subject asks for; stored as `dsar_requests.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsarKind {
    Access,
    Correction,
    Erasure,
    /// STOP: no more bot messages.
    Stop,
}

text_code!(DsarKind, parse; Access => "access", Correction => "correction", Erasure => "erasure", Stop => "stop");

/// Where a request stands; stored as `dsar_requests.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsarStatus {
    Open,
    Acknowledged,
    Done,
    Rejected,
}

text_code!(DsarStatus, parse; Open => "open", Acknowledged => "acknowledged", Done => "done", Rejected => "rejected");

/// Opens a request (or returns the open one of the same kind for the contact) and the audit
/// row to append with it; the row is `None` when nothing new was opened.
pub async fn open(
    tx: &mut (impl PrivacyOps + TenantOps + ?Sized),
    contact: Option<ContactId>,
    kind: DsarKind,
    source: &str,
    now: DateTime<Utc>,
) -> StoreResult<(DsarRecord, Option<AuditEntry>)> {
    if let Some(c) = contact
        && let Some(existing) = tx.open_dsar_of(c, kind).await?
    {
        return Ok((existing, None));
    }
    let tenant = tx.tenant().await?.ok_or_else(|| StoreError::Invariant("the tenant is gone".into()))?;
    let s = &tenant.settings;
    let request = DsarRecord {
        id: DsarId::new(),
        tenant_id: tenant.id,
        contact_id: contact,
        kind,
        source: source.into(),
        status: DsarStatus::Open,
        received_at: now,
        acknowledge_by: now + Duration::hours(s.dsar_ack_hours.into()),
        answer_by: now + Duration::hours(s.dsar_answer_hours.into()),
        acknowledged_at: None,
        answered_at: None,
        closed_by: None,
    };
    tx.insert_dsar(&request).await?;
    let entry = AuditEntry::new(source, "request.opened", "request", Some(request.id.to_string()))
        .detail(json!({ "kind": kind, "answer_by": request.answer_by }));
    Ok((request, Some(entry)))
}

/// Records that the business has seen the request; returns the audit row, or `None` if it
/// was no longer open.
pub async fn acknowledge(
    tx: &mut dyn PrivacyOps,
    id: DsarId,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let Some(mut request) = tx.dsar(id).await? else { return Ok(None) };
    if request.status != DsarStatus::Open {
        return Ok(None);
    }
    request.status = DsarStatus::Acknowledged;
    request.acknowledged_at = Some(now);
    tx.update_dsar(&request).await?;
    Ok(Some(AuditEntry::new(actor, "request.acknowledged", "request", Some(id.to_string()))))
}

/// Closes a pending request as `done` or `rejected`; returns the audit row, or `None` when
/// it was not pending.
pub async fn close(
    tx: &mut dyn PrivacyOps,
    id: DsarId,
    status: DsarStatus,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let Some(mut request) = tx.dsar(id).await? else { return Ok(None) };
    if !is_pending(&request) {
        return Ok(None);
    }
    request.status = status;
    request.acknowledged_at = request.acknowledged_at.or(Some(now));
    request.answered_at = Some(now);
    request.closed_by = Some(actor.into());
    tx.update_dsar(&request).await?;
    let on_time = now <= request.answer_by;
    Ok(Some(
        AuditEntry::new(actor, "request.closed", "request", Some(id.to_string()))
            .detail(json!({ "kind": request.kind, "status": status, "on_time": on_time })),
    ))
}

pub fn is_pending(r: &DsarRecord) -> bool {
    matches!(r.status, DsarStatus::Open | DsarStatus::Acknowledged)
}

/// Which deadline a pending request has missed, if any.
pub fn overdue(r: &DsarRecord, now: DateTime<Utc>) -> Option<&'static str> {
    if !is_pending(r) {
        None
    } else if now > r.answer_by {
        Some("answer")
    } else if r.status == DsarStatus::Open && now > r.acknowledge_by {
        Some("acknowledge")
    } else {
        None
    }
}

/// Why a request cannot be closed by an operation on a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswerable {
    NotFound,
    NotPending,
    OtherContact,
    OtherKind,
}

impl Unanswerable {
    pub fn explain(self) -> &'static str {
        match self {
            Self::NotFound => "no request with this id in your tenant",
            Self::NotPending => "the request is already closed",
            Self::OtherContact => "the request is about another contact",
            Self::OtherKind => "the request asks for something else",
        }
    }
}

/// Checks, before acting, that the operation `kind` on `contact` answers request `id`.
pub async fn check(
    store: &dyn crate::store::Store,
    tenant: crate::domain::TenantId,
    id: DsarId,
    contact: ContactId,
    kind: DsarKind,
) -> StoreResult<Result<(), Unanswerable>> {
    let mut tx = store.begin_read(tenant).await?;
    let found = tx.dsar(id).await?;
    tx.commit().await?;
    Ok(match found {
        None => Err(Unanswerable::NotFound),
        Some(r) if !is_pending(&r) => Err(Unanswerable::NotPending),
        Some(r) if r.contact_id.is_some_and(|c| c != contact) => Err(Unanswerable::OtherContact),
        Some(r) if r.kind != kind => Err(Unanswerable::OtherKind),
        Some(_) => Ok(()),
    })
}
