//! The whole path: signed webhook → durable store → worker → FAQ responder → Graph API → status.
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::store::IdentityIndex;

use crate::helpers::{PHONE_NUMBER_ID, customer};
use crate::on_both_databases;

on_both_databases! {
    async fn a_faq_question_is_answered_through_the_graph_api(app) {
        let c = customer(1);
        let response = app.send_webhook(&app.text(&c, "wamid.Q1", "Jam buka tokonya kapan ya kak?")).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(app.providers.received().len(), 0, "nothing is sent inside the webhook request");
        assert_eq!(app.drain().await, 2, "one respond job, one send job");

        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].text().starts_with("Warung Kopi Bu Sri buka setiap hari"), "{}", sent[0].text());
        assert_eq!(sent[0].account, PHONE_NUMBER_ID);
        assert_eq!(sent[0].authorization.as_deref(), Some(format!("Bearer {}", balas::demo::ACCESS_TOKEN).as_str()));
        assert_eq!(sent[0].body["to"], c.phone.clone().unwrap());
        assert_eq!(sent[0].body["messaging_product"], "whatsapp");

        let status = app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'sent' AND provider_message_id = 'wamid.FAKE000000000000'").await;
        assert_eq!(status, 1);
        // Statuses only move forward: read, then a late "delivered", stays read.
        for s in ["read", "delivered"] {
            let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[], vec![], vec![meta_webhook::status("wamid.FAKE000000000000", s, 1)]);
            assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'read'").await, 1);
    }

    async fn an_unanswerable_question_escalates_once_and_the_bot_goes_quiet(app) {
        let c = customer(2);
        app.send_webhook(&app.text(&c, "wamid.E1", "Saya mau komplain, barangnya rusak")).await;
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 1, "exactly one holding message");
        assert!(sent[0].text().contains("pemilik toko"), "{}", sent[0].text());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'escalated' AND escalation_reason = 'keyword'").await, 1);

        app.send_webhook(&app.text(&c, "wamid.E2", "Jam buka kapan?")).await;
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1, "the bot must not answer an escalated conversation");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.forwarded_to_owner'").await, 1);
    }

    async fn the_same_webhook_three_times_at_once_is_stored_and_answered_once(app) {
        let payload = app.text(&customer(3), "wamid.DUP", "Berapa ongkirnya?");
        let (a, b, c) = tokio::join!(app.send_webhook(&payload), app.send_webhook(&payload), app.send_webhook(&payload));
        for r in [a, b, c] {
            assert_eq!(r.status().as_u16(), 200);
        }
        assert_eq!(app.count("inbound").await, 1);
        assert_eq!(app.count("respond_jobs").await, 1);
        assert_eq!(app.count("contacts").await, 1);
        assert_eq!(app.count("conversations").await, 1);
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.duplicate_ignored'").await, 2);
    }

    async fn a_batch_of_messages_and_a_status_is_stored_in_order(app) {
        app.send_webhook(&app.text(&customer(4), "wamid.B0", "Alamat toko di mana?")).await;
        app.drain().await;
        let (x, y) = (customer(5), customer(6));
        let messages = vec![
            x.text("wamid.B1", "Halo", 10),
            y.text("wamid.B2", "Bisa bayar pakai QRIS?", 11),
            x.text("wamid.B3", "Ada kopi susu gula aren?", 12),
        ];
        let mut image = y.text("wamid.B4", "", 13);
        image["type"] = "image".into();
        image["image"] = serde_json::json!({ "id": "1234", "mime_type": "image/jpeg" });
        app.providers.media.put_meta("1234", "image/jpeg", b"\xFF\xD8\xFF\xE0 a photo");
        let mut all = messages;
        all.push(image);
        let statuses = vec![meta_webhook::status("wamid.FAKE000000000000", "delivered", 14)];
        let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&x, &y], all, statuses);
        let report: serde_json::Value = app.send_webhook(&payload).await.json().await.unwrap();
        assert_eq!(report["stored"], 4);
        assert_eq!(report["statuses"], 1);

        let order: Vec<String> = match &app.inspect {
            crate::helpers::Inspector::Sqlite(p) => sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'in' ORDER BY created_at, id").fetch_all(p).await.unwrap(),
            crate::helpers::Inspector::Postgres(p) => sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'in' ORDER BY created_at, id").fetch_all(p).await.unwrap(),
        };
        assert_eq!(order, ["wamid.B0", "wamid.B1", "wamid.B2", "wamid.B3", "wamid.B4"]);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE kind = 'image'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE provider_message_id = 'wamid.FAKE000000000000' AND status = 'delivered'").await, 1);
        app.drain().await;
        // greeting + two FAQ answers to x and y, holding message for y's unreadable image.
        assert_eq!(app.providers.received().len(), 1 + 4);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects").await, 1, "the photo was fetched and stored");
    }

    async fn a_username_customer_without_phone_is_answered_by_bsuid(app) {
        let c = FakeCustomer { bsuid: Some("US.13491208655302741918".into()), phone: None, name: "Sheena".into(), username: Some("realsheenanelson".into()) };
        app.send_webhook(&app.text(&c, "wamid.U1", "What are your opening hours?")).await;
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body["recipient"], "US.13491208655302741918");
        assert!(sent[0].body.get("to").is_none(), "no phone is known, so no `to`");
    }

    async fn bsuid_and_phone_are_linked_and_rekeyed_on_one_contact(app) {
        let bsuid_only = FakeCustomer { bsuid: Some("ID.1111".into()), phone: None, name: "Budi".into(), username: None };
        app.send_webhook(&app.text(&bsuid_only, "wamid.L1", "Halo")).await;
        let both = FakeCustomer { phone: Some("6281355550000".into()), ..bsuid_only.clone() };
        app.send_webhook(&app.text(&both, "wamid.L2", "Halo lagi")).await;
        assert_eq!(app.count("contacts").await, 1, "the phone is linked to the BSUID contact");

        let mut change = both.text("wamid.SYS", "", 20);
        change["type"] = "system".into();
        change["system"] = serde_json::json!({ "type": "user_changed_user_id", "previous_user_id": "ID.1111", "user_id": "ID.2222" });
        let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[], vec![change], vec![]);
        let report: serde_json::Value = app.send_webhook(&payload).await.json().await.unwrap();
        assert_eq!(report["identity_changes"], 1);

        let moved = FakeCustomer { bsuid: Some("ID.2222".into()), phone: None, ..bsuid_only };
        app.send_webhook(&app.text(&moved, "wamid.L3", "Masih saya")).await;
        assert_eq!(app.count("contacts").await, 1, "the new BSUID finds the same contact");
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        let index = app.state.keys.index.bsuid(app.tenant.id, &balas::domain::Bsuid::parse("ID.2222").unwrap());
        assert!(tx.contact_by_index(IdentityIndex::Bsuid(&index)).await.unwrap().is_some());
    }
}
