//! Quantities a customer names ("60 orang", "tart 30 cm", "100 kg") against the ones an FAQ
//! answer states ("rombongan 10 - 30 orang"): an entry that matches the words but not the
//! amount does not answer the question, so the owner should.
use super::text;

/// A number and the word that measures it ("30 cm", "100rb"), the word in its matching form.
#[derive(Debug, Clone, PartialEq)]
struct Quantity {
    value: f64,
    unit: String,
    /// Stated as a minimum ("min 20 box", "mulai 5 kg"): it bounds nothing above.
    floor: bool,
}

/// Words that make the number after them a minimum.
const FLOOR_WORDS: &[&str] = &["min", "minimal", "minimum", "minim", "mulai", "least"];

/// Whether `question` names an amount above every amount of the same unit in `answer`.
/// Below the range is answered by the entry (a stated minimum says "no" by itself).
pub fn beyond(question: &str, answer: &str) -> bool {
    let stated = quantities(answer);
    quantities(question).iter().any(|asked| {
        let same: Vec<&Quantity> = stated.iter().filter(|s| s.unit == asked.unit).collect();
        !same.is_empty() && same.iter().all(|s| !s.floor && asked.value > s.value)
    })
}

/// Numbers followed by a unit word; a range's numbers share its unit ("10 - 30 orang").
fn quantities(text: &str) -> Vec<Quantity> {
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut out = Vec::new();
    let mut run: Vec<f64> = Vec::new();
    let mut floor = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphabetic()) {
            if run.is_empty() {
                let before: String = chars[..i].iter().collect();
                floor = before
                    .split(|c: char| !c.is_alphanumeric())
                    .rfind(|w| !w.is_empty())
                    .is_some_and(|w| FLOOR_WORDS.contains(&w));
            }
            let (value, end) = number(&chars, i);
            run.push(value);
            i = end;
            // A range goes on past "-", "s/d" or "sampai"; anything else ends it at its unit.
            let mut j = i;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '-' || chars[j] == '–') {
                j += 1;
            }
            if j < chars.len() && chars[j].is_ascii_digit() {
                i = j;
                continue;
            }
            let unit: String = chars[j..].iter().take_while(|c| c.is_alphabetic()).collect();
            let unit = text::terms(&unit).into_iter().next().unwrap_or_default();
            if !unit.is_empty() && unit != "an" {
                out.extend(run.drain(..).map(|value| Quantity { value, unit: unit.clone(), floor }));
            }
            run.clear();
            i = j;
        } else if chars[i].is_ascii_digit() {
            // "Rp10.000", "B2": a number glued after letters is not a count.
            i += chars[i..].iter().take_while(|c| c.is_ascii_digit() || **c == '.' || **c == ',').count();
        } else {
            i += 1;
        }
    }
    out
}

/// The number starting at `i` and where it ends: "10.000" is ten thousand, "1,5" one and a half.
fn number(chars: &[char], i: usize) -> (f64, usize) {
    let mut digits = String::new();
    let mut j = i;
    while j < chars.len() {
        let c = chars[j];
        if c.is_ascii_digit() {
            digits.push(c);
        } else if (c == '.' || c == ',') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
            let group = chars[j + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if group != 3 {
                digits.push('.');
            }
        } else {
            break;
        }
        j += 1;
    }
    (digits.parse().unwrap_or(0.0), j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_above_every_stated_one_is_beyond_the_answer() {
        let answer = "Bisa reservasi lantai 2 buat rombongan 10 - 30 orang, DP 100rb.";
        assert!(beyond("reservasi buat 60 orang bisa?", answer));
        assert!(!beyond("reservasi buat 20 orang bisa?", answer));
        // Below the range, the entry answers ("di bawah 10 orang langsung datang").
        assert!(!beyond("kalau cuma 5 orang?", answer));
        assert!(beyond("tart 30cm ada?", "diameter 16 cm 150rb, 20 cm 220rb, 24 cm 300rb"));
        // A minimum bounds nothing above.
        assert!(!beyond("pesan 50 box bisa?", "Terima nasi box min 20 box, harga 20rb/box"));
        assert!(!beyond("tart 20 cm brp", "diameter 16 cm 150rb, 20 cm 220rb, 24 cm 300rb"));
    }

    #[test]
    fn numbers_without_a_shared_unit_say_nothing() {
        assert!(!beyond("buka jam 9?", "Buka setiap hari 08.00–21.00"));
        assert!(!beyond("kirim ke 3 alamat", "Ongkir Rp10.000 dalam kota"));
        assert_eq!(
            quantities("Rp10.000 per 1,5 kg"),
            [Quantity { value: 1.5, unit: text::terms("kg").remove(0), floor: false }]
        );
    }
}
