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
