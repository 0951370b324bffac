//! Sub-processor changes announced ahead. The list a tenant is under is recorded; a new
//! sub-processor (an LLM host, an e-mail relay, a storage host) is recorded as a change with its
//! diff and an effective date at least the operator's notice period ahead, audited, and
//! announced to the owners. Until that date an LLM host is not used for the tenant's data,
//! unless the owner accepts it earlier; after an objection it is not used at all, and the
//! operator is told. A host the owner chose themselves (an LLM profile) is accepted at once.
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::domain::TenantId;
use crate::owner::notify::{About, to_owners};
use crate::owner::texts::OwnerTexts;
use crate::store::{RecordedSubprocessor, StoreResult, SubprocessorChangeRecord, TenantTx};
use crate::usecase::{UseCaseError, UseCaseResult};

/// The strictest of the three policies: Tapsence §7 promises 30 days.
pub const DEFAULT_NOTICE_DAYS: i64 = 30;

/// One sub-processor the configuration uses for a tenant now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    pub kind: String,
    pub name: String,
    pub host: Option<String>,
}

impl LiveEntry {
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.host.as_deref().unwrap_or(&self.name))
    }
}

/// What a sync did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub baseline: bool,
    pub announced: usize,
    pub accepted: usize,
    pub removed: usize,
}

fn record_of(entry: &LiveEntry, since: DateTime<Utc>) -> RecordedSubprocessor {
    let (kind, name, host) = (entry.kind.clone(), entry.name.clone(), entry.host.clone());
    RecordedSubprocessor { key: entry.key(), kind, name, host, since }
}

/// Compares what the configuration uses for `tenant` now (`live`) with the recorded list. The
/// first time, `live` is recorded as it is. After that, an entry not recorded becomes a pending
/// change `notice` ahead (or is accepted at once when `chosen_by` the owner), a recorded entry
/// no longer live is removed, and pending changes whose date has come are applied.
pub async fn sync(
    core: &Core,
    tenant: TenantId,
    live: &[LiveEntry],
    notice: Duration,
    chosen_by: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<Synced> {
    // Two models on one host are one sub-processor.
    let mut seen = HashSet::new();
    let live: Vec<&LiveEntry> = live.iter().filter(|e| seen.insert(e.key())).collect();
    let mut tx = core.store.begin(tenant).await?;
    let recorded = tx.recorded_subprocessors().await?;
    let changes = tx.subprocessor_changes().await?;
    let mut synced = Synced::default();
    let mut trail = Vec::new();
    if recorded.is_empty() && changes.is_empty() {
        for entry in &live {
            tx.record_subprocessor(&record_of(entry, now)).await?;
        }
        synced.baseline = true;
        trail.push(
            AuditEntry::new("system", "subprocessor.list_recorded", "tenant", Some(tenant.to_string()))
                .detail(json!({ "keys": live.iter().map(|e| e.key()).collect::<Vec<_>>() })),
        );
    } else {
        trail.extend(apply_due(&mut *tx, &changes, now).await?);
        let known: HashSet<String> = recorded.iter().map(|r| r.key.clone()).collect();
        let open: HashSet<&str> =
            changes.iter().filter(|c| c.change == "added" && c.state != "effective").map(|c| c.key.as_str()).collect();
        let before: Vec<&str> = recorded.iter().map(|r| r.key.as_str()).collect();
        let mut announced = Vec::new();
        for entry in live.iter().filter(|e| !known.contains(&e.key()) && !open.contains(e.key().as_str())) {
            let effective_at = if chosen_by.is_some() { now } else { now + notice };
            let diff = json!({ "before": before, "added": entry.key() });
            let change = SubprocessorChangeRecord {
                id: Uuid::now_v7(),
                tenant_id: tenant,
                key: entry.key(),
                kind: entry.kind.clone(),
                name: entry.name.clone(),
                host: entry.host.clone(),
                change: "added".into(),
                diff: diff.to_string(),
                state: if chosen_by.is_some() { "accepted" } else { "pending" }.into(),
                announced_at: now,
                effective_at,
                decided_by: chosen_by.map(str::to_string),
                decided_at: chosen_by.map(|_| now),
            };
            tx.insert_subprocessor_change(&change).await?;
            let detail = json!({ "key": change.key, "diff": diff, "effective_at": effective_at });
            if let Some(actor) = chosen_by {
                tx.record_subprocessor(&record_of(entry, now)).await?;
                synced.accepted += 1;
                trail.push(change_entry(actor, "subprocessor.change_accepted", &change).detail(detail));
            } else {
                synced.announced += 1;
                trail.push(change_entry("system", "subprocessor.change_announced", &change).detail(detail));
                announced.push(change);
            }
        }
        let live_keys: HashSet<String> = live.iter().map(|e| e.key()).collect();
        for gone in recorded.iter().filter(|r| !live_keys.contains(&r.key)) {
            tx.forget_subprocessor(&gone.key).await?;
            let change = SubprocessorChangeRecord {
                id: Uuid::now_v7(),
                tenant_id: tenant,
                key: gone.key.clone(),
                kind: gone.kind.clone(),
                name: gone.name.clone(),
                host: gone.host.clone(),
                change: "removed".into(),
                diff: json!({ "before": before, "removed": gone.key }).to_string(),
                state: "effective".into(),
                announced_at: now,
                effective_at: now,
                decided_by: None,
                decided_at: None,
            };
            tx.insert_subprocessor_change(&change).await?;
            synced.removed += 1;
            trail.push(change_entry("system", "subprocessor.removed", &change));
        }
        if !announced.is_empty() {
            tell_owners(core, &mut *tx, &announced, now).await?;
        }
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    Ok(synced)
}

fn change_entry(actor: &str, action: &'static str, change: &SubprocessorChangeRecord) -> AuditEntry {
    AuditEntry::new(actor, action, "subprocessor_change", Some(change.id.to_string()))
}

/// Pending changes whose date has come join the recorded list.
async fn apply_due(
    tx: &mut dyn TenantTx,
    changes: &[SubprocessorChangeRecord],
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut trail = Vec::new();
    for change in changes.iter().filter(|c| c.state == "pending" && c.effective_at <= now) {
        if tx.decide_subprocessor_change(change.id, "pending", "effective", "system", now).await? {
            let (kind, name, host) = (change.kind.clone(), change.name.clone(), change.host.clone());
            tx.record_subprocessor(&RecordedSubprocessor { key: change.key.clone(), kind, name, host, since: now })
                .await?;
            trail.push(change_entry("system", "subprocessor.change_effective", change));
        }
    }
    Ok(trail)
}

/// The owners are told by WhatsApp (the alert template when their window is closed) and, where
/// configured, by e-mail; the dashboard shows a banner while a change is pending.
async fn tell_owners(
    core: &Core,
    tx: &mut dyn TenantTx,
    announced: &[SubprocessorChangeRecord],
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let (Some(tenant), Some(channel)) = (tx.tenant().await?, tx.channels().await?.into_iter().next()) else {
        return Ok(0);
    };
    let texts = OwnerTexts::new(&tenant.settings.language);
    let names: Vec<String> =
        announced.iter().map(|c| format!("{} ({})", c.name, c.host.as_deref().unwrap_or("-"))).collect();
    let date = announced.iter().map(|c| c.effective_at).min().unwrap_or(now);
    let date = date.with_timezone(&tenant.settings.zone()).format("%d-%m-%Y").to_string();
    let text = texts.fill("subprocessor_notice", &[("names", &names.join(", ")), ("date", &date)]);
    let key = crate::tenants::data_key(&mut *tx, &core.keys).await?;
    let about = About { channel: channel.id, escalation: None, contact: None, key: &key };
    to_owners(core, tx, about, crate::owner::Purpose::Subprocessor, &text, now).await
}

/// LLM hosts not to be used for the tenant's data now: announced and not yet due nor accepted,
/// or objected to.
pub async fn blocked_hosts(tx: &mut dyn TenantTx, now: DateTime<Utc>) -> StoreResult<Vec<String>> {
    Ok(tx
        .subprocessor_changes()
        .await?
        .into_iter()
        .filter(|c| c.kind == "llm" && c.change == "added")
        .filter(|c| (c.state == "pending" && c.effective_at > now) || c.state == "objected")
        .filter_map(|c| c.host)
        .collect())
}

/// The recorded list and every change, for the API and the dashboard.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub current: Vec<RecordedSubprocessor>,
    pub pending: Vec<SubprocessorChangeRecord>,
    pub history: Vec<SubprocessorChangeRecord>,
}

pub async fn overview(core: &Core, tenant: TenantId) -> UseCaseResult<Overview> {
    let now = core.clock.now();
    let mut tx = core.store.begin_read(tenant).await?;
    let current = tx.recorded_subprocessors().await?;
    let changes = tx.subprocessor_changes().await?;
    tx.commit().await?;
    let (pending, history) = changes.into_iter().partition(|c| c.state == "pending" && c.effective_at > now);
    Ok(Overview { current, pending, history })
}

fn change_not_found() -> UseCaseError {
    UseCaseError::not_found("change_not_found", "no pending sub-processor change with this id in your tenant")
}

/// The owner accepts a pending change before its date: it is used from now on (audited).
pub async fn accept(core: &Core, tenant: TenantId, actor: &str, id: Uuid) -> UseCaseResult<()> {
    decide(core, tenant, actor, id, "accepted").await
}

/// The owner objects to a pending change: it is not applied to this tenant, and the operator is
/// told (a warning in the log naming the tenant and the change, no personal data).
pub async fn object(core: &Core, tenant: TenantId, actor: &str, id: Uuid) -> UseCaseResult<()> {
    decide(core, tenant, actor, id, "objected").await?;
    tracing::warn!(tenant = %tenant, change = %id, "a shop objected to a sub-processor change: it is not applied to this shop");
    Ok(())
}

async fn decide(core: &Core, tenant: TenantId, actor: &str, id: Uuid, to: &'static str) -> UseCaseResult<()> {
    let now = core.clock.now();
    let mut tx = core.store.begin(tenant).await?;
    let changes = tx.subprocessor_changes().await?;
    let change = changes.iter().find(|c| c.id == id && c.state == "pending").ok_or_else(change_not_found)?;
    if change.effective_at <= now {
        return Err(UseCaseError::conflict("change_effective", "this change took effect already"));
    }
    if !tx.decide_subprocessor_change(id, "pending", to, actor, now).await? {
        return Err(change_not_found());
    }
    if to == "accepted" {
        let (kind, name, host) = (change.kind.clone(), change.name.clone(), change.host.clone());
        tx.record_subprocessor(&RecordedSubprocessor { key: change.key.clone(), kind, name, host, since: now }).await?;
    }
    let action = if to == "accepted" { "subprocessor.change_accepted" } else { "subprocessor.change_objected" };
    audit::append(&mut *tx, vec![change_entry(actor, action, change).detail(json!({ "key": change.key }))], now)
        .await?;
    tx.commit().await?;
    Ok(())
}
