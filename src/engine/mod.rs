//! The reply engine: decides, for one customer message, to answer, escalate or stay quiet.
//! No database I/O here: the worker loads what the engine needs and stores what it decides.
//! The one outside call is `assistant`, which asks the LLM; the rest is pure.
use serde_json::{Value, json};

use crate::domain::{EscalationReason, MessageKind};
use crate::store::KbEntry;

pub mod assistant;
pub mod check;
pub mod faq;
pub mod intents;
mod lexicon;
pub mod mask;
pub mod name_address;
pub mod payment;
pub mod quantity;
pub mod templates;
pub mod text;
pub mod triggers;

pub use templates::{Template, render};

/// What the tenant looks like to the engine.
#[derive(Debug, Clone)]
pub struct BusinessProfile {
    pub name: String,
    pub language: String,
    /// Media the bot cannot read: answer politely asking for text, or escalate.
    pub escalate_media: bool,
    /// Whether the bot speaks in group chats at all.
    pub answer_groups: bool,
}

/// One customer message as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub kind: MessageKind,
    pub body: Option<&'a str>,
    /// Written in a group chat (Fonnte).
    pub in_group: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send `text` to the customer; `basis` says why, for the audit (no content in it).
    Reply {
        text: String,
        basis: Value,
    },
    Escalate(Handover),
    /// Nothing to answer (a reaction, a sticker).
    Ignore {
        why: &'static str,
    },
}

/// Handing a conversation to the owner, with what may help them answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub reason: EscalationReason,
    /// Two short lines on what the customer needs (from the LLM).
    pub summary: Option<String>,
    /// A reply the owner can send as is with `#12 1`.
    pub draft: Option<String>,
}

impl Handover {
    pub fn because(reason: EscalationReason) -> Self {
        Self { reason, summary: None, draft: None }
    }
}

/// A weaker FAQ match than the threshold is not sent, but offered to the owner as a draft.
const DRAFT_CONFIDENCE: f64 = 0.25;

/// The offline responder: FAQ retrieval with a confidence threshold, plus greetings and thanks.
pub fn decide(message: Incoming<'_>, faq_entries: &[KbEntry], profile: &BusinessProfile, threshold: f64) -> Decision {
    let Incoming { kind, body, in_group } = message;
    if in_group && !profile.answer_groups {
        return Decision::Ignore { why: "group_message" };
    }
    if matches!(kind, MessageKind::Reaction | MessageKind::Sticker) {
        return Decision::Ignore { why: "no_question" };
    }
    if !kind.carries_question() {
        return if profile.escalate_media {
            Decision::Escalate(Handover::because(EscalationReason::UnreadableMedia))
        } else {
            canned(Template::MediaUnreadable, profile, "media_unreadable")
        };
    }
    let Some(question) = body.map(str::trim).filter(|b| !b.is_empty()) else {
        return Decision::Ignore { why: "empty" };
    };
    if text::is_greeting(question) {
        return canned(Template::Greeting, profile, "greeting");
    }
    if text::is_thanks(question) {
        return canned(Template::Thanks, profile, "thanks");
    }
    if intents::about_own_case(question) {
        return Decision::Escalate(Handover::because(EscalationReason::OwnCase));
    }
    match faq::answer(question, faq_entries, threshold) {
        Ok(found) => Decision::Reply {
            text: found.entry.answer.clone(),
            basis: json!({ "source": "faq", "entry": found.entry.id, "confidence": round(found.confidence) }),
        },
        Err(weak) => Decision::Escalate(Handover {
            draft: weak.filter(|m| m.confidence >= DRAFT_CONFIDENCE).map(|m| m.entry.answer.clone()),
            ..Handover::because(EscalationReason::NoConfidentAnswer)
        }),
    }
}

fn canned(template: Template, profile: &BusinessProfile, source: &str) -> Decision {
    Decision::Reply { text: render(template, &profile.language, &profile.name), basis: json!({ "source": source }) }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> BusinessProfile {
        BusinessProfile { name: "Toko Kopi".into(), language: "id".into(), escalate_media: false, answer_groups: false }
    }

    fn ask(kind: MessageKind, body: Option<&str>) -> Incoming<'_> {
        Incoming { kind, body, in_group: false }
    }

    #[test]
    fn group_messages_are_answered_only_when_the_tenant_allows() {
        let in_group = Incoming { kind: MessageKind::Text, body: Some("Halo"), in_group: true };
        assert_eq!(decide(in_group, &[], &profile(), 0.5), Decision::Ignore { why: "group_message" });
        let open = BusinessProfile { answer_groups: true, ..profile() };
        assert!(matches!(decide(in_group, &[], &open, 0.5), Decision::Reply { .. }));
    }

    #[test]
    fn media_follows_the_tenant_policy_and_reactions_are_ignored() {
        match decide(ask(MessageKind::Audio, None), &[], &profile(), 0.5) {
            Decision::Reply { text, .. } => assert!(text.contains("pesan suara"), "{text}"),
            other => panic!("{other:?}"),
        }
        let strict = BusinessProfile { escalate_media: true, ..profile() };
        assert_eq!(
            decide(ask(MessageKind::Image, None), &[], &strict, 0.5),
            Decision::Escalate(Handover::because(EscalationReason::UnreadableMedia))
        );
        assert!(matches!(
            decide(ask(MessageKind::Reaction, Some("👍")), &[], &profile(), 0.5),
            Decision::Ignore { .. }
        ));
    }

    #[test]
    fn greeting_gets_the_welcome_text_and_unknown_questions_escalate() {
        match decide(ask(MessageKind::Text, Some("Halo kak")), &[], &profile(), 0.5) {
            Decision::Reply { text, .. } => assert!(text.contains("Toko Kopi")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(ask(MessageKind::Text, Some("bisa refund?")), &[], &profile(), 0.5),
            Decision::Escalate(Handover::because(EscalationReason::NoConfidentAnswer))
        );
    }
}
