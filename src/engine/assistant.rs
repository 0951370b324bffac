//! The LLM path of the reply engine: clean and mask the customer's words, ground the prompt
//! on the business and its FAQ, ask the model (with fallbacks), and accept a reply only after
//! the checks in code. When it yields nothing usable, the caller falls back to the offline
//! responder.
use serde_json::json;

use super::mask::{Masker, clean_input};
use super::{Decision, Handover};
use crate::domain::EscalationReason;
use crate::llm::check::{self, ReplyRules};
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

/// The model's decision, if any endpoint gave a usable one, and every attempt made.
pub async fn ask(llm: &Llm, conversation: Conversation<'_>) -> (Option<Decision>, Vec<Attempt>) {
    let settings = llm.settings();
    let mut masker = Masker::new();
    let question = clean_input(conversation.question);
    let mut turns: Vec<Turn> =
        conversation.history.iter().map(|(role, text)| Turn { role, text: masker.mask(&clean_input(text)) }).collect();
    turns.push(Turn { role: "user", text: masker.mask(&question) });
    let grounding = prompt::top_faq(&question, conversation.faq);
    let system = prompt::render_system(&conversation.business, &grounding, settings.max_reply_chars);
    let (messages, _) = prompt::messages(&system, &turns, settings.history_tokens);

    let business = &conversation.business;
    let published = [business.description.as_str(), business.address.as_str(), business.opening_hours.as_str()]
        .into_iter()
        .chain(conversation.faq.iter().map(|e| e.answer.as_str()));
    let mut allowed = check::personal_data_in(published);
    allowed.extend(masker.originals().map(str::to_string));
    let rules = ReplyRules { max_chars: settings.max_reply_chars, rules: prompt::rules_section(&system), allowed };
    let accept = |raw: &str| {
        let text = check::whatsapp_format(&masker.unmask(raw));
        check::check(&text, &rules).map(|()| text).map_err(|refusal| refusal.as_str())
    };
    let outcome = llm.decide(&messages, accept).await;
    let model = outcome.attempts.last().map(|a| a.model.clone()).unwrap_or_default();
    let decision = outcome.decision.map(|d| match d {
        ModelDecision::Reply(text) => Decision::Reply { text, basis: json!({ "source": "llm", "model": model }) },
        ModelDecision::Escalate(h) => Decision::Escalate(Handover {
            reason: EscalationReason::Model(h.reason),
            summary: h.summary.map(|s| masker.unmask(&s)),
            draft: h.draft.map(|d| check::whatsapp_format(&masker.unmask(&d))),
        }),
    });
    (decision, outcome.attempts)
}

/// Two lines for the owner about a conversation handed to them, from the masked history
/// (oldest first: role and text); the masked data is restored in the summary.
pub async fn summarize(
    llm: &Llm,
    business: &Business,
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
    let (summary, attempts) = llm.summarize(&messages).await;
    let summary = summary.map(|s| {
        let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect();
        masker.unmask(&lines.join("\n"))
    });
    (summary.filter(|s| !s.is_empty()), attempts)
}
