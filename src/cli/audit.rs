//! `balas audit verify` and `balas audit head`: the operator keeps the printed heads outside
//! the database, and `verify --head` proves the chain still reaches them unchanged.
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::audit::{self, ExpectedHead, Verdict};
use crate::domain::TenantId;
use crate::store::{Store, TenantRecord};

/// One line of `audit head` output (JSON lines); `verify --head` reads the same lines back.
#[derive(serde::Serialize)]
struct HeadLine<'a> {
    tenant: TenantId,
    slug: &'a str,
    seq: i64,
    hash: String,
    key_id: Option<String>,
}

/// Signs the checkpoint of every chain still unsigned or under an older key; returns how many.
pub async fn anchor_all(store: &dyn Store, targets: &[TenantRecord], now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut anchored = 0;
    for t in targets {
        let mut tx = store.begin(t.id).await?;
        let before = tx.audit_head().await?;
        audit::anchor(&mut *tx, now).await?;
        anchored += usize::from(tx.audit_head().await? != before);
        tx.commit().await?;
    }
    Ok(anchored)
}

/// Anchors any chain still unsigned or under an older key, then prints each tenant's head.
pub async fn head(store: &dyn Store, targets: &[TenantRecord], now: DateTime<Utc>) -> anyhow::Result<ExitCode> {
    anchor_all(store, targets, now).await?;
    for t in targets {
        let mut tx = store.begin_read(t.id).await?;
        let head = tx.audit_head().await?;
        tx.commit().await?;
        let (seq, hash, key_id) = match head {
            Some(h) => (h.seq, h.hash, h.key_id),
            None => (0, audit::GENESIS_HASH.to_string(), None),
        };
        println!("{}", serde_json::to_string(&HeadLine { tenant: t.id, slug: &t.slug, seq, hash, key_id })?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Verifies each tenant's chain, and against the heads in `heads_file` when given; `all` says
/// `targets` is every tenant.
pub async fn verify(
    store: &dyn Store,
    targets: &[TenantRecord],
    all: bool,
    heads_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut expected = match heads_file {
        Some(path) => read_heads(path)?,
        None => HashMap::new(),
    };
    let mut intact = true;
    for t in targets {
        match audit::verify_against_head(store, t.id, expected.remove(&t.id).as_ref()).await? {
            Verdict::Intact { rows, head_hash } => {
                println!("{} ({}): intact, {rows} rows, head {head_hash}", t.slug, t.id)
            }
            Verdict::Broken { seq, reason } => {
                intact = false;
                println!("{} ({}): BROKEN at row {seq}: {reason}", t.slug, t.id);
            }
        }
    }
    // With every tenant checked, a recorded head whose tenant is gone means rows were removed.
    if all {
        for tenant in expected.keys() {
            intact = false;
            println!("{tenant}: BROKEN: the heads file names this tenant, the database has no such tenant");
        }
    }
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_heads(path: &Path) -> anyhow::Result<HashMap<TenantId, ExpectedHead>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut heads = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let head: ExpectedHead = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not a line printed by `balas audit head`", path.display(), n + 1))?;
        heads.insert(head.tenant, head);
    }
    Ok(heads)
}
