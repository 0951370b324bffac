//! The LLM path of the reply engine: clean and mask the customer's words, ground the prompt
//! on the business and its FAQ, ask the model (with fallbacks), and accept a reply only after
//! the checks in code. When it yields nothing usable, the caller falls back to the offline
//! responder. Also here:
//! - the model's input: the system prompt from `prompts/`, the top FAQ entries for the
//!   question, and the conversation history windowed by a token budget, newest turns first;
//! - what LLM calls cost: one `llm_usage` row and two audit rows per call (no text in either),
//!   and the calendar month the tenant's token budget counts.
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::check::{self, Refusal, ReplyRules};
use super::faq;
use super::mask::{Masker, clean_input};
use super::{Decision, Handover};
use crate::audit::AuditEntry;
use crate::domain::{EscalationReason, MessageId};
use crate::llm::{Attempt, Llm, ModelDecision};
use crate::store::{KbEntry, LlmUsage, StoreResult, TenantTx};

/// What the model needs to know about one question.
pub struct Conversation<'a> {
    pub business: Business,
    pub faq: &'a [KbEntry],
    /// Earlier messages, oldest first: (`user` or `assistant`, text).
    pub history: Vec<(&'static str, String)>,
    /// The customer's words (a caption, a transcript); may be empty beside an image.
    pub question: &'a str,
    /// The customer's photo as a `data:` URL, for a vision-capable model.
    pub image: Option<&'a str>,
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
    let mut masker = masker_for(&conversation.business, conversation.faq);
    let question = clean_input(conversation.question);
    let mut turns: Vec<Turn> =
        conversation.history.iter().map(|(role, text)| Turn { role, text: masker.mask(&clean_input(text)) }).collect();
    turns.push(Turn { role: "user", text: masker.mask(&question) });
    let grounding = top_faq(&question, conversation.faq);
    let mut system = render_system(&conversation.business, &grounding, settings.max_reply_chars);
    if conversation.image.is_some() {
        system.push_str(&image_rules(&conversation.business.language));
    }
    let (mut messages, _) = messages(&system, &turns, settings.history_tokens);
    if let (Some(url), Some(last)) = (conversation.image, messages.last_mut()) {
        // The photo rides with the customer's last turn, as OpenAI's image content part.
        let text = last["content"].as_str().unwrap_or_default().to_string();
        last["content"] = json!([
            { "type": "text", "text": if text.trim().is_empty() { "(foto)".to_string() } else { text } },
            { "type": "image_url", "image_url": { "url": url } },
        ]);
    }

    let rules = ReplyRules::published(
        &conversation.business,
        conversation.faq.iter().map(|e| e.answer.as_str()),
        rules_section(&system),
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

/// A masker for this business: customers' names and addresses go, what it published stays.
fn masker_for(business: &Business, faq: &[KbEntry]) -> Masker {
    let profile = [business.name.as_str(), &business.address, &business.description, &business.opening_hours];
    let entries = faq.iter().flat_map(|e| [e.question.as_str(), e.answer.as_str()]);
    Masker::for_business(profile.into_iter().chain(entries))
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
    let mut masker = masker_for(business, faq);
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

/// The rules added when the customer sent a photo: what to answer, and a transfer receipt goes
/// to the owner as `payment_proof`.
fn image_rules(language: &str) -> String {
    let rules = if language == "en" {
        include_str!("../../prompts/image.en.md")
    } else {
        include_str!("../../prompts/image.id.md")
    };
    format!("\n{}", rules.trim_end())
}

/// What the system prompt says about the business.
#[derive(Debug, Clone, Default)]
pub struct Business {
    pub name: String,
    pub description: String,
    pub address: String,
    pub opening_hours: String,
    pub tone: String,
    pub language: String,
    /// The `link_hosts` setting: hosts model output may link to besides those in the texts.
    pub link_hosts: String,
}

/// One earlier message, already masked.
#[derive(Debug, Clone)]
pub struct Turn {
    /// `user` (the customer) or `assistant` (the bot or the owner).
    pub role: &'static str,
    pub text: String,
}

/// How many FAQ entries ground one answer.
pub const TOP_K: usize = 4;

/// A rough token count (four characters a token, plus the message frame); exact counts come
/// back from the API as usage.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
}

pub fn render_system(business: &Business, faq_entries: &[&KbEntry], max_chars: usize) -> String {
    let template = if business.language == "en" {
        include_str!("../../prompts/system.en.md")
    } else {
        include_str!("../../prompts/system.id.md")
    };
    let none = if business.language == "en" { "(none)" } else { "(tidak ada)" };
    let faq_text = if faq_entries.is_empty() {
        none.to_string()
    } else {
        faq_entries.iter().map(|e| format!("- T: {}\n  J: {}", e.question, e.answer)).collect::<Vec<_>>().join("\n")
    };
    let or_none = |s: &str| if s.trim().is_empty() { none.to_string() } else { s.trim().to_string() };
    template
        .replace("{business_name}", &business.name)
        .replace("{description}", &or_none(&business.description))
        .replace("{address}", &or_none(&business.address))
        .replace("{opening_hours}", &or_none(&business.opening_hours))
        .replace("{tone}", &or_none(&business.tone))
        .replace("{max_chars}", &max_chars.to_string())
        .replace("{faq}", &faq_text)
}

/// The rules part of a rendered system prompt: its last `# ` section in both templates.
pub fn rules_section(system: &str) -> &str {
    system.rfind("\n# ").map_or(system, |i| &system[i..])
}

/// The FAQ entries most related to the question, best first.
pub fn top_faq<'a>(question: &str, entries: &'a [KbEntry]) -> Vec<&'a KbEntry> {
    faq::ranked(question, entries).into_iter().take(TOP_K).map(|m| m.entry).collect()
}

/// The chat messages: the system prompt, then as many recent turns as fit in
/// `history_tokens`, always including the last one (the question being answered).
pub fn messages(system: &str, turns: &[Turn], history_tokens: usize) -> (Vec<Value>, usize) {
    let mut used = estimate_tokens(system);
    let mut kept: Vec<&Turn> = Vec::new();
    for (i, turn) in turns.iter().rev().enumerate() {
        let cost = estimate_tokens(&turn.text);
        if i > 0 && used + cost > history_tokens + estimate_tokens(system) {
            break;
        }
        used += cost;
        kept.push(turn);
    }
    let mut out = vec![json!({ "role": "system", "content": system })];
    out.extend(kept.into_iter().rev().map(|t| json!({ "role": t.role, "content": t.text })));
    (out, used)
}

/// Records every attempt; the audit rows name `subject` (e.g. the message or ticket).
pub async fn record_usage(
    tx: &mut dyn TenantTx,
    message: Option<MessageId>,
    subject: (&'static str, String),
    attempts: &[Attempt],
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let (subject_type, subject_id) = subject;
    let mut trail = Vec::new();
    for a in attempts {
        let usage =
            LlmUsage { id: Uuid::now_v7(), tenant_id: tx.tenant_id(), message_id: message, call: a.clone(), at: now };
        tx.insert_llm_usage(&usage).await?;
        let id = Some(subject_id.clone());
        trail.push(
            AuditEntry::new("worker", "llm.requested", subject_type, id.clone()).detail(json!({ "model": a.model })),
        );
        let done = matches!(a.outcome.as_str(), "replied" | "escalated" | "summarized");
        let action = if done { "llm.replied" } else { "llm.failed" };
        trail.push(AuditEntry::new("worker", action, subject_type, id).detail(json!({
            "model": a.model,
            "outcome": a.outcome,
            "prompt_tokens": a.prompt_tokens,
            "completion_tokens": a.completion_tokens,
            "latency_ms": a.latency_ms,
        })));
    }
    Ok(trail)
}

/// The first instant of the current UTC month: budgets are per calendar month.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now)
}

#[cfg(test)]
mod prompt_tests {
    use super::*;

    fn turns(n: usize) -> Vec<Turn> {
        (0..n)
            .map(|i| Turn {
                role: if i % 2 == 0 { "user" } else { "assistant" },
                text: format!("pesan nomor {i} {}", "kata ".repeat(20)),
            })
            .collect()
    }

    #[test]
    fn the_window_keeps_the_newest_turns_in_order_within_budget() {
        let (messages, used) = messages("sistem", &turns(30), 200);
        assert!(messages.len() < 31 && messages.len() > 2, "{}", messages.len());
        assert_eq!(messages[0]["role"], "system");
        assert!(messages.last().unwrap()["content"].as_str().unwrap().starts_with("pesan nomor 29"));
        let numbers: Vec<usize> = messages[1..]
            .iter()
            .map(|m| m["content"].as_str().unwrap().split(' ').nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "{numbers:?}");
        assert!(used <= 200 + estimate_tokens("sistem"));
    }

    #[test]
    fn the_question_is_kept_even_when_it_alone_exceeds_the_budget() {
        let long = vec![Turn { role: "user", text: "x".repeat(10_000) }];
        assert_eq!(messages("s", &long, 10).0.len(), 2);
    }

    #[test]
    fn the_system_prompt_carries_the_business_and_the_rules() {
        let business = Business {
            name: "Toko Kopi".into(),
            address: "Jl. Kenanga 5".into(),
            language: "id".into(),
            ..Default::default()
        };
        let text = render_system(&business, &[], 700);
        assert!(text.contains("Toko Kopi") && text.contains("Jl. Kenanga 5") && text.contains("700 karakter"));
        assert!(text.contains("escalate_to_owner") && !text.contains('{'), "{text}");
    }
}
