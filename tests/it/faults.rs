//! Faults against the real `balas serve` process: kill -9 in the middle of a burst while the
//! sender retries every non-200 (as providers do), and two instances sharing one PostgreSQL.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use balas::audit::{self, Verdict};
use balas::fakes::meta_webhook;
use tokio::sync::Semaphore;

use crate::helpers::{TestApp, customer};
use crate::serve_process::{ServeProcess, free_addr};
use crate::{on_both_databases, on_postgres};

const BURST: u32 = 1_000;

/// `balas serve` on the test's database; a killed instance's jobs are taken over after `lease_secs`.
async fn serve(app: &TestApp, addr: &str, lease_secs: u32) -> ServeProcess {
    let lease = lease_secs.to_string();
    ServeProcess::start(app, addr, &[("BALAS_WORKERS", "4"), ("BALAS_JOB_LEASE_SECS", &lease), ("RUST_LOG", "error")])
        .await
}

/// Sends customer `i`'s one question to `urls[i % urls.len()]` until it gets a 200, like a
/// provider retrying; returns when all are acknowledged. `acked` counts the 200s.
async fn send_until_acknowledged(app: &TestApp, urls: Vec<String>, acked: Arc<AtomicUsize>) {
    let slots = Arc::new(Semaphore::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let payload = app.text(&customer(i), &format!("wamid.FAULT{i:05}"), "Jam buka tokonya kapan ya kak?");
        let body = serde_json::to_vec(&payload).unwrap();
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let url = format!("{}/webhooks/meta/{}", urls[i as usize % urls.len()], app.channel.id);
        let (http, slots, acked) = (app.http.clone(), slots.clone(), acked.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let sent = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &signature)
                    .body(body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().as_u16() == 200) {
                    acked.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                assert!(Instant::now() < deadline, "webhook {i} was never acknowledged");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("sender task");
    }
}

/// Waits until no respond or send job is left to run; returns the replies per recipient and
/// the dead-lettered sends.
async fn settle(app: &TestApp) -> (HashMap<String, usize>, i64) {
    let pending = "SELECT COUNT(*) FROM jobs WHERE kind IN ('respond', 'send') AND state IN ('queued', 'running')";
    let started = Instant::now();
    while app.inspect.scalar(pending).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "jobs were still pending after two minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut replies = HashMap::new();
    for request in app.providers.received() {
        *replies.entry(request.recipient()).or_insert(0) += 1;
    }
    let dead = app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead'").await;
    (replies, dead)
}

/// Nothing lost, nothing stored or answered twice, and the audit chain intact. A reply cut
/// off in the provider's hands is dead-lettered (delivery_unknown), not resent: it may or may
/// not have reached the fake, so it counts either way, and there is at most one per worker.
async fn assert_exactly_once(app: &TestApp, replies: &HashMap<String, usize>, dead: i64) {
    let burst = i64::from(BURST);
    assert_eq!(app.count("inbound").await, burst, "inbound messages");
    let distinct = "SELECT COUNT(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'";
    assert_eq!(app.inspect.scalar(distinct).await, burst);
    assert_eq!(app.count("respond_jobs").await, burst, "one respond job per message");
    let twice = replies.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "customers answered more than once");
    let unknown =
        "SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead' AND last_error = 'delivery_unknown'";
    assert_eq!(dead, app.inspect.scalar(unknown).await, "sends died for another reason");
    assert!(dead <= 4, "{dead} sends in doubt: more than the killed instance's 4 workers");
    assert!(replies.len() as i64 <= burst && replies.len() as i64 + dead >= burst, "replies lost");
    let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
    assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
}

on_both_databases! {
    async fn kill_9_during_a_burst_loses_nothing_and_duplicates_nothing(app) {
        let addr = free_addr();
        let mut first = serve(&app, &addr, 5).await;
        let acked = Arc::new(AtomicUsize::new(0));
        let base = format!("http://{addr}");
        let sending = send_until_acknowledged(&app, vec![base], acked.clone());
        let crash = async {
            while acked.load(Ordering::SeqCst) < 300 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            first.kill_9();
            tokio::time::sleep(Duration::from_millis(300)).await;
            serve(&app, &addr, 5).await
        };
        let ((), _second) = tokio::join!(sending, crash);
        let (replies, dead) = settle(&app).await;
        eprintln!("kill -9 burst: {} replies, {dead} dead-lettered as delivery_unknown", replies.len());
        assert_exactly_once(&app, &replies, dead).await;
    }
}

on_postgres! {
    async fn two_instances_on_one_database_answer_every_message_exactly_once(app) {
        let addrs = [free_addr(), free_addr()];
        // Nothing is killed here: a long lease, so a slow job is never taken over.
        let _a = serve(&app, &addrs[0], 60).await;
        let _b = serve(&app, &addrs[1], 60).await;
        let urls = addrs.iter().map(|a| format!("http://{a}")).collect();
        send_until_acknowledged(&app, urls, Arc::new(AtomicUsize::new(0))).await;
        let (replies, dead) = settle(&app).await;
        assert_eq!(dead, 0, "no instance died: nothing may be in doubt");
        assert_exactly_once(&app, &replies, dead).await;
    }
}
