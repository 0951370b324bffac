//! Conversation states. The full state machine with owner transitions arrives with the owner loop;
//! what holds already: only a `bot` conversation is ever answered by the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationState {
    Bot,
    Escalated,
    Human,
    Closed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Escalated => "escalated",
            Self::Human => "human",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "bot" => Some(Self::Bot),
            "escalated" => Some(Self::Escalated),
            "human" => Some(Self::Human),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    pub fn bot_may_answer(self) -> bool {
        self == Self::Bot
    }
}

/// Why a conversation was handed to the owner; stored and audited as the code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationReason {
    /// The offline FAQ responder had no answer above its confidence threshold.
    NoConfidentAnswer,
    /// A message kind the bot cannot read (image, voice note, …).
    UnreadableMedia,
    /// A reply could not be produced or delivered after every retry.
    ReplyFailed,
    /// The LLM called `escalate_to_owner` with this reason.
    Model(ModelReason),
}

impl EscalationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConfidentAnswer => "no_confident_answer",
            Self::UnreadableMedia => "unreadable_media",
            Self::ReplyFailed => "reply_failed",
            Self::Model(reason) => reason.as_str(),
        }
    }
}

/// The reasons the LLM may give for handing over (the tool's enum in `prompts/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelReason {
    Unsure,
    AskedForPerson,
    Complaint,
    Refund,
    PaymentDispute,
    LegalOrMedical,
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
        }
    }
}
