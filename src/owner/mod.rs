//! The owner loop on the owner's own WhatsApp: tickets, notices, commands, timers and the
//! 24-hour window. The owner is told through the tenant's channel and answers from there
//! (or through the API); every move goes through the conversation state machine.
pub mod attach;
pub mod buttons;
pub mod commands;
pub mod conversation_list;
pub mod deliver;
pub mod desk;
pub mod digest;
pub mod email;
pub mod files;
pub mod forward_media;
pub mod gap_commands;
pub mod inbox;
pub mod late_reply;
pub mod notify;
pub mod registry;
pub mod template_notice;
pub mod texts;
pub mod tickets;
pub mod timers;
pub mod window;

pub use registry::{OwnerContact, add_owner};

use crate::domain::text_code::text_code;

/// How a message reaches an owner; stored as `owner_messages.route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    WhatsApp,
    Email,
}

text_code!(Route, parse; WhatsApp => "whatsapp", Email => "email");

/// Why a message to or from an owner exists; stored as `owner_messages.purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A command the owner typed.
    Command,
    /// A new ticket.
    Notice,
    Reminder,
    /// A customer message forwarded while the owner has the conversation.
    Forward,
    /// Our answer to a command.
    Answer,
    /// Our answer to a reply sent to a customer: it offers "Jadikan FAQ".
    Replied,
    /// Our answer to a saved FAQ entry while other customers wait on it: it offers "Kirim ke semua".
    FaqSaved,
    /// A reply to a customer could not be delivered.
    Undeliverable,
    Budget,
    Digest,
    /// The owner went quiet and the conversation went back to the bot.
    Idle,
    Erasure,
    /// A customer's photo, voice note or document on an open ticket.
    ForwardMedia,
    /// A webhook endpoint of the shop was disabled.
    Webhook,
    /// A new sub-processor is announced.
    Subprocessor,
}

text_code!(Purpose, parse;
    Command => "command",
    Notice => "notice",
    Reminder => "reminder",
    Forward => "forward",
    Answer => "answer",
    Replied => "replied",
    FaqSaved => "faq_saved",
    Undeliverable => "undeliverable",
    Budget => "budget",
    Digest => "digest",
    Idle => "idle",
    Erasure => "erasure",
    ForwardMedia => "forward_media",
    Webhook => "webhook",
    Subprocessor => "subprocessor",
);

impl Purpose {
    /// Our answer to something the owner just typed or tapped: their window is open.
    pub fn is_answer(self) -> bool {
        matches!(self, Self::Answer | Self::Replied | Self::FaqSaved)
    }

    /// Notices that also go by e-mail, when SMTP is configured and the owner has an address.
    pub fn emailed_too(self) -> bool {
        matches!(
            self,
            Self::Notice
                | Self::Reminder
                | Self::Undeliverable
                | Self::Budget
                | Self::Digest
                | Self::Webhook
                | Self::Subprocessor
        )
    }
}
pub use tickets::{Action, ActionError, escalate};

/// The status of an owner message waiting for the owner's 24-hour window: a held digest's full
/// text, a customer's file. `digest::release_held` sends them when the owner writes or taps.
pub const HELD: &str = "held";
