//! The tenant's FAQ entries. One of the aggregate traits `TenantTx` joins.
use super::{KbEntry, StoreResult, TenantScoped};
use crate::domain::KbEntryId;
use async_trait::async_trait;

#[async_trait]
pub trait KbOps: TenantScoped + Send {
    async fn insert_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<()>;
    async fn kb_entries(&mut self) -> StoreResult<Vec<KbEntry>>;
    async fn kb_entry(&mut self, id: KbEntryId) -> StoreResult<Option<KbEntry>>;
    /// Rewrites an entry's question, answer and keywords; its new version, `None` when there is no such entry.
    async fn update_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<Option<i32>>;
    async fn delete_kb_entry(&mut self, id: KbEntryId) -> StoreResult<bool>;
    /// Deletes every FAQ entry of the tenant; returns how many there were.
    async fn clear_kb_entries(&mut self) -> StoreResult<u64>;
}

/// `KbOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each backend
/// in `sqlite.rs` and `postgres.rs`.
macro_rules! kb_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::KbOps for $ty {
            async fn insert_kb_entry(&mut self, e: &KbEntry) -> StoreResult<()> {
                sqlx::query("INSERT INTO kb_entries (id, tenant_id, question, answer, keywords, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(e.id).bind(self.tenant).bind(&e.question).bind(&e.answer).bind(&e.keywords).bind(e.version).bind($time(e.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn kb_entries(&mut self) -> StoreResult<Vec<KbEntry>> {
                Ok(sqlx::query_as("SELECT * FROM kb_entries WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn kb_entry(&mut self, id: KbEntryId) -> StoreResult<Option<KbEntry>> {
                Ok(sqlx::query_as("SELECT * FROM kb_entries WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn update_kb_entry(&mut self, e: &KbEntry) -> StoreResult<Option<i32>> {
                Ok(sqlx::query_scalar("UPDATE kb_entries SET question = $3, answer = $4, keywords = $5, version = version + 1 WHERE tenant_id = $1 AND id = $2 RETURNING version")
                    .bind(self.tenant).bind(e.id).bind(&e.question).bind(&e.answer).bind(&e.keywords)
                    .fetch_optional(&mut *self.tx).await?)
            }

            async fn delete_kb_entry(&mut self, id: KbEntryId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM kb_entries WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn clear_kb_entries(&mut self) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM kb_entries WHERE tenant_id = $1").bind(self.tenant).execute(&mut *self.tx).await?.rows_affected())
            }
        }
    };
}
