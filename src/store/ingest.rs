//! Set-based statements for storing a run of customer messages: a fixed number of
//! statements per shared ingest transaction instead of about ten per message. A supertrait
//! of `TenantTx`, like `ReportingOps`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ContactRecord, ConversationRecord, JobRecord, MessageRecord, StoreResult, TenantScoped};
use crate::domain::{ChannelId, ContactId, ConversationId, MessageId};

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
pub const ROWS_PER_STATEMENT: usize = 500;

/// One conversation's inbound times within a run: the latest, and the last one applied.
#[derive(Debug, Clone, Copy)]
pub struct InboundTouch {
    pub conversation: ConversationId,
    pub latest: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

#[async_trait]
pub trait IngestOps: TenantScoped + Send {
    /// Which of these provider message ids the channel has stored already.
    async fn stored_provider_ids(&mut self, channel: ChannelId, ids: &[&str]) -> StoreResult<Vec<String>>;
    /// Contacts holding any of these blind indexes.
    async fn contacts_by_indexes(&mut self, bsuid: &[&[u8]], phone: &[&[u8]]) -> StoreResult<Vec<ContactRecord>>;
    /// The open conversations of these contacts on one channel, in every chat.
    async fn open_conversations_of(
        &mut self,
        channel: ChannelId,
        contacts: &[ContactId],
    ) -> StoreResult<Vec<ConversationRecord>>;
    /// Inserts contacts, skipping any whose blind index is taken; returns how many it inserted.
    async fn insert_contacts(&mut self, contacts: &[ContactRecord]) -> StoreResult<usize>;
    /// Inserts conversations, skipping any (contact, chat) already open; returns how many it inserted.
    async fn insert_conversations(&mut self, conversations: &[ConversationRecord]) -> StoreResult<usize>;
    /// Inserts messages, skipping provider ids already stored; returns the ids it inserted.
    async fn insert_messages(&mut self, messages: &[MessageRecord]) -> StoreResult<Vec<MessageId>>;
    /// Enqueues jobs, skipping any (kind, subject) already queued; returns how many it enqueued.
    async fn enqueue_jobs(&mut self, jobs: &[JobRecord]) -> StoreResult<usize>;
    /// `touch_conversation_inbound` for many conversations, one touch per conversation.
    async fn touch_conversations_inbound(&mut self, touches: &[InboundTouch]) -> StoreResult<()>;
}
