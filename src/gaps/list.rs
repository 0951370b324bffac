//! The open gaps as the owner sees them: one row per group of similar questions, its newest
//! wording (masked), how many customers asked it and how many still wait on a ticket.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{ContactId, EscalationId, TenantId, TicketStatus};
use crate::store::{KnowledgeGapRecord, StoreResult, TenantTx};
use crate::usecase::UseCaseResult;

/// Open gaps read when listing: the newest this many.
const READ_AT_MOST: i64 = 2000;

/// One group of similar open questions.
#[derive(Debug, Clone, Serialize)]
pub struct GapView {
    /// The group's id: answer or dismiss it by this.
    pub id: Uuid,
    /// The newest wording, masked.
    pub question: String,
    /// Distinct customers who asked it.
    pub customers: usize,
    /// Times it was asked.
    pub asked: usize,
    /// Customers whose ticket is still open and unanswered.
    pub waiting: usize,
    pub first_asked_at: DateTime<Utc>,
    pub last_asked_at: DateTime<Utc>,
}

/// The tenant's open groups, most asked first, at most `limit`; the read shows customers'
/// words, so it is audited naming `actor`.
pub async fn open_groups(core: &Core, tenant: TenantId, actor: &str, limit: usize) -> UseCaseResult<Vec<GapView>> {
    let now = core.clock.now();
    let mut tx = core.store.begin(tenant).await?;
    let groups = groups_in(core, &mut *tx, limit).await?;
    let entry = AuditEntry::new(actor, "gap.listed", "tenant", Some(tenant.to_string()))
        .detail(json!({ "groups": groups.len() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(groups)
}

/// The open groups inside the caller's transaction (the digest's, the listing's).
pub async fn groups_in(core: &Core, tx: &mut dyn TenantTx, limit: usize) -> StoreResult<Vec<GapView>> {
    let mut by_group: BTreeMap<Uuid, Vec<KnowledgeGapRecord>> = BTreeMap::new();
    for gap in tx.open_gaps(READ_AT_MOST).await? {
        by_group.entry(gap.group_id).or_default().push(gap);
    }
    let mut keys: HashMap<ContactId, DataKey> = HashMap::new();
    let mut views = Vec::new();
    for (id, gaps) in by_group {
        // Newest first, as `open_gaps` returns them.
        let Some(newest) = gaps.first() else { continue };
        let Some(question) = question_of(core, tx, &mut keys, newest).await? else { continue };
        let mut customers: Vec<ContactId> = gaps.iter().map(|g| g.contact_id).collect();
        customers.sort_by_key(|c| c.0);
        customers.dedup();
        let waiting = waiting_tickets(tx, &gaps, None).await?.len();
        views.push(GapView {
            id,
            question,
            customers: customers.len(),
            asked: gaps.len(),
            waiting,
            first_asked_at: gaps.iter().map(|g| g.created_at).min().unwrap_or(newest.created_at),
            last_asked_at: newest.created_at,
        });
    }
    views.sort_by(|a, b| b.customers.cmp(&a.customers).then(b.last_asked_at.cmp(&a.last_asked_at)));
    views.truncate(limit);
    Ok(views)
}

/// A gap's masked question, decrypted with its customer's key; `None` when the customer is gone.
pub async fn question_of(
    core: &Core,
    tx: &mut dyn TenantTx,
    keys: &mut HashMap<ContactId, DataKey>,
    gap: &KnowledgeGapRecord,
) -> StoreResult<Option<String>> {
    let key = match keys.entry(gap.contact_id) {
        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => {
            let Some(contact) = tx.contact(gap.contact_id).await? else { return Ok(None) };
            slot.insert(core.keys.vault.unwrap_key(&contact.wrapped_key)?)
        }
    };
    Ok(Some(key.decrypt(&gap.question_enc)?))
}

/// The tickets of these gaps still open and not yet answered by anyone (but `except`).
pub async fn waiting_tickets(
    tx: &mut dyn TenantTx,
    gaps: &[KnowledgeGapRecord],
    except: Option<EscalationId>,
) -> StoreResult<Vec<EscalationId>> {
    let mut waiting = Vec::new();
    for gap in gaps {
        if Some(gap.escalation_id) == except || waiting.contains(&gap.escalation_id) {
            continue;
        }
        let Some(ticket) = tx.escalation(gap.escalation_id).await? else { continue };
        if ticket.closed_at.is_none() && ticket.status == TicketStatus::Open {
            waiting.push(ticket.id);
        }
    }
    Ok(waiting)
}
