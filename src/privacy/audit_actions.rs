//! What each audited action did to personal data: read, exported, changed, or bookkeeping
//! that shows no one anything. The breach report counts by this table; a unit test keeps it
//! complete.
use serde::Serialize;

/// What an audited action did to personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Someone (an API caller, an owner, the LLM on the worker's behalf) was shown the data.
    Read,
    /// The data left as a bundle (access and portability).
    Exported,
    /// The data was created, altered, sent or erased.
    Changed,
    /// Logins, tokens, jobs and other bookkeeping that shows no one any personal data.
    Internal,
    /// An action missing from `ACTIONS`: counted, never dropped, so a new action shows up here.
    Other,
}

impl Category {
    pub const ALL: [Self; 5] = [Self::Read, Self::Exported, Self::Changed, Self::Internal, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Exported => "exported",
            Self::Changed => "changed",
            Self::Internal => "internal",
            Self::Other => "other",
        }
    }

    /// The categories a breach notice counts data subjects in.
    pub fn concerns_subjects(self) -> bool {
        !matches!(self, Self::Internal)
    }
}

const IDENTITY: &str = "contact identity (phone number, WhatsApp user id, name)";
const MESSAGES: &str = "customer messages";
const TICKETS: &str = "tickets (reason, summary, suggested reply)";
const OWNER_MESSAGES: &str = "messages to and from owners";
const MEDIA: &str = "customers' photos, voice notes and documents";
const ALL_CONTACT_DATA: &str = "everything held about the contact";
const USERS: &str = "user accounts (e-mail, role)";
const OWNERS: &str = "owner numbers and e-mails";
const BUSINESS: &str = "business settings and channels";
const FAQ: &str = "FAQ entries";
const GAPS: &str = "questions the bot could not answer (masked customer words)";
const REQUESTS: &str = "data-subject requests";
const TENANT_DATA: &str = "all of the tenant's data";
pub const NONE: &str = "no personal data";
const UNKNOWN: &str = "unknown (unclassified action)";

use Category::{Changed, Exported, Internal, Read};

/// Every action the code audits, its category, and the category of personal data it touches.
pub const ACTIONS: &[(&str, Category, &str)] = &[
    ("conversation.read", Read, MESSAGES),
    ("conversation.listed", Read, MESSAGES),
    ("escalation.listed", Read, TICKETS),
    ("user.listed", Read, USERS),
    ("llm.requested", Read, MESSAGES),
    ("message.forwarded_to_owner", Read, MESSAGES),
    ("escalation.notified", Read, TICKETS),
    ("escalation.reminded", Read, TICKETS),
    ("escalation.window_warning", Read, TICKETS),
    ("owner_message.sent", Read, OWNER_MESSAGES),
    ("owner_message.template_capped", Changed, OWNER_MESSAGES),
    ("owner_message.released", Changed, OWNER_MESSAGES),
    ("owner_message.deferred", Internal, NONE),
    ("owner.digest_sent", Read, MESSAGES),
    ("contact.exported", Exported, ALL_CONTACT_DATA),
    ("contact.created", Changed, IDENTITY),
    ("contact.rekeyed", Changed, IDENTITY),
    ("contact.corrected", Changed, IDENTITY),
    ("contact.bot_stopped", Changed, IDENTITY),
    ("contact.bot_restarted", Changed, IDENTITY),
    ("contact.erased", Changed, ALL_CONTACT_DATA),
    ("message.received", Changed, MESSAGES),
    ("media.stored", Changed, MEDIA),
    ("media.read", Read, MEDIA),
    ("media.served", Read, MEDIA),
    ("owner_message.held", Changed, OWNER_MESSAGES),
    ("media.fetch_failed", Changed, MEDIA),
    // The transcript is the customer's words, stored like their text.
    ("media.transcribed", Changed, MESSAGES),
    // The photo was shown to the LLM endpoint on the worker's behalf.
    ("media.sent_to_model", Read, MEDIA),
    ("media.not_understood", Internal, NONE),
    ("message.sent", Changed, MESSAGES),
    ("message.undeliverable", Changed, MESSAGES),
    ("message.held", Changed, MESSAGES),
    ("message.follow_up_sent", Changed, MESSAGES),
    ("message.released", Changed, MESSAGES),
    ("message.not_delivered", Changed, MESSAGES),
    ("message.status", Changed, MESSAGES),
    ("reply.decided", Changed, MESSAGES),
    ("reply.holding", Changed, MESSAGES),
    ("conversation.escalated", Changed, TICKETS),
    ("conversation.window_closed", Changed, MESSAGES),
    ("conversation.chat_fixed", Changed, MESSAGES),
    ("conversation.closed_mixed_chats", Changed, TICKETS),
    ("escalation.replied", Changed, TICKETS),
    ("escalation.taken_over", Changed, TICKETS),
    ("escalation.handed_back", Changed, TICKETS),
    ("escalation.resolved", Changed, TICKETS),
    ("escalation.customer_told_to_wait", Changed, MESSAGES),
    ("escalation.customer_told_when", Changed, MESSAGES),
    ("escalation.customer_told_resolved", Changed, MESSAGES),
    ("escalation.customer_notice_not_sent", Internal, NONE),
    ("escalation.unanswered", Changed, TICKETS),
    ("owner.button_refused", Changed, OWNER_MESSAGES),
    ("owner.command", Changed, OWNER_MESSAGES),
    ("owner.message_received", Changed, OWNER_MESSAGES),
    ("owner.added", Changed, OWNERS),
    ("owner.removed", Changed, OWNERS),
    ("owner.window_closed", Changed, OWNERS),
    ("user.created", Changed, USERS),
    ("user.disabled", Changed, USERS),
    ("user.pin_set", Changed, USERS),
    ("tenant.created", Changed, BUSINESS),
    ("tenant.settings_changed", Changed, BUSINESS),
    ("tenant.limits_changed", Internal, NONE),
    ("channel.added", Changed, BUSINESS),
    ("channel.template_set", Changed, BUSINESS),
    ("channel.template_refused", Changed, BUSINESS),
    ("channel.template_resumed", Changed, BUSINESS),
    ("channel.template_status", Changed, BUSINESS),
    ("tenant.cancelled", Changed, BUSINESS),
    ("tenant.purged", Changed, TENANT_DATA),
    ("retention.purged", Changed, MESSAGES),
    ("kb.created", Changed, FAQ),
    ("kb.updated", Changed, FAQ),
    ("kb.deleted", Changed, FAQ),
    ("kb.imported", Changed, FAQ),
    ("llm.own_key_set", Changed, BUSINESS),
    ("llm.own_key_deleted", Changed, BUSINESS),
    ("subprocessor.list_recorded", Internal, NONE),
    ("subprocessor.change_announced", Changed, BUSINESS),
    ("subprocessor.change_accepted", Changed, BUSINESS),
    ("subprocessor.change_objected", Changed, BUSINESS),
    ("subprocessor.change_effective", Changed, BUSINESS),
    ("subprocessor.removed", Changed, BUSINESS),
    ("gap.recorded", Changed, GAPS),
    ("gap.listed", Read, GAPS),
    ("gap.closed", Changed, GAPS),
    ("gap.waiting_answered", Changed, MESSAGES),
    ("request.opened", Changed, REQUESTS),
    ("request.acknowledged", Changed, REQUESTS),
    ("request.closed", Changed, REQUESTS),
    ("auth.login_succeeded", Internal, NONE),
    ("auth.login_failed", Internal, NONE),
    // The dashboard's PIN lock: a locked session, and each unlock attempt.
    ("auth.session_locked", Internal, NONE),
    ("auth.pin_unlocked", Internal, NONE),
    ("auth.pin_failed", Internal, NONE),
    ("token.issued", Internal, NONE),
    ("token.revoked", Internal, NONE),
    ("job.claimed", Internal, NONE),
    ("job.failed", Internal, NONE),
    ("job.dead", Internal, NONE),
    // No longer written (rejected webhooks are counted in /metrics); older rows remain.
    ("webhook.signature_rejected", Internal, NONE),
    ("message.duplicate_ignored", Internal, NONE),
    ("message.status_ignored", Internal, NONE),
    ("reply.skipped", Internal, NONE),
    // The outcome of an `llm.requested` already counted as the read.
    ("llm.replied", Internal, NONE),
    ("llm.failed", Internal, NONE),
    ("llm.output_refused", Internal, NONE),
    ("llm.budget_exhausted", Internal, NONE),
    ("audit.purged", Internal, NONE),
    ("audit.anchored", Internal, NONE),
    ("audit.key_rotated", Internal, NONE),
    ("owner_message.dropped", Internal, NONE),
    // A shop's webhook endpoints: what the owner set, and each attempt to send an event.
    ("webhook.endpoint_created", Changed, BUSINESS),
    ("webhook.endpoint_deleted", Changed, BUSINESS),
    ("webhook.endpoint_enabled", Changed, BUSINESS),
    ("webhook.endpoint_disabled", Changed, BUSINESS),
    ("webhook.secret_rotated", Changed, BUSINESS),
    ("webhook.endpoints_listed", Internal, NONE),
    ("webhook.deliveries_listed", Internal, NONE),
    ("webhook.replayed", Internal, NONE),
    ("webhook.attempted", Internal, NONE),
    // The event went with the customer's phone number and words, as the owner chose.
    ("webhook.content_sent", Read, MESSAGES),
];

pub fn classify(action: &str) -> (Category, &'static str) {
    ACTIONS.iter().find(|(a, ..)| *a == action).map_or((Category::Other, UNKNOWN), |(_, c, d)| (*c, *d))
}
