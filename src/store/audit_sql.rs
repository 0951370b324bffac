//! `AuditOps` SQL, the same on both backends and written once like `common.rs`. Every
//! statement names its tenant. `$specific` holds the keys, the head lock and the row insert, which differ.

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
