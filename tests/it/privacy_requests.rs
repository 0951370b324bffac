//! Privacy commands from WhatsApp (STOP, MULAI, HAPUS DATA SAYA), the owner's `#N hapus`, and
//! the request clock through the API.
use balas::api::auth::Role;
use balas::fakes::meta_webhook::FakeCustomer;
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;

const RINA: &str = "6281234560808";
const OWNER: &str = "6281100000008";

fn rina() -> FakeCustomer {
    FakeCustomer { bsuid: Some(format!("ID.{RINA}")), phone: Some(RINA.into()), name: "Rina".into(), username: None }
}

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

on_both_databases! {
    async fn stop_silences_the_bot_and_the_owner_answers_instead(app) {
        app.add_owner(OWNER, None).await;
        // Resolved tickets are not announced here: the counts below are about STOP and MULAI.
        app.inspect.execute("UPDATE tenants SET announce_resolved = false").await;
        say(&app, &rina(), "wamid.S1", "Jam buka kapan?").await;
        assert_eq!(app.sent_to(RINA).len(), 1, "the bot answers before STOP");
        say(&app, &rina(), "wamid.S2", "Saya mau komplain").await;
        assert_eq!(app.sent_to(RINA).len(), 2, "the holding message of ticket #1");

        // STOP while the ticket is open: confirmed once, forwarded to the owner, no wait notice.
        say(&app, &rina(), "wamid.S3", "STOP").await;
        let to_rina = app.sent_to(RINA);
        assert_eq!(to_rina.len(), 3);
        assert!(to_rina[2].contains("tidak akan membalas") && to_rina[2].contains("MULAI"), "{}", to_rina[2]);
        assert!(app.sent_to(OWNER).iter().any(|m| m.contains("#1") && m.contains("STOP")), "{:?}", app.sent_to(OWNER));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM contacts WHERE bot_stopped_at IS NOT NULL").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM dsar_requests WHERE kind = 'stop' AND status = 'done'").await, 1);
        app.clock.advance(Duration::minutes(15));
        app.drain().await;
        assert_eq!(app.sent_to(RINA).len(), 3, "no wait notice after STOP");

        // `#1 hapus` erases nobody who did not ask for it.
        let contacts = app.count("contacts").await;
        say(&app, &owner(), "wamid.S4", "#1 hapus").await;
        assert!(app.sent_to(OWNER).last().unwrap().contains("tidak punya permintaan hapus"), "{:?}", app.sent_to(OWNER).last());
        assert_eq!(app.count("contacts").await, contacts);

        // The owner closes the ticket; her next question goes to the owner, not the bot.
        say(&app, &owner(), "wamid.S5", "#1 selesai").await;
        say(&app, &rina(), "wamid.S6", "Jam buka kapan?").await;
        app.clock.advance(Duration::minutes(15));
        app.drain().await;
        assert_eq!(app.sent_to(RINA).len(), 3, "neither an answer, a holding message nor a wait notice after STOP");
        assert!(app.sent_to(OWNER).iter().any(|m| m.contains("Tiket #2") && m.contains("STOP")), "a new ticket for the owner");

        // MULAI brings the bot back once the owner hands her back.
        say(&app, &rina(), "wamid.S7", "mulai").await;
        assert!(app.sent_to(RINA).last().unwrap().contains("kembali melayani"));
        say(&app, &owner(), "wamid.S8", "#2 selesai").await;
        say(&app, &rina(), "wamid.S9", "Jam buka kapan?").await;
        assert_eq!(app.sent_to(RINA).len(), 5, "the bot answers again");

        // From a customer the bot already serves, "mulai" is just a message.
        let joko = FakeCustomer { bsuid: None, phone: Some("6281234560909".into()), name: "Joko".into(), username: None };
        say(&app, &joko, "wamid.S10", "mulai").await;
        assert!(app.sent_to("6281234560909").iter().all(|m| !m.contains("kembali melayani")));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'contact.bot_restarted'").await, 1);
    }

    async fn an_erasure_asked_on_whatsapp_is_approved_by_the_owner_there(app) {
        app.add_owner(OWNER, None).await;
        say(&app, &rina(), "wamid.H1", "Jam buka kapan?").await;
        say(&app, &rina(), "wamid.H2", "Hapus data saya").await;
        let receipt = app.sent_to(RINA).last().unwrap().clone();
        let deadline = (balas::clock::Clock::now(&*app.clock) + Duration::days(30)).format("%d-%m-%Y").to_string();
        assert!(receipt.contains("menghapus data") && receipt.contains(&deadline), "{receipt}");
        let notice = app.sent_to(OWNER).join("\n");
        assert!(notice.contains("#1 hapus"), "{notice}");

        let token = app.token(app.tenant.id, Role::Owner);
        let (_, listed) = app.call("GET", "/api/v1/requests?pending=true", &token, None).await;
        let request = &listed["requests"][0];
        assert_eq!((request["kind"].as_str(), request["status"].as_str()), (Some("erasure"), Some("acknowledged")), "{listed}");
        assert_eq!(request["overdue"], Value::Null);
        say(&app, &rina(), "wamid.H3", "HAPUS DATA SAYA").await;
        assert_eq!(app.call("GET", "/api/v1/requests", &token, None).await.1["requests"].as_array().unwrap().len(), 1, "no second request");

        // A customer whose ticket is already open: the owner gets the way to approve with the forward.
        let joko = FakeCustomer { bsuid: None, phone: Some("6281234560909".into()), name: "Joko".into(), username: None };
        say(&app, &joko, "wamid.H5", "Saya mau komplain").await;
        say(&app, &joko, "wamid.H6", "delete my data").await;
        assert!(app.sent_to(OWNER).iter().any(|m| m.contains("#2 hapus") && !m.contains("Tiket #3")), "{:?}", app.sent_to(OWNER));
        say(&app, &owner(), "wamid.H7", "#2 hapus").await;
        assert!(app.sent_to(OWNER).last().unwrap().contains("sudah dihapus"));

        // `#1 hapus` from the owner erases Rina.
        let before = app.count("contacts").await;
        say(&app, &owner(), "wamid.H4", "#1 hapus").await;
        assert!(app.sent_to(OWNER).last().unwrap().contains("sudah dihapus"), "{:?}", app.sent_to(OWNER).last());
        assert_eq!(app.count("contacts").await, before - 1);
        let (_, listed) = app.call("GET", "/api/v1/requests", &token, None).await;
        for request in listed["requests"].as_array().unwrap() {
            assert_eq!((request["status"].as_str(), request["contact_id"].clone()), (Some("done"), Value::Null), "{listed}");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'contact.erased' AND actor LIKE 'owner:%'").await, 2);
        let verify = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    }

    async fn the_request_clock_shows_missed_deadlines(app) {
        let token = app.token(app.tenant.id, Role::Owner);
        let (status, created) = app.call("POST", "/api/v1/requests", &token, Some(json!({ "kind": "access" }))).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(app.call("POST", "/api/v1/requests", &token, Some(json!({ "kind": "gossip" }))).await.1["error"], "invalid_kind");
        assert_eq!(app.call("GET", "/api/v1/requests", &app.token(app.tenant.id, Role::Staff), None).await.0, 403);
        for bad in ["/api/v1/requests?pending=maybe", "/api/v1/requests?sort=name"] {
            let (status, body) = app.call("GET", bad, &token, None).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("bad_query")), "{bad}: {body}");
        }

        app.clock.advance(Duration::days(7) + Duration::minutes(1));
        let token = app.token(app.tenant.id, Role::Owner);
        let (_, listed) = app.call("GET", "/api/v1/requests", &token, None).await;
        assert_eq!((listed["overdue"].as_u64(), listed["requests"][0]["overdue"].as_str()), (Some(1), Some("acknowledge")));
        let (status, _) = app.call("POST", &format!("/api/v1/requests/{id}/acknowledge"), &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(app.call("POST", &format!("/api/v1/requests/{id}/acknowledge"), &token, None).await.0, 409);
        assert_eq!(app.call("GET", "/api/v1/requests", &token, None).await.1["overdue"], 0);

        app.clock.advance(Duration::days(23));
        let token = app.token(app.tenant.id, Role::Owner);
        assert_eq!(app.call("GET", "/api/v1/requests", &token, None).await.1["requests"][0]["overdue"], "answer");
        let (status, closed) = app.call("POST", &format!("/api/v1/requests/{id}/close"), &token, Some(json!({ "status": "done" }))).await;
        assert_eq!((status, closed["status"].as_str(), closed["overdue"].clone()), (200, Some("done"), Value::Null));
        let detail = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'request.closed'").await.unwrap();
        assert!(detail.contains("\"on_time\":false"), "{detail}");

        // UU PDP: a tenant may shorten both deadlines to 3×24 hours, not below.
        let (status, _) = app.call("PATCH", "/api/v1/settings", &token, Some(json!({ "dsar_ack_hours": 72, "dsar_answer_hours": 72 }))).await;
        assert_eq!(status, 200);
        let (_, created) = app.call("POST", "/api/v1/requests", &token, Some(json!({ "kind": "erasure" }))).await;
        let received: chrono::DateTime<chrono::Utc> = created["received_at"].as_str().unwrap().parse().unwrap();
        let answer_by: chrono::DateTime<chrono::Utc> = created["answer_by"].as_str().unwrap().parse().unwrap();
        assert_eq!(answer_by - received, Duration::hours(72));
        let (status, body) = app.call("PATCH", "/api/v1/settings", &token, Some(json!({ "dsar_answer_hours": 48 }))).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_settings")));
    }
}

on_both_databases! {
    async fn an_export_or_correction_answers_its_request_and_only_a_matching_one(app) {
        say(&app, &rina(), "wamid.Q1", "Halo").await;
        let opened = app.cli(&["requests", "open", "--tenant", &app.tenant.slug, "--kind", "access", "--phone", &format!("+{RINA}")]);
        assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
        let id = String::from_utf8_lossy(&opened.stdout).split_whitespace().next().unwrap().to_string();
        let token = app.token(app.tenant.id, Role::Owner);
        let (_, list) = app.call("GET", "/api/v1/conversations", &token, None).await;
        let contact = list["conversations"][0]["contact_id"].as_str().unwrap().to_string();

        let (status, body) = app.call("PATCH", &format!("/api/v1/contacts/{contact}?request={id}"), &token, Some(json!({ "name": "R" }))).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("request_mismatch")), "an access request is not answered by a correction");
        let (status, _) = app.call("GET", &format!("/api/v1/contacts/{contact}/export?request={id}"), &token, None).await;
        assert_eq!(status, 200);
        let (status, body) = app.call("GET", &format!("/api/v1/contacts/{contact}/export?request={id}"), &token, None).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("request_mismatch")), "already answered");
        let missing = uuid::Uuid::now_v7();
        assert_eq!(app.call("GET", &format!("/api/v1/contacts/{contact}/export?request={missing}"), &token, None).await.0, 404);

        let listed = app.cli(&["requests", "list", "--tenant", &app.tenant.slug]);
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.lines().any(|l| l.starts_with(&id) && l.contains("done") && l.contains("access")), "{listed}");

        let opened = app.cli(&["requests", "open", "--tenant", &app.tenant.slug, "--kind", "correction", "--phone", &format!("+{RINA}")]);
        let id = String::from_utf8_lossy(&opened.stdout).split_whitespace().next().unwrap().to_string();
        let out = app.cli(&["correct", "--tenant", &app.tenant.slug, "--contact", &contact, "--name", "Rina Putri", "--request", &id]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (_, requests) = app.call("GET", "/api/v1/requests", &token, None).await;
        assert!(requests["requests"].as_array().unwrap().iter().all(|r| r["status"] == "done"), "{requests}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'request.closed' AND actor = 'cli'").await, 1);
    }
}
