//! Media fetch driver: the real `balas serve` process (this build's binary) fetching customers'
//! files from the fake Graph API over loopback, sealing them and writing them to a directory.
//! It measures:
//! - throughput: `BALAS_MEDIA_COUNT` (100) images of `BALAS_MEDIA_MIB` (1) MiB, one webhook
//!   each, from the first webhook until every file is stored;
//! - the memory bound: the server's peak RSS above idle, for those images and for
//!   `BALAS_LARGE_COUNT` (8) documents of `BALAS_LARGE_MIB` (48) MiB, which must not grow with
//!   the file size (bodies are streamed and sealed 64 KiB at a time).
//!
//! Run: `cargo bench --bench media`.
use std::time::{Duration, Instant};

use balas::fakes::meta_webhook::{FakeCustomer, envelope, sign};
use balas::fakes::providers::FakeProviders;
use serde_json::json;

#[allow(dead_code)] // this driver runs on SQLite only: the PostgreSQL helpers stay unused
mod common;

use common::server::Server;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    balas::crypto::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("media.db").display());
    let store = balas::store::connect(&sqlite).await?;
    store.migrate(None).await?;
    let (keys, [fernet, index, audit]) = common::fresh_keys_and_secrets()?;
    let now = balas::clock::Clock::now(&balas::clock::SystemClock);
    let business = balas::demo::seed(&*store, &keys, now).await?;
    store.close().await;
    let providers = FakeProviders::start().await?;
    let media_dir = dir.path().join("media");
    let env = vec![
        ("BALAS_DATABASE_URL".to_string(), sqlite.clone()),
        ("BALAS_FERNET_KEYS".to_string(), fernet),
        ("BALAS_INDEX_KEY".to_string(), index),
        ("BALAS_AUDIT_KEY".to_string(), audit),
        ("BALAS_META_GRAPH_URL".to_string(), providers.meta_url.clone()),
        ("BALAS_MEDIA_DIR".to_string(), media_dir.display().to_string()),
        ("BALAS_MEDIA_MAX_BYTES".to_string(), (64u64 << 20).to_string()),
        ("BALAS_FETCH_ALLOW_PRIVATE".to_string(), "true".to_string()),
    ];
    let workers = setting("BALAS_BENCH_WORKERS", 4) as usize;
    let (server, _) = Server::start(&env, workers).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, _) = server.rss_mib();
    let url = format!("{}/webhooks/meta/{}", server.base, business.channel.id);
    let db = sqlx::SqlitePool::connect(&sqlite).await?;
    let batch = Batch { url: &url, secret: &business.app_secret, providers: &providers, db: &db };

    let (count, mib) = (setting("BALAS_MEDIA_COUNT", 100) as usize, setting("BALAS_MEDIA_MIB", 1) as usize);
    let took = batch.run(0, count, mib << 20, ("image", "image/jpeg")).await?;
    let (_, peak) = server.rss_mib();
    let total = (count * mib) as f64;
    println!(
        "{count} images of {mib} MiB, {workers} workers: all stored in {:.2} s ({:.1} files/s, {:.1} MiB/s); idle RSS {idle:.1} MiB, peak {peak:.1} MiB (+{:.1})",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        total / took.as_secs_f64(),
        peak - idle
    );

    let (large, large_mib) = (setting("BALAS_LARGE_COUNT", 8) as usize, setting("BALAS_LARGE_MIB", 48) as usize);
    let took = batch.run(count, large, large_mib << 20, ("document", "application/pdf")).await?;
    let (_, peak) = server.rss_mib();
    println!(
        "{large} documents of {large_mib} MiB: all stored in {:.2} s ({:.1} MiB/s); peak RSS {peak:.1} MiB (+{:.1} over idle)",
        took.as_secs_f64(),
        (large * large_mib) as f64 / took.as_secs_f64(),
        peak - idle
    );
    server.stop();
    Ok(())
}

struct Batch<'a> {
    url: &'a str,
    secret: &'a str,
    providers: &'a FakeProviders,
    db: &'a sqlx::SqlitePool,
}

impl Batch<'_> {
    /// Sends `count` files of `bytes` each, one webhook per customer, and waits until every one is
    /// stored (its row committed after the sealed object was written); returns the time from
    /// the first webhook.
    async fn run(
        &self,
        offset: usize,
        count: usize,
        bytes: usize,
        (kind, mime): (&str, &str),
    ) -> anyhow::Result<Duration> {
        for i in offset..offset + count {
            // Distinct files: no deduplication shortens the run.
            let mut file = vec![(i % 251) as u8; bytes];
            file[..8].copy_from_slice(&(i as u64).to_be_bytes());
            self.providers.media.put_meta(&format!("BENCH{i}"), mime, &file);
        }
        let before = self.stored().await?;
        let http = reqwest::Client::new();
        let started = Instant::now();
        for i in offset..offset + count {
            let who = FakeCustomer {
                bsuid: None,
                phone: Some(format!("62812{:08}", 10_000 + i)),
                name: "Bench".into(),
                username: None,
            };
            let mut message = who.text(&format!("wamid.MEDIA{i}"), "", 1_767_225_600);
            message["type"] = kind.into();
            message[kind] = json!({ "id": format!("BENCH{i}"), "mime_type": mime });
            let body = serde_json::to_vec(&envelope(balas::demo::PHONE_NUMBER_ID, &[&who], vec![message], vec![]))?;
            let response = http
                .post(self.url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sign(self.secret, &body))
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(response.status().is_success(), "webhook answered {}", response.status());
        }
        while self.stored().await? < before + count as i64 {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "files were not all stored in 10 minutes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(started.elapsed())
    }
}

impl Batch<'_> {
    async fn stored(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM media_objects").fetch_one(self.db).await?)
    }
}
