//! The tenant's FAQ entries. One of the aggregate traits `TenantTx` joins.
use super::{KbEntry, StoreResult, TenantScoped};
use crate::domain::KbEntryId;
use async_trait::async_trait;

#[async_trait]
pub trait KbOps: TenantScoped + Send {
    async fn insert_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<()>;
    async fn kb_entries(&mut self) -> StoreResult<Vec<KbEntry>>;
    /// Rewrites an entry's question, answer and keywords; false when there is no such entry.
    async fn update_kb_entry(&mut self, entry: &KbEntry) -> StoreResult<bool>;
    async fn delete_kb_entry(&mut self, id: KbEntryId) -> StoreResult<bool>;
    /// Deletes every FAQ entry of the tenant; returns how many there were.
    async fn clear_kb_entries(&mut self) -> StoreResult<u64>;
}
