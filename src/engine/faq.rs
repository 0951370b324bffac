//! The offline FAQ responder: ranks the tenant's FAQ entries against a question and answers
//! only when the best match explains enough of the question's weight: its rare words, the
//! words of no entry (a topic the FAQ may lack), and little for words of circumstance.
use std::collections::{HashMap, HashSet};

use super::{quantity, text};
use crate::store::KbEntry;

/// The best FAQ entry for a question, with a confidence in [0, 1].
#[derive(Debug, Clone)]
pub struct FaqMatch<'a> {
    pub entry: &'a KbEntry,
    pub confidence: f64,
}

/// Question and keyword words count fully; a word found only in the answer counts less (an
/// entry without keywords is matched mostly on its answer, so not much less).
const ANSWER_WEIGHT: f64 = 0.75;
/// A word in no entry: it may be the topic the FAQ lacks, so it counts against the match.
const UNKNOWN_WEIGHT: f64 = 1.0;
/// A word in no entry that only tells the circumstances ("besok", "temen", a number).
const CONTEXT_WEIGHT: f64 = 0.25;
/// A near miss (one edit in a word of five letters or more) counts this much of a hit.
const FUZZY_WEIGHT: f64 = 0.8;

/// A word only in the sentences around the question ("sy baru pulang kerja" after "masih buka
/// jam 8?") tells the circumstances, so it weighs this much of its weight.
const ASIDE_WEIGHT: f64 = 0.35;

/// Above this, the best match answers however close the runner-up comes.
const CLEAR: f64 = 0.75;
/// Below `CLEAR`, the best match must lead the runner-up by this much: two entries that explain
/// a question almost equally well mean it is not clearly about either.
const MARGIN: f64 = 0.15;

/// The entry to answer with, `Ok` when it is confident enough to send: at least `threshold`,
/// clear of the runner-up, and not asked for more than the answer states; else `Err` with the best match, if any, for a draft.
pub fn answer<'a>(
    question: &str,
    entries: &'a [KbEntry],
    threshold: f64,
) -> Result<FaqMatch<'a>, Option<FaqMatch<'a>>> {
    let mut ranked = ranked(question, entries).into_iter();
    let Some(best) = ranked.next() else { return Err(None) };
    let second = ranked.next().map_or(0.0, |m| m.confidence);
    let clear = best.confidence >= CLEAR || best.confidence - second >= MARGIN;
    let fits = !quantity::beyond(question, &best.entry.answer);
    if best.confidence >= threshold && clear && fits { Ok(best) } else { Err(Some(best)) }
}

/// Every entry that matches at least one word, best first.
pub fn ranked<'a>(question: &str, entries: &'a [KbEntry]) -> Vec<FaqMatch<'a>> {
    let query = dedup(text::tokens(question));
    if query.is_empty() || entries.is_empty() {
        return Vec::new();
    }
    let docs: Vec<(HashSet<String>, HashSet<String>)> = entries
        .iter()
        .map(|e| {
            let main: HashSet<String> = text::tokens(&format!("{} {}", e.question, e.keywords)).into_iter().collect();
            let answer: HashSet<String> = text::tokens(&e.answer).into_iter().collect();
            (main, answer)
        })
        .collect();
    let query = dedup(query.into_iter().flat_map(|q| split_compound(q, &docs)).collect());
    let mut idf = inverse_document_frequency(&query, &docs);
    let asked = asked_tokens(question);
    if !asked.is_empty() {
        let asked: HashSet<String> = asked.into_iter().flat_map(|a| split_compound(a, &docs)).collect();
        for (word, weight) in idf.iter_mut() {
            if !asked.contains(word) {
                *weight *= ASIDE_WEIGHT;
            }
        }
    }
    let total: f64 = query.iter().map(|q| idf[q]).sum();
    let mut matches: Vec<FaqMatch<'a>> = docs
        .iter()
        .zip(entries)
        .map(|((main, answer), entry)| {
            let score: f64 = query.iter().map(|q| idf[q] * hit(q, main, answer)).sum();
            FaqMatch { entry, confidence: (score / total).min(1.0) }
        })
        .filter(|m| m.confidence > 0.0)
        .collect();
    matches.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    matches
}

/// The tokens of the sentences that end with a question mark; empty when none does.
fn asked_tokens(question: &str) -> HashSet<String> {
    question
        .split_inclusive(['?', '.', '!', '\n'])
        .filter(|sentence| sentence.ends_with('?'))
        .flat_map(text::tokens)
        .collect()
}

/// "eyelashextension", "snackbox": a word no entry uses, made of two words entries do use.
fn split_compound(word: String, docs: &[(HashSet<String>, HashSet<String>)]) -> Vec<String> {
    let known = |w: &str| docs.iter().any(|(main, answer)| main.contains(w) || answer.contains(w));
    if word.len() < 7 || known(&word) || !word.is_ascii() {
        return vec![word];
    }
    (3..=word.len() - 3)
        .find(|&i| known(&word[..i]) && known(&word[i..]))
        .map_or_else(|| vec![word.clone()], |i| vec![word[..i].to_string(), word[i..].to_string()])
}

/// Rare words weigh more; a word in no entry weighs as much as a fairly rare one, so a topic
/// the FAQ lacks lowers confidence; a word of circumstance weighs little wherever it appears.
fn inverse_document_frequency(query: &[String], docs: &[(HashSet<String>, HashSet<String>)]) -> HashMap<String, f64> {
    let n = docs.len() as f64;
    query
        .iter()
        .map(|q| {
            let df = docs.iter().filter(|(main, answer)| main.contains(q) || answer.contains(q)).count() as f64;
            let weight = if text::is_context(q) {
                CONTEXT_WEIGHT
            } else if df > 0.0 {
                ((n + 1.0) / (df + 0.5)).ln().max(0.1)
            } else {
                UNKNOWN_WEIGHT
            };
            (q.clone(), weight)
        })
        .collect()
}

fn hit(word: &str, main: &HashSet<String>, answer: &HashSet<String>) -> f64 {
    if main.contains(word) {
        1.0
    } else if main.iter().any(|m| near(word, m)) {
        FUZZY_WEIGHT
    } else if answer.contains(word) {
        ANSWER_WEIGHT
    } else {
        0.0
    }
}

/// One insertion, deletion or substitution apart, for words of five letters or more.
fn near(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().min(b.len()) < 5 || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

fn dedup(tokens: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    tokens.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{KbEntryId, TenantId};

    fn faq() -> Vec<KbEntry> {
        [
            ("Jam buka toko?", "Kami buka setiap hari pukul 08.00–21.00 WIB.", "jam operasional tutup"),
            ("Berapa ongkos kirim?", "Ongkir dalam kota Rp10.000, luar kota sesuai tarif JNE.", "ongkir pengiriman"),
            (
                "Bisa bayar pakai apa saja?",
                "Transfer BCA, QRIS, atau bayar di tempat (COD).",
                "pembayaran transfer qris",
            ),
            ("Alamat toko di mana?", "Jl. Kenanga No. 5, Sleman, Yogyakarta.", "lokasi alamat"),
        ]
        .into_iter()
        .map(|(q, a, k)| KbEntry {
            id: KbEntryId::new(),
            tenant_id: TenantId::new(),
            question: q.into(),
            answer: a.into(),
            keywords: k.into(),
            version: 1,
            created_at: chrono::Utc::now(),
        })
        .collect()
    }

    fn best(q: &str) -> (String, f64) {
        let entries = faq();

        ranked(q, &entries).into_iter().next().map(|m| (m.entry.question.clone(), m.confidence)).unwrap_or_default()
    }

    #[test]
    fn paraphrases_find_their_entry_confidently() {
        for (q, expected) in [
            ("jam brp buka kak?", "Jam buka toko?"),
            ("Brp ongkirnya ke Bekasi?", "Berapa ongkos kirim?"),
            ("bisa bayar pake qris ga", "Bisa bayar pakai apa saja?"),
            ("What are your opening hours?", "Jam buka toko?"),
            ("alamat tokonya dmn ya", "Alamat toko di mana?"),
            ("alamt tokonya dmn", "Alamat toko di mana?"),
        ] {
            let (question, confidence) = best(q);
            assert_eq!(question, expected, "{q}");
            assert!(confidence >= 0.5, "{q}: {confidence}");
        }
    }

    #[test]
    fn unrelated_questions_score_low() {
        for q in ["Apakah bisa custom sablon logo perusahaan?", "saya mau komplain barang rusak", "refund dong"] {
            let (_, confidence) = best(q);
            assert!(confidence < 0.5, "{q}: {confidence}");
        }
    }

    #[test]
    fn two_entries_explaining_a_question_alike_answer_neither() {
        let entries = faq();
        assert!(answer("jam buka toko", &entries, 0.5).is_ok());
        // "alamat" and "ongkir" each explain half: no entry stands out.
        let split = answer("alamat sama ongkir", &entries, 0.3);
        assert!(matches!(split, Err(Some(_))), "{split:?}");
        assert!(matches!(answer("zzz", &entries, 0.5), Err(None)));
    }

    #[test]
    fn what_is_told_around_the_question_weighs_less_than_what_is_asked() {
        let entries = faq();
        let asked = "jam brp buka kak? sy baru pulang kerja, capek bgt";
        assert!(answer(asked, &entries, 0.6).is_ok(), "{:?}", best(asked));
        // The same words with nothing asked: every word weighs alike, and the match is too weak.
        let told = "jam brp buka kak. sy baru pulang kerja, capek bgt";
        assert!(answer(told, &entries, 0.6).is_err(), "{:?}", best(told));
    }

    #[test]
    fn near_is_one_edit() {
        assert!(near("pengirman", "pengiriman"));
        assert!(near("transfer", "trensfer"));
        assert!(!near("kirim", "kirimin"));
        assert!(!near("buka", "buku"));
    }
}
