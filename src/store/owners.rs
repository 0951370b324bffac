//! The owner loop's rows: owner numbers, tickets (escalations) and the messages exchanged
//! with owners. One of the aggregate traits `TenantTx` joins.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    EscalationRecord, IdentityIndex, OwnerMessageRecord, OwnerRecord, StatusChange, StoreResult, TenantScoped,
};
use crate::domain::{ChannelId, ContactId, ConversationId, EscalationId, OwnerId, OwnerMessageId};

#[async_trait]
pub trait OwnerOps: TenantScoped + Send {
    async fn insert_owner(&mut self, owner: &OwnerRecord) -> StoreResult<bool>;
    async fn owners(&mut self) -> StoreResult<Vec<OwnerRecord>>;
    async fn owner(&mut self, id: OwnerId) -> StoreResult<Option<OwnerRecord>>;
    /// Removes an owner number and the messages exchanged with it; false when there is none.
    async fn delete_owner(&mut self, id: OwnerId) -> StoreResult<bool>;
    async fn owner_by_index(&mut self, index: IdentityIndex<'_>) -> StoreResult<Option<OwnerRecord>>;
    /// Links a BSUID to an owner found by phone, unless the owner has one already.
    async fn link_owner_bsuid(&mut self, id: OwnerId, index: &[u8], bsuid_enc: &str) -> StoreResult<()>;
    /// An owner wrote to the business number: their own 24-hour window is open again.
    async fn touch_owner_inbound(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn mark_owner_window_closed(&mut self, id: OwnerId, at: DateTime<Utc>) -> StoreResult<()>;

    /// Takes the tenant's next ticket number (1, 2, …).
    async fn next_ticket_number(&mut self) -> StoreResult<i32>;
    /// Inserts unless the conversation already has an open ticket; returns whether it inserted.
    async fn insert_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<bool>;
    async fn escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    /// The ticket, locked until commit where the backend has row locks.
    async fn lock_escalation(&mut self, id: EscalationId) -> StoreResult<Option<EscalationRecord>>;
    async fn escalations_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<EscalationRecord>>;
    async fn escalation_by_number(&mut self, number: i32) -> StoreResult<Option<EscalationRecord>>;
    async fn open_escalation(&mut self, conversation: ConversationId) -> StoreResult<Option<EscalationRecord>>;
    /// Open tickets first (oldest first), then closed ones (newest first).
    async fn escalations(&mut self, open_only: bool, limit: i64) -> StoreResult<Vec<EscalationRecord>>;
    /// Writes the ticket's mutable fields.
    async fn update_escalation(&mut self, escalation: &EscalationRecord) -> StoreResult<()>;

    /// Inserts unless the provider id is already stored for the channel; returns whether it inserted.
    async fn insert_owner_message(&mut self, message: &OwnerMessageRecord) -> StoreResult<bool>;
    async fn owner_message(&mut self, id: OwnerMessageId) -> StoreResult<Option<OwnerMessageRecord>>;
    /// Messages to owners about one contact (notices, forwards, answers), oldest first.
    async fn owner_messages_about(&mut self, contact: ContactId) -> StoreResult<Vec<OwnerMessageRecord>>;
    async fn owner_message_by_provider_id(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> StoreResult<Option<OwnerMessageRecord>>;
    async fn set_owner_message_sent(
        &mut self,
        id: OwnerMessageId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn advance_owner_message_status(
        &mut self,
        id: OwnerMessageId,
        update: &StatusChange<'_>,
    ) -> StoreResult<bool>;
    /// Drops a processed command's text: what it did is kept as messages and audit rows.
    async fn clear_owner_message_body(&mut self, id: OwnerMessageId, now: DateTime<Utc>) -> StoreResult<()>;
}
