//! Prompt cost and preparation time of the LLM path, printed as figures for BENCHMARKS.md.
//! Run: `cargo bench --bench prompt`
use std::time::Instant;

use balas::engine::assistant::{self as prompt, Business, Turn};
use balas::engine::mask::{Masker, clean_input};
use balas::kb;
use balas::llm::LlmSettings;
use balas::store::KbEntry;

const MAX_REPLY_CHARS: usize = 700;

fn faq() -> Vec<KbEntry> {
    let items = kb::parse_json(include_str!("../src/demo/faq.json")).expect("demo FAQ");
    items
        .into_iter()
        .map(|i| KbEntry {
            id: balas::domain::KbEntryId::new(),
            tenant_id: balas::domain::TenantId::new(),
            question: i.question,
            answer: i.answer,
            keywords: i.keywords,
            version: 1,
            created_at: chrono::Utc::now(),
        })
        .collect()
}

/// A 30-turn conversation in the style of a real chat: questions, answers with the usual
/// closing lines of a chat assistant, small talk.
fn conversation(faq: &[KbEntry]) -> Vec<Turn> {
    let closing = "Kalau mau pesan, bisa langsung kirim nama, alamat lengkap, dan jumlah pesanan ya kak. \
                   Pembayaran bisa transfer atau QRIS, dan pesanan kami proses setelah pembayaran diterima.";
    let chatter = [
        "Halo kak, mau tanya-tanya dulu ya sebelum pesan untuk acara kantor minggu depan",
        "Oh begitu, kalau pesan 20 cup bisa diantar ke Jl. Magelang km 7? Nomor saya 0812-3456-7890",
        "Sip kak, nanti saya kabari lagi setelah konfirmasi dengan atasan saya ya",
    ];
    (0..30)
        .map(|i| {
            let entry = &faq[i % faq.len()];
            if i % 2 == 0 {
                let text =
                    if i % 6 == 0 { chatter[(i / 6) % chatter.len()].to_string() } else { entry.question.clone() };
                Turn { role: "user", text }
            } else {
                Turn {
                    role: "assistant",
                    text: format!("{} {closing} Ada lagi yang bisa kami bantu, kak? 😊", entry.answer),
                }
            }
        })
        .collect()
}

fn prepare(business: &Business, faq: &[KbEntry], turns: &[Turn], history_tokens: usize) -> usize {
    let mut masker = Masker::new();
    let masked: Vec<Turn> =
        turns.iter().map(|t| Turn { role: t.role, text: masker.mask(&clean_input(&t.text)) }).collect();
    let question = &masked.last().map(|t| t.text.clone()).unwrap_or_default();
    let grounding = prompt::top_faq(question, faq);
    let system = prompt::render_system(business, &grounding, MAX_REPLY_CHARS);
    prompt::messages(&system, &masked, history_tokens).1
}

fn main() {
    let faq = faq();
    let business = Business {
        name: "Warung Kopi Bu Sri".into(),
        description: "Warung kopi rumahan".into(),
        address: "Jl. Kenanga No. 5, Sleman".into(),
        opening_hours: "Setiap hari 08.00–21.00".into(),
        tone: "ramah".into(),
        language: "id".into(),
        link_hosts: String::new(),
    };
    let mut turns = conversation(&faq);
    turns.push(Turn { role: "user", text: "Kalau pesan 20 cup ada diskon? Transfer ke rekening mana ya kak?".into() });

    let question = turns.last().map(|t| t.text.clone()).unwrap_or_default();
    let grounding = prompt::top_faq(&question, &faq);
    let system = prompt::render_system(&business, &grounding, MAX_REPLY_CHARS);
    let history_tokens = LlmSettings::new(Vec::new()).history_tokens;
    let (windowed_messages, windowed) = prompt::messages(&system, &turns, history_tokens);
    let (_, naive) = prompt::messages(&system, &turns, usize::MAX / 2);
    let all_faq: Vec<&KbEntry> = faq.iter().collect();
    let naive_all_faq =
        prompt::messages(&prompt::render_system(&business, &all_faq, MAX_REPLY_CHARS), &turns, usize::MAX / 2).1;
    println!("prompt tokens, 30-turn conversation (estimate: 4 characters a token)");
    println!("  windowed ({history_tokens}-token history, top-{} FAQ):  {windowed}", prompt::TOP_K);
    println!("  naive (full history, same FAQ grounding):        {naive}");
    println!("  windowed / naive:                                {:.0} %", 100.0 * windowed as f64 / naive as f64);
    println!("  naive with the whole FAQ (5 entries here):       {naive_all_faq}");
    println!("  turns kept: {} of {}", windowed_messages.len() - 1, turns.len());

    const RUNS: usize = 7;
    const PER_RUN: usize = 2000;
    let mut per_message_us: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let mut sink = 0;
            for _ in 0..PER_RUN {
                sink += prepare(&business, &faq, &turns, history_tokens);
            }
            std::hint::black_box(sink);
            started.elapsed().as_secs_f64() * 1e6 / PER_RUN as f64
        })
        .collect();
    per_message_us.sort_by(f64::total_cmp);
    println!("masking (31 messages) + FAQ retrieval + prompt rendering + windowing, per reply:");
    println!(
        "  median {:.1} µs, min {:.1} µs, max {:.1} µs ({RUNS} runs of {PER_RUN})",
        per_message_us[RUNS / 2],
        per_message_us[0],
        per_message_us[RUNS - 1]
    );
}
