//! Ingest load driver: correctly signed Meta webhooks over loopback, at a fixed rate, against
//! the real server with its workers off, so each request is exactly the ingest path (verify,
//! encrypt, durable insert, enqueue, audit). Reports throughput and acknowledgement latency,
//! timed from each request's scheduled moment so a slow server cannot hide its queueing.
//! The first `BALAS_LOAD_WARMUP` seconds (default 1) run at the same rate but are reported
//! apart: they hold the pool's connecting and each connection's first statement preparations.
//! Run: `BALAS_LOAD_RATE=1000 BALAS_LOAD_SECONDS=10 cargo bench --bench ingest`
//! (`BALAS_BENCH_POSTGRES_URL=postgres://…` adds a PostgreSQL run; `BALAS_BENCH_RUNS=3` repeats
//! each on a fresh database and adds the median of each column; `BALAS_BENCH_WEBHOOKS=N`
//! registers N webhook endpoints taking `message.received`, so each message also queues N
//! deliveries; the workers are off, so none is sent.)
use std::sync::Arc;
use std::time::{Duration, Instant};

use balas::app::{AppConfig, AppState};
use balas::fakes::meta_webhook::{FakeCustomer, envelope, sign};
use balas::store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

mod common;

/// Distinct customers the messages rotate through.
const CUSTOMERS: usize = 1_000;
/// Requests in flight at most; beyond it the driver waits and the wait counts as latency.
const IN_FLIGHT: usize = 256;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rate, seconds) = (setting("BALAS_LOAD_RATE", 1_000).max(1), setting("BALAS_LOAD_SECONDS", 10).max(1));
    balas::logging::init(balas::logging::LogFormat::Pretty, "warn");
    let runs = setting("BALAS_BENCH_RUNS", 1).max(1);
    let load = Load { rate, seconds, warmup: setting("BALAS_LOAD_WARMUP", 1) };
    println!(
        "| database | offered | acknowledged | p50 | p90 | p99 | max | not 200 | warm-up p99 / max (not counted) |\n|---|---|---|---|---|---|---|---|---|"
    );
    if std::env::var("BALAS_BENCH_SKIP_SQLITE").is_err() {
        let mut figures = Vec::new();
        for _ in 0..runs {
            let dir = tempfile::tempdir()?;
            let store = balas::store::connect(&format!("sqlite://{}", dir.path().join("load.db").display())).await?;
            store.migrate(None).await?;
            figures.push(run("SQLite", store, &load).await?);
        }
        Figures::print_median("SQLite", &load, &figures);
    }
    if let Ok(admin) = std::env::var("BALAS_BENCH_POSTGRES_URL") {
        let mut figures = Vec::new();
        for _ in 0..runs {
            let database = common::BenchDatabase::create(&admin).await?;
            let result = run("PostgreSQL (app role, RLS on)", database.store.clone(), &load).await;
            database.drop_database().await?;
            figures.push(result?);
        }
        Figures::print_median("PostgreSQL (app role, RLS on)", &load, &figures);
    }
    Ok(())
}

/// The offered load: a rate for a measured window, after a warm-up at the same rate.
struct Load {
    rate: u64,
    seconds: u64,
    warmup: u64,
}

/// One run's throughput (acknowledged per second), latency percentiles (ms) and failures in
/// the measured window, and the warm-up's p99 and max (ms).
struct Figures {
    acknowledged: f64,
    latency: [f64; 4],
    refused: usize,
    warmup: [f64; 2],
}

impl Figures {
    fn print(&self, label: &str, load: &Load) {
        let ([p50, p90, p99, max], [warm_p99, warm_max]) = (self.latency, self.warmup);
        println!(
            "| {label} | {}/s for {} s | {:.0}/s | {p50:.1} ms | {p90:.1} ms | {p99:.1} ms | {max:.1} ms | {} | {warm_p99:.1} / {warm_max:.1} ms |",
            load.rate, load.seconds, self.acknowledged, self.refused
        );
    }

    /// The median of each column over the runs (a column's median, not one run's row).
    fn print_median(label: &str, load: &Load, runs: &[Figures]) {
        if runs.len() < 2 {
            return;
        }
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let latency = std::array::from_fn(|i| median(runs.iter().map(|f| f.latency[i]).collect()));
        let warmup = std::array::from_fn(|i| median(runs.iter().map(|f| f.warmup[i]).collect()));
        let refused = median(runs.iter().map(|f| f.refused as f64).collect()) as usize;
        let acknowledged = median(runs.iter().map(|f| f.acknowledged).collect());
        let figures = Figures { acknowledged, latency, refused, warmup };
        figures.print(&format!("**{label}, median of {}**", runs.len()), load);
    }
}

async fn run(label: &str, store: Arc<dyn Store>, load: &Load) -> anyhow::Result<Figures> {
    let rate = load.rate;
    let keys = common::fresh_keys()?;
    let now = balas::clock::Clock::now(&balas::clock::SystemClock);
    let business = balas::demo::seed(&*store, &keys, now).await?;
    let config = AppConfig { workers: 0, ..AppConfig::default() };
    let state = AppState::with_system_clock(store.clone(), keys.clone(), config)?;
    let endpoints = std::env::var("BALAS_BENCH_WEBHOOKS").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let settings = balas::webhooks::WebhookSettings { allow_private: true };
    let sender = balas::webhooks::Sender::new(settings)?;
    // After the state: it gives the store the audit key the registrations sign with.
    for _ in 0..endpoints {
        let new = balas::webhooks::endpoints::NewEndpoint {
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["message.received".into()],
            include_content: false,
        };
        balas::webhooks::endpoints::create((&*store, &keys), &sender, (business.tenant.id, "bench"), new, now).await?;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/meta/{}", listener.local_addr()?, business.channel.id);
    let stop = CancellationToken::new();
    tokio::spawn(balas::app::serve(listener, state, stop.clone()));

    // Bodies are built and signed before the clock starts: the driver measures the server.
    let warmup = (rate * load.warmup) as usize;
    let total = warmup + (rate * load.seconds) as usize;
    let customers: Vec<FakeCustomer> = (0..CUSTOMERS)
        .map(|n| FakeCustomer {
            bsuid: Some(format!("ID.{n:08}")),
            phone: Some(format!("62812{n:08}")),
            name: format!("Pelanggan {n}"),
            username: None,
        })
        .collect();
    let requests: Vec<(Vec<u8>, String)> = (0..total)
        .map(|i| {
            let who = &customers[i % CUSTOMERS];
            let message = who.text(&format!("wamid.LOAD{i:09}"), "Jam buka kapan ya kak?", now.timestamp());
            let body = serde_json::to_vec(&envelope(balas::demo::PHONE_NUMBER_ID, &[who], vec![message], vec![]))
                .unwrap_or_default();
            let signature = sign(&business.app_secret, &body);
            (body, signature)
        })
        .collect();

    let http = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build()?;
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for (i, (body, signature)) in requests.into_iter().enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (http, url, slots) = (http.clone(), url.clone(), slots.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.ok();
            let answer = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await;
            (answer.map(|r| r.status().as_u16()).unwrap_or(0), due.elapsed())
        }));
    }
    let (mut warm, mut latencies) = (Vec::with_capacity(warmup), Vec::with_capacity(total - warmup));
    let mut refused = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, latency) = task.await?;
        match (status, i < warmup) {
            (200, true) => warm.push(latency),
            (200, false) => latencies.push(latency),
            _ => refused += 1,
        }
    }
    // The measured window starts when its first request was due.
    let elapsed = started.elapsed().as_secs_f64() - load.warmup as f64;
    latencies.sort();
    warm.sort();
    let figures = Figures {
        acknowledged: latencies.len() as f64 / elapsed,
        latency: [50, 90, 99, 100].map(|p| common::percentile_ms(&latencies, p)),
        refused,
        warmup: [99, 100].map(|p| common::percentile_ms(&warm, p)),
    };
    figures.print(label, load);
    stop.cancel();
    store.close().await;
    Ok(figures)
}
