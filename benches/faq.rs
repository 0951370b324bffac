//! Answer quality of the offline FAQ responder and of the LLM's grounding, on the labelled
//! set in `benches/data/faq/`: `dev`, `dev2` and `dev3` for tuning (each written after the
//! previous round of tuning, to tune on fresh messages), `heldout` for reporting only.
//! Run: `cargo bench --bench faq`
#[path = "faq/eval.rs"]
mod eval;

use eval::{Figures, percent};

const BUSINESSES: &str = include_str!("data/faq/businesses.json");
const HALVES: [(&str, &str); 4] = [
    ("dev", include_str!("data/faq/dev.jsonl")),
    ("dev2", include_str!("data/faq/dev2.jsonl")),
    ("dev3", include_str!("data/faq/dev3.jsonl")),
    ("held-out", include_str!("data/faq/heldout.jsonl")),
];

fn main() {
    println!("FAQ evaluation, threshold {} (benches/data/faq/)", eval::THRESHOLD);
    println!(
        "| half | answered right | wrong answers | needless hand-overs | recall@4 | false hand-overs | outside the FAQ handed over | missed person requests |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, messages) in HALVES {
        let f: Figures =
            eval::evaluate(BUSINESSES, messages, name != "held-out" && std::env::var_os("FAQ_SHOW").is_some());
        println!(
            "| {name} | {} of {} ({}) | {} | {} ({}) | {} ({}) | {} ({}) | {} of {} ({}) | {} of {} |",
            f.right,
            f.answerable,
            percent(f.right, f.answerable),
            f.wrong,
            f.needless_hand_overs,
            percent(f.needless_hand_overs, f.answerable),
            f.recall_at_4,
            percent(f.recall_at_4, f.answerable),
            f.false_hand_overs,
            percent(f.false_hand_overs, f.answerable),
            f.outside_handed_over,
            f.outside,
            percent(f.outside_handed_over, f.outside),
            f.missed_person,
            f.person,
        );
    }
}
