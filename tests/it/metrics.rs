//! `GET /metrics`: webhook results by provider, sends, job timings, queue and dead letters,
//! overdue data requests; optionally behind a bearer token; no tenant or customer in a label.
use balas::api::auth::Role;
use balas::fakes::providers::Behaviour;
use chrono::Duration;
use serde_json::json;

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;

async fn scrape(app: &TestApp, base: &str, token: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(format!("{base}/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample with exactly this name and label set.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

on_both_databases! {
    async fn metrics_count_webhooks_sends_jobs_dead_letters_and_overdue_requests(app) {
        // A request left unacknowledged for 8 days.
        let owner = app.token(app.tenant.id, Role::Owner);
        assert_eq!(app.call("POST", "/api/v1/requests", &owner, Some(json!({ "kind": "access" }))).await.0, 201);
        app.clock.advance(Duration::days(8));

        app.send_webhook(&app.text(&customer(1), "wamid.M1", "Jam buka kapan?")).await;
        let refused = app.post_raw(&app.webhook_url(), b"{}".to_vec(), Some("sha256=00".into())).await;
        assert_eq!(refused.status().as_u16(), 401);
        app.drain().await;
        app.providers.set_behaviour(Behaviour::Reject(131026));
        app.send_webhook(&app.text(&customer(2), "wamid.M2", "Jam buka kapan?")).await;
        app.drain().await;

        let (status, text) = scrape(&app, &app.base, None).await;
        assert_eq!(status, 200);
        assert_eq!(sample(&text, r#"balas_webhook_requests_total{provider="meta",result="200"}"#), Some(2.0), "{text}");
        assert_eq!(sample(&text, r#"balas_webhook_requests_total{provider="meta",result="401"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"balas_sends_total{provider="meta",result="ok"}"#), Some(1.0));
        assert!(sample(&text, r#"balas_sends_total{provider="meta",result="rejected"}"#).unwrap_or(0.0) >= 1.0, "{text}");
        assert!(sample(&text, r#"balas_job_run_seconds_count{kind="respond"}"#).unwrap_or(0.0) >= 2.0);
        assert!(sample(&text, r#"balas_jobs{kind="send",state="dead"}"#).unwrap_or(0.0) >= 1.0, "a rejected reply is a dead letter: {text}");
        assert_eq!(sample(&text, r#"balas_data_requests_overdue{deadline="acknowledge"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"balas_data_requests_overdue{deadline="answer"}"#), Some(0.0));
        assert!(!text.contains(&app.tenant.id.to_string()) && !text.contains("62812345"), "no tenant or customer in a label");

        let guarded = app.serve_with(|c| c.metrics_token = Some("scrape-secret".into())).await;
        assert_eq!(scrape(&app, &guarded.base, None).await.0, 401);
        assert_eq!(scrape(&app, &guarded.base, Some("wrong")).await.0, 401);
        assert_eq!(scrape(&app, &guarded.base, Some("scrape-secret")).await.0, 200);
    }
}
