//! The media settings of `serve` (and of any command that touches stored media).
use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;

use crate::config::{DatabaseArgs, secret};
use crate::media::{MediaSettings, StorageSettings};

#[derive(Clone, Args)]
pub struct MediaArgs {
    /// Directory for customers' media (sealed); default: `balas-media` beside the SQLite file.
    #[arg(long, env = "BALAS_MEDIA_DIR", global = true)]
    pub media_dir: Option<PathBuf>,
    /// Store media in this S3 bucket instead of a directory (for more than one instance).
    #[arg(long, env = "BALAS_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// An S3-compatible endpoint (MinIO, R2, …); unset: AWS.
    #[arg(long, env = "BALAS_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "BALAS_S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,
    #[arg(long, env = "BALAS_S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,
    #[arg(long, env = "BALAS_S3_SECRET_ACCESS_KEY", value_parser = secret, hide_env_values = true, hide = true, global = true)]
    pub s3_secret_access_key: Option<SecretString>,
    /// A prefix inside the bucket.
    #[arg(long, env = "BALAS_S3_ROOT", default_value = "/", global = true)]
    pub s3_root: String,
    /// Our cap on one file, in bytes; WhatsApp's own per-kind limits apply below it.
    #[arg(long, env = "BALAS_MEDIA_MAX_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub media_max_bytes: u64,
    /// Further hosts a provider's media link may lead to (comma-separated); never sent a credential.
    #[arg(long, env = "BALAS_MEDIA_EXTRA_HOSTS", value_delimiter = ',', global = true)]
    pub media_extra_hosts: Vec<String>,
    /// Let fetches reach private and loopback addresses, and use plain http: a local test setup only.
    #[arg(long, env = "BALAS_FETCH_ALLOW_PRIVATE", default_value_t = false, global = true)]
    pub fetch_allow_private: bool,
}

impl MediaArgs {
    pub fn settings(&self, db: &DatabaseArgs) -> MediaSettings {
        let storage = match &self.s3_bucket {
            Some(bucket) => StorageSettings::S3 {
                endpoint: self.s3_endpoint.clone(),
                bucket: bucket.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                root: self.s3_root.clone(),
            },
            None => StorageSettings::Dir(self.media_dir.clone().unwrap_or_else(|| beside_database(db))),
        };
        MediaSettings {
            storage,
            max_bytes: self.media_max_bytes.max(1),
            extra_hosts: self.media_extra_hosts.clone(),
            allow_private: self.fetch_allow_private,
        }
    }
}

/// `balas-media` in the SQLite file's directory, else in the working directory.
fn beside_database(db: &DatabaseArgs) -> PathBuf {
    let dir = db.sqlite_path().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default();
    dir.join("balas-media")
}
