//! Customers and what they said: contacts, their conversations and the messages in them.
//! One of the aggregate traits `TenantTx` joins; the ingest path's set-based statements are
//! `IngestOps`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    ContactRecord, ConversationRecord, IdentityIndex, IdentityLink, MessageRecord, StatusChange, StoreResult,
    TenantScoped,
};
use crate::domain::{ChannelId, ContactId, ConversationId, MessageId};

#[async_trait]
pub trait ConversationOps: TenantScoped + Send {
    async fn contact_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<ContactRecord>>;
    async fn contact(&mut self, id: ContactId) -> StoreResult<Option<ContactRecord>>;
    /// Inserts unless a contact with the same blind index exists; returns whether it inserted.
    async fn insert_contact(&mut self, contact: &ContactRecord) -> StoreResult<bool>;
    /// Links a newly learned identifier to a contact, only where the contact lacked it.
    async fn link_contact_identity(&mut self, id: ContactId, link: &IdentityLink) -> StoreResult<()>;

    /// The open conversation of a contact in one chat (`chat_index`; empty for the direct chat).
    async fn open_conversation(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
        chat: &[u8],
    ) -> StoreResult<Option<ConversationRecord>>;
    async fn conversation(&mut self, id: ConversationId) -> StoreResult<Option<ConversationRecord>>;
    /// Every conversation of one contact, oldest first.
    async fn conversations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<ConversationRecord>>;
    /// Newest activity first; `before` pages on `updated_at`.
    async fn conversations(
        &mut self,
        state: Option<&str>,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// Inserts unless the contact has an open conversation in that chat; returns whether it inserted.
    async fn insert_conversation(&mut self, conversation: &ConversationRecord) -> StoreResult<bool>;
    /// Moves a conversation from state `from` to `to`; returns false if it was not in `from`
    /// (a concurrent transaction moved it first).
    async fn transition_conversation(
        &mut self,
        id: ConversationId,
        from: &str,
        to: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records an inbound message time; a new inbound also reopens a closed 24-hour window.
    async fn touch_conversation_inbound(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;
    /// The provider said the 24-hour window is closed: no free-form message reaches the customer.
    async fn mark_conversation_window_closed(&mut self, id: ConversationId, at: DateTime<Utc>) -> StoreResult<()>;

    async fn message_exists(&mut self, channel: ChannelId, provider_message_id: &str) -> StoreResult<bool>;
    /// Inserts unless the provider id is already stored for the channel (or the reply part
    /// already exists); returns whether it inserted.
    async fn insert_message(&mut self, message: &MessageRecord) -> StoreResult<bool>;
    async fn message(&mut self, id: MessageId) -> StoreResult<Option<MessageRecord>>;
    async fn replies_to(&mut self, inbound: MessageId) -> StoreResult<Vec<MessageRecord>>;
    /// The latest `limit` messages of a conversation, oldest first.
    async fn recent_messages(&mut self, conversation: ConversationId, limit: i64) -> StoreResult<Vec<MessageRecord>>;
    async fn outbound_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<MessageRecord>>;
    /// Moves the status forward only; returns whether it moved.
    async fn advance_message_status(&mut self, id: MessageId, update: &StatusChange<'_>) -> StoreResult<bool>;
    async fn set_provider_message_id(
        &mut self,
        id: MessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}
