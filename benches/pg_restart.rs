//! Fault drill: restart PostgreSQL while signed webhooks arrive and the sender retries every
//! non-200, as providers do. It checks, as the database owner:
//! - every webhook acknowledged with 200 before the restart began was committed (no 200
//!   without a commit), and after the retries every message is stored exactly once;
//! - every customer is answered exactly once (a reply cut off in the provider's hands may
//!   instead be dead-lettered as `delivery_unknown`).
//!
//! It restarts the machine's PostgreSQL, so it is not part of `cargo test` (other tests share
//! the server). Run: `BALAS_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
//! cargo bench --bench pg_restart` (`BALAS_PG_RESTART` overrides the restart command).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use balas::fakes::meta_webhook::{FakeCustomer, envelope, sign};
use balas::fakes::providers::FakeProviders;
use tokio::sync::{Mutex, Semaphore};

mod common;

use common::server::Server;

const WEBHOOKS: usize = 2_000;
const RATE: f64 = 200.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    balas::crypto::install_crypto_provider();
    let admin = std::env::var("BALAS_BENCH_POSTGRES_URL")
        .map_err(|_| anyhow::anyhow!("set BALAS_BENCH_POSTGRES_URL: this drill restarts PostgreSQL"))?;
    let restart = std::env::var("BALAS_PG_RESTART").unwrap_or_else(|_| "pg_ctlcluster 15 main restart".into());
    let database = common::BenchDatabase::create(&admin).await?;
    let result = drill(&database, &restart).await;
    database.drop_database().await?;
    result
}

async fn drill(database: &common::BenchDatabase, restart: &str) -> anyhow::Result<()> {
    let (keys, [fernet, index, audit]) = common::fresh_keys_and_secrets()?;
    let business = balas::demo::seed(&*database.store, &keys, chrono::Utc::now()).await?;
    database.store.close().await;
    let providers = FakeProviders::start().await?;
    let env = vec![
        ("BALAS_DATABASE_URL".to_string(), database.app_url.clone()),
        ("BALAS_FERNET_KEYS".to_string(), fernet),
        ("BALAS_INDEX_KEY".to_string(), index),
        ("BALAS_AUDIT_KEY".to_string(), audit),
        ("BALAS_META_GRAPH_URL".to_string(), providers.meta_url.clone()),
        ("BALAS_JOB_LEASE_SECS".to_string(), "10".to_string()),
    ];
    let (server, _) = Server::start(&env, 4).await?;
    let url = format!("{}/webhooks/meta/{}", server.base, business.channel.id);

    let acked_before_restart: Arc<Mutex<Option<Vec<usize>>>> = Arc::default();
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let refusals: Arc<Mutex<HashMap<u16, usize>>> = Arc::default();
    let sending = send_all(&url, &business.app_secret, acked.clone(), refusals.clone());
    let restarting = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        *acked_before_restart.lock().await = Some(acked.lock().await.clone());
        let started = Instant::now();
        let status = tokio::process::Command::new("sh").arg("-c").arg(restart).status().await;
        (status.map(|s| s.success()).unwrap_or(false), started.elapsed())
    };
    let (sent, (restarted, took)) = tokio::join!(sending, restarting);
    sent?;
    anyhow::ensure!(restarted, "the restart command failed: {restart}");

    let owner = sqlx::PgPool::connect(&database.owner_url).await?;
    let stored_ids: Vec<String> =
        sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'in'").fetch_all(&owner).await?;
    let stored: HashMap<String, usize> = stored_ids.iter().fold(HashMap::new(), |mut m, id| {
        *m.entry(id.clone()).or_insert(0) += 1;
        m
    });
    let before = acked_before_restart.lock().await.clone().unwrap_or_default();
    let lost_before = before.iter().filter(|i| !stored.contains_key(&wamid(**i))).count();
    let lost = (0..WEBHOOKS).filter(|i| !stored.contains_key(&wamid(*i))).count();
    let twice = stored.values().filter(|n| **n > 1).count();

    let deadline = Instant::now() + Duration::from_secs(180);
    // Settled when no respond or send job is left to run.
    let pending = "SELECT COUNT(*) FROM jobs WHERE kind IN ('respond', 'send') AND state IN ('queued', 'running')";
    while sqlx::query_scalar::<_, i64>(pending).fetch_one(&owner).await? > 0 {
        anyhow::ensure!(Instant::now() < deadline, "jobs were still pending after three minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut replies: HashMap<String, usize> = HashMap::new();
    for request in providers.received() {
        *replies.entry(request.recipient()).or_insert(0) += 1;
    }
    let unknown: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead' AND last_error = 'delivery_unknown'",
    )
    .fetch_one(&owner)
    .await?;
    owner.close().await;
    server.stop();
    println!(
        "PostgreSQL restarted in {:.1} s under {RATE}/s; {} acknowledged before it, {lost_before} of them lost; refusals while it was down: {:?}",
        took.as_secs_f64(),
        before.len(),
        refusals.lock().await
    );
    println!(
        "after retries: {WEBHOOKS} sent, {} stored, {lost} lost, {twice} stored twice; {} customers answered, {} twice, {unknown} dead-lettered as delivery_unknown",
        stored.len(),
        replies.len(),
        replies.values().filter(|n| **n > 1).count()
    );
    anyhow::ensure!(lost == 0 && lost_before == 0 && twice == 0, "messages were lost or stored twice");
    anyhow::ensure!(replies.values().all(|n| *n == 1), "a customer was answered twice");
    // A reply in doubt may or may not have reached the fake: it counts either way.
    anyhow::ensure!(replies.len() <= WEBHOOKS && replies.len() + unknown as usize >= WEBHOOKS, "replies were lost");
    Ok(())
}

fn wamid(i: usize) -> String {
    format!("wamid.RESTART{i:06}")
}

/// Sends every webhook at `RATE`, each retried every 100 ms until it gets a 200.
async fn send_all(
    url: &str,
    app_secret: &str,
    acked: Arc<Mutex<Vec<usize>>>,
    refusals: Arc<Mutex<HashMap<u16, usize>>>,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let slots = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WEBHOOKS {
        let who = FakeCustomer {
            bsuid: Some(format!("ID.{i:08}")),
            phone: Some(format!("62814{i:08}")),
            name: format!("Pelanggan {i}"),
            username: None,
        };
        let body = serde_json::to_vec(&envelope(
            balas::demo::PHONE_NUMBER_ID,
            &[&who],
            vec![who.text(&wamid(i), "Jam buka tokonya kapan ya kak?", now)],
            vec![],
        ))?;
        let signature = sign(app_secret, &body);
        tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / RATE)).into()).await;
        let (http, url, slots, acked, refusals) =
            (http.clone(), url.to_string(), slots.clone(), acked.clone(), refusals.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.ok();
            let give_up = Instant::now() + Duration::from_secs(120);
            while Instant::now() < give_up {
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &signature)
                    .body(body.clone())
                    .send()
                    .await;
                let status = answer.map(|r| r.status().as_u16()).unwrap_or(0);
                if status == 200 {
                    acked.lock().await.push(i);
                    return true;
                }
                *refusals.lock().await.entry(status).or_insert(0) += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        });
    }
    let mut unacknowledged = 0;
    while let Some(done) = tasks.join_next().await {
        unacknowledged += usize::from(!done?);
    }
    anyhow::ensure!(unacknowledged == 0, "{unacknowledged} webhooks were never acknowledged");
    Ok(())
}
