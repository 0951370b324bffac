//! The masking evaluation: every labelled message of `benches/data/mask/` through the masker
//! the LLM path uses, with its business's published text (name and FAQ) kept. Shared by
//! `cargo bench --bench mask` and the ratchet test.
use std::collections::HashMap;
use std::ops::Range;

use balas::engine::name_address::{self, Found};
use serde::Deserialize;

#[derive(Deserialize)]
struct Business {
    id: String,
    name: String,
    faq: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    question: String,
    answer: String,
}

#[derive(Deserialize)]
struct Message {
    business: String,
    text: String,
    spans: Vec<Span>,
    keep: Vec<String>,
}

#[derive(Deserialize)]
struct Span {
    kind: String,
    text: String,
}

/// What the evaluation counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Labelled addresses, and how many were masked whole.
    pub addresses: usize,
    pub addresses_masked: usize,
    /// Labelled names, and how many were masked whole.
    pub names: usize,
    pub names_masked: usize,
    /// Spans the masker masked, and how many of them touch no labelled span (over-masking).
    pub masked: usize,
    pub masked_wrongly: usize,
    /// Business data, products and places that must stay, and how many were masked anyway.
    pub keep: usize,
    pub keep_masked: usize,
}

fn range_of(text: &str, part: &str) -> Range<usize> {
    let start = text.find(part).expect("a labelled part is a substring of its message");
    start..start + part.len()
}

/// Whether every letter and digit of `span` lies in a masked range.
fn covered(text: &str, span: &Range<usize>, masked: &[(Range<usize>, Found)]) -> bool {
    text[span.clone()]
        .char_indices()
        .filter(|(_, c)| c.is_alphanumeric())
        .all(|(i, _)| masked.iter().any(|(m, _)| m.contains(&(span.start + i))))
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Runs the set against each business's published text; `show` prints each miss.
pub fn evaluate(businesses_json: &str, messages_jsonl: &str, show: bool) -> Figures {
    let businesses: Vec<Business> = serde_json::from_str(businesses_json).expect("businesses.json");
    let published: HashMap<String, String> = businesses
        .iter()
        .map(|b| {
            let texts = std::iter::once(b.name.as_str())
                .chain(b.faq.iter().flat_map(|e| [e.question.as_str(), e.answer.as_str()]));
            (b.id.clone(), name_address::published_form(texts))
        })
        .collect();
    let mut f = Figures::default();
    for line in messages_jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let m: Message = serde_json::from_str(line).expect("a message line");
        let masked = name_address::find(&m.text, &published[&m.business]);
        let labelled: Vec<Range<usize>> = m.spans.iter().map(|s| range_of(&m.text, &s.text)).collect();
        for (span, label) in labelled.iter().zip(&m.spans) {
            let hit = covered(&m.text, span, &masked);
            match label.kind.as_str() {
                "address" => {
                    f.addresses += 1;
                    f.addresses_masked += usize::from(hit);
                }
                _ => {
                    f.names += 1;
                    f.names_masked += usize::from(hit);
                }
            }
            if show && !hit {
                eprintln!("missed {:8} {:?} in {:?}", label.kind, label.text, m.text);
            }
        }
        for (range, kind) in &masked {
            f.masked += 1;
            if !labelled.iter().any(|l| overlaps(l, range)) {
                f.masked_wrongly += 1;
                if show {
                    eprintln!("over   {kind:?} {:?} in {:?}", &m.text[range.clone()], m.text);
                }
            }
        }
        for keep in &m.keep {
            let range = range_of(&m.text, keep);
            f.keep += 1;
            if masked.iter().any(|(r, _)| overlaps(r, &range)) {
                f.keep_masked += 1;
                if show {
                    eprintln!("kept?  {keep:?} in {:?}", m.text);
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
