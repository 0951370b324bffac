//! Master-key rotation (`balas keys rotate`): with a new key first in `BALAS_FERNET_KEYS`,
//! re-wraps every tenant and contact data key under it (content is never re-encrypted), in
//! small committed batches so an interrupted run resumes where it stopped, then proves that
//! every wrapped key opens with the new key alone, so the old one can be removed.
use std::ops::ControlFlow;

use crate::crypto::Vault;
use crate::domain::{ContactId, TenantId};
use crate::store::{Store, StoreError, StoreResult};

/// Keys re-wrapped per transaction: small enough not to hold the SQLite writer for long.
const BATCH: i64 = 200;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub tenants: u64,
    /// Keys moved to the new primary key in this run.
    pub rewrapped: u64,
    /// Keys already under the primary (a resumed run, or written during the rotation).
    pub already_current: u64,
    /// Keys changed or deleted by a concurrent writer between read and write; left as they were.
    pub skipped_concurrent: u64,
    /// False when the caller's progress callback asked to stop early.
    pub finished: bool,
}

/// How far a run has come, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Re-wraps every data key under `vault`'s primary key. `on_progress` is called after each
/// batch; `ControlFlow::Break` stops the run (what has been committed stays).
pub async fn rotate(
    store: &dyn Store,
    vault: &Vault,
    on_progress: &mut (dyn FnMut(Progress) -> ControlFlow<()> + Send),
) -> StoreResult<Rotation> {
    let tenants = store.tenant_ids().await?;
    let total = total_keys(store, &tenants).await?;
    let mut run = Rotation { tenants: tenants.len() as u64, ..Rotation::default() };
    let mut done = 0;
    for tenant in tenants {
        let mut tx = store.begin(tenant).await?;
        if let Some(record) = tx.tenant().await?
            && !record.wrapped_key.is_empty()
        {
            match vault.rewrap(&record.wrapped_key)? {
                None => run.already_current += 1,
                Some(new) if tx.rewrap_tenant_key(&record.wrapped_key, &new).await? => run.rewrapped += 1,
                Some(_) => run.skipped_concurrent += 1,
            }
        }
        tx.commit().await?;
        done += 1;
        let mut after: Option<ContactId> = None;
        loop {
            let mut tx = store.begin(tenant).await?;
            let batch = tx.wrapped_contact_keys(after, BATCH).await?;
            for (id, wrapped) in &batch {
                match vault.rewrap(wrapped)? {
                    None => run.already_current += 1,
                    Some(new) if tx.rewrap_contact_key(*id, wrapped, &new).await? => run.rewrapped += 1,
                    Some(_) => run.skipped_concurrent += 1,
                }
            }
            tx.commit().await?;
            done += batch.len() as u64;
            after = batch.last().map(|(id, _)| *id);
            if on_progress(Progress { done, total: total.max(done) }).is_break() {
                return Ok(run);
            }
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
    }
    run.finished = true;
    Ok(run)
}

/// The outcome of checking that the primary key alone opens everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub keys_checked: u64,
    /// Tenants and contacts whose key (or identifiers) did not open with the primary alone.
    pub failures: Vec<String>,
}

/// Unwraps every tenant and contact key with the primary key alone and decrypts each
/// contact's identifiers with its key. Content is encrypted with those unchanged data keys.
pub async fn verify(store: &dyn Store, vault: &Vault) -> StoreResult<Verification> {
    let primary = vault.primary_only();
    let mut outcome = Verification::default();
    for tenant in store.tenant_ids().await? {
        let mut tx = store.begin_read(tenant).await?;
        let record = tx.tenant().await?.ok_or_else(|| StoreError::Invariant(format!("tenant {tenant} vanished")))?;
        if record.wrapped_key.is_empty() {
            continue; // purged: its key was destroyed on purpose
        }
        outcome.keys_checked += 1;
        if primary.unwrap_key(&record.wrapped_key).is_err() {
            outcome.failures.push(format!("tenant {tenant}"));
        }
        let mut after = None;
        loop {
            let batch = tx.wrapped_contact_keys(after, BATCH).await?;
            for (id, _) in &batch {
                outcome.keys_checked += 1;
                let opens = match tx.contact(*id).await? {
                    Some(c) => primary.unwrap_key(&c.wrapped_key).is_ok_and(|key| {
                        [&c.phone_enc, &c.bsuid_enc, &c.name_enc, &c.username_enc]
                            .into_iter()
                            .all(|enc| key.decrypt_opt(enc.as_deref()).is_ok())
                    }),
                    None => true, // erased since the page was read
                };
                if !opens {
                    outcome.failures.push(format!("contact {id} of tenant {tenant}"));
                }
            }
            after = batch.last().map(|(id, _)| *id);
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
        tx.commit().await?;
    }
    Ok(outcome)
}

async fn total_keys(store: &dyn Store, tenants: &[TenantId]) -> StoreResult<u64> {
    let mut total = 0;
    for tenant in tenants {
        let mut tx = store.begin_read(*tenant).await?;
        total += 1 + tx.contact_count().await?.max(0) as u64;
        tx.commit().await?;
    }
    Ok(total)
}
