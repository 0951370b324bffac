//! What balas tells owners, from `prompts/owner.{id,en}.md`: one `## name` section per text,
//! with `{placeholders}` filled in here.
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::{EscalationReason, MessageKind};

static INDONESIAN: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| sections(include_str!("../../prompts/owner.id.md")));
static ENGLISH: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| sections(include_str!("../../prompts/owner.en.md")));

fn sections(source: &'static str) -> HashMap<&'static str, &'static str> {
    let mut out = HashMap::new();
    for chunk in source.split("\n## ").skip(1) {
        let (name, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        out.insert(name.trim(), body.trim());
    }
    out
}

/// The owner texts of one language (`en`, otherwise Bahasa Indonesia).
#[derive(Debug, Clone, Copy)]
pub struct OwnerTexts {
    english: bool,
}

impl OwnerTexts {
    pub fn new(language: &str) -> Self {
        Self { english: language == "en" }
    }

    /// The named text with its placeholders filled; an unknown name yields the name itself.
    pub fn fill(&self, name: &str, values: &[(&str, &str)]) -> String {
        let table = if self.english { &*ENGLISH } else { &*INDONESIAN };
        let mut text = table.get(name).copied().unwrap_or(name).to_string();
        for (key, value) in values {
            text = text.replace(&format!("{{{key}}}"), value);
        }
        text
    }

    pub fn reason(&self, reason: EscalationReason) -> String {
        self.fill(&format!("reason.{reason}"), &[])
    }

    /// How a kind of message is named in a sentence ("foto", "pesan suara"); a kind without a
    /// word of its own by its code.
    pub fn kind(&self, kind: MessageKind) -> String {
        let table = if self.english { &*ENGLISH } else { &*INDONESIAN };
        table.get(format!("kind.{kind}").as_str()).map_or_else(|| kind.as_str().to_string(), |word| word.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages_and_fills_its_placeholders() {
        assert_eq!(INDONESIAN.keys().collect::<std::collections::BTreeSet<_>>(), ENGLISH.keys().collect());
        let id = OwnerTexts::new("id");
        let notice = id.fill("notice", &[("ticket", "12"), ("customer", "Budi"), ("reason", "komplain")]);
        assert!(notice.contains("Tiket #12") && notice.contains("Budi") && !notice.contains('{'), "{notice}");
        assert_eq!(id.reason(EscalationReason::Keyword), "pelanggan minta bicara dengan orang / komplain");
        assert!(OwnerTexts::new("en").fill("help", &[]).starts_with("Commands"));
        use EscalationReason as R;
        for reason in [
            R::NoConfidentAnswer,
            R::Model(crate::domain::ModelReason::Refund),
            R::WindowClosed,
            R::OutsideBusinessHours,
        ] {
            assert!(!id.reason(reason).starts_with("reason."), "{reason}");
        }
    }
}
