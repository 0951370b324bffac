//! Signed outbound webhooks (Standard Webhooks v1): a shop's own systems hear what happens.
//!
//! Events are taken from the audit trail as it is appended (`queue`), so each is queued in the
//! transaction that caused it; a `webhook_delivery` job per endpoint sends it (`deliver`) on
//! Svix's retry schedule, through the outbound guard, and settles it. The owner manages
//! endpoints through `endpoints` (API and CLI).
use std::time::Duration;

use chrono::TimeDelta;

pub mod deliver;
pub mod endpoints;
mod payload;
pub mod queue;
pub mod signature;

pub use signature::Secret;

/// Every event type an endpoint can take.
pub const EVENTS: [&str; 8] = [
    "message.received",
    "message.sent",
    "message.failed",
    "conversation.escalated",
    "ticket.opened",
    "ticket.resolved",
    "ticket.unanswered",
    "data_request.opened",
];

/// Delays before each attempt, after the one before failed: Svix's schedule, 8 attempts in all.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// An endpoint failing this long without one delivery is disabled and its owners told.
pub const DISABLE_AFTER: TimeDelta = TimeDelta::days(5);

/// After a rotation, the previous secret signs too for this long.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// A 2xx within this time counts as delivered.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The operator's setting for endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookSettings {
    /// Let endpoints be on private, loopback or link-local addresses and plain http: a local
    /// receiver (tests, an n8n beside balas) only.
    pub allow_private: bool,
}

/// The guarded HTTP client that sends deliveries and vets new endpoints.
pub struct Sender {
    pub guard: crate::fetch_guard::Guard,
}

impl Sender {
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Self> {
        Ok(Self { guard: crate::fetch_guard::Guard::new(settings.allow_private, TIMEOUT)? })
    }
}
