//! Tickets: opening one when a conversation is handed to the owner, and the owner's actions
//! on it. WhatsApp commands, the API and the timers all come through here, so every move
//! follows the conversation state machine and writes the same audit rows.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::audit::AuditEntry;
use crate::channels::split_body;
use crate::core::Core;
use crate::domain::{
    Author, ConversationEvent, ConversationState, EscalationId, EscalationReason, InvalidTransition, MessageId,
    Provider, TicketStatus,
};
use crate::engine::{Handover, Template, render};
use crate::jobs::JobKind;
use crate::store::{
    ConversationOps, ConversationRecord, EscalationRecord, JobRecord, OwnerOps, StoreError, StoreResult, TenantTx,
};
use crate::worker::outbound::{store_file_to_customer, store_reply, store_to_customer};

/// What the owner (or staff, through the API) does with a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this text to the customer, as the business.
    Reply(String),
    /// Send this file, with its caption, to the customer, as the business.
    SendFile(Box<super::files::FileReply>),
    /// Send the suggested reply.
    SendDraft,
    TakeOver,
    HandBack,
    Resolve,
}

impl Action {
    fn event(&self) -> ConversationEvent {
        match self {
            Self::Reply(_) | Self::SendFile(_) | Self::SendDraft => ConversationEvent::OwnerReply,
            Self::TakeOver => ConversationEvent::TakeOver,
            Self::HandBack => ConversationEvent::HandBack,
            Self::Resolve => ConversationEvent::Resolve,
        }
    }

    /// The audit action, also the name of the owner's confirmation text.
    fn audit_name(&self) -> &'static str {
        match self {
            Self::Reply(_) | Self::SendFile(_) | Self::SendDraft => "escalation.replied",
            Self::TakeOver => "escalation.taken_over",
            Self::HandBack => "escalation.handed_back",
            Self::Resolve => "escalation.resolved",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the ticket is already closed")]
    Closed,
    #[error("the ticket has no suggested reply")]
    NoDraft,
    #[error("the reply text is empty")]
    EmptyText,
    #[error("a file's caption is at most 1024 characters")]
    CaptionTooLong,
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    #[error("the conversation changed at the same moment; try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    /// A stable code for API errors and the owner's WhatsApp answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Closed => "ticket_closed",
            Self::NoDraft => "no_draft",
            Self::EmptyText => "empty_text",
            Self::CaptionTooLong => "caption_too_long",
            Self::Invalid(_) => "invalid_transition",
            Self::Conflict => "conflict",
            Self::Store(_) => "internal",
        }
    }
}

/// The ticket after an action, the conversation's new state and the messages sent.
#[derive(Debug)]
pub struct Applied {
    pub ticket: EscalationRecord,
    pub state: ConversationState,
    pub messages: Vec<MessageId>,
    pub trail: Vec<AuditEntry>,
}

/// How a ticket opens: what set it off, and who is told.
#[derive(Debug, Clone, Copy)]
pub struct Opening {
    pub trigger: Option<MessageId>,
    /// Send the customer the holding message (not to a customer we cannot reach now).
    pub holding_message: bool,
    /// Queue the owners' notice (not when an owner opened the ticket themselves).
    pub notify_owners: bool,
}

impl Opening {
    /// A ticket set off by `trigger`, with the owners told.
    pub fn after(trigger: Option<MessageId>, holding_message: bool) -> Self {
        Self { trigger, holding_message, notify_owners: true }
    }
}

/// Hands a `bot` conversation to the owner: moves it to `escalated`, opens a numbered
/// ticket, sends the holding message once, and queues the owner's notice and the ticket's
/// timer. A conversation already with the owner is left as it is (no second ticket, `None`).
pub async fn escalate(
    core: &Core,
    tx: &mut dyn TenantTx,
    conversation: &ConversationRecord,
    handover: &Handover,
    opening: Opening,
    now: DateTime<Utc>,
) -> StoreResult<(Option<EscalationRecord>, Vec<AuditEntry>)> {
    let Opening { trigger, holding_message, notify_owners } = opening;
    let from = conversation.state;
    let Ok(to) = from.on(ConversationEvent::Escalate) else { return Ok((None, Vec::new())) };
    let reason = handover.reason.as_str();
    if !tx.transition_conversation(conversation.id, from.as_str(), to.as_str(), Some(reason), now).await? {
        return Ok((None, Vec::new()));
    }
    let contact =
        tx.contact(conversation.contact_id).await?.ok_or_else(|| StoreError::Invariant("contact missing".into()))?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let ticket = EscalationRecord {
        id: EscalationId::new(),
        tenant_id: conversation.tenant_id,
        number: tx.next_ticket_number().await?,
        conversation_id: conversation.id,
        contact_id: conversation.contact_id,
        trigger_message_id: trigger,
        reason: handover.reason,
        status: TicketStatus::Open,
        summary_enc: key.encrypt_opt(handover.summary.as_deref()),
        draft_enc: key.encrypt_opt(handover.draft.as_deref()),
        opened_at: now,
        notified_at: None,
        renotified: 0,
        // A customer we cannot reach now (a failed send) is not told to wait either.
        customer_notified_at: (!holding_message).then_some(now),
        window_warned_at: None,
        answered_at: None,
        last_owner_at: None,
        closed_at: None,
        closed_by: None,
    };
    tx.insert_escalation(&ticket).await?;
    let gap = crate::gaps::record(core, tx, &ticket, &key, now).await?;
    let mut trail = vec![
        AuditEntry::new("worker", "conversation.escalated", "conversation", Some(conversation.id.to_string())).detail(
            json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason, "trigger": trigger, "ticket": ticket.number, "ticket_id": ticket.id }),
        ),
    ];
    trail.extend(gap);
    let tenant = tx.tenant().await?;
    if holding_message && let (Some(trigger), Some(tenant)) = (trigger, &tenant) {
        let text = render(Template::Holding, &tenant.settings.language, &tenant.name);
        let ids = store_reply(core, tx, trigger, Author::System, &[text], now).await?;
        trail.push(
            AuditEntry::new("worker", "reply.holding", "message", Some(trigger.to_string()))
                .detail(json!({ "messages": ids })),
        );
    }
    let max_attempts = core.jobs.max_attempts;
    if notify_owners {
        let notice = JobRecord::new(ticket.tenant_id, JobKind::OwnerNotice, ticket.id.0, max_attempts, now);
        tx.enqueue_job(&notice).await?;
    }
    if let Some(tenant) = &tenant {
        let timer = JobRecord {
            run_at: super::timers::first_due(&tenant.settings, now),
            ..JobRecord::new(ticket.tenant_id, JobKind::TicketTimer, ticket.id.0, max_attempts, now)
        };
        tx.enqueue_job(&timer).await?;
    }
    Ok((Some(ticket), trail))
}

/// Applies an owner's action to a locked ticket, through the state machine.
pub async fn apply(
    core: &Core,
    tx: &mut dyn TenantTx,
    mut ticket: EscalationRecord,
    action: Action,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Applied, ActionError> {
    if ticket.closed_at.is_some() {
        return Err(ActionError::Closed);
    }
    let conversation = tx.conversation(ticket.conversation_id).await?.ok_or(ActionError::Conflict)?;
    let from = conversation.state;
    let to = from.on(action.event())?;
    let text = match &action {
        Action::Reply(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()).ok_or(ActionError::EmptyText)?,
        Action::SendFile(file) if file.caption.chars().count() > super::files::MAX_CAPTION_CHARS => {
            return Err(ActionError::CaptionTooLong);
        }
        Action::SendDraft => {
            let contact = tx.contact(ticket.contact_id).await?.ok_or(ActionError::Conflict)?;
            let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(StoreError::from)?;
            key.decrypt_opt(ticket.draft_enc.as_deref()).map_err(StoreError::from)?.ok_or(ActionError::NoDraft)?
        }
        _ => String::new(),
    };
    if to != from {
        let reason =
            if to == ConversationState::Bot { None } else { conversation.escalation_reason.map(|r| r.as_str()) };
        if !tx.transition_conversation(conversation.id, from.as_str(), to.as_str(), reason, now).await? {
            return Err(ActionError::Conflict);
        }
    }
    let mut messages = Vec::new();
    if let Action::SendFile(file) = &action {
        messages = store_file_to_customer(core, tx, conversation.id, file, now).await?;
    } else if !text.is_empty() {
        let channel = tx.channel(conversation.channel_id).await?;
        let max = channel.and_then(|c| Provider::parse(&c.provider)).map_or(1600, Provider::max_body_chars);
        messages = store_to_customer(core, tx, conversation.id, Author::Owner, &split_body(&text, max), now).await?;
    }
    match to {
        ConversationState::Human => {
            ticket.status = TicketStatus::Human;
            ticket.answered_at.get_or_insert(now);
            ticket.last_owner_at = Some(now);
        }
        ConversationState::Bot | ConversationState::Closed => {
            ticket.status =
                if to == ConversationState::Bot { TicketStatus::HandedBack } else { TicketStatus::Resolved };
            ticket.closed_at = Some(now);
            ticket.closed_by = Some(actor.to_string());
        }
        ConversationState::Escalated => {}
    }
    tx.update_escalation(&ticket).await?;
    let mut trail =
        vec![AuditEntry::new(actor, action.audit_name(), "escalation", Some(ticket.id.to_string())).detail(
            json!({ "ticket": ticket.number, "from": from.as_str(), "to": to.as_str(), "messages": messages }),
        )];
    if to == ConversationState::Closed {
        trail.extend(announce_resolved(core, tx, &ticket, &conversation, now).await?);
    }
    Ok(Applied { ticket, state: to, messages, trail })
}

/// Tells the customer their ticket is resolved, when the tenant wants that and the customer
/// can be reached; a closed window is recorded, not retried.
async fn announce_resolved(
    core: &Core,
    tx: &mut dyn TenantTx,
    ticket: &EscalationRecord,
    conversation: &ConversationRecord,
    now: DateTime<Utc>,
) -> Result<Option<AuditEntry>, ActionError> {
    let Some(tenant) = tx.tenant().await? else { return Ok(None) };
    let contact = tx.contact(ticket.contact_id).await?.ok_or(ActionError::Conflict)?;
    let silent = contact.bot_stopped_at.is_some() || ticket.reason == EscalationReason::ErasureRequested;
    if !tenant.settings.announce_resolved || silent {
        return Ok(None);
    }
    let subject = Some(ticket.id.to_string());
    if window_left(conversation, now).is_none() {
        return Ok(Some(
            AuditEntry::new("system", "escalation.customer_notice_not_sent", "escalation", subject)
                .detail(json!({ "ticket": ticket.number, "notice": "resolved", "why": "window_closed" })),
        ));
    }
    let text = render(Template::Resolved, &tenant.settings.language, &tenant.name);
    let ids = store_to_customer(core, tx, conversation.id, Author::System, &[text], now).await?;
    Ok(Some(
        AuditEntry::new("system", "escalation.customer_told_resolved", "escalation", subject)
            .detail(json!({ "ticket": ticket.number, "messages": ids })),
    ))
}

/// Gives a ticket the owner never answered back to the bot after the tenant's resume limit:
/// the ticket is closed as `unanswered`.
pub async fn resume_unanswered(
    tx: &mut (impl ConversationOps + OwnerOps + ?Sized),
    ticket: &mut EscalationRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let ends = TimerEnd {
        event: ConversationEvent::Unanswered,
        status: TicketStatus::Unanswered,
        action: "escalation.unanswered",
        why: "unanswered",
    };
    end_by_timer(tx, ticket, ends, now).await
}

/// Gives a human-mode conversation back to the bot after the tenant's silence period.
pub async fn idle_timeout(
    tx: &mut (impl ConversationOps + OwnerOps + ?Sized),
    ticket: &mut EscalationRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let ends = TimerEnd {
        event: ConversationEvent::IdleTimeout,
        status: TicketStatus::HandedBack,
        action: "escalation.handed_back",
        why: "idle",
    };
    end_by_timer(tx, ticket, ends, now).await
}

/// How a timer ends a ticket: the conversation's move, the ticket's last status, the audit row.
struct TimerEnd {
    event: ConversationEvent,
    status: TicketStatus,
    action: &'static str,
    why: &'static str,
}

/// Moves the conversation by the timer's event and closes the ticket; `None` when the
/// conversation has moved on meanwhile (the move is refused).
async fn end_by_timer(
    tx: &mut (impl ConversationOps + OwnerOps + ?Sized),
    ticket: &mut EscalationRecord,
    end: TimerEnd,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let Some(conversation) = tx.conversation(ticket.conversation_id).await? else { return Ok(None) };
    let from = conversation.state;
    let Ok(to) = from.on(end.event) else { return Ok(None) };
    if !tx.transition_conversation(conversation.id, from.as_str(), to.as_str(), None, now).await? {
        return Ok(None);
    }
    ticket.status = end.status;
    ticket.closed_at = Some(now);
    ticket.closed_by = Some("timer".into());
    tx.update_escalation(ticket).await?;
    Ok(Some(
        AuditEntry::new("timer", end.action, "escalation", Some(ticket.id.to_string()))
            .detail(json!({ "ticket": ticket.number, "from": from.as_str(), "to": to.as_str(), "why": end.why })),
    ))
}

/// How long a customer's 24-hour window still has, if it is open at all.
pub fn window_left(conversation: &ConversationRecord, now: DateTime<Utc>) -> Option<Duration> {
    if conversation.window_closed_at.is_some() {
        return None;
    }
    let closes = conversation.last_inbound_at? + Duration::hours(24);
    (closes > now).then(|| closes - now)
}
