//! The FAQ evaluation: every labelled message of `benches/data/faq/` through the same offline
//! path the worker takes (the tenant's default hand-over rules, then the FAQ responder), and
//! the LLM's grounding (the top 4 entries). Shared by `cargo bench --bench faq` and the ratchet test.
use std::collections::HashMap;

use balas::domain::{EscalationReason, KbEntryId, MessageKind, TenantId};
use balas::engine::triggers::{self, Rules};
use balas::engine::{self, BusinessProfile, Decision, Incoming, assistant};
use balas::store::KbEntry;
use balas::tenants::DEFAULT_KEYWORDS;
use serde::Deserialize;

/// The worker's default confidence threshold (`BALAS_FAQ_THRESHOLD`).
pub const THRESHOLD: f64 = 0.6;

#[derive(Deserialize)]
struct Business {
    id: String,
    name: String,
    faq: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    question: String,
    answer: String,
    keywords: String,
}

#[derive(Deserialize)]
struct Message {
    business: String,
    text: String,
    label: String,
}

/// What the evaluation counts, for one half of the set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Messages the FAQ answers.
    pub answerable: usize,
    /// Answered with their own entry.
    pub right: usize,
    /// Answered with an entry that does not answer them, of any label.
    pub wrong: usize,
    /// Answerable messages handed to the owner.
    pub needless_hand_overs: usize,
    /// Of those, handed over by a rule (a keyword, a request for a person, the customer's own
    /// case) rather than by low confidence.
    pub false_hand_overs: usize,
    /// Answerable messages whose entry is among the top 4 that ground the LLM.
    pub recall_at_4: usize,
    /// Messages outside the FAQ, and how many of them were handed over.
    pub outside: usize,
    pub outside_handed_over: usize,
    /// Explicit requests for a person, and how many no hand-over rule caught.
    pub person: usize,
    pub missed_person: usize,
}

/// The decision for one message, as the worker would take it on a first message.
enum Outcome {
    Answered(KbEntryId),
    ByRule,
    LowConfidence,
    /// A canned greeting or thanks, or nothing: not an answer, not a hand-over.
    Other,
}

fn outcome(text: &str, entries: &[KbEntry], profile: &BusinessProfile) -> Outcome {
    let rules = Rules { keywords: DEFAULT_KEYWORDS, max_bot_turns: 8, business_hours: None };
    if triggers::check(Some(text), &[], &rules, chrono::Utc::now()).is_some() {
        return Outcome::ByRule;
    }
    let incoming = Incoming { kind: MessageKind::Text, body: Some(text), in_group: false };
    match engine::decide(incoming, entries, profile, THRESHOLD) {
        Decision::Reply { basis, .. } => match basis["entry"].as_str().and_then(|id| id.parse::<KbEntryId>().ok()) {
            Some(id) => Outcome::Answered(id),
            None => Outcome::Other,
        },
        Decision::Escalate(h) if h.reason == EscalationReason::NoConfidentAnswer => Outcome::LowConfidence,
        Decision::Escalate(_) => Outcome::ByRule,
        Decision::Ignore { .. } => Outcome::Other,
    }
}

/// One business of the set: how the engine sees it, its FAQ, and the set's entry ids.
struct Shop {
    profile: BusinessProfile,
    entries: Vec<KbEntry>,
    ids: HashMap<String, KbEntryId>,
}

impl Shop {
    fn label(&self, id: KbEntryId) -> &str {
        self.ids.iter().find(|(_, v)| **v == id).map_or("?", |(k, _)| k)
    }
}

fn shops(businesses_json: &str) -> HashMap<String, Shop> {
    let businesses: Vec<Business> = serde_json::from_str(businesses_json).expect("businesses.json");
    let tenant = TenantId::new();
    let mut shops = HashMap::new();
    for b in businesses {
        let profile =
            BusinessProfile { name: b.name, language: "id".into(), escalate_media: false, answer_groups: false };
        let mut ids = HashMap::new();
        let entries = b
            .faq
            .into_iter()
            .map(|e| {
                let id = KbEntryId::new();
                ids.insert(e.id, id);
                // Kept as typed, as an owner's upload keeps them (`kb::parse_json`).
                let (question, answer, keywords) = (e.question, e.answer, e.keywords);
                KbEntry {
                    id,
                    tenant_id: tenant,
                    question,
                    answer,
                    keywords,
                    version: 1,
                    created_at: chrono::Utc::now(),
                }
            })
            .collect();
        shops.insert(b.id, Shop { profile, entries, ids });
    }
    shops
}

/// A message the engine got wrong, with the top 3 entries and the tokens, for tuning on dev.
fn show_miss(shop: &Shop, m: &Message, decided: &Outcome) {
    let got = match decided {
        Outcome::Answered(id) => shop.label(*id).to_string(),
        Outcome::ByRule => "RULE".into(),
        Outcome::LowConfidence => "LOW".into(),
        Outcome::Other => "OTHER".into(),
    };
    if got == m.label {
        return;
    }
    let top: Vec<String> = balas::engine::faq::ranked(&m.text, &shop.entries)
        .iter()
        .take(3)
        .map(|r| format!("{}:{:.2}", shop.label(r.entry.id), r.confidence))
        .collect();
    let tokens = balas::engine::text::tokens(&m.text);
    eprintln!("{:11} got {got:10} {top:?} | {} | {tokens:?}", m.label, m.text.replace('\n', " / "));
}

/// Runs one part of the set (`dev.jsonl`, `dev2.jsonl` or `heldout.jsonl`) against the FAQs;
/// `show` prints each miss (never for the held-out part).
pub fn evaluate(businesses_json: &str, messages_jsonl: &str, show: bool) -> Figures {
    let shops = shops(businesses_json);
    let mut f = Figures::default();
    for line in messages_jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let m: Message = serde_json::from_str(line).expect("a message line");
        let shop = shops.get(&m.business).expect("a known business");
        let (profile, entries, ids) = (&shop.profile, &shop.entries, &shop.ids);
        let decided = outcome(&m.text, entries, profile);
        if show {
            show_miss(shop, &m, &decided);
        }
        match m.label.as_str() {
            "hand_over" | "person" => {
                let person = m.label == "person";
                if person {
                    f.person += 1;
                } else {
                    f.outside += 1;
                }
                match decided {
                    Outcome::Answered(_) => f.wrong += 1,
                    Outcome::ByRule | Outcome::LowConfidence if !person => f.outside_handed_over += 1,
                    _ => {}
                }
                if person && !matches!(decided, Outcome::ByRule) {
                    f.missed_person += 1;
                }
            }
            label => {
                let want = *ids.get(label).expect("a known entry id");
                f.answerable += 1;
                if assistant::top_faq(&m.text, entries).iter().any(|e| e.id == want) {
                    f.recall_at_4 += 1;
                }
                match decided {
                    Outcome::Answered(got) if got == want => f.right += 1,
                    Outcome::Answered(_) => f.wrong += 1,
                    Outcome::ByRule => {
                        f.needless_hand_overs += 1;
                        f.false_hand_overs += 1;
                    }
                    Outcome::LowConfidence => f.needless_hand_overs += 1,
                    Outcome::Other => {}
                }
            }
        }
    }
    f
}

/// `part` of `whole` as a percentage with one decimal.
pub fn percent(part: usize, whole: usize) -> String {
    if whole == 0 { "-".into() } else { format!("{:.1}%", 100.0 * part as f64 / whole as f64) }
}
