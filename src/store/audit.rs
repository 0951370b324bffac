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

/// `AuditOps` SQL, the same on both backends. Every statement names its tenant. `$specific` holds the
/// keys, the head lock and the row insert, which differ. Expanded for each backend in `sqlite.rs` and
/// `postgres.rs`.
macro_rules! audit_ops_impl {
    ($ty:ty, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditOps for $ty {
            $($specific)*

            async fn audit_rows_after(&mut self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
                Ok(sqlx::query_as("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                    .bind(self.tenant).bind(after_seq).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn audit_head(&mut self) -> StoreResult<Option<AuditHead>> {
                Ok(sqlx::query_as("SELECT seq, hash, key_id FROM audit_heads WHERE tenant_id = $1")
                    .bind(self.tenant).fetch_optional(&mut *self.tx).await?)
            }
        }
    };
}
