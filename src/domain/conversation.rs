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
}

impl EscalationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConfidentAnswer => "no_confident_answer",
            Self::UnreadableMedia => "unreadable_media",
            Self::ReplyFailed => "reply_failed",
        }
    }
}
