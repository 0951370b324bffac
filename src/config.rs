//! Settings from flags and `BALAS_*` environment variables, and the resolution of secrets.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

use crate::audit::AuditKeys;
use crate::crypto::{self, BlindIndex, Vault};

/// Where the database lives, and which role manages its schema. URLs may carry passwords,
/// so they are held as secrets.
#[derive(Clone, clap::Args)]
pub struct DatabaseArgs {
    /// sqlite://FILE or postgres://APP_ROLE@HOST/DB
    #[arg(long, env = "BALAS_DATABASE_URL", default_value = "sqlite://balas.db", value_parser = secret, hide_env_values = true, global = true)]
    pub database_url: SecretString,
    /// PostgreSQL only: the schema owner, used by `migrate` and cross-tenant maintenance.
    #[arg(long, env = "BALAS_DATABASE_OWNER_URL", value_parser = secret, hide_env_values = true, global = true)]
    pub database_owner_url: Option<SecretString>,
}

pub(crate) fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

impl DatabaseArgs {
    pub fn url(&self) -> &str {
        self.database_url.expose_secret()
    }

    pub fn is_postgres(&self) -> bool {
        self.url().starts_with("postgres://") || self.url().starts_with("postgresql://")
    }

    /// The URL for operator commands: the owner where one is given.
    pub fn admin_url(&self) -> &str {
        match (&self.database_owner_url, self.is_postgres()) {
            (Some(owner), true) => owner.expose_secret(),
            _ => self.url(),
        }
    }

    /// The login role of the app URL, which `migrate` grants privileges to.
    pub fn app_role(&self) -> Option<String> {
        if !self.is_postgres() {
            return None;
        }
        url::Url::parse(self.url()).ok().map(|u| u.username().to_string()).filter(|u| !u.is_empty())
    }

    /// The SQLite file, when there is one (not for `sqlite::memory:`).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.url();
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
    }
}

/// Encryption and blind-index keys, from the environment (hidden from `--help`).
#[derive(Clone, clap::Args)]
pub struct KeyArgs {
    /// Comma-separated Fernet master keys; the first one encrypts.
    #[arg(long, env = "BALAS_FERNET_KEYS", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub fernet_keys: Option<SecretString>,
    /// Key for the HMAC blind index over phone numbers and BSUIDs.
    #[arg(long, env = "BALAS_INDEX_KEY", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub index_key: Option<SecretString>,
    /// Comma-separated HMAC keys for the audit chain; the first signs, the rest verify older rows.
    #[arg(long, env = "BALAS_AUDIT_KEY", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub audit_key: Option<SecretString>,
    /// Never generate development keys (1/true; the container image sets it): every key must be
    /// configured, so keys never land in the data volume beside the database they unlock.
    #[arg(long, env = "BALAS_FORBID_DEV_KEYS", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_value = "false", default_missing_value = "true", hide = true, global = true)]
    pub forbid_dev_keys: bool,
}

/// The resolved keys.
#[derive(Clone)]
pub struct Keys {
    pub vault: Arc<Vault>,
    pub index: Arc<BlindIndex>,
    pub audit: Arc<AuditKeys>,
}

impl KeyArgs {
    /// On SQLite, missing keys are generated into a 0600 file beside the database, with a loud
    /// warning. On PostgreSQL (many instances share one database), or with
    /// BALAS_FORBID_DEV_KEYS, they are required and nothing is generated, read or written.
    pub fn resolve(&self, db: &DatabaseArgs) -> anyhow::Result<Keys> {
        let (fernet, index) = match (&self.fernet_keys, &self.index_key) {
            (Some(f), Some(i)) => (f.clone(), i.clone()),
            (f, _) if db.is_postgres() || self.forbid_dev_keys => {
                let missing = if f.is_none() { "BALAS_FERNET_KEYS" } else { "BALAS_INDEX_KEY" };
                return Err(required(missing, db));
            }
            (f, i) => {
                let (gen_f, gen_i) = development_keys(db.sqlite_path().as_deref())?;
                (f.clone().unwrap_or(gen_f.into()), i.clone().unwrap_or(gen_i.into()))
            }
        };
        let vault = Vault::from_keys(&fernet).context("BALAS_FERNET_KEYS")?;
        let index = BlindIndex::from_secret(&index).context("BALAS_INDEX_KEY")?;
        let audit = self.audit_keys(db)?;
        Ok(Keys { vault: Arc::new(vault), index: Arc::new(index), audit: Arc::new(audit) })
    }

    /// Like the other keys: required on PostgreSQL, generated into `<database>.keys` on SQLite.
    fn audit_keys(&self, db: &DatabaseArgs) -> anyhow::Result<AuditKeys> {
        let secret = match &self.audit_key {
            Some(key) => key.clone(),
            None if db.is_postgres() || self.forbid_dev_keys => return Err(required("BALAS_AUDIT_KEY", db)),
            None => development_audit_key(db.sqlite_path().as_deref())?.into(),
        };
        AuditKeys::from_secret(&secret).context("BALAS_AUDIT_KEY")
    }
}

/// The refusal for a key that must be configured: why, and how to create one.
fn required(missing: &str, db: &DatabaseArgs) -> anyhow::Error {
    let why = if db.is_postgres() {
        "PostgreSQL deployments must set BALAS_FERNET_KEYS, BALAS_INDEX_KEY and BALAS_AUDIT_KEY"
    } else {
        "BALAS_FORBID_DEV_KEYS is set, so no development keys are generated or read from beside the database; set BALAS_FERNET_KEYS, BALAS_INDEX_KEY and BALAS_AUDIT_KEY, kept outside the data volume"
    };
    anyhow::anyhow!("missing required secret {missing}: {why} (create each with `balas keys generate`)")
}

/// The audit key from `<database>.keys`, added to that file when it has none yet (a file from
/// before audit keys, or none at all): existing unsigned chains are anchored under it.
fn development_audit_key(db_path: Option<&Path>) -> anyhow::Result<String> {
    development_secret(db_path, "BALAS_AUDIT_KEY", "audit key")
}

/// `BALAS_JWT_SECRET` when set; on SQLite without BALAS_FORBID_DEV_KEYS, one generated into
/// `<database>.keys` like the other development keys, so the dashboard's login works at once.
pub fn jwt_secret(
    given: Option<&SecretString>,
    db: &DatabaseArgs,
    forbid_dev_keys: bool,
) -> anyhow::Result<Option<SecretString>> {
    match given {
        Some(secret) => Ok(Some(secret.clone())),
        None if db.is_postgres() || forbid_dev_keys => Ok(None),
        None => Ok(Some(development_secret(db.sqlite_path().as_deref(), "BALAS_JWT_SECRET", "token secret")?.into())),
    }
}

/// The `NAME=` line of `<database>.keys`, appended (mode 0600) with a new key when missing,
/// with a loud warning; in memory only for an in-memory database.
fn development_secret(db_path: Option<&Path>, name: &str, what: &str) -> anyhow::Result<String> {
    let Some(db_path) = db_path else { return Ok(crypto::generate_key()) };
    let key_path = PathBuf::from(format!("{}.keys", db_path.display()));
    if key_path.exists() {
        let text = fs::read_to_string(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
        if let Some(key) = text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('='))) {
            return Ok(key.to_string());
        }
    }
    let key = crypto::generate_key();
    let mut options = fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&key_path).with_context(|| format!("writing {}", key_path.display()))?;
    file.write_all(format!("{name}={key}\n").as_bytes())?;
    file.sync_all()?;
    eprintln!("\n!!! WARNING: {name} is not set; using a DEVELOPMENT {what} ({}).\n", key_path.display());
    tracing::warn!(place = %key_path.display(), name, "using a generated development key; set it for production");
    Ok(key)
}

/// Loads or creates `<database>.keys`; for an in-memory database the keys live only in memory.
fn development_keys(db_path: Option<&Path>) -> anyhow::Result<(String, String)> {
    let Some(db_path) = db_path else {
        warn_development_keys("memory only");
        return Ok((crypto::generate_key(), crypto::generate_key()));
    };
    let key_path = PathBuf::from(format!("{}.keys", db_path.display()));
    if key_path.exists() {
        let text = fs::read_to_string(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
        let value = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::to_string)
        };
        match (value("BALAS_FERNET_KEYS"), value("BALAS_INDEX_KEY")) {
            (Some(f), Some(i)) => {
                warn_development_keys(&key_path.display().to_string());
                return Ok((f, i));
            }
            _ => bail!("{} exists but lacks BALAS_FERNET_KEYS or BALAS_INDEX_KEY", key_path.display()),
        }
    }
    // New keys for an existing database would make everything in it unreadable.
    if fs::metadata(db_path).is_ok_and(|m| m.len() > 0) {
        bail!(
            "{} exists but its key file {} is missing: restore the key file, or set BALAS_FERNET_KEYS and BALAS_INDEX_KEY to the keys it was written with",
            db_path.display(),
            key_path.display()
        );
    }
    let (f, i) = (crypto::generate_key(), crypto::generate_key());
    write_private(&key_path, &format!("BALAS_FERNET_KEYS={f}\nBALAS_INDEX_KEY={i}\n"))?;
    warn_development_keys(&key_path.display().to_string());
    Ok((f, i))
}

pub(crate) fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn warn_development_keys(place: &str) {
    let banner = format!(
        "\n!!! WARNING: BALAS_FERNET_KEYS / BALAS_INDEX_KEY are not set.\n\
         !!! Using DEVELOPMENT keys ({place}). Anyone holding them can read every stored message.\n\
         !!! For production, create keys with `balas keys generate` and set both variables.\n"
    );
    eprintln!("{banner}");
    tracing::warn!(place, "using generated development keys; set BALAS_FERNET_KEYS and BALAS_INDEX_KEY for production");
}
