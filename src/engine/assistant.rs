//! The LLM path of the reply engine: clean and mask the customer's words, ground the prompt
//! on the business and its FAQ, ask the model (with fallbacks), and accept a reply only after
//! the checks in code. When it yields nothing usable, the caller falls back to the offline
//! responder.
use serde_json::json;

use super::mask::{Masker, clean_input};
use super::{Decision, Handover};
use crate::audit::AuditEntry;
use crate::domain::{EscalationReason, MessageId};
use crate::llm::check::{self, Refusal, ReplyRules};
use crate::llm::prompt::{self, Business, Turn};
use crate::llm::{Attempt, Llm, ModelDecision};
use crate::store::KbEntry;

/// What the model needs to know about one question.
pub struct Conversation<'a> {
    pub business: Business,
    pub faq: &'a [KbEntry],
    /// Earlier messages, oldest first: (`user` or `assistant`, text).
    pub history: Vec<(&'static str, String)>,
    pub question: &'a str,
}

/// What asking the model gave: its decision (if any endpoint gave a usable one), every
/// attempt made, and the parts of an escalation the checks dropped.
pub struct Asked {
    pub decision: Option<Decision>,
    pub attempts: Vec<Attempt>,
    pub dropped: Vec<Dropped>,
}

/// A part of the model's escalation (`summary` or `draft`) refused by the checks and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub part: &'static str,
    pub refusal: Refusal,
}

impl Dropped {
    /// The audit row: the part and the refusal class, never the text.
    pub fn audit(&self, message: MessageId) -> AuditEntry {
        AuditEntry::new("worker", "llm.output_refused", "message", Some(message.to_string()))
            .detail(json!({ "part": self.part, "refusal": self.refusal.as_str() }))
    }
}

/// Asks the model about one question; a reply is accepted only after the checks, and an
/// escalation's summary and draft pass the same checks or are dropped (the ticket still opens).
pub async fn ask(llm: &Llm, conversation: Conversation<'_>) -> Asked {
    let settings = llm.settings();
    let mut masker = Masker::new();
    let question = clean_input(conversation.question);
    let mut turns: Vec<Turn> =
        conversation.history.iter().map(|(role, text)| Turn { role, text: masker.mask(&clean_input(text)) }).collect();
    turns.push(Turn { role: "user", text: masker.mask(&question) });
    let grounding = prompt::top_faq(&question, conversation.faq);
    let system = prompt::render_system(&conversation.business, &grounding, settings.max_reply_chars);
    let (messages, _) = prompt::messages(&system, &turns, settings.history_tokens);

    let rules = ReplyRules::published(
        &conversation.business,
        conversation.faq.iter().map(|e| e.answer.as_str()),
        prompt::rules_section(&system),
        settings.max_reply_chars,
        masker.originals().map(str::to_string),
    );
    let accept = |raw: &str| {
        let text = check::whatsapp_format(&masker.unmask(raw));
        check::check(&text, &rules).map(|()| text).map_err(|refusal| refusal.as_str())
    };
    let outcome = llm.decide(&messages, accept).await;
    let model = outcome.attempts.last().map(|a| a.model.clone()).unwrap_or_default();
    let mut dropped = Vec::new();
    let mut vetted = |part: &'static str, text: Option<String>| {
        let text = text?;
        match check::check(&text, &rules) {
            Ok(()) => Some(text),
            Err(refusal) => {
                tracing::warn!(part, refusal = refusal.as_str(), "the model's escalation text was refused and dropped");
                dropped.push(Dropped { part, refusal });
                None
            }
        }
    };
    let decision = outcome.decision.map(|d| match d {
        ModelDecision::Reply(text) => Decision::Reply { text, basis: json!({ "source": "llm", "model": model }) },
        ModelDecision::Escalate(h) => Decision::Escalate(Handover {
            reason: EscalationReason::Model(h.reason),
            summary: vetted("summary", h.summary.map(|s| masker.unmask(&s))),
            draft: vetted("draft", h.draft.map(|d| check::whatsapp_format(&masker.unmask(&d)))),
        }),
    });
    Asked { decision, attempts: outcome.attempts, dropped }
}

/// Two lines for the owner about a conversation handed to them, from the masked history
/// (oldest first: role and text); the masked data is restored in the summary. A summary the
/// checks refuse counts as a failed attempt: the caller shows the last messages instead.
pub async fn summarize(
    llm: &Llm,
    business: &Business,
    faq: &[KbEntry],
    history: &[(&'static str, String)],
) -> (Option<String>, Vec<Attempt>) {
    let mut masker = Masker::new();
    let english = business.language == "en";
    let (customer, bot) = if english { ("Customer", "Business") } else { ("Pelanggan", "Usaha") };
    let transcript: Vec<String> = history
        .iter()
        .map(|(role, text)| {
            format!("{}: {}", if *role == "user" { customer } else { bot }, masker.mask(&clean_input(text)))
        })
        .collect();
    let template =
        if english { include_str!("../../prompts/summary.en.md") } else { include_str!("../../prompts/summary.id.md") };
    let system = template.trim().replace("{business_name}", &business.name);
    let messages =
        [json!({ "role": "system", "content": system }), json!({ "role": "user", "content": transcript.join("\n") })];
    let rules = ReplyRules::published(
        business,
        faq.iter().map(|e| e.answer.as_str()),
        &system,
        llm.settings().max_reply_chars,
        masker.originals().map(str::to_string),
    );
    let accept = |raw: &str| {
        let text = check::whatsapp_format(&masker.unmask(raw));
        check::check(&text, &rules).map_err(Refusal::as_str)?;
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect();
        Ok(lines.join("\n"))
    };
    let (summary, attempts) = llm.summarize(&messages, accept).await;
    (summary.filter(|s| !s.is_empty()), attempts)
}
