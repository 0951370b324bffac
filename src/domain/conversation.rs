//! The conversation state machine: `bot → escalated → human → bot`, and `closed`. Every path
//! in (a customer message, an owner command, an API call, a timer) is one `ConversationEvent`,
//! and only a `bot` conversation is ever answered by the bot.
use super::text_code::{text_code, text_sqlx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationState {
    Bot,
    Escalated,
    Human,
    Closed,
}

text_code!(ConversationState, parse; Bot => "bot", Escalated => "escalated", Human => "human", Closed => "closed");

impl ConversationState {
    pub fn bot_may_answer(self) -> bool {
        self == Self::Bot
    }

    /// The state after `event`, or an error naming the refused move. Taking over or
    /// answering a conversation the owner already has keeps it where it is.
    pub fn on(self, event: ConversationEvent) -> Result<Self, InvalidTransition> {
        use ConversationEvent as E;
        let next = match (self, event) {
            (Self::Bot, E::Escalate) => Self::Escalated,
            (Self::Escalated | Self::Human, E::OwnerReply | E::TakeOver) => Self::Human,
            (Self::Escalated | Self::Human, E::HandBack) => Self::Bot,
            (Self::Escalated | Self::Human, E::Resolve) => Self::Closed,
            (Self::Human, E::IdleTimeout) => Self::Bot,
            (Self::Escalated, E::Unanswered) => Self::Bot,
            (Self::Bot | Self::Escalated | Self::Human, E::SplitChats) => Self::Closed,
            _ => return Err(InvalidTransition { from: self, event }),
        };
        Ok(next)
    }
}

/// Something that moves a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationEvent {
    /// A trigger hands the conversation to the owner.
    Escalate,
    /// The owner sent the customer a message.
    OwnerReply,
    /// The owner takes over: the bot stays silent.
    TakeOver,
    /// The owner hands the conversation back to the bot.
    HandBack,
    /// The owner marks the matter resolved; the next message starts a new conversation.
    Resolve,
    /// Nobody wrote for the tenant's idle period while the owner had the conversation.
    IdleTimeout,
    /// The owner never answered before the tenant's resume limit: the bot takes it back.
    Unanswered,
    /// The conversation mixed a direct chat and a group (before migration 0009): closed, so
    /// each chat's next message opens its own.
    SplitChats,
}

text_code!(ConversationEvent, parse;
    Escalate => "escalate",
    OwnerReply => "owner_reply",
    TakeOver => "take_over",
    HandBack => "hand_back",
    Resolve => "resolve",
    IdleTimeout => "idle_timeout",
    Unanswered => "unanswered",
    SplitChats => "split_chats",
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {} conversation cannot {}", from.as_str(), event.as_str())]
pub struct InvalidTransition {
    pub from: ConversationState,
    pub event: ConversationEvent,
}

/// Where a ticket stands; stored as `escalations.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    /// Waiting for the owner.
    Open,
    /// The owner is answering.
    Human,
    HandedBack,
    Resolved,
    /// Nobody answered before the tenant's resume limit: the bot took the conversation back.
    Unanswered,
}

text_code!(TicketStatus, parse; Open => "open", Human => "human", HandedBack => "handed_back", Resolved => "resolved", Unanswered => "unanswered");

/// Why a conversation was handed to the owner; stored and audited as the code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationReason {
    /// The offline FAQ responder had no answer above its confidence threshold.
    NoConfidentAnswer,
    /// A message kind the bot cannot read (image, voice note, …).
    UnreadableMedia,
    /// A reply could not be produced or delivered after every retry.
    ReplyFailed,
    /// The customer used one of the tenant's escalation keywords ("admin", "komplain", …).
    Keyword,
    /// The customer asked for a person ("minta admin", "sambungin ke CS").
    AskedForPerson,
    /// The customer wrote about their own case (a problem, an order they name): the FAQ cannot answer it.
    OwnCase,
    /// The customer asked the same thing again after the bot had answered it.
    RepeatedQuestion,
    /// The bot answered the tenant's maximum number of turns in a row.
    TooManyBotTurns,
    /// The message came outside the tenant's business hours.
    OutsideBusinessHours,
    /// A reply could not be delivered because the 24-hour window had closed.
    WindowClosed,
    /// The owner stepped into a conversation the bot had (API or dashboard).
    OwnerInitiated,
    /// The customer wrote STOP/BERHENTI: the owner answers them from now on.
    BotStopped,
    /// The customer asked for their data to be erased; the owner approves.
    ErasureRequested,
    /// The LLM called `escalate_to_owner` with this reason.
    Model(ModelReason),
}

impl EscalationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConfidentAnswer => "no_confident_answer",
            Self::UnreadableMedia => "unreadable_media",
            Self::ReplyFailed => "reply_failed",
            Self::Keyword => "keyword",
            Self::AskedForPerson => "asked_for_person",
            Self::OwnCase => "own_case",
            Self::RepeatedQuestion => "repeated_question",
            Self::TooManyBotTurns => "too_many_bot_turns",
            Self::OutsideBusinessHours => "outside_business_hours",
            Self::WindowClosed => "window_closed",
            Self::OwnerInitiated => "owner_initiated",
            Self::BotStopped => "bot_stopped",
            Self::ErasureRequested => "erasure_requested",
            Self::Model(reason) => reason.as_str(),
        }
    }

    /// The stored code back: `as_str` of some reason, or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        if let Some(model) = raw.strip_prefix("model_") {
            return ModelReason::parse(model).map(Self::Model);
        }
        use EscalationReason as R;
        let plain = [
            R::NoConfidentAnswer,
            R::UnreadableMedia,
            R::ReplyFailed,
            R::Keyword,
            R::AskedForPerson,
            R::OwnCase,
            R::RepeatedQuestion,
            R::TooManyBotTurns,
            R::OutsideBusinessHours,
            R::WindowClosed,
            R::OwnerInitiated,
            R::BotStopped,
            R::ErasureRequested,
        ];
        plain.into_iter().find(|r| raw == r.as_str())
    }
}

text_sqlx!(EscalationReason, EscalationReason::parse);

/// The reasons the LLM may give for handing over (the tool's enum in `prompts/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelReason {
    Unsure,
    AskedForPerson,
    Complaint,
    Refund,
    PaymentDispute,
    LegalOrMedical,
    /// A photo the model took for a transfer receipt: only the owner can confirm the money.
    PaymentProof,
}

impl ModelReason {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "unsure" => Some(Self::Unsure),
            "asked_for_person" => Some(Self::AskedForPerson),
            "complaint" => Some(Self::Complaint),
            "refund" => Some(Self::Refund),
            "payment_dispute" => Some(Self::PaymentDispute),
            "legal_or_medical" => Some(Self::LegalOrMedical),
            "payment_proof" => Some(Self::PaymentProof),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsure => "model_unsure",
            Self::AskedForPerson => "model_asked_for_person",
            Self::Complaint => "model_complaint",
            Self::Refund => "model_refund",
            Self::PaymentDispute => "model_payment_dispute",
            Self::LegalOrMedical => "model_legal_or_medical",
            Self::PaymentProof => "model_payment_proof",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConversationEvent as E;
    use super::ConversationState::*;

    #[test]
    fn the_loop_goes_bot_escalated_human_bot() {
        let escalated = Bot.on(E::Escalate).unwrap();
        assert_eq!(escalated, Escalated);
        let human = escalated.on(E::OwnerReply).unwrap();
        assert_eq!(human, Human);
        assert_eq!(human.on(E::TakeOver), Ok(Human));
        assert_eq!(human.on(E::HandBack), Ok(Bot));
        assert_eq!(escalated.on(E::TakeOver), Ok(Human));
        assert_eq!(escalated.on(E::Resolve), Ok(Closed));
        assert_eq!(human.on(E::IdleTimeout), Ok(Bot));
    }

    #[test]
    fn moves_that_make_no_sense_are_refused() {
        for event in [E::OwnerReply, E::TakeOver, E::HandBack, E::Resolve, E::IdleTimeout] {
            assert!(Bot.on(event).is_err(), "{event:?}");
            assert!(Closed.on(event).is_err(), "{event:?}");
        }
        assert!(Escalated.on(E::Escalate).is_err(), "one ticket at a time");
        assert!(Escalated.on(E::IdleTimeout).is_err(), "an unanswered ticket is never dropped by a timer");
        let refused = Human.on(E::Escalate).unwrap_err();
        assert_eq!(refused.to_string(), "a human conversation cannot escalate");
    }

    #[test]
    fn a_conversation_mixing_chats_closes_from_any_open_state() {
        for state in [Bot, Escalated, Human] {
            assert_eq!(state.on(E::SplitChats), Ok(Closed), "{state:?}");
        }
        assert!(Closed.on(E::SplitChats).is_err());
    }
}
