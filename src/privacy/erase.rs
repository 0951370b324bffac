//! Erasure: deletes a contact's messages, conversations, tickets, the owner notices about them,
//! their blind indexes and their wrapped data key, in one transaction. Analytics keep anonymous
//! per-day counts; the audit keeps a non-identifying `contact.erased` row with counts only.
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::domain::{ContactId, Direction, DsarId, TenantId};
use crate::media::MediaStorage;
use crate::store::{ActivityCount, ConversationOps, ErasedRows, OwnerOps, PrivacyOps, Store, StoreResult, TenantTx};

/// What one erasure did, as the API and CLI report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Erasure {
    /// A fresh id naming the erasure in the audit; it is not the contact's id.
    pub erasure_id: uuid::Uuid,
    pub deleted: ErasedRows,
    pub owner_answers_cleared: u64,
}

/// Erases one contact; `None` when the tenant has no such contact. A request it answers is
/// closed as done in the same transaction.
pub async fn erase_contact(
    store: &dyn Store,
    media: &MediaStorage,
    tenant: TenantId,
    contact: ContactId,
    actor: &str,
    request: Option<DsarId>,
    now: DateTime<Utc>,
) -> StoreResult<Option<Erasure>> {
    let mut tx = store.begin(tenant).await?;
    if tx.lock_contact(contact).await?.is_none() {
        return Ok(None);
    }
    let (erasure, trail) = erase_in(&mut *tx, contact, actor, request, now).await?;
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    reclaim(store).await;
    shred_media(media, tenant, contact).await;
    Ok(Some(erasure))
}

/// After a committed erasure: deletes the contact's sealed media objects. Their key is already
/// gone, so none opens; a failure leaves them to the sweeper, and is logged, not returned.
pub async fn shred_media(media: &MediaStorage, tenant: TenantId, contact: ContactId) {
    if let Err(e) = media.delete_prefix(&MediaStorage::contact_prefix(tenant, contact)).await {
        tracing::warn!(error = %e, "deleting an erased contact's media failed; the sweeper removes it");
    }
}

/// After a committed deletion: clears the SQLite log of the deleted pages. A failure here
/// undoes nothing, so it is logged, not returned (the next checkpoint finishes the job).
pub async fn reclaim(store: &dyn Store) {
    match store.reclaim_deleted().await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the WAL checkpoint after a deletion stayed busy; the next one clears the log"),
        Err(e) => tracing::warn!(error = %e, "the WAL checkpoint after a deletion failed; the next one clears the log"),
    }
}

/// The erasure inside a caller's transaction (the contact must exist); returns the audit rows
/// to append. Call `reclaim` after the commit.
pub async fn erase_in(
    tx: &mut dyn TenantTx,
    contact: ContactId,
    actor: &str,
    request: Option<DsarId>,
    now: DateTime<Utc>,
) -> StoreResult<(Erasure, Vec<AuditEntry>)> {
    tx.lock_contact(contact).await?;
    crate::analytics::rollup::catch_up(&mut *tx, now).await?;
    crate::analytics::rollup::forget_contact(&mut *tx, contact, now).await?;
    let counts = anonymous_counts(&mut *tx, contact).await?;
    tx.add_activity_counts(&counts).await?;
    let deleted = tx.erase_contact_rows(contact).await?;
    let owner_answers_cleared = tx.clear_owner_answers().await?;
    let mut trail = Vec::new();
    if let Some(id) = request {
        trail.extend(super::requests::close(&mut *tx, id, super::requests::DsarStatus::Done, actor, now).await?);
    }
    let erasure = Erasure { erasure_id: uuid::Uuid::new_v4(), deleted, owner_answers_cleared };
    trail.push(
        AuditEntry::new(actor, "contact.erased", "erasure", Some(erasure.erasure_id.to_string()))
            .detail(json!({ "deleted": deleted, "owner_answers_cleared": owner_answers_cleared, "request": request })),
    );
    Ok((erasure, trail))
}

/// The contact's messages, conversations and tickets as counts per UTC day.
async fn anonymous_counts(
    tx: &mut (impl ConversationOps + OwnerOps + PrivacyOps + ?Sized),
    contact: ContactId,
) -> StoreResult<Vec<ActivityCount>> {
    let mut times: Vec<(&'static str, DateTime<Utc>)> = Vec::new();
    for (direction, at) in tx.message_times_of_contact(contact).await? {
        times.push((message_metric(direction), at));
    }
    times.extend(tx.conversations_of_contact(contact).await?.iter().map(|c| ("conversations", c.created_at)));
    times.extend(tx.escalations_of_contact(contact).await?.iter().map(|e| ("escalations", e.opened_at)));
    Ok(per_day(times))
}

/// The `activity_counts` metric of a message by its direction.
pub fn message_metric(direction: Direction) -> &'static str {
    match direction {
        Direction::In => "messages_in",
        Direction::Out => "messages_out",
    }
}

/// Sums (metric, time) pairs into one count per metric and UTC day.
pub fn per_day(times: Vec<(&'static str, DateTime<Utc>)>) -> Vec<ActivityCount> {
    let mut counts: std::collections::BTreeMap<(String, &'static str), i64> = Default::default();
    for (metric, at) in times {
        *counts.entry((at.format("%Y-%m-%d").to_string(), metric)).or_default() += 1;
    }
    counts.into_iter().map(|((day, metric), count)| ActivityCount { day, metric, count }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn counts_group_by_utc_day_and_metric() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        let counts = per_day(vec![
            ("messages_in", at(1, 23)),
            ("messages_in", at(1, 1)),
            ("messages_out", at(1, 2)),
            ("messages_in", at(2, 0)),
        ]);
        let flat: Vec<(&str, &str, i64)> = counts.iter().map(|c| (c.day.as_str(), c.metric, c.count)).collect();
        assert_eq!(
            flat,
            vec![("2026-11-01", "messages_in", 2), ("2026-11-01", "messages_out", 1), ("2026-11-02", "messages_in", 1)]
        );
    }
}
