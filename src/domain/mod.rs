//! Pure domain types: no I/O here.
pub mod conversation;
pub mod identity;
pub mod ids;
pub mod message;

pub use conversation::{ConversationEvent, ConversationState, EscalationReason, InvalidTransition, ModelReason};
pub use identity::{Bsuid, CustomerIdentity, IdentityError, Phone};
pub use ids::*;
pub use message::{
    Author, DeliveryStatus, IdentityChange, InboundEvent, InboundMessage, MessageKind, MessageMeta, StatusUpdate,
};

/// The WhatsApp providers balas can connect a number through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Meta,
    Twilio,
    Fonnte,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Twilio => "twilio",
            Self::Fonnte => "fonnte",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "meta" => Some(Self::Meta),
            "twilio" => Some(Self::Twilio),
            "fonnte" => Some(Self::Fonnte),
            _ => None,
        }
    }

    /// The longest text body the provider accepts in one message, in characters.
    pub fn max_body_chars(self) -> usize {
        match self {
            Self::Meta => 4096,
            Self::Twilio | Self::Fonnte => 1600,
        }
    }
}
