//! Rule triggers that hand a conversation to the owner before any answer is tried: the
//! tenant's keywords, a request for a person, business hours, a repeated question, and too many bot turns in a row.
use std::collections::BTreeSet;

use chrono::{DateTime, NaiveTime, Utc};

use super::{intents, text};
use crate::domain::EscalationReason;

/// The tenant's rules, as the engine sees them.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Comma-separated keywords; a keyword may be several words ("mau komplain").
    pub keywords: &'a str,
    /// 0 switches the rule off.
    pub max_bot_turns: i32,
    pub business_hours: Option<BusinessHours>,
}

/// An earlier message of the conversation, oldest first.
#[derive(Debug, Clone, Copy)]
pub enum Turn<'a> {
    /// A customer message with its text, if it had any.
    Customer(Option<&'a str>),
    /// A bot answer (one per answered message; split parts count once).
    Bot,
    /// The owner or the system spoke; the bot-turn count starts again.
    Other,
}

/// Opening hours in the business's own time zone; `close` before `open` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BusinessHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub zone: chrono_tz::Tz,
}

impl BusinessHours {
    /// Parses `08:00-21:00` and an IANA zone; an empty range means the rule is off (the zone
    /// must still be valid: digests and analytics use it).
    pub fn parse(range: &str, zone: &str) -> Result<Option<Self>, String> {
        let zone: chrono_tz::Tz = zone.parse().map_err(|_| format!("unknown time zone {zone:?}"))?;
        let range = range.trim();
        if range.is_empty() {
            return Ok(None);
        }
        let (open, close) = range.split_once('-').ok_or("business hours must look like 08:00-21:00")?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| "business hours must look like 08:00-21:00")
        };
        Ok(Some(Self { open: time(open)?, close: time(close)?, zone }))
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.zone).time();
        if self.open <= self.close {
            self.open <= local && local < self.close
        } else {
            local >= self.open || local < self.close
        }
    }
}

/// The first rule this message trips, if any. `history` excludes the message itself.
pub fn check(
    question: Option<&str>,
    history: &[Turn<'_>],
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Option<EscalationReason> {
    if let Some(q) = question
        && has_keyword(q, rules.keywords)
    {
        return Some(EscalationReason::Keyword);
    }
    if let Some(q) = question
        && intents::asks_for_person(q)
    {
        return Some(EscalationReason::AskedForPerson);
    }
    if rules.business_hours.is_some_and(|h| !h.is_open(now)) {
        return Some(EscalationReason::OutsideBusinessHours);
    }
    if let Some(q) = question
        && asked_before(q, history)
    {
        return Some(EscalationReason::RepeatedQuestion);
    }
    if rules.max_bot_turns > 0 && bot_turns_in_a_row(history) >= rules.max_bot_turns as usize {
        return Some(EscalationReason::TooManyBotTurns);
    }
    None
}

/// Whole-word match after the FAQ's normalisation, so "komplainnya" and "dikomplain" match
/// "komplain", and "admin" does not fire on "administrasi".
fn has_keyword(question: &str, keywords: &str) -> bool {
    let words = text::terms(question);
    keywords.split(',').map(text::terms).filter(|k| !k.is_empty()).any(|k| words.windows(k.len()).any(|w| w == k))
}

/// Words in a tenant's hand-over list that customers use in ordinary questions ("halo admin,
/// jam buka?", "pesan untuk 10 orang"): each hands an answerable question to the owner.
pub fn false_alarm_words(keywords: &str) -> Vec<String> {
    const ORDINARY: &[&str] = &["admin", "min", "orang", "manusia", "kak", "mbak", "mas", "gan", "sis"];
    keywords
        .split(',')
        .map(str::trim)
        .filter(|k| ORDINARY.contains(&k.to_lowercase().as_str()))
        .map(str::to_string)
        .collect()
}

/// The same question again, after the bot answered it: the answer did not help.
fn asked_before(question: &str, history: &[Turn<'_>]) -> bool {
    if text::is_greeting(question) || text::is_thanks(question) {
        return false;
    }
    let now: BTreeSet<String> = text::question_tokens(question).into_iter().collect();
    if now.len() < 2 {
        return false;
    }
    let mut answered = false;
    for turn in history.iter().rev() {
        match turn {
            Turn::Bot => answered = true,
            Turn::Customer(Some(earlier)) if answered => {
                let before: BTreeSet<String> = text::question_tokens(earlier).into_iter().collect();
                let shared = now.intersection(&before).count() as f64;
                let union = now.union(&before).count() as f64;
                if union > 0.0 && shared / union >= 0.8 {
                    return true;
                }
            }
            Turn::Other => return false,
            Turn::Customer(_) => {}
        }
    }
    false
}

fn bot_turns_in_a_row(history: &[Turn<'_>]) -> usize {
    history.iter().rev().take_while(|t| !matches!(t, Turn::Other)).filter(|t| matches!(t, Turn::Bot)).count()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::tenants::DEFAULT_KEYWORDS;

    fn rules() -> Rules<'static> {
        Rules { keywords: DEFAULT_KEYWORDS, max_bot_turns: 3, business_hours: None }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap()
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let now = at(5, 0);
        assert_eq!(
            check(Some("Bisa bicara dengan ADMIN?"), &[], &rules(), now),
            Some(EscalationReason::AskedForPerson)
        );
        assert_eq!(check(Some("saya mau komplain"), &[], &rules(), now), Some(EscalationReason::Keyword));
        assert_eq!(check(Some("komplainnya ke mana ya"), &[], &rules(), now), Some(EscalationReason::Keyword));
        assert_eq!(check(Some("halo admin, jam buka?"), &[], &rules(), now), None);
        assert_eq!(check(Some("pesan untuk 10 orang bisa?"), &[], &rules(), now), None);
        let old = Rules { keywords: crate::tenants::OLD_DEFAULT_KEYWORDS, ..rules() };
        assert_eq!(check(Some("halo admin, jam buka?"), &[], &old, now), Some(EscalationReason::Keyword));
        assert_eq!(check(Some("biaya administrasi berapa"), &[], &rules(), now), None);
        let phrase = Rules { keywords: "mau batal, refund", ..rules() };
        assert_eq!(check(Some("Saya mau batal pesan"), &[], &phrase, now), Some(EscalationReason::Keyword));
        assert_eq!(check(Some("mau pesan, batal nanti"), &[], &phrase, now), None);
    }

    #[test]
    fn bare_everyday_words_in_a_list_are_named_for_the_owner() {
        assert_eq!(false_alarm_words(crate::tenants::OLD_DEFAULT_KEYWORDS), ["admin", "manusia", "orang"]);
        assert!(false_alarm_words(DEFAULT_KEYWORDS).is_empty());
        assert!(false_alarm_words("minta admin, komplain").is_empty());
    }

    #[test]
    fn business_hours_use_the_local_clock_and_may_span_midnight() {
        let day = BusinessHours::parse("08:00-21:00", "Asia/Jakarta").unwrap().unwrap();
        assert!(day.is_open(at(1, 0)), "08:00 WIB");
        assert!(!day.is_open(at(14, 30)), "21:30 WIB");
        let night = BusinessHours::parse("18:00-02:00", "Asia/Makassar").unwrap().unwrap();
        assert!(night.is_open(at(17, 0)), "01:00 WITA");
        assert!(!night.is_open(at(4, 0)), "12:00 WITA");
        assert_eq!(BusinessHours::parse("", "Asia/Jakarta"), Ok(None));
        assert!(BusinessHours::parse("8-21", "Asia/Jakarta").is_err());
        assert!(BusinessHours::parse("08:00-21:00", "Mars/Olympus").is_err());
        let closed = Rules { business_hours: Some(day), ..rules() };
        assert_eq!(check(Some("ada kopi?"), &[], &closed, at(15, 0)), Some(EscalationReason::OutsideBusinessHours));
    }

    #[test]
    fn a_question_repeated_after_an_answer_escalates() {
        let history = [Turn::Customer(Some("Berapa ongkir ke Bandung?")), Turn::Bot];
        let now = at(5, 0);
        assert_eq!(
            check(Some("berapa ongkirnya ke bandung??"), &history, &rules(), now),
            Some(EscalationReason::RepeatedQuestion)
        );
        assert_eq!(check(Some("Ada kopi susu?"), &history, &rules(), now), None);
        let unanswered = [Turn::Customer(Some("Berapa ongkir ke Bandung?"))];
        assert_eq!(check(Some("Berapa ongkir ke Bandung?"), &unanswered, &rules(), now), None);
        assert_eq!(check(Some("halo"), &[Turn::Customer(Some("halo")), Turn::Bot], &rules(), now), None);
    }

    #[test]
    fn too_many_bot_turns_since_the_owner_last_spoke_escalates() {
        let q = |s| Turn::Customer(Some(s));
        let three = [q("a b"), Turn::Bot, q("c d"), Turn::Bot, q("e f"), Turn::Bot];
        assert_eq!(check(Some("g h"), &three, &rules(), at(5, 0)), Some(EscalationReason::TooManyBotTurns));
        let after_owner = [q("a b"), Turn::Bot, Turn::Other, q("c d"), Turn::Bot];
        assert_eq!(check(Some("g h"), &after_owner, &rules(), at(5, 0)), None);
        let off = Rules { max_bot_turns: 0, ..rules() };
        assert_eq!(check(Some("g h"), &three, &off, at(5, 0)), None);
    }
}
