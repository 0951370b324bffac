//! Customers' names and street addresses in free text, for masking before the LLM: the cues
//! Indonesian chat uses ("atas nama Rina", "nama saya …", "kirim ke ibu Siti", "Jl. Melati
//! 17 RT 03/RW 05", "Gg. …", "Komplek … Blok C2", a postal code), without a name dictionary.
//! What the business published (its name, address, FAQ) is never a customer's.
use std::ops::Range;

use super::lexicon;

/// What a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Name,
    Address,
}

/// A word of the text and where it is (byte offsets).
#[derive(Debug, Clone)]
struct Word {
    at: Range<usize>,
    lower: String,
    capital: bool,
    digit: bool,
}

/// Words that start a street address.
const STREET: &str = "jl jln jalan gg gang komplek kompleks komp perum perumahan cluster blok blk rt rw kel kelurahan kec kecamatan desa ds dusun dsn apartemen apartment kav kodepos asrama ruko kos kost";
/// Words that go on an address once it has started ("No. 17", "RT 03", "Km 5", "Lt. 2").
const GOES_ON: &str = "no nomor nmr rt rw blok blk gg gang kel kelurahan kec kecamatan kav km lt lantai desa ds dusun kode pos kodepos kamar unit tower ruko kos";
/// Titles before a name; not part of it.
const TITLES: &str = "ibu bu pak bapak mas mbak mba kak bang dik adik ust ustadz ustadzah hj haji oma opa tante om sdr sdri saudara saudari rr drs ir kh opung eyang mbah nenek kakek si";
/// Kin and friends: a capitalised word after them is a name ("adikku Salsabila", "mamanya Nayla").
const KIN: &str = "adek adikku adekku adiknya kakakku kakaknya sepupu sepupuku sepupunya temen temenku temennya teman temanku mama mamah mamaku mamanya papa papaku papanya ayah ayahku bunda suami suamiku istri istriku anak anakku anaknya ponakan keponakan pacar pacarku punya";
/// Words that join names in a list ("Anisa, Bella, sama Chintya", "Hasan & Husein").
const AND: &str = "dan sama atau ama";
/// Words after which a name surely follows, in any case ("atas nama dimas", "penerima: rina").
const NAME_CUES: &[&[&str]] = &[
    &["atas", "nama"],
    &["a", "n"],
    &["nama", "saya"],
    &["nama", "sy"],
    &["nama", "aku"],
    &["nama", "gue"],
    &["nama", "gw"],
    &["namaku"],
    &["namanya"],
    &["nama", "lengkap"],
    &["nama", "penerima"],
    &["nama", "pemesan"],
    &["nama", "pengirim"],
    &["penerima"],
    &["penerimanya"],
    &["pemesan"],
    &["pengirim"],
    &["penanggung", "jawab"],
    &["cp"],
    &["nama"],
    &["hbd"],
    &["happy", "birthday"],
    &["ulang", "tahun"],
    &["kepada"],
];
/// Everyday words that end a name ("atas nama Rina ya", "saya Budi mau pesan").
const NOT_NAMES: &str = "mau pesan pesen order kirim minta tanya bisa udah sudah belum ya kak dong ini itu dari di ke yang yg no hp wa alamat untuk buat ambil tolong sama dan atau nomor telp min sis gan kok lagi juga tapi kaki";

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let raw = &text[s..i];
                out.push(Word {
                    at: s..i,
                    lower: raw.to_lowercase(),
                    capital: raw.chars().next().is_some_and(char::is_uppercase),
                    digit: raw.chars().any(|c| c.is_ascii_digit()),
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// What stands between word `i - 1` and word `i`.
fn gap<'t>(text: &'t str, words: &[Word], i: usize) -> &'t str {
    &text[words[i - 1].at.end..words[i].at.start]
}

/// Whether the gap between two words ends a phrase: a line break, `?`, `!`, `;`, or a comma.
fn breaks(gap: &str) -> bool {
    gap.contains(['\n', '?', '!', ';', ',', '(', ')', '"'])
}

fn is(word: &Word, list: &str) -> bool {
    list.split_whitespace().any(|w| w == word.lower)
}

/// An ordinary word: not a customer's name.
fn ordinary(word: &Word) -> bool {
    word.digit
        || is(word, NOT_NAMES)
        || is(word, STREET)
        || lexicon::is_stopword(&word.lower)
        || lexicon::is_circumstance(&word.lower)
        || lexicon::expansion(&word.lower).is_some()
}

/// The names and addresses in `text`, in order, not overlapping; `published` is what the
/// business made public (lowercase words joined by single spaces), never masked.
pub fn find(text: &str, published: &str) -> Vec<(Range<usize>, Found)> {
    let words = words(text);
    let mut found: Vec<(Range<usize>, Found)> = Vec::new();
    // The first word not yet in a span: an estate's name is looked for back to here.
    let mut free = 0;
    let mut i = 0;
    while i < words.len() {
        let hit = match address_at(&words, i, text) {
            // Only a street word, not a postal code, may have the estate's name before it.
            Some(end) if is(&words[i], STREET) => Some((named_before(&words, i, text).max(free), end, Found::Address)),
            Some(end) => Some((i, end, Found::Address)),
            None => name_at(&words, i, text).map(|(start, end)| (start, end, Found::Name)),
        };
        match hit {
            Some((start, mut end, kind)) => {
                if !is_published(&words[start..end], published) {
                    found.push((words[start].at.start..words[end - 1].at.end, kind));
                }
                while let Some((next, next_end)) = listed_after(&words, end, text).filter(|_| kind == Found::Name) {
                    if !is_published(&words[next..next_end], published) {
                        found.push((words[next].at.start..words[next_end - 1].at.end, kind));
                    }
                    end = next_end;
                }
                (i, free) = (end, end);
            }
            None => i += 1,
        }
    }
    found
}

fn is_published(span: &[Word], published: &str) -> bool {
    let phrase = span.iter().map(|w| w.lower.as_str()).collect::<Vec<_>>().join(" ");
    !published.is_empty() && format!(" {published} ").contains(&format!(" {phrase} "))
}

/// An address starting at word `i`, by a street word ("Jl.", "Gg.", "Komplek", "Blok", "RT")
/// or a postal code; returns the end (exclusive).
fn address_at(words: &[Word], i: usize, text: &str) -> Option<usize> {
    let w = &words[i];
    if w.digit && w.lower.len() == 5 && w.lower.chars().all(|c| c.is_ascii_digit()) && !w.lower.starts_with('0') {
        // "Malang 65145", "kode pos 65145": a postal code, not a price ("Rp 15000", "15000 rb").
        let before = i.checked_sub(1).map(|b| &words[b]);
        let after = words.get(i + 1).map(|a| a.lower.as_str());
        let priced = before.is_some_and(|b| b.lower == "rp") || matches!(after, Some("rb" | "ribu" | "k" | "an"));
        let placed = before.is_some_and(|b| b.capital || b.lower == "pos" || b.lower == "kodepos");
        return (placed && !priced).then_some(i + 1);
    }
    if !is(w, STREET) {
        return None;
    }
    // "rt", "blok", "kel" alone need a number or a name after them to be an address; a room
    // in a kos or an asrama needs its number ("kos putri Melati kamar 12", not "kos putri").
    let needs_number = is(w, "kos kost asrama");
    let mut end = i + 1;
    let mut numbered = false;
    let mut any_number = false;
    let mut names = 0;
    while end < words.len() {
        let next = &words[end];
        let g = gap(text, words, end);
        let goes_on = is(next, GOES_ON) || is(next, STREET);
        let decimal = g == "," && next.digit && words[end - 1].digit;
        if breaks(g) && !goes_on && !decimal {
            break;
        }
        if is(next, STREET) {
            (names, numbered) = (0, false);
        } else if goes_on {
            names = 0;
        } else if next.digit
            || next.lower.len() == 1
            || is_roman(&next.lower)
            || (is_code(text, next) && !is(next, TITLES))
        {
            (numbered, any_number) = (true, true);
        } else if names < 4 && (!ordinary(next) || is(next, TITLES)) && (!numbered || before_goes_on(words, end, text))
        {
            // A street's name, its titles included ("Jl. KH. Mas Mansyur"); after a number only
            // when more of the address follows ("gg. 5 sumbersari no 42B").
            names += 1;
        } else {
            break;
        }
        end += 1;
    }
    // Trailing street words without a value ("… no") are not part of it.
    while end > i + 1 && is(&words[end - 1], GOES_ON) {
        end -= 1;
    }
    (end > i + 1 && (any_number || !needs_number)).then_some(end)
}

/// A block or house code in capitals ("Blok AN 3/14", "blk. H-3").
fn is_code(text: &str, word: &Word) -> bool {
    word.lower.len() <= 3 && text[word.at.clone()].chars().all(|c| c.is_ascii_uppercase())
}

fn before_goes_on(words: &[Word], i: usize, text: &str) -> bool {
    words.get(i + 1).is_some_and(|n| is(n, GOES_ON) && !breaks(gap(text, words, i + 1)))
}

/// Where an address that starts at street word `i` really starts: the estate's name may come
/// first ("Pogung Baru Blok C", "Griya Citra Asri Blok C").
fn named_before(words: &[Word], i: usize, text: &str) -> usize {
    let mut start = i;
    while start > 0 && i - start < 4 {
        let w = &words[start - 1];
        if breaks(gap(text, words, start)) || !w.capital || lexicon::is_stopword(&w.lower) || is(w, TITLES) || w.digit {
            break;
        }
        start -= 1;
    }
    start
}

/// A name after a cue, or a capitalised one after a title or "saya"; returns (start, end).
fn name_at(words: &[Word], i: usize, text: &str) -> Option<(usize, usize)> {
    let lower: Vec<&str> = words[i..].iter().take(2).map(|w| w.lower.as_str()).collect();
    let cue = NAME_CUES.iter().find(|cue| lower.len() >= cue.len() && lower[..cue.len()] == cue[..]);
    let (mut start, strong) = match cue {
        // "Nama: Rina" surely; "nama Dinda" when capitalised; not "nama menu" or "nama tokonya".
        Some(cue) if cue == &&["nama"][..] => (i + 1, i + 1 < words.len() && gap(text, words, i + 1).contains(':')),
        Some(cue) => (i + cue.len(), true),
        // "an. Herman": "an" is a cue only with its dot.
        None if words[i].lower == "an" && i + 1 < words.len() && gap(text, words, i + 1).starts_with('.') => {
            (i + 1, true)
        }
        None if is(&words[i], TITLES)
            || is(&words[i], KIN)
            || is(&words[i], "saya sy aku gue rekening nama buat untuk") =>
        {
            (i + 1, false)
        }
        None => return uncued(words, i, text),
    };
    while start < words.len() && is(&words[start], TITLES) && !breaks(gap(text, words, start)) {
        start += 1;
    }
    let mut end = start;
    // "atas nama Ni Luh Putu Ayu Saraswati": after a sure cue, a name may be long.
    let longest = if strong { 5 } else { 3 };
    while end < words.len() && end - start < longest {
        let w = &words[end];
        let g = gap(text, words, end);
        // A name goes on over spaces only; the first word may follow a cue's colon.
        let joined = if end == start { !breaks(g) } else { !breaks(g) && !g.contains(['.', '&']) };
        let acronym = w.lower.len() <= 4 && text[w.at.clone()].chars().all(|c| c.is_uppercase());
        let shaped = !acronym && !ordinary(w) && (strong || w.capital || ends_a_clause(text, words, end));
        if !joined || !shaped || w.lower.chars().count() < 2 {
            break;
        }
        end += 1;
    }
    (end > start).then_some((start, end))
}

/// Names without a cue: a list of capitalised names after a colon ("3 org: Anisa, Bella, sama
/// Chintya"), or a full name alone in brackets ("(Rahayu Ningsih)").
fn uncued(words: &[Word], i: usize, text: &str) -> Option<(usize, usize)> {
    let before = if i == 0 { "" } else { gap(text, words, i) };
    let end = capitalised_run(words, i, text);
    if end == i {
        return None;
    }
    let listed = before.contains(':') && listed_after(words, end, text).is_some();
    let closed = words.get(end).map_or(&text[words[end - 1].at.end..], |_| gap(text, words, end));
    let bracketed = before.ends_with('(') && closed.starts_with(')') && end - i >= 2;
    (listed || bracketed).then_some((i, end))
}

/// The end of up to three capitalised, unordinary words from `i`, joined by single spaces.
fn capitalised_run(words: &[Word], i: usize, text: &str) -> usize {
    let mut end = i;
    while end < words.len() && end - i < 3 {
        let w = &words[end];
        let spaced = end == i || gap(text, words, end) == " ";
        if !spaced || !w.capital || ordinary(w) || is(w, TITLES) || w.lower.chars().count() < 2 {
            break;
        }
        end += 1;
    }
    end
}

/// The next name of a list after a name ending at `end`: ", Bella", " & Husein", ", sama Chintya".
fn listed_after(words: &[Word], end: usize, text: &str) -> Option<(usize, usize)> {
    let mut start = end;
    let spaced = |at: usize| at < words.len() && gap(text, words, at).chars().all(|c| matches!(c, ',' | '&' | ' '));
    let marked = |at: usize| gap(text, words, at).contains([',', '&']);
    if !spaced(start) {
        return None;
    }
    if is(&words[start], AND) && spaced(start + 1) {
        start += 1;
    } else if !marked(start) {
        return None;
    }
    let stop = capitalised_run(words, start, text);
    (stop > start).then_some((start, stop))
}

/// "sy rizky." or "sy nenden, …": a lowercase word right before a comma, dot or the end, after
/// "saya", is a name; "sy mau pesan" is not.
fn ends_a_clause(text: &str, words: &[Word], i: usize) -> bool {
    let before = i.checked_sub(1).map(|b| words[b].lower.as_str());
    let after = words.get(i + 1).map_or("", |_| gap(text, words, i + 1));
    matches!(before, Some("saya" | "sy" | "aku" | "gue")) && (i + 1 == words.len() || after.contains([',', '.']))
}

fn is_roman(word: &str) -> bool {
    !word.is_empty() && word.len() <= 4 && word.chars().all(|c| matches!(c, 'i' | 'v' | 'x'))
}

/// Lowercase words joined by single spaces: the form `find` compares published text in.
pub fn published_form<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    texts.into_iter().flat_map(|t| words(t).into_iter().map(|w| w.lower)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str, published: &str) -> Vec<(String, Found)> {
        find(text, &published_form([published])).into_iter().map(|(r, k)| (text[r].to_string(), k)).collect()
    }

    #[test]
    fn addresses_are_found_by_their_street_words() {
        assert_eq!(
            masked("anter ke Jl. Melati No. 17 RT 03/RW 05, Sleman ya", ""),
            [("Jl. Melati No. 17 RT 03/RW 05".to_string(), Found::Address)]
        );
        assert_eq!(
            masked("kirim ke jln mawar gg. kenari no 9 bisa?", ""),
            [("jln mawar gg. kenari no 9".into(), Found::Address)]
        );
        assert_eq!(masked("Malang 65145", ""), [("65145".into(), Found::Address)]);
        assert!(masked("harga 15000 rb, Rp 25000", "").is_empty());
    }

    #[test]
    fn names_follow_their_cues() {
        assert_eq!(masked("pesanan atas nama dimas ya kak", ""), [("dimas".into(), Found::Name)]);
        assert_eq!(masked("kirim ke ibu Siti Aminah", ""), [("Siti Aminah".into(), Found::Name)]);
        assert!(masked("saya mau pesan kue", "").is_empty());
        assert!(masked("nama menunya apa", "").is_empty());
    }

    #[test]
    fn lists_brackets_and_kin_name_people() {
        let names = |text: &str| masked(text, "").into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(names("wisuda buat 3 org: Anisa, Bella, sama Chintya, hari Sabtu"), ["Anisa", "Bella", "Chintya"]);
        assert_eq!(names("kue buat adikku Salsabila & Husein ya"), ["Salsabila", "Husein"]);
        assert_eq!(names("booking hair spa Sabtu jam 2 (Rahayu Ningsih) ya kak"), ["Rahayu Ningsih"]);
        assert_eq!(names("atas nama Ni Luh Putu Ayu Saraswati, Sabtu"), ["Ni Luh Putu Ayu Saraswati"]);
        // A list needs its colon; one capitalised word in brackets is not a name.
        assert!(names("ada Kopi Susu, Es Teh sama Roti Bakar?").is_empty());
        assert!(names("yang (Original) aja").is_empty());
    }

    #[test]
    fn rooms_codes_and_titled_streets_are_addresses() {
        let found = |text: &str| masked(text, "").into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(found("jemput di kos putri Melati kamar 12 ya"), ["kos putri Melati kamar 12"]);
        assert!(found("aku di kos putri deket kampus").is_empty());
        assert_eq!(
            found("alamat: Perumahan Pondok Jati Blok AN 3/14, Buduran"),
            ["Perumahan Pondok Jati Blok AN 3/14"]
        );
        assert_eq!(found("ke Jl. KH. Mas Mansyur Gg. Arab No. 21, Ampel"), ["Jl. KH. Mas Mansyur Gg. Arab No. 21"]);
        assert_eq!(found("gg. 5 sumbersari no 42B, yg pintunya coklat"), ["gg. 5 sumbersari no 42B"]);
        assert!(found("jalan kaki berapa menit?").is_empty());
    }

    #[test]
    fn what_the_business_published_stays() {
        let published = "Warkop Mbak Sri, Jl. Kaliurang Km 5 No. 12, Sleman";
        assert!(masked("mbak Sri, alamatnya Jl. Kaliurang Km 5 No. 12 kan?", published).is_empty());
        assert_eq!(
            masked("aku di Jl. Kaliurang Km 9 no 4", published),
            [("Jl. Kaliurang Km 9 no 4".into(), Found::Address)]
        );
    }
}
