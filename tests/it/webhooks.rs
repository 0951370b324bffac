//! Signed outbound webhooks ([8/10]): a real local receiver gets each event, and the official
//! Standard Webhooks verifier (PyPI `standardwebhooks`) checks every delivery.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::worker::Worker;
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tuned};
use crate::on_both_databases;
use crate::webhook_receiver::{Receiver, verify};

const RINA: &str = "6281234560808";
const OWNER: &str = "6281100000008";

fn rina() -> FakeCustomer {
    FakeCustomer { bsuid: Some(format!("ID.{RINA}")), phone: Some(RINA.into()), name: "Rina".into(), username: None }
}

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

/// The app as an operator runs it for a receiver on the same machine: private addresses
/// allowed for webhooks (`BALAS_WEBHOOK_ALLOW_PRIVATE`), and a worker.
struct Hooks<'a> {
    app: &'a TestApp,
    server: Tuned,
    worker: Worker,
}

impl<'a> Hooks<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let server = app.serve_with(|c| c.webhooks.allow_private = true).await;
        let worker = app.worker_with(|c| c.webhooks.allow_private = true);
        Self { app, server, worker }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.server.base);
        let request = match method {
            "GET" => self.app.http.get(&url),
            "POST" => self.app.http.post(&url),
            "DELETE" => self.app.http.delete(&url),
            other => panic!("no such method {other}"),
        };
        // A fresh owner token: the tests move the clock by days.
        let request = request.bearer_auth(self.app.token(self.app.tenant.id, Role::Owner));
        let request = match body {
            Some(b) => request.json(&b),
            None => request,
        };
        let response = request.send().await.expect("api call");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Registers `url` for `events`; answers the endpoint's id and secret.
    async fn register(&self, url: &str, events: &[&str], include_content: bool) -> (String, String) {
        let body = json!({ "url": url, "events": events, "include_content": include_content });
        let (status, made) = self.call("POST", "/api/v1/webhook-endpoints", Some(body)).await;
        assert_eq!(status, 201, "{made}");
        (made["id"].as_str().expect("id").to_string(), made["secret"].as_str().expect("secret").to_string())
    }

    async fn say(&self, who: &FakeCustomer, wamid: &str, text: &str) {
        assert_eq!(self.app.send_webhook(&self.app.text(who, wamid, text)).await.status().as_u16(), 200);
        self.drain().await;
    }

    async fn drain(&self) {
        self.worker.run_until_idle().await.expect("worker");
    }

    async fn deliveries(&self, endpoint: &str) -> Vec<Value> {
        let (status, listed) =
            self.call("GET", &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"), None).await;
        assert_eq!(status, 200, "{listed}");
        listed["deliveries"].as_array().expect("deliveries").clone()
    }

    fn now(&self) -> i64 {
        self.app.clock.now().timestamp()
    }
}

fn types(received: &[crate::webhook_receiver::Received]) -> Vec<String> {
    received.iter().map(|r| r.json()["type"].as_str().expect("type").to_string()).collect()
}

on_both_databases! {
    async fn every_delivery_verifies_with_the_official_verifier_and_carries_no_content_unasked(app) {
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[200]).await;
        let events = ["message.received", "message.sent", "conversation.escalated", "ticket.opened"];
        let (endpoint, secret) = hooks.register(&receiver.url, &events, false).await;
        assert!(secret.starts_with("whsec_"), "{secret}");

        hooks.say(&rina(), "wamid.W1", "Jam buka kapan?").await;
        hooks.say(&rina(), "wamid.W2", "Saya mau komplain soal pesanan").await;
        let got = receiver.received();
        let kinds = types(&got);
        for kind in events {
            assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
        }
        assert_eq!(kinds.iter().filter(|k| *k == "message.received").count(), 2, "{kinds:?}");
        assert!(verify(&secret, hooks.now(), &got).iter().all(|v| v == "ok"), "{:?}", verify(&secret, hooks.now(), &got));
        // The verifier is not a rubber stamp: one changed byte, or another secret, fails it.
        let mut forged = got[0].clone();
        forged.body = String::from_utf8(forged.body).unwrap().replace("message", "massage").into_bytes();
        assert_ne!(verify(&secret, hooks.now(), &[forged])[0], "ok");
        let other = balas::webhooks::Secret::generate();
        assert_ne!(verify(other.expose(), hooks.now(), &got[..1])[0], "ok");

        // One id per event; ids, times, states and a masked label, never the number or the words.
        let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), got.len(), "one webhook-id per event");
        for r in &got {
            let body = String::from_utf8(r.body.clone()).unwrap();
            assert_eq!(r.content_type, "application/json");
            assert!(!body.contains(RINA) && !body.contains("komplain") && !body.contains("Jam buka"), "{body}");
        }
        let received = got.iter().find(|r| r.json()["type"] == "message.received").unwrap().json();
        let data = &received["data"];
        assert!(data["message_id"].is_string() && data["conversation_id"].is_string(), "{received}");
        assert_eq!(data["customer"], "Rina (+62*******0808)", "the label the owner sees: {received}");
        assert!(data.get("text").is_none() && data.get("customer_phone").is_none(), "{received}");
        let ticket = got.iter().find(|r| r.json()["type"] == "ticket.opened").unwrap().json();
        assert_eq!(ticket["data"]["ticket_number"], 1, "{ticket}");

        // The listing never shows the secret; every delivery is recorded and audited.
        let (status, listed) = hooks.call("GET", "/api/v1/webhook-endpoints", None).await;
        assert_eq!(status, 200);
        assert!(!listed.to_string().contains(&secret[6..]) && listed["endpoints"][0].get("secret").is_none(), "{listed}");
        let deliveries = hooks.deliveries(&endpoint).await;
        assert_eq!(deliveries.len(), got.len());
        assert!(deliveries.iter().all(|d| d["state"] == "delivered" && d["attempts"] == 1), "{deliveries:?}");
        let attempted = app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.attempted'").await;
        assert_eq!(attempted as usize, got.len());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.endpoint_created'").await, 1);
    }

    async fn content_goes_only_where_the_owner_asked_for_it_and_is_audited_as_a_read(app) {
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[200]).await;
        let (_, secret) = hooks.register(&receiver.url, &["message.received"], true).await;
        // Queued with the message, in the transaction acknowledged by the 200: before any worker ran.
        assert_eq!(app.send_webhook(&app.text(&rina(), "wamid.C1", "Jam buka kapan?")).await.status().as_u16(), 200);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'webhook_delivery' AND state = 'queued'").await, 1);
        hooks.drain().await;
        let got = receiver.received();
        assert_eq!(got.len(), 1);
        assert_eq!(verify(&secret, hooks.now(), &got), ["ok"]);
        let data = &got[0].json()["data"];
        assert_eq!(data["text"], "Jam buka kapan?", "{data}");
        assert_eq!(data["customer_phone"], format!("+{RINA}"), "{data}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.content_sent'").await, 1);
        let chosen = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'webhook.endpoint_created'").await;
        assert!(chosen.unwrap_or_default().contains("\"include_content\":true"));
        let (status, listed) = hooks.call("GET", "/api/v1/subprocessors", None).await;
        assert_eq!(status, 200);
        assert!(listed.to_string().contains("127.0.0.1"), "the receiver is named as a recipient: {listed}");
    }

    async fn a_retry_after_a_500_keeps_the_webhook_id_on_the_svix_schedule(app) {
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[500, 503, 200]).await;
        let (endpoint, secret) = hooks.register(&receiver.url, &["message.received"], false).await;
        hooks.say(&rina(), "wamid.R1", "Jam buka kapan?").await;
        assert_eq!(receiver.received().len(), 1, "sent at once");
        let pending = &hooks.deliveries(&endpoint).await[0];
        assert_eq!((pending["state"].as_str(), pending["last_status"].as_i64()), (Some("pending"), Some(500)));

        // Not before 5 s; then again with the same id. The next waits 5 minutes.
        app.clock.advance(Duration::seconds(4));
        hooks.drain().await;
        assert_eq!(receiver.received().len(), 1);
        app.clock.advance(Duration::seconds(1));
        hooks.drain().await;
        assert_eq!(receiver.received().len(), 2);
        app.clock.advance(Duration::seconds(299));
        hooks.drain().await;
        assert_eq!(receiver.received().len(), 2);
        app.clock.advance(Duration::seconds(1));
        hooks.drain().await;
        let got = receiver.received();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|r| r.id == got[0].id), "the same webhook-id on every attempt");
        assert_ne!(got[0].timestamp, got[2].timestamp, "each attempt has its own timestamp");
        assert_eq!(verify(&secret, hooks.now(), &got[2..]), ["ok"]);
        let delivered = &hooks.deliveries(&endpoint).await[0];
        assert_eq!((delivered["state"].as_str(), delivered["attempts"].as_i64()), (Some("delivered"), Some(3)));

        // A 200 that comes after 15 s is a timeout, retried like a failure.
        receiver.answer_after(std::time::Duration::from_secs(16));
        hooks.say(&rina(), "wamid.R2", "Masih buka?").await;
        let late = &hooks.deliveries(&endpoint).await[0];
        assert_eq!((late["state"].as_str(), late["last_error"].as_str()), (Some("pending"), Some("timeout")), "{late}");
        receiver.answer_after(std::time::Duration::ZERO);
        app.clock.advance(Duration::seconds(5));
        hooks.drain().await;
        assert_eq!(hooks.deliveries(&endpoint).await[0]["state"], "delivered");
    }
}

on_both_databases! {
    async fn an_endpoint_failing_for_five_days_is_disabled_and_its_owner_told(app) {
        app.add_owner(OWNER, None).await;
        let hooks = Hooks::new(&app).await;
        hooks.say(&owner(), "wamid.O1", "halo").await; // the owner's window is open
        let receiver = Receiver::start(&[500]).await;
        let (endpoint, _) = hooks.register(&receiver.url, &["message.received"], false).await;
        let started = app.clock.now();
        hooks.say(&rina(), "wamid.D1", "Jam buka kapan?").await;
        // Eight attempts in all, each at its step of the schedule, then the delivery fails.
        for step in [5, 300, 1800, 7200, 18000, 36000, 36000] {
            let before = receiver.received().len();
            app.clock.advance(Duration::seconds(step));
            hooks.drain().await;
            assert_eq!(receiver.received().len(), before + 1, "an attempt {step} s after the one before");
        }
        app.clock.advance(Duration::days(1));
        hooks.drain().await;
        assert_eq!(receiver.received().len(), 8, "no ninth attempt");
        let failed = &hooks.deliveries(&endpoint).await[0];
        assert_eq!((failed["state"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(8)), "{failed}");
        let (_, listed) = hooks.call("GET", "/api/v1/webhook-endpoints", None).await;
        assert_eq!(listed["endpoints"][0]["state"], "enabled", "27 hours of failure is not five days");

        // Five days after the first failure, the next failure disables it and the owner hears.
        app.clock.advance(started + Duration::days(5) - app.clock.now());
        hooks.say(&owner(), "wamid.O2", "halo lagi").await;
        hooks.say(&rina(), "wamid.D2", "Masih buka?").await;
        let (_, listed) = hooks.call("GET", "/api/v1/webhook-endpoints", None).await;
        assert_eq!(listed["endpoints"][0]["state"], "disabled", "{listed}");
        assert_eq!(listed["endpoints"][0]["disabled_reason"], "failing_5_days");
        let told = app.sent_to(OWNER);
        assert!(told.iter().any(|m| m.contains("Webhook ke 127.0.0.1") && m.contains("5 hari")), "{told:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.endpoint_disabled'").await, 1);
        let sent = receiver.received().len();
        hooks.say(&rina(), "wamid.D3", "Halo?").await;
        app.clock.advance(Duration::hours(1));
        hooks.drain().await;
        assert_eq!(receiver.received().len(), sent, "nothing goes to a disabled endpoint");

        // 410 Gone disables at once, without a retry. The owner's window has closed by now: they
        // get the approved alert template, which WhatsApp delivers outside the window.
        app.clock.advance(Duration::hours(25));
        app.providers.refuse_recipient(OWNER, 131047);
        app.approve_template(&app.channel, "owner_alert", "balas_owner_alert_v1", 1);
        let gone = Receiver::start(&[410]).await;
        let (second, _) = hooks.register(&gone.url, &["message.received"], false).await;
        hooks.say(&rina(), "wamid.D4", "Halo lagi").await;
        app.clock.advance(Duration::hours(1));
        hooks.drain().await;
        assert_eq!(gone.received().len(), 1);
        let (_, listed) = hooks.call("GET", "/api/v1/webhook-endpoints", None).await;
        assert_eq!(listed["endpoints"][1]["disabled_reason"], "gone", "{listed}");
        let to_owner = app.providers.received().into_iter().filter(|r| r.recipient() == OWNER);
        let alert = to_owner.filter_map(|r| r.template()).next_back();
        assert_eq!(alert, Some(("balas_owner_alert_v1".into(), "id".into(), 1)), "the alert went as the template");
        let (status, enabled) = hooks.call("POST", &format!("/api/v1/webhook-endpoints/{second}/enable"), None).await;
        assert_eq!((status, enabled["endpoint"]["state"].as_str()), (200, Some("enabled")), "{enabled}");
    }

    async fn a_failed_delivery_is_replayed_with_its_webhook_id(app) {
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[500]).await;
        let (endpoint, secret) = hooks.register(&receiver.url, &["message.received"], false).await;
        hooks.say(&rina(), "wamid.P1", "Jam buka kapan?").await;
        let delivery = hooks.deliveries(&endpoint).await[0]["id"].as_str().unwrap().to_string();
        let replay = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay");
        let (status, refused) = hooks.call("POST", &replay, None).await;
        assert_eq!((status, refused["error"].as_str()), (409, Some("delivery_pending")), "{refused}");
        for _ in 0..8 {
            app.clock.advance(Duration::hours(10));
            hooks.drain().await;
        }
        assert_eq!(hooks.deliveries(&endpoint).await[0]["state"], "failed");
        let first = receiver.received()[0].id.clone();

        receiver.answer(&[200]);
        let (status, replayed) = hooks.call("POST", &replay, None).await;
        assert_eq!((status, replayed["delivery"]["state"].as_str()), (202, Some("pending")), "{replayed}");
        hooks.drain().await;
        let got = receiver.received();
        let last = got.last().unwrap();
        assert_eq!(last.id, first, "a replay keeps the webhook-id, so the receiver can drop a duplicate");
        assert_eq!(verify(&secret, hooks.now(), std::slice::from_ref(last)), ["ok"]);
        let done = &hooks.deliveries(&endpoint).await[0];
        assert_eq!((done["state"].as_str(), done["attempts"].as_i64()), (Some("delivered"), Some(1)), "{done}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.replayed'").await, 1);
        let other = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{}/replay", uuid::Uuid::new_v4());
        assert_eq!(hooks.call("POST", &other, None).await.0, 404);
    }

    async fn after_a_rotation_both_secrets_sign_for_a_day(app) {
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[200]).await;
        let (endpoint, old) = hooks.register(&receiver.url, &["message.received"], false).await;
        let (status, rotated) = hooks.call("POST", &format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret"), None).await;
        assert_eq!(status, 200, "{rotated}");
        let new = rotated["secret"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        hooks.say(&rina(), "wamid.K1", "Jam buka kapan?").await;
        let got = receiver.received();
        assert_eq!(got[0].signature.split(' ').count(), 2, "{}", got[0].signature);
        assert_eq!(verify(&new, hooks.now(), &got), ["ok"]);
        assert_eq!(verify(&old, hooks.now(), &got), ["ok"], "a receiver not yet updated still verifies");

        app.clock.advance(Duration::hours(24) + Duration::minutes(1));
        hooks.say(&rina(), "wamid.K2", "Masih buka?").await;
        let last = receiver.received().pop().unwrap();
        assert_eq!(last.signature.split(' ').count(), 1);
        assert_eq!(verify(&new, hooks.now(), std::slice::from_ref(&last)), ["ok"]);
        assert_ne!(verify(&old, hooks.now(), &[last])[0], "ok", "the old secret no longer signs");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.secret_rotated'").await, 1);
    }

    async fn an_endpoint_on_a_private_address_is_refused(app) {
        // The app as deployed: private addresses not allowed.
        let token = app.token(app.tenant.id, Role::Owner);
        let receiver = Receiver::start(&[200]).await;
        for (url, code) in [
            ("https://127.0.0.1/hook", "private_address"),
            ("https://10.0.0.8/hook", "private_address"),
            ("https://169.254.169.254/latest", "private_address"),
            ("https://[::1]/hook", "private_address"),
            ("https://localhost/hook", "private_address"),
            ("http://example.com/hook", "not_https"),
            ("ftp://example.com/hook", "bad_url"),
            (receiver.url.as_str(), "private_address"),
        ] {
            let body = json!({ "url": url, "events": ["message.received"] });
            let (status, refused) = app.call("POST", "/api/v1/webhook-endpoints", &token, Some(body)).await;
            assert_eq!((status, refused["error"].as_str()), (400, Some(code)), "{url}: {refused}");
        }
        let (status, refused) = app
            .call("POST", "/api/v1/webhook-endpoints", &token, Some(json!({ "url": "https://example.com/h", "events": ["message.read"] })))
            .await;
        assert_eq!((status, refused["error"].as_str()), (400, Some("unknown_event")), "{refused}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM webhook_endpoints").await, 0);

        // Registered where it was allowed, it is still refused on the address connected.
        let hooks = Hooks::new(&app).await;
        let (endpoint, _) = hooks.register(&receiver.url, &["message.received"], false).await;
        assert_eq!(app.send_webhook(&app.text(&rina(), "wamid.X1", "Halo")).await.status().as_u16(), 200);
        app.drain().await;
        assert!(receiver.received().is_empty(), "nothing reached the private address");
        let attempted = &hooks.deliveries(&endpoint).await[0];
        assert_eq!(attempted["last_error"], "private_address", "{attempted}");

        // Deleting takes the endpoint and its deliveries; a second delete is a 404.
        let path = format!("/api/v1/webhook-endpoints/{endpoint}");
        assert_eq!(hooks.call("DELETE", &path, None).await.0, 204);
        assert_eq!(hooks.call("DELETE", &path, None).await.0, 404);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM webhook_deliveries").await, 0);
    }
}

on_both_databases! {
    async fn the_operator_cli_manages_endpoints_like_the_api(app) {
        let slug = app.tenant.slug.clone();
        let receiver = Receiver::start(&[200]).await;
        let add = ["webhook", "add", "--tenant", &slug, "--url", &receiver.url, "--events", "message.received,ticket.opened"];
        let refused = app.cli(&add);
        assert!(!refused.status.success(), "a loopback receiver needs BALAS_WEBHOOK_ALLOW_PRIVATE");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("private"), "{}", String::from_utf8_lossy(&refused.stderr));

        let allowed = [("BALAS_WEBHOOK_ALLOW_PRIVATE", "true")];
        let added = app.cli_with(&allowed, &add);
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        let out = String::from_utf8_lossy(&added.stdout).to_string();
        let field = |name: &str| out.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap().to_string();
        let (endpoint, secret) = (field("endpoint "), field("secret "));
        assert!(secret.starts_with("whsec_"), "{out}");

        let hooks = Hooks::new(&app).await;
        hooks.say(&rina(), "wamid.L1", "Jam buka kapan?").await;
        assert_eq!(verify(&secret, hooks.now(), &receiver.received()), ["ok"]);
        let listed = app.cli(&["webhook", "list", "--tenant", &slug]);
        let listed = String::from_utf8_lossy(&listed.stdout).to_string();
        assert!(listed.contains(&endpoint) && listed.contains("message.received,ticket.opened") && !listed.contains(&secret[6..]), "{listed}");
        let deliveries = app.cli(&["webhook", "deliveries", "--tenant", &slug, "--endpoint", &endpoint]);
        assert!(String::from_utf8_lossy(&deliveries.stdout).contains("delivered"), "{}", String::from_utf8_lossy(&deliveries.stdout));
        let rotated = app.cli(&["webhook", "rotate", "--tenant", &slug, "--endpoint", &endpoint]);
        assert!(String::from_utf8_lossy(&rotated.stdout).contains("secret whsec_"));
        let deleted = app.cli(&["webhook", "delete", "--tenant", &slug, "--endpoint", &endpoint]);
        assert!(deleted.status.success());
        let audited = "SELECT COUNT(*) FROM audit_log WHERE actor = 'cli' AND action LIKE 'webhook.%'";
        assert_eq!(app.inspect.scalar(audited).await, 5, "add, list, deliveries, rotate and delete are audited");
    }
}

on_both_databases! {
    async fn every_event_type_reaches_an_endpoint_that_takes_it(app) {
        app.add_owner(OWNER, None).await;
        let hooks = Hooks::new(&app).await;
        let receiver = Receiver::start(&[200]).await;
        let (_, secret) = hooks.register(&receiver.url, &balas::webhooks::EVENTS, false).await;
        // Answered, then handed over as ticket #1, which the owner resolves.
        hooks.say(&rina(), "wamid.E1", "Jam buka kapan?").await;
        hooks.say(&rina(), "wamid.E2", "Saya mau komplain, pesanan saya salah").await;
        hooks.say(&owner(), "wamid.E3", "#1 selesai").await;
        // Ticket #2 nobody answers: the resume limit (24 hours) closes it as unanswered.
        hooks.say(&rina(), "wamid.E4", "Saya mau komplain lagi").await;
        app.clock.advance(Duration::hours(24) + Duration::minutes(1));
        hooks.drain().await;
        // WhatsApp reports a reply failed; a data request is opened through the API.
        let sql = "SELECT provider_message_id FROM messages WHERE direction = 'out' AND provider_message_id IS NOT NULL LIMIT 1";
        let sent = app.inspect.text(sql).await.expect("a sent reply");
        let failed = meta_webhook::status(&sent, "failed", app.clock.now().timestamp());
        let statuses = meta_webhook::envelope(crate::helpers::PHONE_NUMBER_ID, &[], vec![], vec![failed]);
        assert_eq!(app.send_webhook(&statuses).await.status().as_u16(), 200);
        let (status, _) = hooks.call("POST", "/api/v1/requests", Some(json!({ "kind": "access" }))).await;
        assert_eq!(status, 201);
        hooks.drain().await;

        let got = receiver.received();
        let kinds = types(&got);
        for kind in balas::webhooks::EVENTS {
            assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
        }
        let resolved = got.iter().map(|r| r.json()).find(|b| b["type"] == "ticket.resolved").unwrap();
        assert_eq!((resolved["data"]["ticket_number"].as_i64(), resolved["data"]["conversation_state"].as_str()), (Some(1), Some("closed")), "{resolved}");
        let unanswered = got.iter().map(|r| r.json()).find(|b| b["type"] == "ticket.unanswered").unwrap();
        assert_eq!(unanswered["data"]["ticket_number"], 2, "{unanswered}");
        let failed = got.iter().map(|r| r.json()).find(|b| b["type"] == "message.failed").unwrap();
        assert!(failed["data"]["message_id"].is_string() && failed["data"]["customer"].is_string(), "{failed}");
        let latest = got.iter().filter(|r| r.timestamp.parse::<i64>().unwrap() >= hooks.now() - 60).cloned().collect::<Vec<_>>();
        assert!(!latest.is_empty() && verify(&secret, hooks.now(), &latest).iter().all(|v| v == "ok"));
    }
}
