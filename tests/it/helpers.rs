//! The test harness: `TestApp` runs the real server on port 0 against a fresh SQLite file or a
//! fresh PostgreSQL database (as a non-owner app role), with a fake Graph API and a manual clock.
use std::sync::Arc;
use std::sync::Once;

use balas::app::{AppConfig, AppState};
use balas::channels::ChannelSecrets;
use balas::channels::fonnte::FonnteSecrets;
use balas::channels::twilio::TwilioSecrets;
use balas::clock::{Clock, ManualClock};
use balas::config::Keys;
use balas::crypto::{self, BlindIndex, Vault};
use balas::domain::Provider;
use balas::fakes::llm::FakeLlm;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::FakeProviders;
use balas::llm::{LlmEndpoint, LlmSettings};
use balas::store::{self, ChannelRecord, TenantRecord};
use balas::tenants;
use balas::worker::Worker;
use serde_json::Value;
use sqlx::{PgPool, SqlitePool};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::media_helpers::TestStorage;

pub use balas::demo::PHONE_NUMBER_ID;
pub const APP_ROLE: &str = "balas_app";
pub const TWILIO_ACCOUNT: &str = "ACccec30b8f64bfa44a6dc60d2a447f5c5";
pub const TWILIO_FROM: &str = "whatsapp:+14155238886";
pub const FONNTE_DEVICE: &str = "6281100001111";
pub const FONNTE_TOKEN: &str = "fonnte-device-token";
pub const JWT_SECRET: &str = "test-jwt-secret-of-at-least-32-bytes!!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Direct database access for assertions, as the owner (bypassing the app's code paths).
pub enum Inspector {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Inspector {
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        match self {
            Self::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect(sql),
            Self::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect(sql),
        }
    }

    pub async fn text(&self, sql: &'static str) -> Option<String> {
        match self {
            Self::Sqlite(p) => sqlx::query_scalar(sql).fetch_optional(p).await.expect(sql),
            Self::Postgres(p) => sqlx::query_scalar(sql).fetch_optional(p).await.expect(sql),
        }
    }

    pub async fn execute(&self, sql: &'static str) {
        match self {
            Self::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).expect(sql),
            Self::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).expect(sql),
        }
    }

    /// Several statements at once, as a migration file holds them.
    pub async fn script(&self, sql: &'static str) {
        match self {
            Self::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()).expect(sql),
            Self::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()).expect(sql),
        }
    }
}

pub struct TestApp {
    pub db: Db,
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub providers: FakeProviders,
    pub tenant: TenantRecord,
    pub channel: ChannelRecord,
    pub app_secret: String,
    pub verify_token: String,
    pub http: reqwest::Client,
    pub worker: Worker,
    pub inspect: Inspector,
    /// Environment for running the `balas` binary against this database.
    pub cli_env: Vec<(String, String)>,
    pub sqlite_path: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
    _dir: Option<tempfile::TempDir>,
    _media_dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

impl TestApp {
    pub async fn spawn(db: Db) -> Option<Self> {
        Self::spawn_at(db, chrono::Utc::now()).await
    }

    /// With the manual clock starting at `start` (e.g. in the past, where the database's own
    /// clock must agree that rows are old).
    pub async fn spawn_at(db: Db, start: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        Self::spawn_storing(db, TestStorage::Dir, start).await
    }

    /// With customers' media in a directory or on the S3-compatible test server.
    pub async fn spawn_storing(db: Db, storage: TestStorage, start: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        match db {
            Db::Sqlite => Some(Self::spawn_sqlite(start, storage).await),
            Db::Postgres => Self::spawn_postgres(start, storage).await,
        }
    }

    async fn spawn_sqlite(start: chrono::DateTime<chrono::Utc>, storage: TestStorage) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("balas.db");
        let url = format!("sqlite://{}", path.display());
        let store = store::connect(&url).await.expect("sqlite store");
        store.migrate(None).await.expect("sqlite migrate");
        let inspect = Inspector::Sqlite(SqlitePool::connect(&url).await.expect("inspector"));
        let env = vec![("BALAS_DATABASE_URL".to_string(), url)];
        let mut app = Self::start(Db::Sqlite, store, inspect, env, None, (start, storage)).await;
        app.sqlite_path = Some(path);
        app._dir = Some(dir);
        app
    }

    /// PostgreSQL variants are ignored at compile time when no database is configured (build.rs),
    /// so one that runs without `BALAS_TEST_POSTGRES_URL` fails instead of passing unrun.
    async fn spawn_postgres(start: chrono::DateTime<chrono::Utc>, storage: TestStorage) -> Option<Self> {
        let Ok(admin_url) = std::env::var("BALAS_TEST_POSTGRES_URL") else {
            panic!(
                "BALAS_TEST_POSTGRES_URL is not set, but this PostgreSQL test was built to run (the variable was set, or CI=true, at build time)"
            );
        };
        let pg = PgDatabase::create(&admin_url).await;
        let store = store::connect(&pg.owner_url).await.expect("owner store");
        store.migrate(Some(APP_ROLE)).await.expect("postgres migrate");
        store.close().await;
        let app_store = store::connect(&pg.app_url).await.expect("app store");
        app_store.check_app_role().await.expect("the test app role must not bypass RLS");
        let inspect = Inspector::Postgres(PgPool::connect(&pg.owner_url).await.expect("inspector"));
        let env = vec![
            ("BALAS_DATABASE_URL".to_string(), pg.app_url.clone()),
            ("BALAS_DATABASE_OWNER_URL".to_string(), pg.owner_url.clone()),
        ];
        Some(Self::start(Db::Postgres, app_store, inspect, env, Some(pg), (start, storage)).await)
    }

    async fn start(
        db: Db,
        store: Arc<dyn store::Store>,
        inspect: Inspector,
        mut cli_env: Vec<(String, String)>,
        pg: Option<PgDatabase>,
        (start, storage): (chrono::DateTime<chrono::Utc>, TestStorage),
    ) -> Self {
        init_logs();
        let media_dir = tempfile::tempdir().expect("media dir");
        let (fernet, index, audit) = (crypto::generate_key(), crypto::generate_key(), crypto::generate_key());
        cli_env.push(("BALAS_FERNET_KEYS".into(), fernet.clone()));
        cli_env.push(("BALAS_INDEX_KEY".into(), index.clone()));
        cli_env.push(("BALAS_AUDIT_KEY".into(), audit.clone()));
        let keys = Keys {
            vault: Arc::new(Vault::from_keys(&fernet.into()).expect("vault")),
            index: Arc::new(BlindIndex::from_secret(&index.into()).expect("index")),
            audit: Arc::new(balas::audit::AuditKeys::from_secret(&audit.into()).expect("audit key")),
        };
        let providers = FakeProviders::start().await.expect("fake providers");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = Arc::new(ManualClock::new(start));
        let config = AppConfig {
            workers: 0,
            meta_graph_url: providers.meta_url.clone(),
            twilio_api_url: providers.twilio_url.clone(),
            fonnte_api_url: providers.fonnte_url.clone(),
            public_url: base.clone(),
            max_attempts: 4,
            jwt_secret: Some(JWT_SECRET.into()),
            media: storage.settings(media_dir.path(), &mut cli_env).await,
            ..AppConfig::default()
        };
        let state = AppState::new(store.clone(), keys.clone(), config, clock.clone()).expect("state");
        let shutdown = CancellationToken::new();
        tokio::spawn(balas::app::serve(listener, state.clone(), shutdown.clone()));

        let now = clock.now();
        let business = balas::demo::seed(&*store, &keys, now).await.expect("seed the demo business");
        let balas::demo::DemoBusiness { tenant, channel, app_secret, verify_token, .. } = business;
        let worker = state.worker("test");
        Self {
            db,
            base,
            state,
            clock,
            providers,
            tenant,
            channel,
            app_secret,
            verify_token,
            http: reqwest::Client::new(),
            worker,
            inspect,
            cli_env,
            sqlite_path: None,
            shutdown,
            _dir: None,
            _media_dir: media_dir,
            pg,
        }
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/meta/{}", self.base, self.channel.id)
    }

    /// POSTs `body` to `url` with the given signature header (none when `None`).
    pub async fn post_raw(&self, url: &str, body: Vec<u8>, signature: Option<String>) -> reqwest::Response {
        let mut request = self.http.post(url).header("content-type", "application/json").body(body);
        if let Some(sig) = signature {
            request = request.header("x-hub-signature-256", sig);
        }
        request.send().await.expect("request")
    }

    /// POSTs a correctly signed webhook to this app's channel.
    pub async fn send_webhook(&self, payload: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(payload).expect("json");
        let signature = meta_webhook::sign(&self.app_secret, &body);
        self.post_raw(&self.webhook_url(), body, Some(signature)).await
    }

    /// A webhook with one text message from `customer`.
    pub fn text(&self, customer: &FakeCustomer, wamid: &str, body: &str) -> Value {
        let message = customer.text(wamid, body, self.clock.now().timestamp());
        meta_webhook::envelope(PHONE_NUMBER_ID, &[customer], vec![message], vec![])
    }

    /// Connects a Twilio number to the tenant; returns the channel and its auth token.
    pub async fn twilio_channel(&self) -> (ChannelRecord, String) {
        let token = crypto::random_token();
        let secrets = ChannelSecrets::Twilio(TwilioSecrets {
            account_sid: TWILIO_ACCOUNT.into(),
            auth_token: token.clone().into(),
        });
        (self.add_channel(Provider::Twilio, TWILIO_FROM, &secrets).await, token)
    }

    /// Connects a Fonnte device to the tenant; returns the channel and its webhook URL.
    pub async fn fonnte_channel(&self, webhook_key: Option<&str>) -> (ChannelRecord, String) {
        let secrets = ChannelSecrets::Fonnte(FonnteSecrets {
            token: FONNTE_TOKEN.into(),
            webhook_secret: crypto::random_token().into(),
            webhook_key: webhook_key.map(Into::into),
        });
        let channel = self.add_channel(Provider::Fonnte, FONNTE_DEVICE, &secrets).await;
        let url = balas::channels::printed_webhook_url(&self.base, &channel, &secrets);
        (channel, url)
    }

    async fn add_channel(&self, provider: Provider, address: &str, secrets: &ChannelSecrets) -> ChannelRecord {
        tenants::add_channel(
            &*self.state.store,
            &self.state.keys,
            self.tenant.id,
            provider,
            address,
            secrets,
            self.clock.now(),
        )
        .await
        .expect("channel")
    }

    /// POSTs a form to the Twilio route, signed with `token` over our public URL.
    pub async fn post_twilio(
        &self,
        channel: &ChannelRecord,
        params: &[(&str, &str)],
        token: &str,
    ) -> reqwest::Response {
        let url = format!("{}/webhooks/twilio/{}", self.base, channel.id);
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let signature = balas::ingress::twilio::signature(token, &url, &owned);
        self.http.post(&url).header("x-twilio-signature", signature).form(params).send().await.expect("request")
    }

    /// A worker whose configuration differs from the app's by `tune`.
    pub fn worker_with(&self, tune: impl FnOnce(&mut AppConfig)) -> Worker {
        let mut config = (*self.state.config).clone();
        tune(&mut config);
        let state = AppState::new(self.state.store.clone(), self.state.keys.clone(), config, self.clock.clone())
            .expect("state");
        state.worker("tuned")
    }

    /// A bearer token for `tenant` with `role`, valid for an hour on the fake clock.
    pub fn token(&self, tenant: balas::domain::TenantId, role: balas::api::auth::Role) -> String {
        let keys = balas::api::auth::TokenKeys::new(&JWT_SECRET.into()).expect("keys");
        let now = self.clock.now();
        let claims = balas::api::auth::Claims {
            sub: "dashboard".into(),
            tenant_id: tenant,
            role,
            iat: now.timestamp(),
            exp: (now + chrono::Duration::hours(1)).timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        keys.issue(&claims).expect("token")
    }

    /// Approves a template in the fake provider's account (Meta: name in Bahasa Indonesia;
    /// Twilio: the content SID) and records it on the channel, as the operator does.
    pub fn approve_template(&self, channel: &ChannelRecord, purpose: &str, name: &str, parameters: usize) {
        let language = if channel.provider == "twilio" { "" } else { "id" };
        self.providers.set_template(name, language, parameters, balas::fakes::providers::TemplateStatus::Approved);
        let id = channel.id.to_string();
        let args = ["template", "set", "--tenant", &self.tenant.slug, "--channel", &id, "--purpose", purpose];
        let set = self.cli(&[&args[..], &["--name", name, "--status", "approved"]].concat());
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    }

    /// Registers an owner number (digits without `+`) for the test tenant.
    pub async fn add_owner(&self, digits: &str, email: Option<&str>) {
        let phone = balas::domain::Phone::parse(digits).expect("owner phone");
        balas::owner::add_owner(
            &*self.state.store,
            &self.state.keys,
            self.tenant.id,
            &phone,
            email,
            "test",
            self.clock.now(),
        )
        .await
        .expect("owner");
    }

    /// What the fake providers were asked to send to `recipient` (digits), in order.
    pub fn sent_to(&self, recipient: &str) -> Vec<String> {
        self.providers
            .received()
            .into_iter()
            .filter(|r| r.recipient() == recipient)
            .map(|r| r.text().to_string())
            .collect()
    }

    /// A worker whose state talks to the given fake LLMs (primary first, then fallbacks).
    pub fn llm_worker(&self, fakes: &[&FakeLlm], tune: impl FnOnce(&mut LlmSettings)) -> Worker {
        let endpoints = fakes
            .iter()
            .enumerate()
            .map(|(i, f)| LlmEndpoint {
                base_url: f.base_url.clone(),
                model: format!("test-model-{i}"),
                api_key: "test-llm-key".into(),
            })
            .collect();
        let mut settings = LlmSettings::new(endpoints);
        settings.timeout = std::time::Duration::from_secs(2);
        settings.deadline = std::time::Duration::from_secs(10);
        tune(&mut settings);
        let config = AppConfig { llm: Some(settings), ..(*self.state.config).clone() };
        let state = AppState::new(self.state.store.clone(), self.state.keys.clone(), config, self.clock.clone())
            .expect("state");
        state.worker("llm")
    }

    pub async fn drain(&self) -> usize {
        self.worker.run_until_idle().await.expect("worker")
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        let sql: &'static str = match table {
            "messages" => "SELECT COUNT(*) FROM messages",
            "inbound" => "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
            "outbound" => "SELECT COUNT(*) FROM messages WHERE direction = 'out'",
            "jobs" => "SELECT COUNT(*) FROM jobs",
            "respond_jobs" => "SELECT COUNT(*) FROM jobs WHERE kind = 'respond'",
            "contacts" => "SELECT COUNT(*) FROM contacts",
            "conversations" => "SELECT COUNT(*) FROM conversations",
            "audit_log" => "SELECT COUNT(*) FROM audit_log",
            "media_objects" => "SELECT COUNT(*) FROM media_objects",
            other => panic!("no count query for {other}"),
        };
        self.inspect.scalar(sql).await
    }

    /// One API call with a bearer token; the status and the JSON body (`Null` when there is none).
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            "PUT" => self.http.put(&url),
            "PATCH" => self.http.patch(&url),
            "DELETE" => self.http.delete(&url),
            other => panic!("no such method {other}"),
        }
        .bearer_auth(token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("api call");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// A second server on the same database and clock whose configuration differs by `tune`;
    /// it stops when the returned value is dropped.
    pub async fn serve_with(&self, tune: impl FnOnce(&mut AppConfig)) -> Tuned {
        self.serve_on(self.state.store.clone(), tune).await
    }

    /// `serve_with`, through `store` (e.g. a wrapper around this app's store that counts calls).
    pub async fn serve_on(&self, store: Arc<dyn store::Store>, tune: impl FnOnce(&mut AppConfig)) -> Tuned {
        let mut config = (*self.state.config).clone();
        tune(&mut config);
        let state = AppState::new(store, self.state.keys.clone(), config, self.clock.clone()).expect("tuned state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        tokio::spawn(balas::app::serve(listener, state, stop.clone()));
        Tuned { base, stop }
    }

    /// Runs the `balas` binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with(&[], args)
    }

    /// Runs the `balas` binary with some environment variables replaced.
    pub fn cli_with(&self, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
            .args(args)
            .env_clear()
            .envs(self.cli_env.iter().cloned())
            .envs(env.iter().copied())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run balas")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(pg) = self.pg.take() {
            pg.drop_blocking();
        }
    }
}

/// A second server from `TestApp::serve_with`.
pub struct Tuned {
    pub base: String,
    stop: CancellationToken,
}

impl Drop for Tuned {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn customer(n: u32) -> FakeCustomer {
    FakeCustomer {
        bsuid: Some(format!("ID.{:020}", 48291038475610293u64 + n as u64)),
        phone: Some(format!("628123456{n:04}")),
        name: format!("Pelanggan {n}"),
        username: None,
    }
}

/// Customer `n`'s text message as a provider parser hands it to ingest.
pub fn inbound_text(n: u32, wamid: &str) -> balas::domain::InboundMessage {
    use balas::domain::{Bsuid, CustomerIdentity, InboundMessage, MessageKind, MessageMeta, Phone};
    let who = customer(n);
    InboundMessage {
        provider_message_id: wamid.into(),
        from: CustomerIdentity {
            bsuid: who.bsuid.as_deref().map(|b| Bsuid::parse(b).expect("bsuid")),
            phone: who.phone.as_deref().map(|p| Phone::parse(p).expect("phone")),
            username: None,
            name: Some(who.name.clone()),
        },
        kind: MessageKind::Text,
        body: Some("Jam buka kapan?".into()),
        meta: MessageMeta::default(),
        sent_at: None,
        quoted: None,
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            balas::logging::init(balas::logging::LogFormat::Pretty, "debug");
        }
    });
}

/// A throw-away database on the test server, dropped when the test ends.
struct PgDatabase {
    admin_url: String,
    name: String,
    owner_url: String,
    app_url: String,
}

impl PgDatabase {
    async fn create(admin_url: &str) -> Self {
        let admin = PgPool::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at BALAS_TEST_POSTGRES_URL is unreachable: {e}"));
        let name = format!("balas_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        // Roles are cluster-wide; parallel tests may race to create it.
        let role = format!(
            "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        );
        sqlx::query(sqlx::AssertSqlSafe(role)).execute(&admin).await.expect("create app role");
        admin.close().await;
        let mut owner = url::Url::parse(admin_url).expect("BALAS_TEST_POSTGRES_URL is not a URL");
        owner.set_path(&name);
        let mut app = owner.clone();
        app.set_username(APP_ROLE).expect("username");
        app.set_password(None).expect("password");
        Self { admin_url: admin_url.to_string(), name, owner_url: owner.to_string(), app_url: app.to_string() }
    }

    fn drop_blocking(self) {
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = PgPool::connect(&self.admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await {
                    body(app).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await {
                    body(app).await
                }
            }
        }
    )*};
}

/// Declares a test of PostgreSQL-only guarantees (RLS, roles, triggers).
#[macro_export]
macro_rules! on_postgres {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run this PostgreSQL test")]
        async fn $name() {
            if let Some($app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await $body
        }
    )*};
}
