//! Twilio: signed form webhooks, status callbacks and sending through the Messages API.
use balas::clock::Clock;
use balas::fakes::providers::Behaviour;

use crate::helpers::{TWILIO_ACCOUNT, TWILIO_FROM};
use crate::on_both_databases;

fn inbound<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "Dewi"),
        ("SmsSid", sid),
        ("WaId", "6281277776666"),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", TWILIO_FROM),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", TWILIO_ACCOUNT),
        ("From", "whatsapp:+6281277776666"),
        ("ApiVersion", "2010-04-01"),
    ]
}

on_both_databases! {
    async fn twilio_signed_message_is_answered_through_the_messages_api(app) {
        let (channel, token) = app.twilio_channel().await;
        let response = app.post_twilio(&channel, &inbound("SM0001", "Jam buka toko kapan?"), &token).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/xml"));
        assert!(response.text().await.unwrap().contains("<Response/>"));
        app.drain().await;

        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        let form = &sent[0].body;
        assert_eq!(sent[0].account, TWILIO_ACCOUNT);
        assert_eq!(form["From"], TWILIO_FROM);
        assert_eq!(form["To"], "whatsapp:+6281277776666");
        assert!(sent[0].text().starts_with("Warung Kopi Bu Sri buka setiap hari"));
        assert_eq!(form["StatusCallback"], format!("{}/webhooks/twilio/{}", app.base, channel.id));
        let basic = sent[0].authorization.clone().unwrap();
        assert!(basic.starts_with("Basic "), "HTTP basic auth with the account SID and auth token");

        // Status callbacks in any order: the status only moves forward.
        let sid = app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE provider_message_id LIKE 'SMFAKE%' AND status = 'sent'").await;
        assert_eq!(sid, 1);
        for status in ["read", "delivered", "sent"] {
            let params = [("MessageSid", "SMFAKE0000000000000000000000000000"), ("MessageStatus", status), ("AccountSid", TWILIO_ACCOUNT)];
            assert_eq!(app.post_twilio(&channel, &params, &token).await.status().as_u16(), 200);
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'read'").await, 1);
    }

    async fn twilio_rejects_bad_signatures_and_writes_nothing(app) {
        let (channel, token) = app.twilio_channel().await;
        let url = format!("{}/webhooks/twilio/{}", app.base, channel.id);
        let params = inbound("SM0002", "halo");
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let good = balas::ingress::twilio::signature(&token, &url, &owned);
        let wrong_token = balas::ingress::twilio::signature("not-the-token", &url, &owned);
        let other_url = balas::ingress::twilio::signature(&token, "https://elsewhere.example/webhooks/twilio/x", &owned);
        let mut tampered = params.clone();
        tampered[6] = ("Body", "halo!");
        for (form, signature, case) in [
            (tampered, Some(good.clone()), "a parameter changed"),
            (params.clone(), Some(wrong_token), "wrong auth token"),
            (params.clone(), Some(other_url), "signed for another URL"),
            (params.clone(), None, "missing header"),
        ] {
            let mut request = app.http.post(&url).form(&form);
            if let Some(s) = signature {
                request = request.header("x-twilio-signature", s);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401, "{case}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_signature", "{case}");
        }
        assert_eq!(app.count("messages").await, 0);
        let response = app.http.post(&url).header("x-twilio-signature", good).form(&params).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }

    async fn twilio_redelivery_is_stored_and_answered_once(app) {
        let (channel, token) = app.twilio_channel().await;
        for _ in 0..3 {
            assert_eq!(app.post_twilio(&channel, &inbound("SM0003", "Berapa ongkirnya?"), &token).await.status().as_u16(), 200);
        }
        assert_eq!(app.count("inbound").await, 1);
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1);
    }

    async fn twilio_send_failures_retry_then_dead_letter_and_63016_is_not_retried(app) {
        let (channel, token) = app.twilio_channel().await;
        app.providers.set_behaviour(Behaviour::ServerError);
        app.post_twilio(&channel, &inbound("SM0004", "Berapa ongkirnya?"), &token).await;
        app.drain().await;
        for _ in 0..6 {
            app.clock.advance(chrono::Duration::hours(1));
            app.drain().await;
        }
        assert_eq!(app.providers.received().len(), app.state.config.max_attempts as usize);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead' AND last_error = 'retryable:twilio_20500'").await, 1);

        app.providers.set_behaviour(Behaviour::Reject(63016));
        let other = [("MessageSid", "SM0005"), ("From", "whatsapp:+6281299990000"), ("To", TWILIO_FROM),
                     ("AccountSid", TWILIO_ACCOUNT), ("Body", "Jam buka kapan?"), ("NumMedia", "0")];
        app.post_twilio(&channel, &other, &token).await;
        let before = app.providers.received().len();
        app.drain().await;
        app.clock.advance(chrono::Duration::hours(1));
        app.drain().await;
        assert_eq!(app.providers.received().len(), before + 1, "a closed 24-hour window is not retried");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'failed' AND error_code = 'window_closed'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE window_closed_at IS NOT NULL").await, 1);
    }

    async fn twilio_replies_are_split_at_1600_characters(app) {
        let (channel, token) = app.twilio_channel().await;
        let long = format!("Daftar menu lengkap kami: {}", "kopi susu gula aren, ".repeat(100));
        let item = balas::kb::FaqItem { question: "Apa saja menu lengkapnya?".into(), answer: long.clone(), keywords: "menu daftar".into() };
        balas::kb::import(&*app.state.store, app.tenant.id, &[item], true, app.clock.now()).await.unwrap();
        app.post_twilio(&channel, &inbound("SM0007", "Apa saja menu lengkapnya?"), &token).await;
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 2, "{} characters need two Twilio messages", long.chars().count());
        assert!(sent.iter().all(|r| r.text().chars().count() <= 1600));
        assert_eq!(format!("{} {}", sent[0].text(), sent[1].text()), long.trim());
    }

    async fn twilio_media_is_stored_by_type_and_gets_the_polite_reply(app) {
        let (channel, token) = app.twilio_channel().await;
        app.providers.media.put_twilio("ME1", "image/jpeg", b"\xFF\xD8\xFF\xE0 a photo");
        let media_url = format!("{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages/MM0006/Media/ME1", app.providers.twilio_url);
        let params = [
            ("MessageSid", "MM0006"),
            ("From", "whatsapp:+6281277776666"),
            ("To", TWILIO_FROM),
            ("AccountSid", TWILIO_ACCOUNT),
            ("NumMedia", "1"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl0", &media_url),
        ];
        assert_eq!(app.post_twilio(&channel, &params, &token).await.status().as_u16(), 200);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE kind = 'image' AND meta_enc IS NOT NULL").await, 1);
        app.drain().await;
        let sent = app.providers.received();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].text().contains("belum bisa membuka foto"), "{}", sent[0].text());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'bot'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects WHERE mime_type = 'image/jpeg'").await, 1);
    }

    async fn twilio_sms_and_requests_for_another_sender_or_account_are_answered_and_ignored(app) {
        let (channel, token) = app.twilio_channel().await;
        app.add_owner("6281100000009", None).await;
        let whatsapp = |sid: &'static str, from: &'static str, to: &'static str, account: &'static str, body: &'static str| {
            vec![("MessageSid", sid), ("SmsStatus", "received"), ("From", from), ("To", to), ("AccountSid", account),
                 ("Body", body), ("NumMedia", "0")]
        };
        let cases = [
            // One Twilio number often takes SMS on the same URL; an SMS caller ID can be spoofed.
            (whatsapp("SM0101", "+6281100000009", "+14155238886", TWILIO_ACCOUNT, "daftar"), "an SMS from the owner's number"),
            (whatsapp("SM0102", "+6281277776666", "+14155238886", TWILIO_ACCOUNT, "STOP"), "an SMS STOP"),
            (whatsapp("SM0103", "+6281277776666", TWILIO_FROM, TWILIO_ACCOUNT, "HAPUS DATA SAYA"), "From without whatsapp:"),
            (whatsapp("SM0104", "whatsapp:+6281277776666", "whatsapp:+14155230000", TWILIO_ACCOUNT, "STOP"), "another sender"),
            (whatsapp("SM0105", "whatsapp:+6281277776666", TWILIO_FROM, "AC00000000000000000000000000000000", "STOP"), "another account"),
        ];
        for (form, case) in cases {
            let response = app.post_twilio(&channel, &form, &token).await;
            assert_eq!(response.status().as_u16(), 200, "{case}: a signed request is Twilio's; a 4xx makes it retry");
            assert!(response.text().await.unwrap().contains("<Response/>"), "{case}");
        }
        app.drain().await;
        assert_eq!(app.count("messages").await, 0, "an ignored request was stored");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages").await, 0, "an SMS ran as an owner command");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM dsar_requests").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM contacts WHERE bot_stopped_at IS NOT NULL").await, 0);
        assert!(app.providers.received().is_empty(), "an ignored request was answered");
        let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        for (reason, count) in [("not_whatsapp", 3), ("other_sender", 1), ("other_account", 1)] {
            let line = format!("balas_webhooks_ignored_total{{provider=\"twilio\",reason=\"{reason}\"}} {count}");
            assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
        }

        // The owner on WhatsApp, to the channel's sender, in its account, is the owner.
        let owner = whatsapp("SM0106", "whatsapp:+6281100000009", TWILIO_FROM, TWILIO_ACCOUNT, "daftar");
        assert_eq!(app.post_twilio(&channel, &owner, &token).await.status().as_u16(), 200);
        app.drain().await;
        assert_eq!(app.sent_to("6281100000009").len(), 1, "the owner's daftar was answered");
    }
}
