//! What the load drivers share: a throw-away PostgreSQL database with a non-owner app role
//! (so row-level security is on, as in production), fresh keys, and percentiles.
use std::sync::Arc;
use std::time::Duration;

use balas::config::Keys;
use balas::crypto::{BlindIndex, Vault};
use balas::store::Store;

pub mod server;

pub const APP_ROLE: &str = "balas_bench_app";

/// A migrated database on the server at `admin_url`, served through the app role; dropped by
/// `drop_database`.
pub struct BenchDatabase {
    admin_url: String,
    name: String,
    pub store: Arc<dyn Store>,
    /// The app role's URL, for a `balas serve` process.
    #[allow(dead_code)] // not every driver starts the binary
    pub app_url: String,
    /// The owner's URL, for checks that bypass the app.
    #[allow(dead_code)] // not every driver checks as the owner
    pub owner_url: String,
}

impl BenchDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let admin = sqlx::PgPool::connect(admin_url).await?;
        let name = format!("balas_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
        let role = format!(
            "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        );
        sqlx::query(sqlx::AssertSqlSafe(role)).execute(&admin).await?;
        let mut owner = url::Url::parse(admin_url)?;
        owner.set_path(&name);
        let mut app = owner.clone();
        app.set_username(APP_ROLE).map_err(|_| anyhow::anyhow!("the URL takes no user name"))?;
        let migrator = balas::store::connect(owner.as_str()).await?;
        migrator.migrate(Some(APP_ROLE)).await?;
        migrator.close().await;
        let store = balas::store::connect(app.as_str()).await?;
        store.check_app_role().await?;
        Ok(Self {
            admin_url: admin_url.to_string(),
            name,
            store,
            app_url: app.to_string(),
            owner_url: owner.to_string(),
        })
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        self.store.close().await;
        let admin = sqlx::PgPool::connect(&self.admin_url).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await?;
        Ok(())
    }
}

#[allow(dead_code)] // drivers that start the binary use fresh_keys_and_secrets
pub fn fresh_keys() -> anyhow::Result<Keys> {
    Ok(fresh_keys_and_secrets()?.0)
}

/// Fresh keys and their encoded secrets (`BALAS_FERNET_KEYS`, `BALAS_INDEX_KEY`,
/// `BALAS_AUDIT_KEY`) for a process.
pub fn fresh_keys_and_secrets() -> anyhow::Result<(Keys, [String; 3])> {
    let (fernet, index, audit) =
        (balas::crypto::generate_key(), balas::crypto::generate_key(), balas::crypto::generate_key());
    let keys = Keys {
        vault: Arc::new(Vault::from_keys(&fernet.clone().into())?),
        index: Arc::new(BlindIndex::from_secret(&index.clone().into())?),
        audit: Arc::new(balas::audit::AuditKeys::from_secret(&audit.clone().into())?),
    };
    Ok((keys, [fernet, index, audit]))
}

/// The value at percentile `p` (nearest rank) of sorted durations, in milliseconds.
#[allow(dead_code)] // the fault drill reports no latencies
pub fn percentile_ms(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}
