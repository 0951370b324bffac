//! Masking of customers' names and street addresses before the LLM, on the labelled set in
//! `benches/data/mask/`: recall by kind, over-masking, and business data masked (must be 0).
//! Run: `cargo bench --bench mask`
#[path = "mask/eval.rs"]
mod eval;

use eval::percent;

const BUSINESSES: &str = include_str!("data/faq/businesses.json");
const PARTS: [(&str, &str); 3] = [
    ("tuning", include_str!("data/mask/messages.jsonl")),
    ("tuning2", include_str!("data/mask/messages2.jsonl")),
    ("held-out", include_str!("data/mask/heldout.jsonl")),
];

fn main() {
    println!(
        "Masking evaluation (benches/data/mask/: messages.jsonl and messages2.jsonl tuned on, heldout.jsonl only measured)"
    );
    println!(
        "| part | addresses masked (recall) | names masked (recall) | masked spans that are personal data (precision) | business data, products, places masked |"
    );
    println!("|---|---|---|---|---|");
    for (part, messages) in PARTS {
        let show = part.starts_with("tuning") && std::env::var_os("MASK_SHOW").is_some();
        let f = eval::evaluate(BUSINESSES, messages, show);
        println!(
            "| {part} | {} of {} ({}) | {} of {} ({}) | {} of {} ({}) | {} of {} |",
            f.addresses_masked,
            f.addresses,
            percent(f.addresses_masked, f.addresses),
            f.names_masked,
            f.names,
            percent(f.names_masked, f.names),
            f.masked - f.masked_wrongly,
            f.masked,
            percent(f.masked - f.masked_wrongly, f.masked),
            f.keep_masked,
            f.keep,
        );
    }
}
