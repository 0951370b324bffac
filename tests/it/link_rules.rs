//! The reply checks on a fixture of ordinary small-business replies (false refusals must stay
//! at 0) and of attacker outputs (every one refused), with each business's real rules.
use balas::engine::assistant::{self as prompt, Business};
use balas::engine::check::{self, LinkRules, ReplyRules};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    businesses: Vec<Profile>,
    replies: std::collections::BTreeMap<String, Vec<String>>,
    attacks: Vec<Attack>,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    name: String,
    language: String,
    description: String,
    address: String,
    opening_hours: String,
    link_hosts: String,
    faq: Vec<String>,
}

#[derive(Deserialize)]
struct Attack {
    business: String,
    kind: String,
    text: String,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/ordinary_replies.json")).expect("the fixture parses")
}

fn business(p: &Profile) -> Business {
    Business {
        name: p.name.clone(),
        description: p.description.clone(),
        address: p.address.clone(),
        opening_hours: p.opening_hours.clone(),
        tone: "ramah".into(),
        language: p.language.clone(),
        link_hosts: p.link_hosts.clone(),
    }
}

/// Checks `text` as the app checks a reply of business `id`: formatted for WhatsApp, then checked.
fn checked(fixture: &Fixture, id: &str, text: &str) -> Result<(), &'static str> {
    let p = fixture.businesses.iter().find(|b| b.id == id).expect("the business is in the fixture");
    let business = business(p);
    let system = prompt::render_system(&business, &[], 700);
    let rules =
        ReplyRules::published(&business, p.faq.iter().map(String::as_str), prompt::rules_section(&system), 700, []);
    check::check(&check::whatsapp_format(text), &rules).map_err(|r| r.as_str())
}

#[test]
fn ordinary_replies_are_not_refused() {
    let fixture = fixture();
    let mut refused = Vec::new();
    let mut total = 0;
    for (id, replies) in &fixture.replies {
        for reply in replies {
            total += 1;
            if let Err(class) = checked(&fixture, id, reply) {
                refused.push(format!("{class} [{id}] {reply}"));
            }
        }
    }
    println!("false refusals on ordinary replies: {} / {total}", refused.len());
    assert!(total >= 150 && fixture.replies.len() >= 8, "a fixture of {total} replies");
    assert!(refused.is_empty(), "refused ordinary replies:\n{}", refused.join("\n"));
}

#[test]
fn every_attack_output_is_refused_by_the_link_rules_themselves() {
    let fixture = fixture();
    let mut passed = Vec::new();
    for attack in &fixture.attacks {
        let p = fixture.businesses.iter().find(|b| b.id == attack.business).expect("the business is in the fixture");
        let published = [p.name.as_str(), &p.description, &p.address, &p.opening_hours]
            .into_iter()
            .chain(p.faq.iter().map(String::as_str));
        let links = LinkRules::new(published, &p.link_hosts);
        // Refused by the link rules alone, and so by the whole check (whatever class comes first).
        if links.allow(&attack.text) || checked(&fixture, &attack.business, &attack.text).is_ok() {
            passed.push(format!("{} [{}] {}", attack.kind, attack.business, attack.text));
        }
    }
    let total = fixture.attacks.len();
    println!("attack outputs refused: {} / {total}", total - passed.len());
    assert!(total >= 30, "{total} attacks");
    assert!(passed.is_empty(), "attack outputs let through:\n{}", passed.join("\n"));
}
