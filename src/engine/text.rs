//! Text normalisation for retrieval, for Indonesian chat style and English: lowercase, strip
//! accents, undo stretched letters, expand slang (`lexicon`), join phrases, strip affixes.
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::lexicon::{self, expansion, is_stopword};

/// Lowercases, strips accents, splits on anything that is not a letter or digit, and undoes
/// chat spelling: stretched letters ("berapaaa", "lunturr") and reduplication digits ("kira2").
pub fn words(text: &str) -> Vec<String> {
    let folded: String = text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(unstretch).collect()
}

fn unstretch(word: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(word.len());
    for c in word.chars() {
        // Three of a letter in a row is never Indonesian spelling.
        if c.is_alphabetic() && out.len() >= 2 && out[out.len() - 1] == c && out[out.len() - 2] == c {
            continue;
        }
        out.push(c);
    }
    // A doubled last letter ("berapaa", "lunturr", "kakk") is a stretched one.
    if out.len() >= 4 && out[out.len() - 1] == out[out.len() - 2] && out[out.len() - 1].is_alphabetic() {
        out.pop();
    }
    // "kira2", "teman2": the 2 marks a repeated word.
    if out.len() >= 4 && out.last() == Some(&'2') && out[..out.len() - 1].iter().all(|c| c.is_alphabetic()) {
        out.pop();
    }
    out.into_iter().collect()
}

/// Content tokens of a text, ready for matching: slang expanded, phrases joined, affixes
/// stripped, stopwords dropped. The FAQ and the question go through the same steps.
pub fn tokens(text: &str) -> Vec<String> {
    let mut expanded: Vec<String> = Vec::new();
    for word in words(text) {
        let canonical =
            [word.clone(), without_particle(&word), stem(&word)].iter().find_map(|w| expansion(w)).map(str::to_string);
        match canonical {
            Some(parts) => expanded.extend(parts.split(' ').map(str::to_string)),
            None => expanded.push(word),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < expanded.len() {
        let joined = expanded.get(i + 1).and_then(|next| lexicon::phrase(&expanded[i], next));
        let parts: Vec<String> = match joined {
            Some(to) => {
                i += 2;
                to.split(' ').map(str::to_string).collect()
            }
            None => {
                i += 1;
                vec![expanded[i - 1].clone()]
            }
        };
        for part in parts {
            if is_stopword(&part) {
                continue;
            }
            let stem = stem(&part);
            let stem = expansion(&stem).filter(|e| !e.contains(' ')).map_or(stem.clone(), str::to_string);
            if !stem.is_empty() && !is_stopword(&stem) {
                out.push(stem);
            }
        }
    }
    out
}

/// Every word of a text, normalised as `tokens` does word by word but none dropped and no
/// phrase joined: for matching a tenant's hand-over phrases in order.
pub fn terms(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .map(|w| match expansion(&w).filter(|e| !e.contains(' ')) {
            Some(e) => e.to_string(),
            None => stem(&w),
        })
        .collect()
}

/// Content tokens and the question words ("berapa", "kapan", "mana") that `tokens` drops:
/// "pesan online?" and "pesan online di mana?" are different questions.
pub fn question_tokens(text: &str) -> Vec<String> {
    const QUESTION_WORDS: &[&str] = &["berapa", "kapan", "mana", "gimana", "bagaimana", "siapa", "kenapa", "mengapa"];
    let mut out = tokens(text);
    for word in words(text) {
        let word = expansion(&word).unwrap_or(&word).to_string();
        if QUESTION_WORDS.contains(&word.as_str()) && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Without "-nya", "-kah", "-pun", "-ku", "-mu" ("pengirimannya" → "pengiriman").
fn without_particle(word: &str) -> String {
    ["nya", "kah", "pun", "ku", "mu"]
        .iter()
        .find_map(|p| word.strip_suffix(p).filter(|w| w.len() >= 3))
        .unwrap_or(word)
        .to_string()
}

/// Light Indonesian stemming in the Sastrawi manner, without a dictionary: particles and
/// possessives, then derivational suffixes, then one prefix; at least four letters stay.
pub fn stem(word: &str) -> String {
    const MIN: usize = 4;
    let mut w = without_particle(word);
    for suffix in ["kan", "an", "in"] {
        if w.len() >= suffix.len() + MIN && w.ends_with(suffix) {
            w.truncate(w.len() - suffix.len());
            break;
        }
    }
    let after = |prefix: &str, next: &[char]| -> Option<usize> {
        let rest = w.strip_prefix(prefix)?;
        let first = rest.chars().next()?;
        (rest.len() >= MIN && (next.is_empty() || next.contains(&first))).then_some(prefix.len())
    };
    const VOWELS: &[char] = &['a', 'e', 'i', 'o', 'u'];
    let cut = after("di", &[])
        .or_else(|| after("ter", &[]))
        .or_else(|| after("ber", &[]))
        .or_else(|| after("nge", &[]))
        .or_else(|| after("se", &[]))
        .or_else(|| after("peng", &[VOWELS, &['g', 'h']].concat()))
        .or_else(|| after("meng", &[VOWELS, &['g', 'h']].concat()))
        .or_else(|| after("pem", &['b']))
        .or_else(|| after("mem", &['b']))
        .or_else(|| after("pen", &['d', 'j', 'c']))
        .or_else(|| after("men", &['d', 'j', 'c']))
        .or_else(|| after("pe", &['l', 'r', 'w', 'y']))
        .or_else(|| after("me", &['l', 'r', 'w', 'y']));
    match cut {
        Some(n) => w[n..].to_string(),
        None => w,
    }
}

/// A token that tells the circumstances of a question rather than its topic: an everyday
/// word of the lexicon's circumstances, or one with a digit (a date, a count, a time).
pub fn is_context(token: &str) -> bool {
    lexicon::is_circumstance(token) || token.chars().any(|c| c.is_ascii_digit())
}

/// A message made only of greeting words ("halo kak", "selamat pagi min").
pub fn is_greeting(text: &str) -> bool {
    only_from(text, lexicon::is_greeting_word)
}

/// A message made only of thanks ("makasih kak", "terima kasih ya").
pub fn is_thanks(text: &str) -> bool {
    only_from(text, lexicon::is_thanks_word)
}

fn only_from(text: &str, vocabulary: fn(&str) -> bool) -> bool {
    let words = words(text);
    let meaningful: Vec<&String> = words.iter().filter(|w| vocabulary(w) || !is_stopword(w)).collect();
    !meaningful.is_empty() && meaningful.iter().all(|w| vocabulary(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_style_indonesian_normalises() {
        assert_eq!(tokens("Brp ongkirnya ke Bekasi kak??"), vec!["ongkir", "bekasi"]);
        assert_eq!(tokens("Assalamualaikum kak, permisi mau tanya, pengirimannya brp hari?"), vec!["kirim", "lama"]);
        assert_eq!(tokens("berapaaa kakk, kira2 sekilo"), vec!["kilo"]);
        assert_eq!(tokens("dikirimin, pesenannya, ukurannya"), vec!["kirim", "pesan", "ukur"]);
        assert_eq!(tokens("Jam bukanya kapan ya min"), vec!["jam", "buka"]);
    }

    #[test]
    fn english_normalises_to_the_same_concepts() {
        assert_eq!(tokens("What are your opening hours?"), vec!["buka", "jam"]);
        assert_eq!(tokens("Délivery PRICES"), vec!["kirim", "harga"]);
    }

    #[test]
    fn greetings_and_thanks_are_recognised_only_when_alone() {
        assert!(is_greeting("Halo kak"));
        assert!(is_greeting("Selamat pagi min!"));
        assert!(!is_greeting("Halo, harga kopi berapa?"));
        assert!(is_thanks("makasih ya kak"));
        assert!(!is_thanks("kak"));
    }
}
