//! The ratchet on answer quality: the FAQ evaluation of `cargo bench --bench faq`, run as a
//! test, fails when wrong answers rise or right answers, recall or person requests caught fall
//! below the figures recorded in BENCHMARKS.md. Raise the floors when the engine gets better.
#[path = "../../benches/faq/eval.rs"]
#[allow(dead_code)]
mod faq_eval;

use faq_eval::{Figures, evaluate};

const BUSINESSES: &str = include_str!("../../benches/data/faq/businesses.json");

/// The floor for one part of the set: at least `right` and `recall_at_4`, at most `wrong`,
/// `false_hand_overs` and `missed_person`.
struct Floor {
    part: &'static str,
    messages: &'static str,
    right: usize,
    recall_at_4: usize,
    wrong: usize,
    false_hand_overs: usize,
    missed_person: usize,
}

/// dev, dev2 and dev3 are tuned on; the held-out part is only measured. The wrong answers left
/// on dev2 (1), dev3 (5) and held-out (4) are above the goal of 0 (BENCHMARKS.md): lower them.
const FLOORS: [Floor; 4] = [
    Floor {
        part: "dev",
        messages: include_str!("../../benches/data/faq/dev.jsonl"),
        right: 74,
        recall_at_4: 95,
        wrong: 0,
        false_hand_overs: 0,
        missed_person: 0,
    },
    Floor {
        part: "dev2",
        messages: include_str!("../../benches/data/faq/dev2.jsonl"),
        right: 71,
        recall_at_4: 92,
        wrong: 1,
        false_hand_overs: 0,
        missed_person: 0,
    },
    Floor {
        part: "dev3",
        messages: include_str!("../../benches/data/faq/dev3.jsonl"),
        right: 29,
        recall_at_4: 91,
        wrong: 5,
        false_hand_overs: 1,
        missed_person: 3,
    },
    Floor {
        part: "held-out",
        messages: include_str!("../../benches/data/faq/heldout.jsonl"),
        right: 55,
        recall_at_4: 92,
        wrong: 4,
        false_hand_overs: 3,
        missed_person: 3,
    },
];

#[test]
fn offline_answers_do_not_get_worse_on_any_part_of_the_evaluation_set() {
    for floor in FLOORS {
        let f: Figures = evaluate(BUSINESSES, floor.messages, false);
        let part = floor.part;
        assert!(f.wrong <= floor.wrong, "{part}: {} wrong answers, at most {} allowed", f.wrong, floor.wrong);
        assert!(f.right >= floor.right, "{part}: {} answered right, at least {} expected", f.right, floor.right);
        assert!(f.recall_at_4 >= floor.recall_at_4, "{part}: recall@4 {} below {}", f.recall_at_4, floor.recall_at_4);
        assert!(f.false_hand_overs <= floor.false_hand_overs, "{part}: {} false hand-overs", f.false_hand_overs);
        assert!(f.missed_person <= floor.missed_person, "{part}: {} person requests missed", f.missed_person);
    }
}
