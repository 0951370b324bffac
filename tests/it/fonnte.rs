//! Fonnte: secret-URL webhooks, device checks, redelivery, statuses, groups and sending.
use balas::fakes::providers::Behaviour;
use serde_json::{Value, json};

use crate::helpers::{FONNTE_DEVICE, FONNTE_TOKEN};
use crate::on_both_databases;

fn message(inbox: Option<u64>, body: &str) -> Value {
    let mut m = json!({ "device": FONNTE_DEVICE, "sender": "6289876543210", "message": body, "text": "", "member": "",
                        "name": "Budi", "location": "", "timestamp": 1767225600, "url": "", "filename": "", "extension": "" });
    if let Some(id) = inbox {
        m["inboxid"] = json!(id);
    }
    m
}

async fn post(app: &crate::helpers::TestApp, url: &str, payload: &Value) -> (u16, Value) {
    let response = app.http.post(url).json(payload).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn fonnte_message_is_answered_through_send(app) {
        let (channel, url) = app.fonnte_channel(None).await;
        let (status, _) = post(&app, &url, &message(Some(1001), "Bisa bayar pakai QRIS?")).await;
        assert_eq!(status, 200);
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].authorization.as_deref(), Some(FONNTE_TOKEN), "the raw token, no Bearer");
        assert_eq!(sent[0].body["target"], "6289876543210");
        assert_eq!(sent[0].body["countryCode"], "62");
        assert!(sent[0].text().contains("QRIS"));

        // Status webhooks out of order: read, then a late sent, stays read.
        for s in ["read", "sent"] {
            let (status, _) = post(&app, &url, &json!({ "device": FONNTE_DEVICE, "id": "80000000", "status": s })).await;
            assert_eq!(status, 200);
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'read'").await, 1);
        let _ = channel;
    }

    async fn fonnte_wrong_secret_wrong_device_and_wrong_key_are_refused(app) {
        let (channel, url) = app.fonnte_channel(Some("kunci-rahasia")).await;
        let wrong_secret = format!("{}/webhooks/fonnte/{}/{}", app.base, channel.id, "0".repeat(32));
        let (status, body) = post(&app, &wrong_secret, &message(Some(1), "halo")).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_secret")));

        let mut keyed = message(Some(2), "halo");
        keyed["secret"] = json!("kunci-salah");
        let (status, _) = post(&app, &url, &keyed).await;
        assert_eq!(status, 401, "a configured secret key must match");

        keyed["secret"] = json!("kunci-rahasia");
        keyed["device"] = json!("6281999999999");
        let (status, body) = post(&app, &url, &keyed).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("device_mismatch")));
        assert_eq!(app.count("messages").await, 0);

        keyed["device"] = json!(FONNTE_DEVICE);
        assert_eq!(post(&app, &url, &keyed).await.0, 200);
        let response = app.http.post(&url).header("content-type", "application/json").body("{\"device\":").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "malformed_payload");
    }

    async fn fonnte_redeliveries_never_produce_a_second_reply(app) {
        let (_, url) = app.fonnte_channel(None).await;
        for _ in 0..3 {
            assert_eq!(post(&app, &url, &message(Some(2002), "Berapa ongkirnya?")).await.0, 200);
            assert_eq!(post(&app, &url, &message(None, "Jam buka kapan?")).await.0, 200);
        }
        assert_eq!(app.count("inbound").await, 2, "one per inbox id, one per keyed hash");
        app.drain().await;
        assert_eq!(app.providers.received().len(), 2);
    }

    async fn fonnte_group_messages_are_recorded_but_not_answered(app) {
        let (_, url) = app.fonnte_channel(None).await;
        let mut group = message(Some(3003), "Jam buka kapan?");
        group["sender"] = json!("120363025343299999@g.us");
        group["member"] = json!("6289876543210");
        assert_eq!(post(&app, &url, &group).await.0, 200);
        app.drain().await;
        assert_eq!(app.count("inbound").await, 1);
        assert_eq!(app.providers.received().len(), 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'reply.skipped' AND detail LIKE '%group_message%'").await, 1);

        // With the tenant's consent, the bot answers, and answers in the group.
        app.inspect.execute("UPDATE tenants SET answer_groups = (1 = 1)").await;
        group["inboxid"] = json!(3004);
        group["member"] = json!("6289876540000");
        assert_eq!(post(&app, &url, &group).await.0, 200);
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body["target"], "120363025343299999@g.us");

        // STOP or HAPUS DATA SAYA in a group is not one member's request about themselves.
        for (inbox, text) in [(3005, "STOP"), (3006, "HAPUS DATA SAYA")] {
            let mut command = group.clone();
            command["inboxid"] = json!(inbox);
            command["message"] = json!(text);
            assert_eq!(post(&app, &url, &command).await.0, 200);
        }
        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM contacts WHERE bot_stopped_at IS NOT NULL").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM dsar_requests").await, 0);
    }

    async fn fonnte_refusals_are_permanent_and_outages_retry_then_dead_letter(app) {
        let (_, url) = app.fonnte_channel(None).await;
        app.providers.set_behaviour(Behaviour::Reject(0));
        post(&app, &url, &message(Some(4004), "Berapa ongkirnya?")).await;
        app.drain().await;
        app.clock.advance(chrono::Duration::hours(1));
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1, "status false with HTTP 200 is a failure, and not retried");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND last_error = 'rejected:fonnte_target_invalid'").await, 1);

        // Another customer: the first one's conversation went to the owner when the reply died.
        app.providers.set_behaviour(Behaviour::ServerError);
        let mut other = message(Some(4005), "Jam buka kapan?");
        other["sender"] = json!("6281388887777");
        post(&app, &url, &other).await;
        app.drain().await;
        for _ in 0..6 {
            app.clock.advance(chrono::Duration::hours(1));
            app.drain().await;
        }
        assert_eq!(app.providers.received().len(), 1 + app.state.config.max_attempts as usize);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND last_error = 'retryable:http_500'").await, 1);
    }
}
