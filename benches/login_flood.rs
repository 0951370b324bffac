//! Webhook acknowledgement under a flood of bad logins, on SQLite: signed Meta webhooks at a
//! fixed rate against the real server (workers off), once alone and once while attackers send
//! wrong passwords as fast as the server answers them. Each attacker connection comes from its
//! own loopback address (127.0.x.y), so per-client limits let every one through its first
//! tries and the flood reaches the password hash, as a flood from many addresses would.
//! Run: `BALAS_LOAD_RATE=200 BALAS_LOAD_SECONDS=10 cargo bench --bench login_flood`
//! (`BALAS_FLOOD_CLIENTS` attacker addresses, default 256; `BALAS_FLOOD_CONCURRENCY` logins in
//! flight, default 64.)
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use balas::app::{AppConfig, AppState};
use balas::fakes::meta_webhook::{FakeCustomer, envelope, sign};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[allow(dead_code)] // this driver runs on SQLite only: the PostgreSQL helpers stay unused
mod common;

const CUSTOMERS: usize = 500;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rate, seconds) = (setting("BALAS_LOAD_RATE", 200).max(1), setting("BALAS_LOAD_SECONDS", 10).max(1));
    let (clients, concurrency) = (setting("BALAS_FLOOD_CLIENTS", 256).max(1), setting("BALAS_FLOOD_CONCURRENCY", 64));
    balas::logging::init(balas::logging::LogFormat::Pretty, "error");
    println!("| run | webhooks | acknowledged | p50 | p99 | max | not 200 | bad logins answered (401 / 429 / other) |");
    println!("|---|---|---|---|---|---|---|---|");
    for flood in [false, true] {
        let dir = tempfile::tempdir()?;
        let store = balas::store::connect(&format!("sqlite://{}", dir.path().join("flood.db").display())).await?;
        store.migrate(None).await?;
        let keys = common::fresh_keys()?;
        let now = balas::clock::Clock::now(&balas::clock::SystemClock);
        let business = balas::demo::seed(&*store, &keys, now).await?;
        let new = balas::users::NewUser {
            email: "owner@toko.example",
            role: balas::api::auth::Role::Owner,
            password: "benar-sekali-ini",
        };
        balas::users::create(&*store, &keys, business.tenant.id, new, "bench", now).await?;
        let secret = secrecy::SecretString::from("a-jwt-secret-of-at-least-32-bytes-for-the-bench");
        let config = AppConfig { workers: 0, jwt_secret: Some(secret), ..AppConfig::default() };
        let state = AppState::with_system_clock(store.clone(), keys, config)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let stop = CancellationToken::new();
        tokio::spawn(balas::app::serve(listener, state, stop.clone()));

        let attack = Attack::start(&base, &business.tenant.slug, if flood { concurrency } else { 0 }, clients);
        tokio::time::sleep(Duration::from_millis(500)).await; // the flood is under way first
        let customers: Vec<FakeCustomer> = (0..CUSTOMERS)
            .map(|n| FakeCustomer {
                bsuid: Some(format!("ID.{n:08}")),
                phone: Some(format!("62813{n:08}")),
                name: format!("Pelanggan {n}"),
                username: None,
            })
            .collect();
        let url = format!("{base}/webhooks/meta/{}", business.channel.id);
        let total = (rate * seconds) as usize;
        let requests: Vec<(Vec<u8>, String)> = (0..total)
            .map(|i| {
                let who = &customers[i % CUSTOMERS];
                let message = who.text(&format!("wamid.FLOOD{i:09}"), "Jam buka kapan ya kak?", now.timestamp());
                let body = serde_json::to_vec(&envelope(balas::demo::PHONE_NUMBER_ID, &[who], vec![message], vec![]))
                    .unwrap_or_default();
                let signature = sign(&business.app_secret, &body);
                (body, signature)
            })
            .collect();
        let http = reqwest::Client::new();
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(total);
        for (i, (body, signature)) in requests.into_iter().enumerate() {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let (http, url) = (http.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
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
        let (mut latencies, mut refused) = (Vec::with_capacity(total), 0);
        for task in tasks {
            match task.await? {
                (200, latency) => latencies.push(latency),
                _ => refused += 1,
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let logins = attack.stop().await;
        latencies.sort();
        let [p50, p99, max] = [50, 99, 100].map(|p| common::percentile_ms(&latencies, p));
        let label = if flood {
            format!("with {concurrency} bad logins in flight from {clients} addresses")
        } else {
            "alone".into()
        };
        println!(
            "| {label} | {rate}/s for {seconds} s | {:.0}/s | {p50:.1} ms | {p99:.1} ms | {max:.1} ms | {refused} | {} / {} / {} |",
            latencies.len() as f64 / elapsed,
            logins[0],
            logins[1],
            logins[2]
        );
        stop.cancel();
        store.close().await;
    }
    Ok(())
}

/// Attackers sending wrong passwords in a loop, each from a loopback address of its own.
struct Attack {
    running: Arc<AtomicBool>,
    answered: Arc<[AtomicUsize; 3]>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attack {
    fn start(base: &str, tenant: &str, concurrency: u64, clients: u64) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let answered: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let next_client = Arc::new(AtomicUsize::new(0));
        let tasks = (0..concurrency)
            .map(|n| {
                let (running, answered, next_client) = (running.clone(), answered.clone(), next_client.clone());
                let (url, tenant) = (format!("{base}/api/v1/auth/login"), tenant.to_string());
                tokio::spawn(async move {
                    let mut tries = 0u64;
                    while running.load(Ordering::Relaxed) {
                        // A new address every few tries, round the pool of attacker addresses.
                        let client = next_client.fetch_add(1, Ordering::Relaxed) as u64 % clients;
                        let local = IpAddr::V4(Ipv4Addr::new(127, 0, 1 + (client / 250) as u8, 1 + (client % 250) as u8));
                        let Ok(http) = reqwest::Client::builder().local_address(local).build() else { return };
                        for _ in 0..5 {
                            tries += 1;
                            let email = if tries.is_multiple_of(2) { "owner@toko.example".to_string() } else { format!("tebak{n}-{tries}@toko.example") };
                            let body = serde_json::json!({ "tenant": tenant, "email": email, "password": "salah-salah-salah" });
                            let status = http.post(&url).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                            let slot = match status { 401 => 0, 429 => 1, _ => 2 };
                            answered[slot].fetch_add(1, Ordering::Relaxed);
                            if !running.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        Self { running, answered, tasks }
    }

    async fn stop(self) -> [usize; 3] {
        self.running.store(false, Ordering::Relaxed);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        [0, 1, 2].map(|i| self.answered[i].load(Ordering::Relaxed))
    }
}
