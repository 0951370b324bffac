//! Knowledge gaps: the questions the bot could not answer, which are the FAQ entries the shop
//! has not written yet. A hand-over for `unsure` or a low FAQ score records one, masked and
//! encrypted under the customer's key, grouped with similar open ones by the FAQ normaliser.
//! The owner closes a group by answering it (a new, versioned FAQ entry) or dismissing it.
pub mod close;
pub mod list;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{EscalationReason, ModelReason};
use crate::engine::mask::Masker;
use crate::engine::text;
use crate::store::{EscalationRecord, KnowledgeGapRecord, StoreResult, TenantTx};

/// Open gaps compared with a new one when grouping: the newest this many.
const GROUPING_WINDOW: i64 = 500;
/// Two questions whose topic words overlap this much (Dice: twice the shared words over both
/// counts) are one question; a question with one more detail ("COD ke Bekasi?") still joins.
const SAME_QUESTION: f64 = 0.5;
/// A gap's question is kept to this length.
pub const QUESTION_CHARS: usize = 500;

/// Reasons that mean the bot did not know the answer (not a complaint or a keyword).
pub fn is_gap(reason: EscalationReason) -> bool {
    matches!(reason, EscalationReason::NoConfidentAnswer | EscalationReason::Model(ModelReason::Unsure))
}

/// The topic words of a question: normalised, without words of circumstance, sorted.
pub fn terms(question: &str) -> BTreeSet<String> {
    text::tokens(question).into_iter().filter(|t| !text::is_context(t)).collect()
}

/// How much two questions' topic words overlap, in [0, 1]; 0 when either has none.
pub fn similarity(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

/// The customer's words masked: numbers, e-mail addresses, names and street addresses, but not
/// the shop's own name and FAQ.
pub fn masked_question(text: &str, published: &[&str]) -> String {
    let masked = Masker::for_business(published.iter().copied()).mask(text.trim());
    masked.chars().take(QUESTION_CHARS).collect()
}

/// Records the ticket's question as a gap, when the hand-over means the bot did not know and
/// the ticket has a customer message to ask it; joins the open group it matches.
pub async fn record(
    core: &Core,
    tx: &mut dyn TenantTx,
    ticket: &EscalationRecord,
    customer_key: &DataKey,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    let Some(trigger) = ticket.trigger_message_id.filter(|_| is_gap(ticket.reason)) else { return Ok(None) };
    let tenant_key = crate::tenants::data_key(&mut *tx, &core.keys).await?;
    let Some(message) = tx.message(trigger).await? else { return Ok(None) };
    let Some(body) = customer_key.decrypt_opt(message.body_enc.as_deref())? else { return Ok(None) };
    let tenant_name = tx.tenant().await?.map(|t| t.name).unwrap_or_default();
    let faq = tx.kb_entries().await?;
    let published: Vec<&str> =
        std::iter::once(tenant_name.as_str()).chain(faq.iter().map(|e| e.question.as_str())).collect();
    let question = masked_question(&body, &published);
    if question.is_empty() {
        return Ok(None);
    }
    let words = terms(&question);
    let id = Uuid::now_v7();
    let group = matching_group(tx, &words, &tenant_key).await?.unwrap_or(id);
    let joined: Vec<&str> = words.iter().map(String::as_str).collect();
    let gap = KnowledgeGapRecord {
        id,
        tenant_id: ticket.tenant_id,
        group_id: group,
        escalation_id: ticket.id,
        contact_id: ticket.contact_id,
        question_enc: customer_key.encrypt(&question),
        terms_enc: tenant_key.encrypt(&joined.join(" ")),
        state: "open".into(),
        kb_entry_id: None,
        closed_by: None,
        closed_at: None,
        created_at: now,
    };
    tx.insert_gap(&gap).await?;
    Ok(Some(
        AuditEntry::new("worker", "gap.recorded", "escalation", Some(ticket.id.to_string()))
            .detail(json!({ "gap": id, "group": group, "new_group": group == id })),
    ))
}

/// The open group whose questions share the most topic words with these, if any shares enough.
async fn matching_group(
    tx: &mut dyn TenantTx,
    words: &BTreeSet<String>,
    tenant_key: &DataKey,
) -> StoreResult<Option<Uuid>> {
    let mut best: Option<(f64, Uuid)> = None;
    for gap in tx.open_gaps(GROUPING_WINDOW).await? {
        let theirs: BTreeSet<String> = tenant_key.decrypt(&gap.terms_enc)?.split(' ').map(str::to_string).collect();
        let score = similarity(words, &theirs);
        if score >= SAME_QUESTION && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, gap.group_id));
        }
    }
    Ok(best.map(|(_, group)| group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_questions_share_their_topic_words() {
        let cod = terms("Kak, bisa COD gak?");
        assert!(!cod.is_empty(), "{cod:?}");
        assert!(similarity(&cod, &terms("bisa cod ga kak")) >= SAME_QUESTION);
        assert!(similarity(&cod, &terms("Apakah bisa bayar COD ke Bekasi besok?")) >= SAME_QUESTION);
        assert!(similarity(&cod, &terms("Jam berapa toko buka hari minggu?")) < SAME_QUESTION);
        assert_eq!(similarity(&cod, &BTreeSet::new()), 0.0);
    }

    #[test]
    fn honorifics_are_not_names() {
        let tokens = text::tokens("Kak Rina");
        assert!(!tokens.iter().any(|t| t == "kak"), "{tokens:?}");
        assert!(tokens.iter().any(|t| t == "rina"), "{tokens:?}");
    }

    #[test]
    fn the_question_is_masked() {
        let masked = masked_question("bisa kirim ke 081234567890 atau budi@mail.com?", &["Toko Rina"]);
        assert!(!masked.contains("081234567890") && !masked.contains("budi@mail.com"), "{masked}");
        assert!(masked.starts_with("bisa kirim ke"), "{masked}");
    }
}
