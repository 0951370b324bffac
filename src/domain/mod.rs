//! Pure domain types: no I/O here.
pub mod conversation;
pub mod identity;
pub mod ids;
pub mod message;
pub mod text_code;

pub use conversation::{
    ConversationEvent, ConversationState, EscalationReason, InvalidTransition, ModelReason, TicketStatus,
};
pub use identity::{Bsuid, CustomerIdentity, IdentityError, Phone};
pub use ids::*;
pub use message::{
    Attachment, Author, DeliveryStatus, Direction, IdentityChange, InboundEvent, InboundMessage, MediaPart,
    MessageKind, MessageMeta, StatusUpdate, TemplateStatusChange,
};
use text_code::text_code;

/// The WhatsApp providers balas can connect a number through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Meta,
    Twilio,
    Fonnte,
}

text_code!(Provider, parse; Meta => "meta", Twilio => "twilio", Fonnte => "fonnte");

impl Provider {
    /// The longest text body the provider accepts in one message, in characters.
    pub fn max_body_chars(self) -> usize {
        match self {
            Self::Meta => 4096,
            Self::Twilio | Self::Fonnte => 1600,
        }
    }
}
