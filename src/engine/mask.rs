//! Personal data masking for text that leaves for an LLM, and clean-up of customer input.
//!
//! Phone numbers, e-mail addresses, 16-digit NIKs, card numbers and bank account numbers are
//! replaced by placeholders such as `[PHONE_1]`; a masker made `for_business` also replaces
//! customers' names and street addresses (`[NAME_1]`, `[ADDRESS_1]`), but never what the
//! business published. One `Masker` serves one conversation, so the same value keeps the same
//! placeholder across turns, and `unmask` restores a placeholder the model chose to repeat.
//! `assistant` masks everything it sends to the LLM through this module.

use super::name_address::{self, Found};

/// Longest customer message passed on, in characters; the rest is cut.
pub const MAX_INPUT_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Phone,
    Email,
    Nik,
    Card,
    Account,
    Name,
    Address,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Phone => "PHONE",
            Self::Email => "EMAIL",
            Self::Nik => "NIK",
            Self::Card => "CARD",
            Self::Account => "ACCOUNT",
            Self::Name => "NAME",
            Self::Address => "ADDRESS",
        }
    }
}

const LABELS: [&str; 7] = ["PHONE", "EMAIL", "NIK", "CARD", "ACCOUNT", "NAME", "ADDRESS"];

/// Whether `text` holds something shaped like a placeholder (`[NAME_1]`): after `unmask`, one
/// left is one this conversation never handed out, and must not reach the customer.
pub fn has_placeholder(text: &str) -> bool {
    text.split('[').skip(1).any(|rest| {
        let Some((inside, _)) = rest.split_once(']') else { return false };
        let Some((label, number)) = inside.rsplit_once('_') else { return false };
        LABELS.contains(&label) && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())
    })
}

/// Placeholders handed out so far in one conversation.
#[derive(Default)]
pub struct Masker {
    seen: Vec<(Kind, String, String)>,
    /// Set for text to an LLM: names and addresses are masked too, except these published words.
    published: Option<String>,
}

impl Masker {
    /// Numbers and e-mail addresses only: for checks on the model's output and error reports.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also customers' names and street addresses, but not the business's own name, address
    /// and FAQ (`published`): the model needs those.
    pub fn for_business<'a>(published: impl IntoIterator<Item = &'a str>) -> Self {
        Self { seen: Vec::new(), published: Some(name_address::published_form(published)) }
    }

    /// Replaces every piece of personal data in `text` with its placeholder.
    pub fn mask(&mut self, text: &str) -> String {
        let Some(published) = self.published.clone() else { return self.mask_numbers(text) };
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (span, found) in name_address::find(text, &published) {
            out.push_str(&self.mask_numbers(&text[last..span.start]));
            let kind = if found == Found::Name { Kind::Name } else { Kind::Address };
            out.push_str(&self.placeholder(kind, &text[span.clone()]));
            last = span.end;
        }
        out.push_str(&self.mask_numbers(&text[last..]));
        out
    }

    /// Phone numbers, e-mail addresses, NIKs, cards and accounts.
    fn mask_numbers(&mut self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if let Some((end, kind)) = email_at(&chars, i).map(|e| (e, Kind::Email)).or_else(|| number_at(&chars, i)) {
                let original: String = chars[i..end].iter().collect();
                out.push_str(&self.placeholder(kind, &original));
                i = end;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    /// Puts the originals back where the model repeated a placeholder.
    pub fn unmask(&self, text: &str) -> String {
        self.seen.iter().fold(text.to_string(), |acc, (_, original, placeholder)| acc.replace(placeholder, original))
    }

    /// The values masked so far (what the customer gave), e.g. to allow them in a reply.
    pub fn originals(&self) -> impl Iterator<Item = &str> {
        self.seen.iter().map(|(_, original, _)| original.as_str())
    }

    fn placeholder(&mut self, kind: Kind, original: &str) -> String {
        let key = normalise(original);
        if let Some((_, _, p)) = self.seen.iter().find(|(k, o, _)| *k == kind && normalise(o) == key) {
            return p.clone();
        }
        let n = self.seen.iter().filter(|(k, _, _)| *k == kind).count() + 1;
        let placeholder = format!("[{}_{n}]", kind.label());
        self.seen.push((kind, original.to_string(), placeholder.clone()));
        placeholder
    }
}

/// Digits only (and lowercase for e-mail), so `0812-3456` and `08123456` are one value; a name
/// or an address in lowercase, so "Rina" and "rina" are one.
fn normalise(value: &str) -> String {
    if value.contains('@') || value.chars().any(char::is_alphabetic) {
        value.to_lowercase()
    } else {
        value.chars().filter(char::is_ascii_digit).collect()
    }
}

/// Finds personal data in `text` without a masker: `(kind label, original)` pairs.
pub fn find_personal_data(text: &str) -> Vec<(&'static str, String)> {
    let mut masker = Masker::new();
    masker.mask(text);
    masker.seen.into_iter().map(|(k, o, _)| (k.label(), o)).collect()
}

fn is_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn is_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// An e-mail address starting at `start`: `local@domain.tld`; returns where it ends.
fn email_at(chars: &[char], start: usize) -> Option<usize> {
    if !is_local(chars[start]) || (start > 0 && is_local(chars[start - 1])) {
        return None;
    }
    let at = start + chars[start..].iter().take_while(|c| is_local(**c)).count();
    if chars.get(at) != Some(&'@') || at == start {
        return None;
    }
    let mut end = at + 1 + chars[at + 1..].iter().take_while(|c| is_domain(**c)).count();
    while end > at + 1 && matches!(chars[end - 1], '.' | '-') {
        end -= 1;
    }
    let domain: String = chars[at + 1..end].iter().collect();
    let tld = domain.rsplit('.').next().unwrap_or_default();
    (domain.contains('.') && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())).then_some(end)
}

/// A run of digits (with single spaces, dashes or dots between groups, and an optional
/// leading `+`) starting at `start` that looks like personal data; returns its end and kind.
fn number_at(chars: &[char], start: usize) -> Option<(usize, Kind)> {
    let plus = chars[start] == '+';
    let first = if plus { start + 1 } else { start };
    if !chars.get(first).is_some_and(char::is_ascii_digit) || (start > 0 && chars[start - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let (mut end, mut digits, mut separators, mut dots) = (first, String::new(), 0, 0);
    while end < chars.len() {
        let c = chars[end];
        if c.is_ascii_digit() {
            digits.push(c);
            end += 1;
        } else if matches!(c, ' ' | '-' | '.')
            && chars.get(end + 1).is_some_and(char::is_ascii_digit)
            && !digits.is_empty()
        {
            separators += 1;
            dots += usize::from(c == '.');
            end += 1;
        } else {
            break;
        }
    }
    if chars.get(end).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None; // part of a word or code such as "3kg" or "INV2024"
    }
    classify(&digits, plus, separators, dots).map(|kind| (end, kind))
}

fn classify(digits: &str, plus: bool, separators: usize, dots: usize) -> Option<Kind> {
    let n = digits.len();
    let indonesian_mobile = digits.starts_with("08") || digits.starts_with("628");
    if (plus && (8..=15).contains(&n)) || (indonesian_mobile && (10..=15).contains(&n)) {
        return Some(Kind::Phone);
    }
    // Otherwise dots mean prices, times and decimals: "Rp1.250.000", "08.00-21.00".
    if dots > 0 {
        return None;
    }
    if n == 16 && separators == 0 {
        return Some(Kind::Nik);
    }
    if (13..=19).contains(&n) && luhn(digits) {
        return Some(Kind::Card);
    }
    (8..=18).contains(&n).then_some(Kind::Account)
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// Removes invisible and bidirectional-control characters (a common prompt-injection
/// carrier) and cuts the text to `MAX_INPUT_CHARS`.
pub fn clean_input(text: &str) -> String {
    text.chars().filter(|c| !is_invisible(*c)).take(MAX_INPUT_CHARS).collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_left_after_unmasking_is_found() {
        let mut masker = Masker::for_business(["Warung Kopi Bu Sri"]);
        let masked = masker.mask("atas nama Rina, antar ke Jl. Melati 17");
        assert_eq!(masked, "atas nama [NAME_1], antar ke [ADDRESS_1]");
        assert!(!has_placeholder(&masker.unmask("Siap kak [NAME_1], ke [ADDRESS_1] ya")));
        assert!(has_placeholder(&masker.unmask("Siap kak [NAME_2]")), "never handed out");
        assert!(!has_placeholder("Promo [HARI_INI] dan [NAME] dan [PHONE_x]"), "only the placeholder shape");
    }

    #[test]
    fn each_kind_gets_its_placeholder() {
        let mut m = Masker::new();
        let text = "Kirim ke 0812-3456-7890 atau +62 811 2233 4455, email siti.rahma@gmail.com, \
                    NIK 3201234567890123, kartu 4111 1111 1111 1111, rek BCA 1234567890.";
        let masked = m.mask(text);
        assert_eq!(
            masked,
            "Kirim ke [PHONE_1] atau [PHONE_2], email [EMAIL_1], NIK [NIK_1], kartu [CARD_1], rek BCA [ACCOUNT_1]."
        );
        for original in
            ["0812-3456-7890", "siti.rahma@gmail.com", "3201234567890123", "4111 1111 1111 1111", "1234567890"]
        {
            assert!(!masked.contains(original));
        }
        assert_eq!(m.unmask("Kami hubungi [PHONE_1]"), "Kami hubungi 0812-3456-7890");
    }

    #[test]
    fn the_same_value_keeps_its_placeholder_across_turns() {
        let mut m = Masker::new();
        assert_eq!(m.mask("nomor saya 081234567890"), "nomor saya [PHONE_1]");
        assert_eq!(m.mask("sekali lagi: 0812 3456 7890"), "sekali lagi: [PHONE_1]");
        assert_eq!(m.originals().count(), 1);
    }

    #[test]
    fn prices_times_quantities_and_codes_are_left_alone() {
        let mut m = Masker::new();
        for text in
            ["Harga Rp1.250.000 ya", "buka 08.00-21.00", "pesan 3 pcs, 2kg", "invoice INV20241234567", "total 25000"]
        {
            assert_eq!(m.mask(text), text);
        }
    }

    #[test]
    fn invisible_characters_are_stripped_and_input_is_capped() {
        let sneaky = "hal\u{200B}o\u{202E}kak\u{E0041}\u{FEFF}";
        assert_eq!(clean_input(sneaky), "halokak");
        assert_eq!(clean_input(&"a".repeat(5000)).chars().count(), MAX_INPUT_CHARS);
    }

    #[test]
    fn luhn_separates_cards_from_other_long_numbers() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert_eq!(find_personal_data("kartu 4111-1111-1111-1111")[0].0, "CARD");
    }
}
