//! The tenant's hash-chained audit log: its keys, its head and its rows. Purging old rows is
//! `PrivacyOps`. One of the aggregate traits `TenantTx` joins.
use std::sync::Arc;

use super::{AuditHead, AuditRow, StoreResult, TenantScoped};
use async_trait::async_trait;

#[async_trait]
pub trait AuditOps: TenantScoped + Send {
    /// The keys that sign this tenant's audit rows, as installed on the store.
    fn audit_keys(&self) -> Option<Arc<crate::audit::AuditKeys>>;
    /// The chain head, locked until commit so appends from concurrent transactions serialise.
    async fn lock_audit_head(&mut self) -> StoreResult<AuditHead>;
    async fn insert_audit_rows(&mut self, rows: &[AuditRow], head: &AuditHead) -> StoreResult<()>;
    async fn audit_rows_after(&mut self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    async fn audit_head(&mut self) -> StoreResult<Option<AuditHead>>;
}
