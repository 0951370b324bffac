//! The rows the store reads and writes, one struct per table (or per narrow view of one).
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::{
    Author, ChannelId, ContactId, ConversationId, ConversationState, Direction, EscalationId, EscalationReason, JobId,
    KbEntryId, MessageId, MessageKind, OwnerId, OwnerMessageId, TenantId, TicketStatus, UserId,
};
use crate::jobs::{JobKind, JobState};
use crate::owner::{Purpose, Route};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRoute {
    pub channel_id: ChannelId,
    pub tenant_id: TenantId,
    pub provider: String,
}

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: JobId,
    pub tenant_id: TenantId,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: crate::tenants::TenantStatus,
    /// The tenant's data key, wrapped by the master key.
    pub wrapped_key: String,
    #[sqlx(flatten)]
    pub settings: crate::tenants::TenantSettings,
    /// `YYYY-MM` of the last "budget used up" notice, so it is given once a month.
    pub budget_notice_month: Option<String>,
    /// Set by `tenant cancel`; the tenant's data and keys are purged 30 days later.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The tenant's own LLM key (where the operator allows it), encrypted under its data key.
    pub own_llm_key_enc: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRecord {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub provider: String,
    /// The provider-side address of the business number (Meta phone number id, …).
    pub address: String,
    /// Provider secrets as JSON, encrypted with the tenant's data key.
    pub secrets_enc: String,
    pub created_at: DateTime<Utc>,
}

/// The WhatsApp template that serves one purpose on a channel in one language, and its
/// approval status as the provider last reported it (`approved`, `pending`, `paused`, …).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelTemplateRecord {
    pub channel_id: ChannelId,
    pub purpose: String,
    pub language: String,
    /// Meta's template name; Twilio's content SID (`HX…`).
    pub name: String,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KbEntry {
    pub id: KbEntryId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub question: String,
    pub answer: String,
    /// Extra search terms, space separated.
    pub keywords: String,
    /// 1 when created, one more at each edit (`kb_entry_versions` keeps them all).
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRecord {
    pub id: ContactId,
    pub tenant_id: TenantId,
    /// The contact's own data key, wrapped; deleting it shreds the contact's content.
    pub wrapped_key: String,
    pub bsuid_index: Option<Vec<u8>>,
    pub phone_index: Option<Vec<u8>>,
    pub bsuid_enc: Option<String>,
    pub phone_enc: Option<String>,
    pub username_enc: Option<String>,
    pub name_enc: Option<String>,
    /// The customer wrote STOP: the bot stays silent, messages still reach the owner.
    pub bot_stopped_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which blind index to look a contact up by.
#[derive(Debug, Clone, Copy)]
pub enum IdentityIndex<'a> {
    Bsuid(&'a [u8]),
    Phone(&'a [u8]),
}

/// Identifier columns to fill on an existing contact (each only if still empty), or to
/// replace (`rekey_bsuid`) when Meta reports a changed BSUID.
#[derive(Debug, Clone, Default)]
pub struct IdentityLink {
    pub bsuid: Option<(Vec<u8>, String)>,
    pub phone: Option<(Vec<u8>, String)>,
    pub rekey_bsuid: bool,
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    pub state: ConversationState,
    pub escalation_reason: Option<EscalationReason>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub window_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Blind index of the chat, fixed at creation: empty for the direct chat, else the group's.
    pub chat_index: Vec<u8>,
    /// The group id under the contact's key; `None` for the direct chat.
    pub chat_enc: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub direction: Direction,
    pub author: Author,
    pub kind: MessageKind,
    /// Body encrypted with the contact's data key.
    pub body_enc: Option<String>,
    /// Media and group metadata as JSON, encrypted with the contact's data key.
    pub meta_enc: Option<String>,
    pub provider_message_id: Option<String>,
    /// For a reply: the inbound message it answers, and which part of a split body it is.
    pub reply_to: Option<MessageId>,
    pub part: i32,
    pub status: String,
    pub status_rank: i32,
    pub error_code: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Someone who may use the owner API or dashboard. The e-mail is a blind index (for login)
/// plus ciphertext under the tenant's key; the password is an argon2id PHC string.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email_index: Vec<u8>,
    pub email_enc: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A user's quick-unlock PIN for the dashboard: its own hash, apart from the password, and
/// a failure count that locks it (kept in the database so the lock holds across instances).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffPinRecord {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub pin_hash: String,
    pub failures: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A number (or WhatsApp account) of the business owner or their staff that receives notices
/// and may send commands. Identifiers are encrypted with the tenant's data key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerRecord {
    pub id: OwnerId,
    pub tenant_id: TenantId,
    pub phone_index: Option<Vec<u8>>,
    pub bsuid_index: Option<Vec<u8>>,
    pub phone_enc: Option<String>,
    pub bsuid_enc: Option<String>,
    pub email_enc: Option<String>,
    pub name_enc: Option<String>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub window_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A ticket: one escalation of one conversation, numbered per tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EscalationRecord {
    pub id: EscalationId,
    pub tenant_id: TenantId,
    pub number: i32,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub trigger_message_id: Option<MessageId>,
    pub reason: EscalationReason,
    pub status: TicketStatus,
    /// Summary and suggested reply for the owner, encrypted with the contact's key.
    pub summary_enc: Option<String>,
    pub draft_enc: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub renotified: i32,
    pub customer_notified_at: Option<DateTime<Utc>>,
    /// When the owner was warned that the customer's 24-hour window closes soon.
    pub window_warned_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub last_owner_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// A message to an owner (notice, forward, answer to a command) or from one (a command).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerMessageRecord {
    pub id: OwnerMessageId,
    pub tenant_id: TenantId,
    pub owner_id: OwnerId,
    pub channel_id: ChannelId,
    pub escalation_id: Option<EscalationId>,
    /// When set, the body is encrypted with this contact's key (erasing the contact shreds it);
    /// otherwise with the tenant's key.
    pub contact_id: Option<ContactId>,
    pub direction: Direction,
    pub route: Route,
    pub purpose: Purpose,
    pub body_enc: Option<String>,
    pub provider_message_id: Option<String>,
    /// The provider id of the message an inbound command quote-replies to.
    pub quoted_provider_id: Option<String>,
    /// The customer's attachment a `forward_media` message carries.
    pub media_id: Option<uuid::Uuid>,
    /// An owner's file sent to the business number: its kind and the provider's references,
    /// encrypted like the body (`owner::inbox::OwnerFileMeta`).
    pub meta_enc: Option<String>,
    pub status: String,
    pub status_rank: i32,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StatusChange<'a> {
    pub status: &'a str,
    pub rank: i32,
    pub error_code: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub kind: JobKind,
    pub subject_id: Uuid,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    /// An error class we wrote ourselves; never provider text or message content.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub enum JobOutcome<'a> {
    Done,
    Retry {
        run_at: DateTime<Utc>,
        error: &'a str,
    },
    Dead {
        error: &'a str,
    },
    /// Run again at `run_at` with a fresh attempt count: a timer that is not finished yet.
    Later {
        run_at: DateTime<Utc>,
    },
}

/// One LLM call, stored for analytics and budgets; no text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LlmUsage {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub message_id: Option<MessageId>,
    #[sqlx(flatten)]
    pub call: LlmCall,
    pub at: DateTime<Utc>,
}

/// What one call to one LLM endpoint cost and gave.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LlmCall {
    pub model: String,
    /// `replied`, `escalated`, or `malformed:<class>` / `unavailable:<class>`.
    pub outcome: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub latency_ms: i64,
    /// At the prices of the profile that answered, in millionths of a dollar.
    pub cost_micro_usd: i64,
    /// Made with the tenant's own key: not counted against the operator's budget.
    #[sqlx(default)]
    pub own_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub tenant_id: TenantId,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    /// JSON text, stored byte for byte so the hash can be recomputed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// The `BALAS_AUDIT_KEY` that signed the row; `None` for plain SHA-256 rows from before keys.
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    pub key_id: Option<String>,
}
