//! Building the model's input: the system prompt from `prompts/`, the top FAQ entries for the
//! question, and the conversation history windowed by a token budget, newest turns first.
use serde_json::{Value, json};

use crate::engine::faq;
use crate::store::KbEntry;

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

#[cfg(test)]
mod tests {
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
