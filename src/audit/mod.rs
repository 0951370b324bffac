//! The append-only, hash-chained audit log: one chain per tenant.
//!
//! Each row's hash is an HMAC under `BALAS_AUDIT_KEY` over the previous row's hash and every
//! field of the row, so editing, reordering or deleting a row breaks the chain at that row, and
//! recomputing the hashes needs the key, which the database does not hold. Rows carry ids, codes and
//! counts only: never message text, names or phone numbers.
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::Mac;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{AuditHead, AuditOps, AuditRow, IngestOps, StoreError, StoreResult, WebhookOps};

mod key;
mod verify;

pub use key::{AuditKey, AuditKeyError, AuditKeys};
pub use verify::{ExpectedHead, Verdict, verify_against_head, verify_tenant};

/// Closes a legacy chain: the first row signed with a key, naming the last unsigned row.
pub const ANCHORED: &str = "audit.anchored";
/// Marks the first row signed with a new key, naming the old and new key ids.
pub const KEY_ROTATED: &str = "audit.key_rotated";

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit fact before it is chained.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: &'static str,
    pub subject_type: &'static str,
    pub subject_id: Option<String>,
    pub detail: Value,
}

impl AuditEntry {
    pub fn new(
        actor: impl Into<String>,
        action: &'static str,
        subject_type: &'static str,
        subject_id: Option<String>,
    ) -> Self {
        Self { actor: actor.into(), action, subject_type, subject_id, detail: Value::Object(Default::default()) }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Chains `entries` onto the tenant's log inside `tx`, signed with the first `BALAS_AUDIT_KEY`.
/// Call it last in a transaction: the chain head stays locked until commit.
/// The shop's webhook endpoints get the events these entries stand for, in the same transaction.
pub async fn append(
    tx: &mut (impl AuditOps + WebhookOps + IngestOps + ?Sized),
    entries: Vec<AuditEntry>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    crate::webhooks::queue::queue(tx, crate::webhooks::queue::events_of(&entries), now).await?;
    chain(tx, entries, now).await
}

/// Records the legacy checkpoint or key rotation now, if the head needs one, with no other row.
pub async fn anchor(tx: &mut (impl AuditOps + ?Sized), now: DateTime<Utc>) -> StoreResult<()> {
    chain(tx, Vec::new(), now).await
}

async fn chain(tx: &mut (impl AuditOps + ?Sized), entries: Vec<AuditEntry>, now: DateTime<Utc>) -> StoreResult<()> {
    let keys = tx.audit_keys().ok_or_else(|| StoreError::Config("BALAS_AUDIT_KEY is not configured".into()))?;
    let key = keys.signing();
    let tenant = tx.tenant_id();
    let mut head = tx.lock_audit_head().await?;
    let mut entries = entries;
    if let Some(transition) = transition_entry(&head, key.id()) {
        entries.insert(0, transition);
    }
    if entries.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut row = AuditRow {
            tenant_id: tenant,
            seq: head.seq + 1,
            at: now,
            actor: entry.actor,
            action: entry.action.to_string(),
            subject_type: entry.subject_type.to_string(),
            subject_id: entry.subject_id,
            detail: entry.detail.to_string(),
            prev_hash: head.hash.clone(),
            hash: String::new(),
            key_id: Some(key.id().to_string()),
        };
        row.hash = row_hash(&row, Some(key));
        head = AuditHead { seq: row.seq, hash: row.hash.clone(), key_id: row.key_id.clone() };
        rows.push(row);
    }
    tx.insert_audit_rows(&rows, &head).await
}

/// The row that must precede the first row signed with `key_id`: `audit.anchored` closes a
/// legacy (plain SHA-256) chain, `audit.key_rotated` names the old and the new key.
fn transition_entry(head: &AuditHead, key_id: &str) -> Option<AuditEntry> {
    if head.seq == 0 || head.key_id.as_deref() == Some(key_id) {
        return None;
    }
    let entry = match &head.key_id {
        None => AuditEntry::new("system", ANCHORED, "audit", None)
            .detail(json!({ "through_seq": head.seq, "hash": head.hash, "key_id": key_id })),
        Some(old) => AuditEntry::new("system", KEY_ROTATED, "audit", None)
            .detail(json!({ "from_key_id": old, "to_key_id": key_id })),
    };
    Some(entry)
}

/// The row's hash over the previous hash and every field, each length-prefixed: HMAC-SHA256
/// under `key` (whose id is covered too), or plain SHA-256 for rows from before keys (`None`).
pub fn row_hash(row: &AuditRow, key: Option<&AuditKey>) -> String {
    let at = row.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq = row.seq.to_string();
    let tenant = row.tenant_id.to_string();
    let subject = row.subject_id.as_deref().map(|s| format!("+{s}")).unwrap_or_default();
    let fields = [
        row.prev_hash.as_str(),
        tenant.as_str(),
        seq.as_str(),
        at.as_str(),
        row.actor.as_str(),
        row.action.as_str(),
        row.subject_type.as_str(),
        subject.as_str(),
        row.detail.as_str(),
    ];
    match key {
        None => {
            let mut hasher = Sha256::new();
            for field in fields {
                Digest::update(&mut hasher, (field.len() as u64).to_be_bytes());
                Digest::update(&mut hasher, field.as_bytes());
            }
            hex::encode(hasher.finalize())
        }
        Some(key) => {
            let mut mac = key.mac();
            for field in fields.into_iter().chain([key.id()]) {
                mac.update(&(field.len() as u64).to_be_bytes());
                mac.update(field.as_bytes());
            }
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

/// The tenant's audit rows that `keep` accepts, in chain order, read a page at a time.
pub async fn rows_matching(
    tx: &mut (impl AuditOps + ?Sized),
    mut keep: impl FnMut(&AuditRow) -> bool + Send,
) -> StoreResult<Vec<AuditRow>> {
    const PAGE: i64 = 1000;
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = tx.audit_rows_after(after, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        after = page.last().map_or(after, |r| r.seq);
        rows.extend(page.into_iter().filter(|r| keep(r)));
        if done {
            return Ok(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantId;

    fn keys() -> AuditKeys {
        AuditKeys::from_secret(&crate::crypto::generate_key().into()).unwrap()
    }

    fn row() -> AuditRow {
        AuditRow {
            tenant_id: TenantId::new(),
            seq: 1,
            at: Utc::now(),
            actor: "system".into(),
            action: "message.received".into(),
            subject_type: "message".into(),
            subject_id: Some("abc".into()),
            detail: "{}".into(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            key_id: None,
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let keys = keys();
        let key = Some(keys.signing());
        let base = row();
        let h = row_hash(&base, key);
        assert_ne!(row_hash(&base, None), h, "signed and legacy hashes differ");
        assert_ne!(row_hash(&base, Some(self::keys().signing())), h, "another key gives another hash");
        let mut edits: Vec<AuditRow> = Vec::new();
        let mut r = base.clone();
        r.seq = 2;
        edits.push(r);
        let mut r = base.clone();
        r.actor = "systen".into();
        edits.push(r);
        let mut r = base.clone();
        r.subject_id = None;
        edits.push(r);
        let mut r = base.clone();
        r.detail = "{ }".into();
        edits.push(r);
        let mut r = base.clone();
        r.at += chrono::Duration::microseconds(1);
        edits.push(r);
        for edited in edits {
            assert_ne!(row_hash(&edited, key), h, "{edited:?}");
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let mut a = row();
        let mut b = row();
        b.tenant_id = a.tenant_id;
        b.at = a.at;
        a.action = "ab".into();
        a.subject_type = "c".into();
        b.action = "a".into();
        b.subject_type = "bc".into();
        let keys = keys();
        assert_ne!(row_hash(&a, Some(keys.signing())), row_hash(&b, Some(keys.signing())));
        assert_ne!(row_hash(&a, None), row_hash(&b, None));
    }
}
