//! Where sealed media objects live: a directory (the embedded default, beside the SQLite
//! database) or an S3-compatible bucket (for more than one instance), both through opendal.
//! Objects are named `m/{tenant}/{contact}/{object}`: ids only, so a path says nothing about
//! a person, and one contact's objects go with one prefix.
use std::time::Duration;

use opendal::{Buffer, ErrorKind, OperationContext, Operator, services};
use opendal_http_transport_reqwest::ReqwestTransport;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::domain::{ContactId, TenantId};

/// How media is stored, from `BALAS_MEDIA_DIR` or the `BALAS_S3_*` settings.
#[derive(Clone)]
pub enum StorageSettings {
    Dir(std::path::PathBuf),
    S3 {
        endpoint: Option<String>,
        bucket: String,
        region: String,
        access_key_id: Option<String>,
        secret_access_key: Option<SecretString>,
        /// A prefix inside the bucket, for a bucket shared with other data.
        root: String,
    },
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            Self::S3 { endpoint, bucket, region, root, .. } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("bucket", bucket)
                .field("region", region)
                .field("root", root)
                .finish_non_exhaustive(),
        }
    }
}

impl StorageSettings {
    /// The storage host for the sub-processor list (`None` for local storage).
    pub fn host(&self) -> Option<String> {
        match self {
            Self::Dir(_) => None,
            Self::S3 { endpoint: Some(e), .. } => {
                url::Url::parse(e).ok().and_then(|u| u.host_str().map(str::to_string))
            }
            Self::S3 { region, .. } => Some(format!("s3.{region}.amazonaws.com")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("media storage: {0}")]
pub struct StorageError(#[from] opendal::Error);

impl StorageError {
    pub fn not_found(&self) -> bool {
        self.0.kind() == ErrorKind::NotFound
    }
}

/// The media store: sealed objects by path. Cheap to clone.
#[derive(Clone)]
pub struct MediaStorage {
    op: Operator,
    /// Bytes gathered before each write: memory per upload stays near it.
    chunk: usize,
}

/// S3 takes multipart uploads in parts of at least 5 MiB (the last may be smaller).
const S3_PART: usize = 5 * 1024 * 1024;
/// A directory takes writes of any size.
const FILE_WRITE: usize = 256 * 1024;

impl MediaStorage {
    pub fn open(settings: &StorageSettings) -> Result<Self, StorageError> {
        let (op, chunk) = match settings {
            StorageSettings::Dir(dir) => {
                (Operator::new(services::Fs::default().root(&dir.to_string_lossy()))?, FILE_WRITE)
            }
            StorageSettings::S3 { endpoint, bucket, region, access_key_id, secret_access_key, root } => {
                let mut s3 = services::S3::default().bucket(bucket).region(region).root(root).disable_ec2_metadata();
                if let Some(endpoint) = endpoint {
                    s3 = s3.endpoint(endpoint);
                }
                if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
                    s3 = s3.access_key_id(id).secret_access_key(secret.expose_secret()).disable_config_load();
                }
                crate::crypto::install_crypto_provider();
                let client = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(120))
                    .build()
                    .map_err(|e| opendal::Error::new(ErrorKind::ConfigInvalid, "http client").set_source(e))?;
                let transport = opendal::HttpTransporter::new(ReqwestTransport::new(client));
                (Operator::new(s3)?.with_context(OperationContext::new().with_http_transport(transport)), S3_PART)
            }
        };
        Ok(Self { op, chunk })
    }

    pub fn path(tenant: TenantId, contact: ContactId, object: Uuid) -> String {
        format!("m/{}/{}/{object}", tenant.0, contact.0)
    }

    /// Every object of one tenant, for the sweeper.
    pub fn tenant_prefix(tenant: TenantId) -> String {
        format!("m/{}/", tenant.0)
    }

    /// Every object of one contact, for erasure.
    pub fn contact_prefix(tenant: TenantId, contact: ContactId) -> String {
        format!("m/{}/{}/", tenant.0, contact.0)
    }

    pub async fn writer(&self, path: &str) -> Result<opendal::Writer, StorageError> {
        Ok(self.op.writer_with(path).chunk(self.chunk).await?)
    }

    pub async fn size(&self, path: &str) -> Result<u64, StorageError> {
        Ok(self.op.stat(path).await?.content_length())
    }

    /// `len` sealed bytes from `offset`.
    pub async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Buffer, StorageError> {
        Ok(self.op.read_with(path).range(offset..offset + len).await?)
    }

    pub async fn delete(&self, path: &str) -> Result<(), StorageError> {
        Ok(self.op.delete(path).await?)
    }

    /// Deletes every object under `prefix` (a contact's, on erasure).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        Ok(self.op.delete_with(prefix).recursive(true).await?)
    }

    /// Every object path under `prefix`, for the sweeper.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let entries = self.op.list_with(prefix).recursive(true).await?;
        Ok(entries.into_iter().filter(|e| e.metadata().is_file()).map(|e| e.path().to_string()).collect())
    }
}
