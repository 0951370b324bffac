//! What a message asks for, beyond its topic: a person instead of the bot, or help with the
//! customer's own case (a complaint, an order's status), which no FAQ entry can answer.
use super::text;

/// Someone the customer may ask to be put through to.
const PEOPLE: &[&str] = &[
    "admin", "adminnya", "orang", "orangnya", "manusia", "human", "person", "people", "cs", "customer", "service",
    "petugas", "pemilik", "owner", "operator", "agent", "staf", "staff", "karyawan", "pegawai", "bos", "boss",
    "beliau",
];

/// Asking to be put through, to talk, or for a call.
const CONNECT: &[&str] = &[
    "sambung", "hubung", "oper", "connect", "bicara", "ngomong", "omong", "ngobrol", "obrol", "chat", "telpon",
    "telepon", "telfon", "telp", "tlp", "call", "talk", "speak", "dibales", "bales", "balas", "konsul", "ketemu",
];

/// Said of the one they want: a real person, not the bot.
const REAL: &[&str] = &["asli", "aslinya", "beneran", "bener", "real", "manusia", "human"];

/// Words that turn the bot away outright ("ga usah bot", "bukan robot", "no auto reply").
const NOT_THE_BOT: &[(&str, &str)] =
    &[("usah", "bot"), ("gausah", "bot"), ("bukan", "bot"), ("bukan", "robot"), ("auto", "reply"), ("gausah", "auto")];

/// Whether the customer asks for a person rather than the bot, in any of the ways they say it:
/// "minta admin", "sambungin ke CS", "bisa bicara sama pemilik?", "admin yang asli ada?".
/// A bare "admin" or "orang" is not enough: "halo admin, …" and "pesan untuk 10 orang" are questions.
pub fn asks_for_person(message: &str) -> bool {
    let words = text::words(message);
    let has =
        |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()) || list.contains(&text::stem(w).as_str()));
    // "ibu yg punya toko", "yang punya salon": the owner, said the everyday way.
    let owner = words.windows(2).any(|p| ["yg", "yang"].contains(&p[0].as_str()) && p[1] == "punya");
    let person = has(PEOPLE) || owner;
    let connect = has(CONNECT);
    let real = has(REAL);
    // "minta admin", "butuh manusia", "minta sama CS": the person right after the request.
    let asks = ["minta", "butuh", "need", "want", "panggil", "panggilin"];
    let names_someone = words.iter().enumerate().any(|(i, w)| {
        let mut next = words[i + 1..].iter().skip_while(|n| ["sama", "sm", "ke", "dengan", "a"].contains(&n.as_str()));
        asks.contains(&w.as_str()) && next.next().is_some_and(|n| PEOPLE.contains(&text::stem(n).as_str()))
    });
    let not_the_bot = words.windows(2).any(|p| NOT_THE_BOT.contains(&(p[0].as_str(), p[1].as_str())));
    // "sambungin ke …", "oper ke …", "connect me to …": putting through needs no person word.
    let put_through = words.iter().enumerate().any(|(i, w)| {
        ["sambung", "hubung", "oper", "connect"].contains(&text::stem(w).as_str())
            && words[i + 1..].iter().take(2).any(|n| ["ke", "dengan", "sama", "sm", "to", "me"].contains(&n.as_str()))
    });
    not_the_bot || names_someone || put_through || (person && (connect || real)) || (connect && talks_directly(&words))
}

/// "ngobrol langsung", "chat … langsung", "telpon": a conversation with someone, not an answer.
fn talks_directly(words: &[String]) -> bool {
    let direct = words.iter().any(|w| w == "langsung" || w == "directly");
    let call =
        words.iter().any(|w| ["telpon", "telepon", "telfon", "telp", "tlp", "ditelpon", "call"].contains(&w.as_str()));
    direct || call
}

/// Words that report something gone wrong.
const PROBLEMS: &[&str] = &[
    "hilang", "ilang", "rusak", "sobek", "robek", "basi", "bau", "apek", "lupas", "patah", "pecah", "bocor", "cacat",
    "kecewa", "jelek", "mati", "error", "nyasar", "kurang", "salah", "penipu", "tipu", "ditagih", "tagih", "padahal",
    "komplain", "complain", "broken", "damaged", "missing", "wrong",
];

/// Words that make a problem hypothetical, a question about the policy rather than a report.
const HYPOTHETICAL: &[&str] =
    &["kalau", "kalo", "klo", "kl", "misal", "misalnya", "seandainya", "jika", "apabila", "if"];

/// Whether the message is about the customer's own case: a problem they report ("kuenya basi",
/// "hijabnya sobek"), or an order or payment they name ("atas nama Lia", "tf saya udah masuk
/// belum?"). The FAQ states policies; it cannot answer these, so they go to the owner.
pub fn about_own_case(message: &str) -> bool {
    let words = text::words(message);
    let has = |w: &str| words.iter().any(|x| x == w);
    let named = words.windows(2).any(|p| p[0] == "atas" && p[1] == "nama");
    let own = ["saya", "sy", "aku", "gue", "gw", "ku"].iter().any(|w| has(w))
        || words.iter().any(|w| w.ends_with("ku") && w.len() > 5);
    let settled = ["masuk", "sampai", "sampe", "nyampe", "dikirim", "kirim", "selesai", "jadi", "diproses", "dibayar"];
    let status = (has("udah") || has("udh") || has("sudah") || has("sdh"))
        && (has("belum") || has("blm"))
        && settled.iter().any(|w| has(w));
    let problem = words.iter().any(|w| PROBLEMS.contains(&w.as_str()) || PROBLEMS.contains(&text::stem(w).as_str()));
    let hypothetical = words.iter().any(|w| HYPOTHETICAL.contains(&w.as_str()));
    named || (own && status) || (problem && !hypothetical && !asks_yes_or_no(&words))
}

/// "… basi gak?", "… rusak ga?": asking whether something happens, not saying it did.
fn asks_yes_or_no(words: &[String]) -> bool {
    words.last().is_some_and(|w| ["gak", "ga", "gk", "nggak", "tidak", "ngga", "enggak", "engga"].contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_asked_for_in_context_not_by_a_bare_word() {
        for asks in [
            "minta admin manusia",
            "tolong sambungin ke CS ya",
            "bisa bicara sama pemilik toko?",
            "mbak admin yg asli ada?",
            "ga usah bot, langsung admin aja",
            "please connect me to a real person",
            "bisa ngobrol sama mbak sri langsung?",
        ] {
            assert!(asks_for_person(asks), "{asks}");
        }
        for question in ["halo admin, jam buka?", "pesan untuk 10 orang bisa?", "admin, ongkir ke bekasi brp"] {
            assert!(!asks_for_person(question), "{question}");
        }
    }

    #[test]
    fn an_own_case_is_told_from_a_question_about_the_policy() {
        for case in ["kuenya kemarin basi kak", "pesanan atas nama Lia udh dikirim?", "tf dp saya udh masuk blm?"] {
            assert!(about_own_case(case), "{case}");
        }
        for policy in ["kalau ga masuk kulkas kuenya basi gak?", "misal ada yg rusak gimana?", "udh buka blm?"] {
            assert!(!about_own_case(policy), "{policy}");
        }
    }
}
