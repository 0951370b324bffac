//! Conversations listed for the owner's tools (the API and the dashboard's conversations page):
//! by state, or those whose customer still waits for an answer, each with its latest messages
//! decrypted. The listing is audited `conversation.listed`; each conversation whose messages are
//! shown is audited `conversation.read`, as when it is opened.
use serde::Serialize;
use serde_json::json;

use super::desk::{ConversationView, MessageView, conversation_view, message_views, view_with_label};
use super::notify::customer_label;
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::core::Core;
use crate::domain::{ConversationState, EscalationId};
use crate::store::Before;
use crate::usecase::{UseCaseError, UseCaseResult};

/// What a listing shows: a conversation state, or `Unanswered` (open, the customer's latest
/// message has no bot or owner answer yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Bot,
    Escalated,
    Human,
    Unanswered,
    Closed,
}

impl Filter {
    pub const ALL: [Self; 5] = [Self::Bot, Self::Escalated, Self::Human, Self::Unanswered, Self::Closed];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Escalated => "escalated",
            Self::Human => "human",
            Self::Unanswered => "unanswered",
            Self::Closed => "closed",
        }
    }

    /// The filter that shows conversations in `state`.
    pub fn of_state(state: ConversationState) -> Self {
        match state {
            ConversationState::Bot => Self::Bot,
            ConversationState::Escalated => Self::Escalated,
            ConversationState::Human => Self::Human,
            ConversationState::Closed => Self::Closed,
        }
    }

    fn state(self) -> Option<ConversationState> {
        match self {
            Self::Bot => Some(ConversationState::Bot),
            Self::Escalated => Some(ConversationState::Escalated),
            Self::Human => Some(ConversationState::Human),
            Self::Closed => Some(ConversationState::Closed),
            Self::Unanswered => None,
        }
    }
}

/// Which page of the listing, and how many of each conversation's latest messages to decrypt.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub filter: Option<Filter>,
    /// The previous page's last conversation.
    pub before: Option<Before>,
    pub limit: i64,
    /// 0 lists without content (nothing decrypted, no `conversation.read` rows).
    pub messages: i64,
}

/// One listed conversation: the customer masked, its open ticket, its latest messages.
#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub open_ticket: Option<OpenTicket>,
    /// Empty (and left out) when the listing shows no content.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latest: Vec<MessageView>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct OpenTicket {
    pub id: EscalationId,
    pub number: i32,
}

/// The caller's conversations, newest activity first; reads audited naming `actor`.
pub async fn list_conversations(core: &Core, caller: &Caller, actor: &str, page: Page) -> UseCaseResult<Vec<Listed>> {
    let fault = |e: crate::crypto::CryptoError| UseCaseError::Fault(e.to_string());
    let now = core.clock.now();
    // Read without the writer (SQLite has one); the audit rows follow in a short write.
    let mut tx = core.store.begin_read(caller.tenant).await?;
    let records = match page.filter {
        Some(Filter::Unanswered) => tx.unanswered_conversations(page.before, page.limit).await?,
        filter => {
            let state = filter.and_then(Filter::state).map(ConversationState::as_str);
            tx.conversations(state, page.before, page.limit).await?
        }
    };
    let (mut listed, mut trail) = (Vec::new(), Vec::new());
    for record in records {
        let (id, contact) = (record.id, record.contact_id);
        let open_ticket = tx.open_escalation(id).await?.map(|t| OpenTicket { id: t.id, number: t.number });
        // With content, the contact's key opens both the messages and the label; without, only the label.
        let (conversation, latest) = if page.messages > 0 {
            let contact = tx.contact(contact).await?.ok_or_else(super::desk::conversation_not_found)?;
            let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(fault)?;
            let latest = message_views(&mut *tx, &key, id, page.messages).await?;
            (view_with_label(record, customer_label(&contact, &key)?), latest)
        } else {
            (conversation_view(core, &mut *tx, record).await?, Vec::new())
        };
        if !latest.is_empty() {
            // Message content was read: audited per conversation, like opening it.
            trail.push(
                AuditEntry::new(actor, "conversation.read", "conversation", Some(id.to_string()))
                    .detail(json!({ "messages": latest.len(), "token": caller.token_id, "listed": true })),
            );
        }
        listed.push(Listed { conversation, open_ticket, latest });
    }
    let filter = page.filter.map(Filter::as_str);
    trail.push(
        AuditEntry::new(actor, "conversation.listed", "tenant", Some(caller.tenant.to_string()))
            .detail(json!({ "count": listed.len(), "filter": filter, "token": caller.token_id })),
    );
    tx.commit().await?;
    let mut tx = core.store.begin(caller.tenant).await?;
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    Ok(listed)
}

/// How many conversations each filter shows: counts only, nothing read, so nothing audited.
pub async fn counts(core: &Core, caller: &Caller) -> UseCaseResult<Vec<(Filter, i64)>> {
    let mut tx = core.store.begin_read(caller.tenant).await?;
    let (states, unanswered) = tx.conversation_counts().await?;
    tx.commit().await?;
    let of_state = |f: Filter| {
        states.iter().find(|(s, _)| Some(s.as_str()) == f.state().map(|s| s.as_str())).map_or(0, |(_, n)| *n)
    };
    Ok(Filter::ALL.map(|f| (f, if f == Filter::Unanswered { unanswered } else { of_state(f) })).to_vec())
}
