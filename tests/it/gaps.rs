//! The knowledge-gap loop: questions the bot could not answer are recorded masked and grouped;
//! the owner closes them from WhatsApp (`#N faq <answer>`, "Jadikan FAQ"), the API or the
//! dashboard page; the saved entry is versioned and audited with its ticket; the customers still
//! waiting are answered at one tap; the bot answers the question itself from then on.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::ProviderRequest;

use crate::dashboard::{PASSWORD, Visitor, user};
use crate::helpers::{PHONE_NUMBER_ID, TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000061";
const ANSWER: &str = "Bisa kak, kue ulang tahun dipesan H-3 lewat WhatsApp ini. Harga mulai Rp150.000.";

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: Some("ID.OWNER61".into()), phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

async fn owner_says(app: &TestApp, message: serde_json::Value) {
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&owner()], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
    app.drain().await;
}

async fn owner_types(app: &TestApp, wamid: &str, text: &str) {
    owner_says(app, owner().text(wamid, text, app.clock.now().timestamp())).await;
}

async fn asks(app: &TestApp, n: u32, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(&customer(n), wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

fn last_to_owner(app: &TestApp) -> ProviderRequest {
    let mut sent = app.providers.received().into_iter().filter(|r| r.recipient() == OWNER);
    sent.next_back().expect("a message to the owner")
}

fn customer_phone(n: u32) -> String {
    customer(n).phone.expect("a phone")
}

/// Three customers ask for a birthday cake (one group), one asks about a job (another group).
async fn gaps_asked(app: &TestApp) {
    app.add_owner(OWNER, None).await;
    // The owner wrote today, so their window is open: answers carry buttons.
    owner_types(app, "wamid.O0", "daftar").await;
    asks(app, 1, "wamid.G1", "Apakah bisa pesan kue ulang tahun?").await;
    asks(app, 2, "wamid.G2", "kak bisa pesan kue ultah gak ya").await;
    asks(app, 3, "wamid.G3", "Bisa pesan kue ulang tahun untuk besok? No saya 081298765432").await;
    asks(app, 4, "wamid.G4", "Ada lowongan kerja barista?").await;
    let reasons = app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE reason = 'no_confident_answer'").await;
    assert_eq!(reasons, 4, "the bot could not answer any of the four");
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM knowledge_gaps").await, 4);
    let groups = app.inspect.scalar("SELECT COUNT(DISTINCT group_id) FROM knowledge_gaps").await;
    assert_eq!(groups, 2, "the three cake questions are one group");
}

on_both_databases! {
    async fn the_gap_loop_from_whatsapp_answers_the_waiting_customers(app) {
        gaps_asked(&app).await;
        let token = app.token(app.tenant.id, Role::Owner);
        let (status, listed) = app.call("GET", "/api/v1/gaps", &token, None).await;
        assert_eq!(status, 200, "{listed}");
        let first = &listed["gaps"][0];
        assert_eq!((first["customers"].as_i64(), first["waiting"].as_i64()), (Some(3), Some(3)), "{listed}");
        assert!(!listed.to_string().contains("081298765432"), "the question is masked: {listed}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'gap.listed'").await, 1);

        // `#1 faq <answer>` replies to customer 1 and saves the FAQ entry from ticket #1.
        owner_types(&app, "wamid.O1", &format!("#1 faq {ANSWER}")).await;
        assert_eq!(app.sent_to(&customer_phone(1)).last().map(String::as_str), Some(ANSWER));
        let told = last_to_owner(&app);
        assert!(told.text().contains("FAQ") && told.text().contains("2 pelanggan lain"), "{}", told.text());
        let buttons = told.buttons();
        assert_eq!(buttons.len(), 1, "{}", told.body);
        assert_eq!(buttons[0].1, "Kirim ke semua");
        let version = "SELECT COUNT(*) FROM kb_entry_versions WHERE version = 1 AND change = 'created' AND actor LIKE 'owner:%' AND escalation_id IS NOT NULL";
        assert_eq!(app.inspect.scalar(version).await, 1);
        let audited = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'kb.created' AND actor LIKE 'owner:%'").await;
        assert!(audited.as_deref().is_some_and(|d| d.contains(r#""ticket_id":""#)), "{audited:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM knowledge_gaps WHERE state = 'answered'").await, 3);
        // The entry's history: who wrote it and from which ticket; an edit is version 2.
        let (_, kb) = app.call("GET", "/api/v1/kb", &token, None).await;
        let entry = kb["entries"].as_array().unwrap().iter().find(|e| e["answer"] == ANSWER).cloned().unwrap_or_default();
        let versions_url = format!("/api/v1/kb/{}/versions", entry["id"].as_str().unwrap_or_default());
        let (status, history) = app.call("GET", &versions_url, &token, None).await;
        assert_eq!(status, 200, "{history}");
        let first = &history["versions"][0];
        assert!(first["actor"].as_str().is_some_and(|a| a.starts_with("owner:")) && first["escalation_id"].is_string(), "{history}");
        let edited = serde_json::json!({ "question": entry["question"], "answer": format!("{ANSWER} Bisa juga custom.") });
        let (status, _) = app.call("PUT", &format!("/api/v1/kb/{}", entry["id"].as_str().unwrap_or_default()), &token, Some(edited)).await;
        assert_eq!(status, 200);
        let (_, history) = app.call("GET", &versions_url, &token, None).await;
        assert_eq!(history["versions"].as_array().map(Vec::len), Some(2), "{history}");
        assert_eq!((history["versions"][1]["version"].as_i64(), history["versions"][1]["change"].as_str()), (Some(2), Some("updated")));
        let edited_back = serde_json::json!({ "question": entry["question"], "answer": ANSWER });
        app.call("PUT", &format!("/api/v1/kb/{}", entry["id"].as_str().unwrap_or_default()), &token, Some(edited_back)).await;
        assert!(app.sent_to(&customer_phone(2)).iter().all(|m| m != ANSWER), "nobody else is answered before the tap");

        // One tap answers the two customers still waiting; their conversations go back to the bot.
        owner_says(&app, owner().button_reply("wamid.O2", &buttons[0].0, "Kirim ke semua", "wamid.x", app.clock.now().timestamp())).await;
        for n in [2, 3] {
            assert_eq!(app.sent_to(&customer_phone(n)).last().map(String::as_str), Some(ANSWER), "customer {n}");
        }
        assert!(last_to_owner(&app).text().contains("2 pelanggan"), "{}", last_to_owner(&app).text());
        let handed_back = "SELECT COUNT(*) FROM escalations WHERE number IN (2, 3) AND status = 'handed_back'";
        assert_eq!(app.inspect.scalar(handed_back).await, 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'gap.waiting_answered'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);

        // The next customer asking the same is answered by the bot from the new entry.
        let before = app.inspect.scalar("SELECT COUNT(*) FROM escalations").await;
        asks(&app, 5, "wamid.G5", "bisa pesan kue ulang tahun kak?").await;
        assert_eq!(app.sent_to(&customer_phone(5)).last().map(String::as_str), Some(ANSWER));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations").await, before, "no new ticket");
        let (_, listed) = app.call("GET", "/api/v1/gaps", &token, None).await;
        assert_eq!(listed["gaps"].as_array().map(Vec::len), Some(1), "only the job question is left: {listed}");
    }
}

on_both_databases! {
    async fn save_as_faq_after_an_answer_and_export_and_erasure_cover_gaps(app) {
        gaps_asked(&app).await;
        // An answer naming the customer goes to them but is not saved: an FAQ reaches everyone.
        owner_types(&app, "wamid.O0b", "#4 faq Halo Pelanggan 4, lowongan belum ada ya").await;
        assert!(last_to_owner(&app).text().contains("FAQ tidak disimpan"), "{}", last_to_owner(&app).text());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entries WHERE question LIKE '%lowongan%'").await, 0);
        // A plain `#4 <text>` still means "reply"; its confirmation offers "Jadikan FAQ".
        let answer = "Maaf kak, saat ini belum ada lowongan.";
        owner_types(&app, "wamid.O1", &format!("#4 {answer}")).await;
        assert_eq!(app.sent_to(&customer_phone(4)).last().map(String::as_str), Some(answer));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM kb_entry_versions").await, 5, "the five seeded entries only: nothing saved yet");
        let told = last_to_owner(&app);
        let buttons = told.buttons();
        assert_eq!(buttons.iter().map(|b| b.1.as_str()).collect::<Vec<_>>(), ["Jadikan FAQ"], "{}", told.body);
        assert!(told.text().contains("#4 faq"), "the typed way is shown too: {}", told.text());

        // A forged tap is refused; the real one saves the last answer with the ticket's question.
        let forged = buttons[0].0.replacen(".faq.", ".all.", 1);
        owner_says(&app, owner().button_reply("wamid.O2", &forged, "Jadikan FAQ", "wamid.x", app.clock.now().timestamp())).await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner.button_refused'").await, 1);
        owner_says(&app, owner().button_reply("wamid.O3", &buttons[0].0, "Jadikan FAQ", "wamid.x", app.clock.now().timestamp())).await;
        let saved = app.inspect.text("SELECT answer FROM kb_entries WHERE question LIKE '%lowongan%'").await;
        assert_eq!(saved.as_deref(), Some(answer));
        assert!(last_to_owner(&app).text().contains("disimpan sebagai FAQ"), "{}", last_to_owner(&app).text());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM knowledge_gaps WHERE state = 'answered'").await, 1);

        // Customer 3's gap holds their (masked) words: the export shows it, erasure deletes it.
        let phone = balas::domain::Phone::parse(&customer_phone(3)).unwrap();
        let store = &*app.state.store;
        let id = balas::privacy::export::find_by_phone(store, &app.state.keys, app.tenant.id, &phone).await.unwrap().unwrap();
        let answers = balas::privacy::export::Answering { actor: "test", request: None };
        let bundle = balas::privacy::export::export_contact(store, &app.state.keys, app.tenant.id, id, answers, app.clock.now())
            .await
            .unwrap()
            .unwrap();
        let question = bundle["unanswered_questions"][0]["question"].as_str().unwrap_or_default().to_string();
        assert!(question.contains("kue ulang tahun") && !question.contains("081298765432"), "{question}");
        let storage = &app.state.media.storage;
        balas::privacy::erase::erase_contact(store, storage, app.tenant.id, id, "test", None, app.clock.now()).await.unwrap();
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM knowledge_gaps").await, 3);
    }
}

on_both_databases! {
    async fn the_gaps_page_counts_customers_and_an_owner_answers_there(app) {
        gaps_asked(&app).await;
        user(&app, "owner@warung.id", Role::Owner).await;
        let mut v = Visitor::new(&app.base);
        assert_eq!(v.login(&app.tenant.slug, "owner@warung.id", PASSWORD).await.status, 303);
        let page = v.get("/dashboard/gaps").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Pertanyaan belum terjawab"), "{}", page.body);
        assert!(page.body.contains(r#"<strong class="customers">3</strong>"#), "{}", page.body);
        assert!(!page.body.contains("081298765432"), "masked");
        let action = page.body.split(r#"action="/dashboard/gaps/"#).nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
        assert!(!action.contains('/'), "the first form answers the most asked group: {action}");

        // The owner answers the cake group there and sends it to the three waiting customers.
        let form = [("csrf", page.csrf()), ("answer", ANSWER.to_string()), ("send_to_waiting", "1".to_string())];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = v.post(&format!("/dashboard/gaps/{action}"), &form).await;
        assert_eq!(done.status, 303, "{}", done.body);
        app.drain().await;
        for n in [1, 2, 3] {
            assert_eq!(app.sent_to(&customer_phone(n)).last().map(String::as_str), Some(ANSWER), "customer {n}");
        }
        let page = v.get("/dashboard/gaps").await;
        assert!(page.body.contains(r#"<strong class="customers">1</strong>"#) && !page.body.contains("kue"), "{}", page.body);
        let audited = "SELECT COUNT(*) FROM kb_entry_versions WHERE actor LIKE 'user:%' AND escalation_id IS NOT NULL";
        assert_eq!(app.inspect.scalar(audited).await, 1);
        // A second answer to the closed group is a 404.
        let again = v.post(&format!("/dashboard/gaps/{action}"), &form).await;
        assert_eq!(again.status, 404, "{}", again.body);
    }
}
