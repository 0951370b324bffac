//! [10/10] The conversations page: every conversation with its latest messages and the bot's
//! answers, filtered by state (bot, escalated, human, unanswered, closed), each content read
//! audited, photos inline; and analytics figures fresh right after a burst of messages.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use chrono::Duration;
use serde_json::{Value, json};

use crate::dashboard::{PASSWORD, Visitor, user};
use crate::helpers::{TestApp, customer};
use crate::media::{photo, send_media};
use crate::on_both_databases;

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
}

/// The open ticket with `number`, by the API.
async fn ticket(app: &TestApp, owner: &str, number: i64) -> String {
    let (_, open) = app.call("GET", "/api/v1/escalations", owner, None).await;
    let tickets = open["escalations"].as_array().expect("tickets");
    let found = tickets.iter().find(|t| t["number"].as_i64() == Some(number)).expect("the ticket");
    found["id"].as_str().expect("id").to_string()
}

/// Five customers, one per state: Ani (bot, answered), Budi (escalated), Citra (with a person,
/// sent a photo), Eka (closed), Dodi (wrote last; nobody answered yet).
async fn five_conversations(app: &TestApp) {
    let owner = app.token(app.tenant.id, Role::Owner);
    say(app, &customer(21), "wamid.P1", "Jam buka toko kapan?").await;
    app.drain().await;
    say(app, &customer(22), "wamid.P2", "Saya mau komplain, pesanan belum sampai").await;
    app.drain().await;
    say(app, &customer(23), "wamid.P3", "Saya mau komplain, barangnya rusak").await;
    app.providers.media.put_meta("MID-P", "image/jpeg", &photo(20_000, 7));
    send_media(app, &customer(23), "wamid.P4", "image", json!({ "id": "MID-P", "mime_type": "image/jpeg" })).await;
    app.drain().await;
    say(app, &customer(25), "wamid.P5", "Saya mau komplain, salah kirim").await;
    app.drain().await;
    let citra = ticket(app, &owner, 2).await;
    let reply = json!({ "text": "Maaf kak, kami ganti barangnya" });
    let (status, body) = app.call("POST", &format!("/api/v1/escalations/{citra}/reply"), &owner, Some(reply)).await;
    assert_eq!(status, 200, "{body}");
    let eka = ticket(app, &owner, 3).await;
    assert_eq!(app.call("POST", &format!("/api/v1/escalations/{eka}/resolve"), &owner, None).await.0, 200);
    app.drain().await;
    say(app, &customer(24), "wamid.P6", "Halo, ada kopi susu gula aren?").await;
}

/// The `data-state` of every card on a conversations page.
fn states(page: &str) -> Vec<String> {
    page.split("data-state=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

/// The link to the conversation whose card on `page` holds `text`.
fn link_of_card(page: &str, text: &str) -> String {
    let card = page.split("<section").find(|card| card.contains(text)).expect("a card with the text");
    let start = card.find("/dashboard/conversations/").expect("its link");
    card[start..].split('"').next().unwrap().to_string()
}

on_both_databases! {
    async fn the_conversations_page_shows_the_bots_answers_by_state_audits_each_read_and_shows_photos(app) {
        five_conversations(&app).await;
        user(&app, "sri@warung.example", Role::Owner).await;
        let mut owner = Visitor::new(&app.base);
        assert_eq!(owner.login(&app.tenant.slug, "sri@warung.example", PASSWORD).await.status, 303);

        let all = owner.get("/dashboard/conversations").await;
        assert_eq!(all.status, 200, "{}", all.body);
        let mut shown = states(&all.body);
        shown.sort();
        assert_eq!(shown, ["bot", "bot", "closed", "escalated", "human"], "every conversation");
        assert!(all.body.contains("Jam buka toko kapan?") && all.body.contains("buka setiap hari pukul 08.00"), "the question and the bot's answer");
        assert!(all.body.contains("Maaf kak, kami ganti barangnya"), "the owner's reply");
        assert!(all.body.contains("<img class=\"media\" src=\"/dashboard/media/"), "the photo inline");
        let reads = "SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read' AND actor LIKE 'user:%'";
        assert_eq!(app.inspect.scalar(reads).await, 5, "one audited read per conversation shown");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.listed' AND actor LIKE 'user:%'").await, 1);

        assert!(all.body.contains(">Semua (5)<") && all.body.contains(">Belum dijawab (2)</a>") && all.body.contains(">Dijawab bot (2)</a>"), "counts on the filters: {}", all.body);
        for (filter, expected) in [("bot", vec!["bot", "bot"]), ("escalated", vec!["escalated"]), ("human", vec!["human"]), ("closed", vec!["closed"])] {
            let page = owner.get(&format!("/dashboard/conversations?state={filter}")).await;
            assert_eq!(states(&page.body), expected, "{filter}");
        }
        // Budi got only the holding message and Dodi nothing: both still wait for an answer.
        let waiting = owner.get("/dashboard/conversations?state=unanswered").await.body;
        let mut waiting_states = states(&waiting);
        waiting_states.sort();
        assert_eq!(waiting_states, ["bot", "escalated"]);
        assert!(waiting.contains("ada kopi susu gula aren?") && !waiting.contains("Jam buka toko kapan?"), "not Ani, whom the bot answered");
        let token = app.token(app.tenant.id, Role::Staff);
        let (status, api) = app.call("GET", "/api/v1/conversations?state=unanswered", &token, None).await;
        assert_eq!((status, api["conversations"].as_array().map(Vec::len)), (200, Some(2)), "{api}");
        let numbers: Vec<Value> = api["conversations"].as_array().unwrap().iter().map(|c| c["open_ticket"]["number"].clone()).collect();
        assert!(numbers.contains(&json!(1)) && numbers.contains(&Value::Null), "Budi's ticket #1, none for Dodi: {api}");
        assert!(api["conversations"][0].get("latest").is_none(), "the API lists no content");

        // One conversation whole, from its card.
        let start = all.body.find("/dashboard/conversations/").expect("a link to a conversation");
        let link = all.body[start..].split('"').next().unwrap().to_string();
        let one = owner.get(&link).await;
        assert!(one.status == 200 && one.body.contains("id=\"messages\""), "{}", one.body);
        assert_eq!(app.inspect.scalar(reads).await, 5 + (2 + 1 + 1 + 1) + 2 + 1, "every listing and the open conversation are audited");

        // The owner steps in on Dodi's conversation, which the bot had: a ticket opens, the reply goes out.
        let dodi = link_of_card(&waiting, "ada kopi susu gula aren?");
        let csrf = owner.get(&dodi).await.csrf();
        let replied = owner.post(&format!("{dodi}/reply"), &[("csrf", &csrf), ("text", "Ada kak, Rp18.000")]).await;
        assert_eq!((replied.status, replied.location().to_string()), (303, format!("{dodi}?ok=reply")));
        app.drain().await;
        assert_eq!(app.sent_to("6281234560024").last().map(String::as_str), Some("Ada kak, Rp18.000"));
        assert!(owner.get(&format!("{dodi}?ok=reply")).await.body.contains("Balasan dikirim"));
        let (_, human) = app.call("GET", "/api/v1/conversations?state=human", &token, None).await;
        assert_eq!(human["conversations"].as_array().map(Vec::len), Some(2), "Citra's and now Dodi's");
        let closed = owner.get("/dashboard/conversations?state=closed").await.body;
        let eka = link_of_card(&closed, "salah kirim");
        let refused = owner.post(&format!("{eka}/takeover"), &[("csrf", &csrf)]).await;
        assert_eq!(refused.location(), format!("{eka}?err=conversation_closed"));
        assert_eq!(owner.post(&format!("{eka}/takeover"), &[("csrf", "forged")]).await.status, 403);

        // Pages of two: every conversation once, though all share one second (the test clock stands still).
        let (mut seen, mut query) = (Vec::new(), "limit=2".to_string());
        loop {
            let (status, page) = app.call("GET", &format!("/api/v1/conversations?{query}"), &token, None).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
            let Some(before) = page["next_before"].as_str() else { break };
            let before: String = url::form_urlencoded::byte_serialize(before.as_bytes()).collect();
            query = format!("limit=2&before={before}&before_id={}", page["next_before_id"].as_str().unwrap());
        }
        let distinct: std::collections::HashSet<&String> = seen.iter().collect();
        assert_eq!((seen.len(), distinct.len()), (5, 5), "{seen:?}");

        // Ani asks again after the bot's answer: she waits once more.
        app.clock.advance(Duration::seconds(5));
        say(&app, &customer(21), "wamid.P7", "Kalau hari Minggu buka jam berapa?").await;
        let (_, waiting) = app.call("GET", "/api/v1/conversations?state=unanswered", &token, None).await;
        assert_eq!(waiting["conversations"].as_array().map(Vec::len), Some(2), "Budi and Ani again: {waiting}");

        assert_eq!(owner.get("/dashboard/conversations?state=sold").await.status, 400);
        assert_eq!(owner.get(&format!("/dashboard/conversations/{}", uuid::Uuid::new_v4())).await.status, 404);
        user(&app, "analis@warung.example", Role::Analytics).await;
        let mut analyst = Visitor::new(&app.base);
        assert_eq!(analyst.login(&app.tenant.slug, "analis@warung.example", PASSWORD).await.status, 303);
        assert_eq!(analyst.get("/dashboard/conversations").await.status, 403, "aggregates only for analytics");
    }

    async fn analytics_show_a_burst_within_a_minute_with_the_time_they_are_as_of(app) {
        crate::analytics::clear_of_midnight(&app, Duration::minutes(10));
        user(&app, "sri@warung.example", Role::Owner).await;
        let mut owner = Visitor::new(&app.base);
        assert_eq!(owner.login(&app.tenant.slug, "sri@warung.example", PASSWORD).await.status, 303);
        let before = owner.get("/dashboard/analytics").await.body;
        assert!(before.contains("Percakapan</dt><dd>0"), "nothing yet");

        // A burst: three complaints and a question, read at once (no rollup job has run).
        for (n, text) in [(31, "Saya mau komplain, paket rusak"), (32, "Mau komplain, belum sampai"), (33, "Komplain, salah warna"), (34, "Jam buka kapan?")] {
            say(&app, &customer(n), &format!("wamid.B{n}"), text).await;
        }
        app.drain().await;
        app.clock.advance(Duration::seconds(40));
        let after = owner.get("/dashboard/analytics").await.body;
        assert!(after.contains("Percakapan</dt><dd>4"), "four conversations: {after}");
        assert!(after.contains("Dieskalasi</dt><dd>75%"), "three of four escalated");
        assert!(after.contains("Tiket terbuka sekarang</dt><dd>3 "), "three open tickets");
        let local = app.clock.now().with_timezone(&chrono_tz::Asia::Jakarta).format("%H:%M").to_string();
        assert!(after.contains(&format!("Data per pukul {local}")), "as of now, local time: {local}");

        // Within the freshness window a read costs no pass; past it, the next read has the new message.
        say(&app, &customer(35), "wamid.B35", "Jam buka kapan?").await;
        app.drain().await;
        app.clock.advance(Duration::seconds(10));
        assert!(owner.get("/dashboard/analytics").await.body.contains("Percakapan</dt><dd>4"));
        app.clock.advance(Duration::seconds(25));
        let analyst = app.token(app.tenant.id, Role::Analytics);
        let (status, report) = app.call("GET", "/api/v1/analytics", &analyst, None).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["total"]["conversations"], json!(5), "the API reads fresh figures too");
        let as_of: Value = report["as_of"].clone();
        assert_eq!(as_of.as_str().map(|s| s.starts_with(&app.clock.now().format("%Y-%m-%dT%H:%M").to_string())), Some(true), "{as_of}");
    }
}
