//! What an owner can type on WhatsApp: `#12 <text>`, `#12 1`, `#12 ambil|lepas|selesai`,
//! `daftar`; a quote-reply to a notice needs no ticket number.
use crate::owner::tickets::Action;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An action on the ticket with this number, or on the quoted notice's ticket (`None`).
    Ticket { number: Option<i32>, action: Action },
    /// Approve the erasure the ticket's customer asked for (`#12 hapus`).
    Erase { number: Option<i32> },
    /// List the open tickets.
    List,
    /// A tapped button, with its id or payload (see `buttons`).
    Tap(String),
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
    if let Some(rest) = text.strip_prefix('#') {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(number) = digits.parse::<i32>() else { return Command::Help };
        let rest = rest[digits.len()..].trim_start_matches([':', ' ', '\n', '\t']).trim();
        if rest.is_empty() {
            return Command::Help;
        }
        if is_erase(rest) {
            return Command::Erase { number: Some(number) };
        }
        return Command::Ticket { number: Some(number), action: action(rest) };
    }
    if quoting && is_erase(text) {
        return Command::Erase { number: None };
    }
    if quoting && !text.is_empty() {
        return Command::Ticket { number: None, action: action(text) };
    }
    Command::Help
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
}
