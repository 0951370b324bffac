//! The append-only, hash-chained audit log: one chain per tenant.
//!
//! Each row's hash covers the previous row's hash and every field of the row, so editing,
//! reordering or deleting a row breaks the chain at that row. Rows carry ids, codes and
//! counts only: never message text, names or phone numbers.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::TenantId;
use crate::store::{AuditHead, AuditRow, Store, StoreResult, TenantTx};

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

/// Chains `entries` onto the tenant's log inside `tx`. Call it last in a transaction: the
/// chain head stays locked until commit.
pub async fn append(tx: &mut dyn TenantTx, entries: Vec<AuditEntry>, now: DateTime<Utc>) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let tenant = tx.tenant_id();
    let mut head = tx.lock_audit_head().await?;
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
        };
        row.hash = row_hash(&row);
        head = AuditHead { seq: row.seq, hash: row.hash.clone() };
        rows.push(row);
    }
    tx.insert_audit_rows(&rows, &head).await
}

/// SHA-256 over the previous hash and the row's fields, each length-prefixed.
pub fn row_hash(row: &AuditRow) -> String {
    let mut hasher = Sha256::new();
    let at = row.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq = row.seq.to_string();
    let tenant = row.tenant_id.to_string();
    let subject = row.subject_id.as_deref().map(|s| format!("+{s}")).unwrap_or_default();
    for field in [
        row.prev_hash.as_str(),
        tenant.as_str(),
        seq.as_str(),
        at.as_str(),
        row.actor.as_str(),
        row.action.as_str(),
        row.subject_type.as_str(),
        subject.as_str(),
        row.detail.as_str(),
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The tenant's audit rows that `keep` accepts, in chain order, read a page at a time.
pub async fn rows_matching(
    tx: &mut dyn TenantTx,
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

/// The outcome of checking one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact { rows: i64, head_hash: String },
    Broken { seq: i64, reason: &'static str },
}

/// Recomputes one tenant's chain from the first row, or from the latest retention checkpoint;
/// a checkpoint counts only if an `audit.purged` row in the chain names its seq and hash.
pub async fn verify_tenant(store: &dyn Store, tenant: TenantId) -> StoreResult<Verdict> {
    const PAGE: i64 = 1000;
    let mut tx = store.begin_read(tenant).await?;
    let checkpoint = tx.latest_audit_checkpoint().await?;
    let (mut last_seq, mut prev) = match &checkpoint {
        Some(c) => (c.through_seq, c.hash.clone()),
        None => (0, GENESIS_HASH.to_string()),
    };
    let mut confirmed = checkpoint.is_none();
    let mut rows = 0;
    loop {
        let page = tx.audit_rows_after(last_seq, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        for row in page {
            if row.seq != last_seq + 1 {
                return Ok(Verdict::Broken { seq: last_seq + 1, reason: "row missing from the chain" });
            }
            if row.prev_hash != prev {
                return Ok(Verdict::Broken { seq: row.seq, reason: "prev_hash does not match the previous row" });
            }
            if row_hash(&row) != row.hash {
                return Ok(Verdict::Broken { seq: row.seq, reason: "row content does not match its hash" });
            }
            if let Some(c) = checkpoint.as_ref().filter(|_| !confirmed && row.action == "audit.purged") {
                let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
                confirmed = detail["through_seq"].as_i64() == Some(c.through_seq) && detail["hash"] == c.hash.as_str();
            }
            prev = row.hash;
            last_seq = row.seq;
            rows += 1;
        }
        if done {
            break;
        }
    }
    if !confirmed {
        let seq = checkpoint.map_or(1, |c| c.through_seq + 1);
        return Ok(Verdict::Broken {
            seq,
            reason: "rows before this point were removed without an audit.purged record",
        });
    }
    match tx.audit_head().await? {
        Some(head) if head.seq != last_seq || head.hash != prev => Ok(Verdict::Broken {
            seq: last_seq + 1,
            reason: "rows after this point were removed (head does not match)",
        }),
        None if rows > 0 => Ok(Verdict::Broken { seq: last_seq, reason: "chain head is missing" }),
        _ => Ok(Verdict::Intact { rows, head_hash: prev }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = row();
        let h = row_hash(&base);
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
            assert_ne!(row_hash(&edited), h, "{edited:?}");
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
        assert_ne!(row_hash(&a), row_hash(&b));
    }
}
