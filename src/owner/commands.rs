//! What an owner can type on WhatsApp: `#12 <text>`, `#12 1`, `#12 ambil|lepas|selesai`,
//! `daftar`; a quote-reply to a notice needs no ticket number. A file's caption names its ticket.
use crate::owner::tickets::Action;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An action on the ticket with this number, or on the quoted notice's ticket (`None`).
    Ticket { number: Option<i32>, action: Action },
    /// Approve the erasure the ticket's customer asked for (`#12 hapus`).
    Erase { number: Option<i32> },
    /// List the open tickets.
    List,
    /// `#12 faq <answer>`: reply, and save the answer as an FAQ entry for the ticket's question;
    /// `#12 faq` alone saves the last answer.
    Faq { number: Option<i32>, answer: Option<String> },
    /// `#12 semua`: send the FAQ answer of the ticket's question to the others waiting on it.
    AnswerWaiting { number: Option<i32> },
    /// A tapped button, with its id or payload (see `buttons`).
    Tap(String),
    /// A photo, document or voice note for the ticket with this number, or the quoted one.
    File { number: Option<i32>, caption: String },
    /// A file that names no ticket: answered with how to name one.
    UnnamedFile,
    /// Anything not understood: answered with the help text.
    Help,
}

/// Parses an owner's message; `quoting` says whether it quote-replies to one of our messages.
pub fn parse(text: &str, quoting: bool) -> Command {
    if let Some(id) = text.strip_prefix(super::buttons::TAP) {
        return Command::Tap(id.to_string());
    }
    let text = text.trim();
    let lower = text.to_lowercase();
    if matches!(lower.as_str(), "daftar" | "list" | "tiket") {
        return Command::List;
    }
    if text.starts_with('#') {
        let Some((number, rest)) = numbered(text) else { return Command::Help };
        if rest.is_empty() {
            return Command::Help;
        }
        if is_erase(rest) {
            return Command::Erase { number: Some(number) };
        }
        return gap_command(Some(number), rest)
            .unwrap_or(Command::Ticket { number: Some(number), action: action(rest) });
    }
    if quoting && is_erase(text) {
        return Command::Erase { number: None };
    }
    if quoting && let Some(command) = gap_command(None, text) {
        return command;
    }
    if quoting && !text.is_empty() {
        return Command::Ticket { number: None, action: action(text) };
    }
    Command::Help
}

/// The ticket an owner's file with this caption is for, and the caption left for the customer:
/// `#12 ini resinya`, or any caption quote-replying to a notice; `None` when it names none.
pub fn parse_file(caption: &str, quoting: bool) -> Command {
    let text = caption.trim();
    match numbered(text) {
        Some((number, rest)) => Command::File { number: Some(number), caption: rest.to_string() },
        None if quoting => Command::File { number: None, caption: text.to_string() },
        None => Command::UnnamedFile,
    }
}

/// `#12 rest`: the number and what follows it.
fn numbered(text: &str) -> Option<(i32, &str)> {
    let rest = text.strip_prefix('#')?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let number = rest[..digits].parse::<i32>().ok()?;
    Some((number, rest[digits..].trim_start_matches([':', ' ', '\n', '\t']).trim()))
}

/// `faq`, `faq <answer>`, `semua`: the knowledge-gap commands; `None` for anything else
/// (`#12 faqnya ada?` is a reply).
fn gap_command(number: Option<i32>, rest: &str) -> Option<Command> {
    let lower = rest.to_lowercase();
    if matches!(lower.as_str(), "semua" | "all" | "kirim semua") {
        return Some(Command::AnswerWaiting { number });
    }
    let after = rest.get(..3).filter(|w| w.eq_ignore_ascii_case("faq")).map(|_| &rest[3..])?;
    if !(after.is_empty() || after.starts_with([' ', ':', '\n', '\t'])) {
        return None;
    }
    let answer = after.trim_start_matches([':', ' ', '\n', '\t']).trim();
    Some(Command::Faq { number, answer: Some(answer.to_string()).filter(|a| !a.is_empty()) })
}

fn is_erase(rest: &str) -> bool {
    matches!(rest.to_lowercase().as_str(), "hapus" | "erase")
}

/// A keyword alone is a command; anything else is text for the customer.
fn action(rest: &str) -> Action {
    match rest.to_lowercase().as_str() {
        "1" => Action::SendDraft,
        "ambil" | "take" => Action::TakeOver,
        "lepas" | "release" => Action::HandBack,
        "selesai" | "done" => Action::Resolve,
        _ => Action::Reply(rest.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(number: i32, action: Action) -> Command {
        Command::Ticket { number: Some(number), action }
    }

    #[test]
    fn ticket_commands_and_relayed_text() {
        assert_eq!(parse("#12 1", false), on(12, Action::SendDraft));
        assert_eq!(parse("#12 AMBIL", false), on(12, Action::TakeOver));
        assert_eq!(parse("#3 lepas ", false), on(3, Action::HandBack));
        assert_eq!(parse("#3: selesai", false), on(3, Action::Resolve));
        assert_eq!(
            parse("#12 Baik kak, besok kami kirim ulang 🙏", false),
            on(12, Action::Reply("Baik kak, besok kami kirim ulang 🙏".into()))
        );
        assert_eq!(parse("#12 ambil saja kopinya", false), on(12, Action::Reply("ambil saja kopinya".into())));
    }

    #[test]
    fn a_file_goes_to_the_ticket_its_caption_or_quote_names() {
        let file = |number, caption: &str| Command::File { number, caption: caption.into() };
        assert_eq!(parse_file("#12 ini resinya", false), file(Some(12), "ini resinya"));
        assert_eq!(parse_file(" #7 ", false), file(Some(7), ""));
        assert_eq!(parse_file("#7: nota", true), file(Some(7), "nota"), "the number wins over the quote");
        assert_eq!(parse_file("ini resinya", true), file(None, "ini resinya"));
        assert_eq!(parse_file("", true), file(None, ""));
        assert_eq!(parse_file("ini resinya", false), Command::UnnamedFile);
        assert_eq!(parse_file("#abc", false), Command::UnnamedFile);
    }

    #[test]
    fn list_help_and_quote_replies() {
        assert_eq!(parse(" Daftar ", false), Command::List);
        assert_eq!(parse("halo", false), Command::Help);
        assert_eq!(parse("#", false), Command::Help);
        assert_eq!(parse("#12", false), Command::Help);
        assert_eq!(parse("#abc hai", false), Command::Help);
        assert_eq!(parse("oke siap", true), Command::Ticket { number: None, action: Action::Reply("oke siap".into()) });
        assert_eq!(parse("selesai", true), Command::Ticket { number: None, action: Action::Resolve });
        assert_eq!(parse("#7 ambil", true), on(7, Action::TakeOver), "an explicit number wins over the quote");
        assert_eq!(parse("#7 Hapus", false), Command::Erase { number: Some(7) });
        assert_eq!(parse("hapus", true), Command::Erase { number: None });
        assert_eq!(parse("#7 hapus pesanan saya", false), on(7, Action::Reply("hapus pesanan saya".into())));
        assert_eq!(parse("tap:b1.take.x.y", true), Command::Tap("b1.take.x.y".into()));
    }

    #[test]
    fn faq_and_all_close_a_knowledge_gap() {
        let faq = |number, answer: Option<&str>| Command::Faq { number, answer: answer.map(str::to_string) };
        assert_eq!(parse("#12 faq Bisa COD kak", false), faq(Some(12), Some("Bisa COD kak")));
        assert_eq!(parse("#12 FAQ: Bisa\nCOD", false), faq(Some(12), Some("Bisa\nCOD")));
        assert_eq!(parse("#12 faq", false), faq(Some(12), None));
        assert_eq!(parse("faq Bisa", true), faq(None, Some("Bisa")));
        assert_eq!(parse("#12 semua", false), Command::AnswerWaiting { number: Some(12) });
        assert_eq!(parse("semua", true), Command::AnswerWaiting { number: None });
        // The plain `#12 <text>` keeps meaning "reply".
        assert_eq!(parse("#12 faqnya ada?", false), on(12, Action::Reply("faqnya ada?".into())));
        assert_eq!(parse("#12 semua ukuran ada", false), on(12, Action::Reply("semua ukuran ada".into())));
        assert_eq!(parse("faq", false), Command::Help);
    }
}
