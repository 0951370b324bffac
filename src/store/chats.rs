//! Reviewing conversations from before chats were kept apart (migration 0009): a supertrait
//! of `TenantTx` like `ReportingOps`. The caller decrypts; the store only lists and marks.
use async_trait::async_trait;

use super::{StoreResult, TenantScoped};
use crate::domain::ConversationId;

#[async_trait]
pub trait ChatOps: TenantScoped + Send {
    /// Conversations still waiting for their chat review, at most `limit`.
    async fn chat_reviews(&mut self, limit: i64) -> StoreResult<Vec<ConversationId>>;
    /// The sealed metadata of each of a conversation's customer messages (`None`: none, so the
    /// direct chat); group ids are kept there.
    async fn inbound_metas(&mut self, conversation: ConversationId) -> StoreResult<Vec<Option<String>>>;
    /// Fixes the chat of a conversation the review found to hold one group only.
    async fn set_conversation_chat(
        &mut self,
        conversation: ConversationId,
        index: &[u8],
        sealed: Option<&str>,
    ) -> StoreResult<bool>;
    async fn finish_chat_review(&mut self, conversation: ConversationId) -> StoreResult<()>;
}

/// `ChatOps` SQL, the same on both backends. Every statement names its tenant. Expanded for each
/// backend in `sqlite.rs` and `postgres.rs`.
macro_rules! chat_ops_impl {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ChatOps for $ty {
            async fn chat_reviews(&mut self, limit: i64) -> StoreResult<Vec<ConversationId>> {
                Ok(sqlx::query_scalar("SELECT conversation_id FROM chat_reviews WHERE tenant_id = $1 ORDER BY conversation_id LIMIT $2")
                    .bind(self.tenant).bind(limit).fetch_all(&mut *self.tx).await?)
            }

            async fn inbound_metas(&mut self, conversation: ConversationId) -> StoreResult<Vec<Option<String>>> {
                Ok(sqlx::query_scalar("SELECT meta_enc FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND direction = 'in' ORDER BY created_at, id")
                    .bind(self.tenant).bind(conversation).fetch_all(&mut *self.tx).await?)
            }

            async fn set_conversation_chat(&mut self, conversation: ConversationId, index: &[u8], sealed: Option<&str>) -> StoreResult<bool> {
                Ok(sqlx::query("UPDATE conversations SET chat_index = $3, chat_enc = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(conversation).bind(index).bind(sealed)
                    .execute(&mut *self.tx).await?.rows_affected() == 1)
            }

            async fn finish_chat_review(&mut self, conversation: ConversationId) -> StoreResult<()> {
                sqlx::query("DELETE FROM chat_reviews WHERE tenant_id = $1 AND conversation_id = $2")
                    .bind(self.tenant).bind(conversation).execute(&mut *self.tx).await?;
                Ok(())
            }
        }
    };
}
