//! Reply-path driver: the real `balas serve` process (this build's binary) with its workers,
//! an OpenAI-compatible fake LLM and a fake Graph API, all over loopback. It measures:
//! - cold start (spawn → `/readyz` 200) and idle RSS;
//! - gateway overhead per auto-reply: from sending the signed webhook to the fake Graph API
//!   receiving the reply, with fakes that answer at once;
//! - a backlog: `BALAS_WAITING` conversations (10,000) each waiting on an LLM that takes
//!   `BALAS_LLM_DELAY_MS` (5,000): every one answered exactly once, peak RSS of the server.
//!
//! Run: `cargo bench --bench reply` (`BALAS_BENCH_POSTGRES_URL=postgres://…` adds PostgreSQL).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::fakes::meta_webhook::{FakeCustomer, envelope, sign};
use balas::fakes::providers::{Behaviour, FakeProviders};
use balas::store::Store;
use tokio::sync::Semaphore;

mod common;

/// The slow LLM's answer, to count the replies that really waited on it.
const SLOW_ANSWER: &str = "Baik kak, kami cek dulu ya.";

use common::server::Server;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    balas::crypto::install_crypto_provider();
    let plan = Plan {
        rate: setting("BALAS_REPLY_RATE", 50).max(1),
        replies: setting("BALAS_REPLY_COUNT", 500).max(1) as usize,
        waiting: setting("BALAS_WAITING", 10_000) as usize,
        llm_delay: Duration::from_millis(setting("BALAS_LLM_DELAY_MS", 5_000)),
        workers: setting("BALAS_BENCH_WORKERS", 4) as usize,
        waiting_workers: setting("BALAS_WAITING_WORKERS", 256) as usize,
    };
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("reply.db").display());
    let store = balas::store::connect(&sqlite).await?;
    store.migrate(None).await?;
    run("SQLite", store, &sqlite, &plan).await?;
    if let Ok(admin) = std::env::var("BALAS_BENCH_POSTGRES_URL") {
        let database = common::BenchDatabase::create(&admin).await?;
        let result =
            run("PostgreSQL (app role, RLS on)", database.store.clone(), &database.app_url.clone(), &plan).await;
        database.drop_database().await?;
        result?;
    }
    Ok(())
}

struct Plan {
    rate: u64,
    replies: usize,
    waiting: usize,
    llm_delay: Duration,
    workers: usize,
    waiting_workers: usize,
}

async fn run(label: &str, store: Arc<dyn Store>, url: &str, plan: &Plan) -> anyhow::Result<()> {
    let (keys, [fernet, index, audit]) = common::fresh_keys_and_secrets()?;
    let now = balas::clock::Clock::now(&balas::clock::SystemClock);
    let business = balas::demo::seed(&*store, &keys, now).await?;
    // The demo's monthly token budget would hand the backlog to the offline responder.
    let mut settings = business.tenant.settings.clone();
    settings.monthly_token_budget = 1_000_000_000_000;
    let mut tx = store.begin(business.tenant.id).await?;
    tx.update_tenant_settings(&business.tenant.name, &settings).await?;
    tx.commit().await?;
    store.close().await;
    let providers = FakeProviders::start().await?;
    let llm = FakeLlm::start().await?;
    llm.always(LlmStep::Reply("Kami buka setiap hari jam 08.00 sampai 21.00 kak.".into()));
    let env = vec![
        ("BALAS_DATABASE_URL".to_string(), url.to_string()),
        ("BALAS_FERNET_KEYS".to_string(), fernet),
        ("BALAS_INDEX_KEY".to_string(), index),
        ("BALAS_AUDIT_KEY".to_string(), audit),
        ("BALAS_META_GRAPH_URL".to_string(), providers.meta_url.clone()),
        ("BALAS_LLM_BASE_URL".to_string(), llm.base_url.clone()),
        ("BALAS_LLM_API_KEY".to_string(), "sk-bench".to_string()),
        ("BALAS_LLM_MODEL".to_string(), "bench-model".to_string()),
    ];

    let (server, cold_start) = Server::start(&env, plan.workers).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = server.rss_mib();
    println!("{label}: cold start to ready {:.0} ms; idle RSS {idle_rss:.1} MiB", cold_start.as_secs_f64() * 1e3);

    let url = format!("{}/webhooks/meta/{}", server.base, business.channel.id);
    let sent = send_at_rate(&url, &business.app_secret, 0, plan.replies, plan.rate).await?;
    let arrived = wait_for_replies(&providers, plan.replies, Duration::from_secs(120)).await;
    let mut overheads: Vec<Duration> = sent
        .iter()
        .filter_map(|s| arrived.get(&s.customer).map(|(first, _)| first.saturating_duration_since(s.at)))
        .collect();
    overheads.sort();
    let ms = |p| format!("{:.1} ms", common::percentile_ms(&overheads, p));
    println!(
        "{label}: gateway overhead per auto-reply, {} replies at {}/s, {} workers: p50 {} p90 {} p99 {} max {}; replies sent twice: {}",
        overheads.len(),
        plan.rate,
        plan.workers,
        ms(50),
        ms(90),
        ms(99),
        ms(100),
        arrived.values().filter(|(_, n)| *n > 1).count()
    );
    println!("{label}: webhook acknowledgement with the workers free: {}", ack_percentiles(&sent));
    server.stop();

    if plan.waiting > 0 {
        llm.always(LlmStep::ReplyAfter(plan.llm_delay, SLOW_ANSWER.into()));
        let (server, _) = Server::start(&env, plan.waiting_workers).await?;
        let before = providers.received_count();
        let started = Instant::now();
        let offset = plan.replies;
        send_at_rate(&url_of(&server, &business), &business.app_secret, offset, plan.waiting, 2_000).await?;
        let accepted = started.elapsed();
        let arrived = wait_for_replies(&providers, before + plan.waiting, Duration::from_secs(1_800)).await;
        let answered = (offset..offset + plan.waiting).filter(|i| arrived.contains_key(i)).count();
        let twice = (offset..offset + plan.waiting).filter(|i| arrived.get(i).is_some_and(|(_, n)| *n > 1)).count();
        let from_llm = providers.received().iter().filter(|r| r.text() == SLOW_ANSWER).count();
        let (_, peak) = server.rss_mib();
        println!(
            "{label}: {} conversations on a {} ms LLM with {} workers: accepted in {:.1} s, {answered} answered ({from_llm} by the LLM), {twice} twice, all in {:.0} s; peak RSS {peak:.1} MiB",
            plan.waiting,
            plan.llm_delay.as_millis(),
            plan.waiting_workers,
            accepted.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        server.stop();
    }
    // The same load while every LLM call hangs and the provider answers 500: the webhook path
    // must not notice, because nothing slow or external runs inside it.
    llm.always(LlmStep::Hang);
    providers.set_behaviour(Behaviour::ServerError);
    let (server, _) = Server::start(&env, plan.workers).await?;
    let offset = plan.replies + plan.waiting;
    let sent = send_at_rate(&url_of(&server, &business), &business.app_secret, offset, plan.replies, plan.rate).await?;
    println!(
        "{label}: webhook acknowledgement while every LLM call hangs and the provider answers 500: {}",
        ack_percentiles(&sent)
    );
    server.stop();
    Ok(())
}

fn url_of(server: &Server, business: &balas::demo::DemoBusiness) -> String {
    format!("{}/webhooks/meta/{}", server.base, business.channel.id)
}

/// Customer `i`'s phone digits; its BSUID ends in the same eight digits.
fn phone(i: usize) -> String {
    format!("62813{i:08}")
}

/// Which customer a send is addressed to, by phone or BSUID.
fn customer_of(recipient: &str) -> Option<usize> {
    recipient.get(recipient.len().checked_sub(8)?..)?.parse().ok()
}

/// Sends one message from each of customers `from..from + count` at `rate`; returns when each
/// was sent, by customer. Every webhook must be acknowledged with 200.
async fn send_at_rate(url: &str, app_secret: &str, from: usize, count: usize, rate: u64) -> anyhow::Result<Vec<Sent>> {
    let now = chrono::Utc::now().timestamp();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let slots = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for (n, i) in (from..from + count).enumerate() {
        let who = FakeCustomer {
            bsuid: Some(format!("ID.{i:08}")),
            phone: Some(phone(i)),
            name: format!("Pelanggan {i}"),
            username: None,
        };
        let message = who.text(&format!("wamid.REPLY{i:09}"), "Jam buka kapan ya kak?", now);
        let body = serde_json::to_vec(&envelope(balas::demo::PHONE_NUMBER_ID, &[&who], vec![message], vec![]))?;
        let signature = sign(app_secret, &body);
        tokio::time::sleep_until((started + Duration::from_secs_f64(n as f64 / rate as f64)).into()).await;
        let (http, url, slots) = (http.clone(), url.to_string(), slots.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.ok();
            let at = Instant::now();
            let status = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (i, at, status, at.elapsed())
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for task in tasks {
        let (who, at, status, ack) = task.await?;
        anyhow::ensure!(status == 200, "a webhook was answered {status}");
        sent.push(Sent { customer: who, at, ack });
    }
    Ok(sent)
}

/// One acknowledged webhook: whose, when it was sent, how long its 200 took.
struct Sent {
    customer: usize,
    at: Instant,
    ack: Duration,
}

/// p50 / p99 of the acknowledgements, in milliseconds.
fn ack_percentiles(sent: &[Sent]) -> String {
    let mut acks: Vec<Duration> = sent.iter().map(|s| s.ack).collect();
    acks.sort();
    format!("p50 {:.1} ms p99 {:.1} ms", common::percentile_ms(&acks, 50), common::percentile_ms(&acks, 99))
}

/// Waits until `total` sends arrived (or `limit` passed); first arrival and count per recipient.
async fn wait_for_replies(
    providers: &FakeProviders,
    total: usize,
    limit: Duration,
) -> HashMap<usize, (Instant, usize)> {
    let started = Instant::now();
    while providers.received_count() < total && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut arrived: HashMap<usize, (Instant, usize)> = HashMap::new();
    for request in providers.received() {
        let Some(customer) = customer_of(&request.recipient()) else { continue };
        let entry = arrived.entry(customer).or_insert((request.received_at, 0));
        entry.0 = entry.0.min(request.received_at);
        entry.1 += 1;
    }
    arrived
}
