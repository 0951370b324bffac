//! Meta webhook ingress: signatures, the handshake and bad input.
use balas::fakes::meta_webhook;
use serde_json::Value;

use crate::helpers::{PHONE_NUMBER_ID, customer};
use crate::on_both_databases;

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error body");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "error without detail: {body}");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

on_both_databases! {
    async fn only_the_correctly_signed_body_is_accepted(app) {
        let payload = app.text(&customer(1), "wamid.SIG1", "Jam buka kapan?");
        let body = serde_json::to_vec(&payload).unwrap();
        let good = meta_webhook::sign(&app.app_secret, &body);

        let mut tampered = body.clone();
        let at = tampered.iter().position(|b| *b == b'J').unwrap();
        tampered[at] = b'K';
        let pretty = serde_json::to_vec_pretty(&payload).unwrap();
        let wrong_secret = meta_webhook::sign("not-the-app-secret", &body);

        let rejected = [
            (tampered, Some(good.clone()), "one byte changed"),
            (body.clone(), Some(wrong_secret), "wrong secret"),
            (body.clone(), None, "missing header"),
            (pretty, Some(good.clone()), "re-serialised with other whitespace"),
            (body.clone(), Some("sha256=zz".into()), "malformed header"),
        ];
        for (bytes, signature, case) in rejected {
            let (status, code) = error_code(app.post_raw(&app.webhook_url(), bytes, signature).await).await;
            assert_eq!((status, code.as_str()), (401, "invalid_signature"), "{case}");
        }
        assert_eq!(app.count("messages").await, 0, "a rejected webhook wrote a message");
        // Counted in /metrics, never written: anyone who knows a channel id could fill the audit log.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.signature_rejected'").await, 0);
        let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        for (reason, count) in [("mismatch", 3), ("missing", 1), ("malformed", 1)] {
            let line = format!("balas_webhooks_rejected_total{{provider=\"meta\",reason=\"{reason}\"}} {count}");
            assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
        }

        let response = app.post_raw(&app.webhook_url(), body, Some(good)).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(app.count("messages").await, 1);
    }

    async fn handshake_echoes_the_challenge_only_for_the_right_token(app) {
        let url = |token: &str| format!("{}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}", app.webhook_url());
        let ok = app.http.get(url(&app.verify_token)).send().await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
        assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert_eq!(ok.text().await.unwrap(), "1158201444");

        let (status, code) = error_code(app.http.get(url("wrong")).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (403, "verification_failed"));
        let (status, _) = error_code(app.http.get(app.webhook_url()).send().await.unwrap()).await;
        assert_eq!(status, 403);
        let unknown = format!("{}/webhooks/meta/{}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=x", app.base, uuid::Uuid::new_v4());
        let (status, code) = error_code(app.http.get(unknown).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "unknown_channel"));
    }

    async fn bad_input_gets_a_precise_json_error_and_writes_nothing(app) {
        let garbage = b"{\"entry\": [".to_vec();
        let sig = meta_webhook::sign(&app.app_secret, &garbage);
        assert_eq!(error_code(app.post_raw(&app.webhook_url(), garbage, Some(sig)).await).await, (400, "malformed_payload".into()));

        let no_sender = br#"{"entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"wamid.X","type":"text","text":{"body":"hi"}}]}}]}]}"#.to_vec();
        let sig = meta_webhook::sign(&app.app_secret, &no_sender);
        assert_eq!(error_code(app.post_raw(&app.webhook_url(), no_sender, Some(sig)).await).await, (400, "unidentified_sender".into()));

        let body = serde_json::to_vec(&app.text(&customer(2), "wamid.404", "halo")).unwrap();
        let sig = meta_webhook::sign(&app.app_secret, &body);
        for path in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_string()] {
            let url = format!("{}/webhooks/meta/{path}", app.base);
            assert_eq!(error_code(app.post_raw(&url, body.clone(), Some(sig.clone())).await).await, (404, "unknown_channel".into()));
        }

        let huge = vec![b' '; 3 * 1024 * 1024 + 1];
        let sig = meta_webhook::sign(&app.app_secret, &huge);
        assert_eq!(error_code(app.post_raw(&app.webhook_url(), huge, Some(sig)).await).await, (413, "payload_too_large".into()));

        let (status, code) = error_code(app.http.get(format!("{}/nowhere", app.base)).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "not_found"));
        assert_eq!(app.count("messages").await, 0);
    }

    async fn changes_for_another_number_and_other_fields_are_skipped(app) {
        let c = customer(3);
        let mut payload = meta_webhook::envelope("999999999", &[&c], vec![c.text("wamid.OTHER", "halo", 1)], vec![]);
        let response = app.send_webhook(&payload).await;
        assert_eq!(response.status().as_u16(), 200);
        payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&c], vec![c.text("wamid.TPL", "halo", 1)], vec![]);
        // A field balas does not read (a template's status is read: see `templates.rs`).
        payload["entry"][0]["changes"][0]["field"] = "account_update".into();
        assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
        assert_eq!(app.count("messages").await, 0);
    }
}
