//! Text normalisation for retrieval, for Indonesian chat style and English: lowercase, strip
//! accents, expand common abbreviations, drop particles and stopwords, light stemming.
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Chat abbreviations and spelling variants → canonical word(s).
const EXPANSIONS: &[(&str, &str)] = &[
    ("brp", "berapa"),
    ("brapa", "berapa"),
    ("hrg", "harga"),
    ("gk", "tidak"),
    ("ga", "tidak"),
    ("gak", "tidak"),
    ("nggak", "tidak"),
    ("ngga", "tidak"),
    ("enggak", "tidak"),
    ("tdk", "tidak"),
    ("udh", "sudah"),
    ("sdh", "sudah"),
    ("blm", "belum"),
    ("bs", "bisa"),
    ("bsa", "bisa"),
    ("dmn", "mana"),
    ("dimana", "mana"),
    ("kpn", "kapan"),
    ("jg", "juga"),
    ("ongkir", "ongkos kirim"),
    ("cod", "bayar tempat"),
    ("tf", "transfer"),
    ("trf", "transfer"),
    ("rek", "rekening"),
    ("alamatnya", "alamat"),
    ("hour", "jam"),
    ("hours", "jam"),
    ("pake", "pakai"),
    ("use", "pakai"),
    ("open", "buka"),
    ("opening", "buka"),
    ("close", "tutup"),
    ("closing", "tutup"),
    ("price", "harga"),
    ("prices", "harga"),
    ("cost", "harga"),
    ("delivery", "kirim"),
    ("shipping", "kirim"),
    ("pengiriman", "kirim"),
    ("dikirim", "kirim"),
    ("mengirim", "kirim"),
    ("address", "alamat"),
    ("location", "lokasi"),
    ("payment", "bayar"),
    ("pay", "bayar"),
    ("pembayaran", "bayar"),
    ("membayar", "bayar"),
];

/// Words that carry no meaning for matching a question to an FAQ entry.
const STOPWORDS: &[&str] = &[
    // Indonesian
    "yang",
    "dan",
    "di",
    "ke",
    "dari",
    "ini",
    "itu",
    "apa",
    "apakah",
    "ada",
    "saya",
    "aku",
    "kami",
    "kita",
    "anda",
    "kak",
    "kakak",
    "ka",
    "kk",
    "min",
    "admin",
    "gan",
    "sis",
    "bu",
    "pak",
    "mas",
    "mbak",
    "ya",
    "yah",
    "dong",
    "deh",
    "sih",
    "kah",
    "nih",
    "tuh",
    "mau",
    "ingin",
    "tanya",
    "nanya",
    "boleh",
    "untuk",
    "buat",
    "utk",
    "dengan",
    "dgn",
    "atau",
    "juga",
    "jg",
    "lagi",
    "saja",
    "aja",
    "sudah",
    "akan",
    "bisa",
    "tidak",
    "gimana",
    "bagaimana",
    "kalau",
    "kalo",
    "klo",
    "kl",
    "yg",
    "sama",
    "tolong",
    "mohon",
    "info",
    "gitu",
    "the",
    "a",
    "an",
    "is",
    "are",
    "do",
    "does",
    "you",
    "your",
    "i",
    "we",
    "my",
    "can",
    "what",
    "how",
    "to",
    "of",
    "for",
    "in",
    "on",
    "at",
    "please",
    "pls",
    "there",
    "any",
    "it",
    "be",
    "have",
    "has",
    "and",
    "or",
    "with",
    "me",
];

const GREETINGS: &[&str] = &[
    "halo",
    "hallo",
    "hai",
    "hi",
    "hello",
    "hey",
    "pagi",
    "siang",
    "sore",
    "malam",
    "selamat",
    "assalamualaikum",
    "permisi",
    "p",
    "punten",
    "good",
    "morning",
    "evening",
    "afternoon",
];

const THANKS: &[&str] =
    &["terima", "kasih", "makasih", "makasi", "thanks", "thank", "thx", "tq", "trims", "suwun", "nuhun"];

/// Lowercases, strips accents and splits on anything that is not a letter or digit.
pub fn words(text: &str) -> Vec<String> {
    let folded: String = text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Content tokens of a text, ready for matching.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in words(text) {
        let stemmed = stem(&word);
        let expanded = expansion(&word).or_else(|| expansion(&stemmed)).unwrap_or(&stemmed);
        for part in expanded.split(' ') {
            if STOPWORDS.contains(&part) {
                continue;
            }
            let stem = stem(part);
            if !stem.is_empty() && !STOPWORDS.contains(&stem.as_str()) {
                out.push(stem);
            }
        }
    }
    out
}

fn expansion(word: &str) -> Option<&'static str> {
    EXPANSIONS.iter().find(|(from, _)| *from == word).map(|(_, to)| *to)
}

/// Strips Indonesian particles and possessives (`-nya`, `-lah`, `-kah`, `-pun`, `-ku`, `-mu`).
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    for suffix in ["nya", "lah", "kah", "pun", "ku", "mu"] {
        if w.len() > suffix.len() + 3 && w.ends_with(suffix) {
            w.truncate(w.len() - suffix.len());
            break;
        }
    }
    w
}

/// A message made only of greeting words ("halo kak", "selamat pagi min").
pub fn is_greeting(text: &str) -> bool {
    only_from(text, GREETINGS)
}

/// A message made only of thanks ("makasih kak", "terima kasih ya").
pub fn is_thanks(text: &str) -> bool {
    only_from(text, THANKS)
}

fn only_from(text: &str, vocabulary: &[&str]) -> bool {
    let words = words(text);
    let meaningful: Vec<&String> = words.iter().filter(|w| !STOPWORDS.contains(&w.as_str())).collect();
    !meaningful.is_empty() && meaningful.iter().all(|w| vocabulary.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_style_indonesian_normalises() {
        assert_eq!(tokens("Brp ongkirnya ke Bekasi kak??"), vec!["berapa", "ongkos", "kirim", "bekasi"]);
        assert_eq!(tokens("Jam bukanya kapan ya min"), vec!["jam", "buka", "kapan"]);
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
