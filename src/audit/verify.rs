//! Recomputing a tenant's chain: every hash under the key its row names, the legacy checkpoint
//! and key rotations in order, and (optionally) a head the operator kept outside the database.
use serde_json::Value;

use super::{ANCHORED, AuditKey, AuditKeys, GENESIS_HASH, KEY_ROTATED, row_hash};
use crate::domain::TenantId;
use crate::store::{AuditRow, Store, StoreError, StoreResult};

/// The outcome of checking one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact { rows: i64, head_hash: String },
    Broken { seq: i64, reason: &'static str },
}

/// A head printed earlier by `balas audit head`: the chain must still hold this row, unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpectedHead {
    pub tenant: TenantId,
    pub seq: i64,
    pub hash: String,
    pub key_id: Option<String>,
}

/// Which hash the chain uses at a point: not known yet (start, or after a retention checkpoint),
/// plain SHA-256 (rows from before keys), or a key.
enum Signing<'k> {
    Unknown,
    Legacy,
    Keyed(&'k AuditKey),
}

/// Recomputes one tenant's chain under the store's audit keys.
pub async fn verify_tenant(store: &dyn Store, tenant: TenantId) -> StoreResult<Verdict> {
    verify_against_head(store, tenant, None).await
}

/// Recomputes one tenant's chain from the first row, or from the latest retention checkpoint;
/// a checkpoint counts only if an `audit.purged` row in the chain names its seq and hash. With
/// `expected`, the chain must also still reach that head, with that hash.
pub async fn verify_against_head(
    store: &dyn Store,
    tenant: TenantId,
    expected: Option<&ExpectedHead>,
) -> StoreResult<Verdict> {
    const PAGE: i64 = 1000;
    let mut tx = store.begin_read(tenant).await?;
    let keys = tx.audit_keys().ok_or_else(|| StoreError::Config("BALAS_AUDIT_KEY is not configured".into()))?;
    let keys = &*keys;
    let checkpoint = tx.latest_audit_checkpoint().await?;
    let (mut last_seq, mut prev) = match &checkpoint {
        Some(c) => (c.through_seq, c.hash.clone()),
        None => (0, GENESIS_HASH.to_string()),
    };
    // A kept head inside a purged period can only be compared at the checkpoint itself.
    if let Some(head) = expected.filter(|h| h.seq == last_seq && h.seq > 0)
        && head.hash != prev
    {
        return Ok(Verdict::Broken { seq: head.seq, reason: "the row at the recorded head has another hash" });
    }
    let mut confirmed = checkpoint.is_none();
    let mut signing = Signing::Unknown;
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
            signing = match next_signing(&signing, &row, keys, last_seq, &prev) {
                Ok(next) => next,
                Err(reason) => return Ok(Verdict::Broken { seq: row.seq, reason }),
            };
            let key = match &signing {
                Signing::Keyed(key) => Some(*key),
                _ => None,
            };
            if row_hash(&row, key) != row.hash {
                return Ok(Verdict::Broken { seq: row.seq, reason: "row content does not match its hash" });
            }
            if let Some(head) = expected.filter(|h| h.seq == row.seq)
                && head.hash != row.hash
            {
                return Ok(Verdict::Broken { seq: row.seq, reason: "the row at the recorded head has another hash" });
            }
            if let Some(c) = checkpoint.as_ref().filter(|_| !confirmed && row.action == "audit.purged") {
                let detail = detail(&row);
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
    if matches!(signing, Signing::Legacy) {
        // Unsigned rows count only once a signed audit.anchored row vouches for them.
        return Ok(Verdict::Broken {
            seq: last_seq,
            reason: "unsigned rows that no signed audit.anchored row follows",
        });
    }
    if expected.is_some_and(|h| h.seq > last_seq) {
        return Ok(Verdict::Broken { seq: last_seq + 1, reason: "the chain was cut back before the recorded head" });
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

/// The hash `row` must carry, given the one before it: unsigned rows only before any signed
/// row, a first signed row after unsigned ones only as `audit.anchored` naming the last of them,
/// and a change of key only as `audit.key_rotated` naming both keys.
fn next_signing<'k>(
    current: &Signing<'k>,
    row: &AuditRow,
    keys: &'k AuditKeys,
    last_seq: i64,
    prev: &str,
) -> Result<Signing<'k>, &'static str> {
    let Some(id) = row.key_id.as_deref() else {
        return match current {
            Signing::Keyed(_) => Err("an unsigned row after signed rows"),
            _ => Ok(Signing::Legacy),
        };
    };
    let key = keys.find(id).ok_or("signed with a key that BALAS_AUDIT_KEY does not hold")?;
    match current {
        Signing::Legacy => {
            let d = detail(row);
            let anchors = row.action == ANCHORED
                && d["through_seq"].as_i64() == Some(last_seq)
                && d["hash"] == prev
                && d["key_id"] == id;
            if !anchors {
                return Err("signed rows follow unsigned ones without an audit.anchored row naming them");
            }
        }
        Signing::Keyed(old) if old.id() != id => {
            let d = detail(row);
            if row.action != KEY_ROTATED || d["from_key_id"] != old.id() || d["to_key_id"] != id {
                return Err("the signing key changes without an audit.key_rotated row");
            }
        }
        _ => {}
    }
    Ok(Signing::Keyed(key))
}

fn detail(row: &AuditRow) -> Value {
    serde_json::from_str(&row.detail).unwrap_or(Value::Null)
}
