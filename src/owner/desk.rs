//! The owner's desk, shared by the API and the dashboard: the tenant's tickets listed
//! (customers masked, the read audited), one action taken on a ticket through `tickets::apply`,
//! and one conversation read with its messages (audited).
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::notify::{customer_label, label_of};
use super::tickets::Opening;
use super::{Action, ActionError, tickets};
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::core::Core;
use crate::domain::{
    Author, ContactId, ConversationId, ConversationState, Direction, EscalationId, EscalationReason, MessageId,
    MessageKind, TicketStatus,
};
use crate::engine::Handover;
use crate::store::{ConversationOps, ConversationRecord, EscalationRecord};
use crate::usecase::{UseCaseError, UseCaseResult};

/// A ticket as the owner's tools show it: the customer masked, no message content.
#[derive(Debug, Serialize)]
pub struct TicketView {
    pub id: EscalationId,
    pub number: i32,
    pub status: TicketStatus,
    pub reason: EscalationReason,
    pub conversation_id: ConversationId,
    /// Name and masked number (or username).
    pub customer: String,
    pub has_suggested_reply: bool,
    pub opened_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

async fn view(
    state: &Core,
    tx: &mut (impl ConversationOps + ?Sized),
    t: EscalationRecord,
) -> UseCaseResult<TicketView> {
    let customer = label_of(state, tx, t.contact_id).await?;
    Ok(TicketView {
        id: t.id,
        number: t.number,
        status: t.status,
        reason: t.reason,
        conversation_id: t.conversation_id,
        customer,
        has_suggested_reply: t.draft_enc.is_some(),
        opened_at: t.opened_at,
        answered_at: t.answered_at,
        closed_at: t.closed_at,
        closed_by: t.closed_by,
    })
}

/// No escalation with this id in the tenant (also for an id that does not parse).
pub fn not_found() -> UseCaseError {
    UseCaseError::not_found("escalation_not_found", "no escalation with this id in your tenant")
}

/// The tenant's tickets with customers masked; the read is audited naming `actor`.
pub async fn list_tickets(
    state: &Core,
    caller: &Caller,
    actor: &str,
    open_only: bool,
    limit: i64,
) -> UseCaseResult<Vec<TicketView>> {
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let mut views = Vec::new();
    for ticket in tx.escalations(open_only, limit).await? {
        views.push(view(state, &mut *tx, ticket).await?);
    }
    // Customer names are personal data: the read is audited, naming the reader.
    let entry = AuditEntry::new(actor, "escalation.listed", "tenant", Some(caller.tenant.to_string()))
        .detail(json!({ "count": views.len(), "token": caller.token_id }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(views)
}

/// A ticket after an action taken through `act_on_ticket`.
pub struct Acted {
    pub ticket: TicketView,
    pub state: ConversationState,
    pub messages: Vec<MessageId>,
}

/// One action on a ticket of the caller's tenant through `tickets::apply` (the state machine
/// and its audit trail, naming `actor`); wakes the workers for any message it queued.
pub async fn act_on_ticket(
    state: &Core,
    caller: &Caller,
    actor: &str,
    id: EscalationId,
    action: Action,
) -> UseCaseResult<Acted> {
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let ticket = tx.lock_escalation(id).await?.ok_or_else(not_found)?;
    let applied = tickets::apply(state, &mut *tx, ticket, action, actor, now).await.map_err(refusal)?;
    audit::append(&mut *tx, applied.trail, now).await?;
    let ticket = view(state, &mut *tx, applied.ticket).await?;
    tx.commit().await?;
    state.work_queued();
    Ok(Acted { ticket, state: applied.state, messages: applied.messages })
}

/// What stepping in on a conversation did.
pub struct SteppedIn {
    pub state: ConversationState,
    pub ticket: EscalationRecord,
    pub messages: Vec<MessageId>,
}

/// The owner steps in on a conversation (`Reply` or `TakeOver`): one the bot has gets a ticket
/// first (reason `owner_initiated`, no notice to the owners, no holding message), then the
/// action runs through `tickets::apply`, audited naming `actor`.
pub async fn step_in(
    state: &Core,
    caller: &Caller,
    actor: &str,
    id: ConversationId,
    action: Action,
) -> UseCaseResult<SteppedIn> {
    if let Action::Reply(text) = &action
        && text.trim().is_empty()
    {
        return Err(UseCaseError::invalid("empty_text", "the reply text is empty"));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let conversation = tx.conversation(id).await?.ok_or_else(conversation_not_found)?;
    let mut trail = Vec::new();
    let ticket = match tx.open_escalation(id).await? {
        Some(open) => tx.lock_escalation(open.id).await?.ok_or_else(conversation_not_found)?,
        None => {
            let handover = Handover::because(EscalationReason::OwnerInitiated);
            let opening = Opening { trigger: None, holding_message: false, notify_owners: false };
            let (ticket, opened) = tickets::escalate(state, &mut *tx, &conversation, &handover, opening, now).await?;
            trail.extend(opened);
            match ticket {
                Some(ticket) => ticket,
                // A second click got there second: the first one's ticket serves, unless it is closed.
                None => match tx.open_escalation(id).await? {
                    Some(open) => tx.lock_escalation(open.id).await?.ok_or_else(conversation_not_found)?,
                    None => return Err(UseCaseError::conflict("conversation_closed", "this conversation is closed")),
                },
            }
        }
    };
    let applied = tickets::apply(state, &mut *tx, ticket, action, actor, now).await.map_err(refusal)?;
    trail.extend(applied.trail);
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    state.work_queued();
    Ok(SteppedIn { state: applied.state, ticket: applied.ticket, messages: applied.messages })
}

/// A refused action by kind: an empty reply is invalid, a store error our fault, the rest a
/// conflict with the ticket's or conversation's state.
pub fn refusal(e: ActionError) -> UseCaseError {
    match e {
        ActionError::Store(inner) => UseCaseError::Fault(inner.to_string()),
        ActionError::EmptyText | ActionError::CaptionTooLong => UseCaseError::invalid(e.code(), e.to_string()),
        e => UseCaseError::conflict(e.code(), e.to_string()),
    }
}

#[derive(Debug, Serialize)]
pub struct ConversationView {
    pub id: ConversationId,
    pub contact_id: ContactId,
    pub state: ConversationState,
    pub escalation_reason: Option<EscalationReason>,
    /// Name and masked number (or username).
    pub customer: String,
    /// A WhatsApp group's conversation: everyone in the group reads what is sent here.
    pub in_group: bool,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub window_closed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: MessageId,
    pub direction: Direction,
    pub author: Author,
    pub kind: MessageKind,
    pub text: Option<String>,
    /// The stored attachments (none until fetched, or when the fetch failed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaView>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// One stored attachment of a message: what the reader may open by its id.
#[derive(Debug, Serialize)]
pub struct MediaView {
    pub id: uuid::Uuid,
    pub mime_type: String,
    pub bytes: i64,
}

/// A conversation as the owner's tools show it: the customer masked, no message content.
pub async fn conversation_view(
    state: &Core,
    tx: &mut (impl ConversationOps + ?Sized),
    c: ConversationRecord,
) -> UseCaseResult<ConversationView> {
    let customer = label_of(state, tx, c.contact_id).await?;
    Ok(view_with_label(c, customer))
}

/// `conversation_view` for a caller that already decrypted the customer's label.
pub fn view_with_label(c: ConversationRecord, customer: String) -> ConversationView {
    let in_group = crate::chats::is_group(&c);
    ConversationView {
        id: c.id,
        contact_id: c.contact_id,
        state: c.state,
        escalation_reason: c.escalation_reason,
        customer,
        in_group,
        last_inbound_at: c.last_inbound_at,
        window_closed: c.window_closed_at.is_some(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// No conversation with this id in the tenant (also for an id that does not parse).
pub fn conversation_not_found() -> UseCaseError {
    UseCaseError::not_found("conversation_not_found", "no conversation with this id in your tenant")
}

/// A conversation, its open ticket and its latest 200 messages decrypted (oldest first).
pub struct ConversationRead {
    pub conversation: ConversationView,
    pub open_ticket: Option<EscalationRecord>,
    pub messages: Vec<MessageView>,
    /// The open ticket's suggested reply, decrypted: it passed the reply checks when stored.
    pub suggested_reply: Option<String>,
}

/// Reads one conversation of the caller's tenant with its messages decrypted; the read is
/// audited as `conversation.read` naming `actor`, for the API and the dashboard alike.
pub async fn read_conversation(
    state: &Core,
    caller: &Caller,
    actor: &str,
    id: ConversationId,
) -> UseCaseResult<ConversationRead> {
    let fault = |e: crate::crypto::CryptoError| UseCaseError::Fault(e.to_string());
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let conversation = tx.conversation(id).await?.ok_or_else(conversation_not_found)?;
    let contact = tx.contact(conversation.contact_id).await?.ok_or_else(conversation_not_found)?;
    let key = state.keys.vault.unwrap_key(&contact.wrapped_key).map_err(fault)?;
    let messages = message_views(&mut *tx, &key, id, 200).await?;
    let open_ticket = tx.open_escalation(id).await?;
    let suggested_reply = match &open_ticket {
        Some(t) => key.decrypt_opt(t.draft_enc.as_deref()).map_err(fault)?,
        None => None,
    };
    let conversation = view_with_label(conversation, customer_label(&contact, &key)?);
    // Reading message content is audited, naming the reader.
    let entry = AuditEntry::new(actor, "conversation.read", "conversation", Some(id.to_string()))
        .detail(json!({ "messages": messages.len(), "token": caller.token_id }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(ConversationRead { conversation, open_ticket, messages, suggested_reply })
}

/// A conversation's latest `limit` messages (oldest first), decrypted with its contact's `key`,
/// with their stored attachments.
pub async fn message_views(
    tx: &mut (impl ConversationOps + crate::store::MediaOps + ?Sized),
    key: &crate::crypto::DataKey,
    id: ConversationId,
    limit: i64,
) -> UseCaseResult<Vec<MessageView>> {
    let fault = |e: crate::crypto::CryptoError| UseCaseError::Fault(e.to_string());
    let mut messages = Vec::new();
    for m in tx.recent_messages(id, limit).await? {
        let text = key.decrypt_opt(m.body_enc.as_deref()).map_err(fault)?;
        let media = if m.kind.is_media() { tx.media_of_message(m.id).await? } else { Vec::new() };
        let media =
            media.into_iter().map(|r| MediaView { id: r.id, mime_type: r.mime_type, bytes: r.size_bytes }).collect();
        messages.push(MessageView {
            id: m.id,
            direction: m.direction,
            author: m.author,
            kind: m.kind,
            text,
            media,
            status: m.status,
            created_at: m.created_at,
        });
    }
    Ok(messages)
}
