//! The owner loop on the owner's own WhatsApp: tickets, notices, commands, timers and the
//! 24-hour window. The owner is told through the tenant's channel and answers from there
//! (or through the API); every move goes through the conversation state machine.
pub mod commands;
pub mod deliver;
pub mod desk;
pub mod digest;
pub mod email;
pub mod inbox;
pub mod notify;
pub mod registry;
pub mod texts;
pub mod tickets;
pub mod timers;
pub mod window;

pub use registry::{OwnerContact, add_owner};
pub use tickets::{Action, ActionError, escalate};
