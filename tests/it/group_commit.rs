//! Group commit: concurrent webhooks of one tenant share transactions, every one is committed
//! before its 200, duplicates stay duplicates, and one failing webhook fails only itself.
use balas::audit::{self, Verdict};
use balas::domain::InboundEvent;
use balas::fakes::meta_webhook;
use balas::ingress::group_commit::{self, Submission};
use serde_json::Value;

use crate::helpers::{customer, inbound_text};
use crate::on_both_databases;

fn message(n: u32, wamid: &str) -> InboundEvent {
    InboundEvent::Message(Box::new(inbound_text(n, wamid)))
}

/// The value of an unlabelled sample in Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

on_both_databases! {
    async fn concurrent_webhooks_share_transactions_and_each_is_committed_before_its_200(app) {
        // 20 customers write 3 messages each; 10 of those webhooks are also retried at once.
        let mut payloads: Vec<Value> = (0..60u32)
            .map(|i| app.text(&customer(i % 20), &format!("wamid.GC{i:03}"), "Jam buka kapan?"))
            .collect();
        payloads.extend((0..10u32).map(|i| app.text(&customer(i % 20), &format!("wamid.GC{i:03}"), "Jam buka kapan?")));
        let mut sends = tokio::task::JoinSet::new();
        for (i, payload) in payloads.iter().enumerate() {
            let body = serde_json::to_vec(payload).unwrap();
            let signature = meta_webhook::sign(&app.app_secret, &body);
            let request = app.http.post(app.webhook_url()).header("content-type", "application/json");
            let request = request.header("x-hub-signature-256", signature).body(body);
            let wamid = format!("wamid.GC{:03}", i % 60);
            sends.spawn(async move { (wamid, request.send().await) });
        }
        let mut stored = 0;
        let mut duplicates = 0;
        while let Some(sent) = sends.join_next().await {
            let (wamid, response) = sent.unwrap();
            let response = response.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            // Read from another connection: only committed rows are visible there.
            let mut reader = app.state.store.begin_read(app.tenant.id).await.unwrap();
            assert!(reader.message_exists(app.channel.id, &wamid).await.unwrap(), "{wamid} acknowledged before its commit");
            drop(reader);
            let report: Value = response.json().await.unwrap();
            stored += report["stored"].as_u64().unwrap();
            duplicates += report["duplicates"].as_u64().unwrap();
        }
        assert_eq!((stored, duplicates), (60, 10));
        assert_eq!(app.count("messages").await, 60);
        assert_eq!(app.count("contacts").await, 20);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'respond'").await, 60);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.received'").await, 60);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.duplicate_ignored'").await, 10);
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");

        let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        let transactions = sample(&metrics, "balas_ingest_batch_webhooks_count");
        let webhooks = sample(&metrics, "balas_ingest_batch_webhooks_sum");
        assert_eq!(webhooks, 70.0);
        assert!(transactions < webhooks, "70 concurrent webhooks took {transactions} transactions: none were shared");
    }

    async fn a_failing_webhook_fails_alone_and_the_others_in_its_batch_commit(app) {
        // Customer 2's data key becomes unreadable: their next message fails inside the transaction.
        let (known, known_done) = Submission::new(app.channel.clone(), vec![message(2, "wamid.KNOWN")]);
        group_commit::commit(&app.state, &app.state.deps.metrics, vec![known]).await;
        assert_eq!(known_done.await.unwrap().unwrap().stored, 1);
        app.inspect.execute("UPDATE contacts SET wrapped_key = 'not-a-wrapped-key'").await;

        let (first, first_done) = Submission::new(app.channel.clone(), vec![message(1, "wamid.OK1")]);
        let (broken, broken_done) = Submission::new(app.channel.clone(), vec![message(2, "wamid.BAD")]);
        let (last, last_done) = Submission::new(app.channel.clone(), vec![message(3, "wamid.OK3")]);
        group_commit::commit(&app.state, &app.state.deps.metrics, vec![first, broken, last]).await;

        assert_eq!(first_done.await.unwrap().unwrap().stored, 1);
        assert!(broken_done.await.unwrap().is_err(), "the broken webhook was acknowledged");
        assert_eq!(last_done.await.unwrap().unwrap().stored, 1);
        assert_eq!(app.count("messages").await, 3);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'respond'").await, 3);
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.received'").await, 3);
    }
}
