//! The bot never confirms a payment: only the owner, who sees the bank account, can. A reply
//! that says a payment or transfer was received, has arrived or is settled is refused.
use super::text::words;

/// Words that make a sentence about money: whole words, and stems that take suffixes
/// ("transferannya", "pembayarannya").
const MONEY_WORDS: &[&str] = &["tf", "dp", "dana", "uang", "paid", "lunas"];
const MONEY_STEMS: &[&str] = &["bayar", "pembayaran", "dibayar", "transfer", "pelunasan", "payment"];

fn is_money(word: &str) -> bool {
    MONEY_WORDS.contains(&word) || MONEY_STEMS.iter().any(|stem| word.starts_with(stem))
}

/// Phrases that say the money is in.
const RECEIVED: &[&str] = &[
    "sudah kami terima",
    "telah kami terima",
    "sudah diterima",
    "telah diterima",
    "sudah masuk",
    "telah masuk",
    "sudah kami cek",
    "sudah terkonfirmasi",
    "sudah dikonfirmasi",
    "kami konfirmasi",
    "sudah lunas",
    "lunas ya",
    "berhasil diterima",
    "pembayaran berhasil",
    "transfer berhasil",
    "have received",
    "has been received",
    "was received",
    "received your",
    "is confirmed",
    "has been confirmed",
    "payment confirmed",
    "fully paid",
];

/// Whether a sentence of `reply` speaks of money as received or confirmed.
pub fn confirms_payment(reply: &str) -> bool {
    reply.split(['.', '!', '?', '\n']).any(|sentence| {
        let words = words(sentence);
        let joined = words.join(" ");
        words.iter().any(|w| is_money(w)) && RECEIVED.iter().any(|p| contains_phrase(&joined, p))
    })
}

/// `phrase` as whole words within `text` (both lower-case, single-spaced).
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let padded = format!(" {text} ");
    padded.contains(&format!(" {phrase} "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_saying_the_money_is_in_is_caught() {
        for reply in [
            "Terima kasih kak, pembayaran sudah kami terima 🙏",
            "Transferannya sudah masuk ya kak.",
            "Baik kak, DP sudah lunas ya",
            "Thanks! We have received your payment.",
            "Your transfer is confirmed.",
            "Oke kak, dana telah diterima, pesanan diproses.",
        ] {
            assert!(confirms_payment(reply), "{reply}");
        }
    }

    #[test]
    fn payment_instructions_and_other_receipts_pass() {
        for reply in [
            "Pembayaran bisa via transfer BCA atau QRIS ya kak.",
            "Setelah transfer, kirim bukti ke nomor ini, nanti pemilik toko yang mengecek.",
            "Pesanan kakak sudah kami terima, ongkirnya Rp10.000.",
            "We accept payment by bank transfer.",
            "Bukti transfernya sudah kami teruskan ke pemilik toko untuk dicek ya kak.",
        ] {
            assert!(!confirms_payment(reply), "{reply}");
        }
    }
}
