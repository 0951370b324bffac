//! Writing one object: bytes sealed as they arrive (never more than a segment and an upload
//! part in memory), with the per-contact dedup hash and the plain SHA-256 taken on the way.
//! The provider fetch and the dashboard's upload both write through it.
use hmac::Mac;
use hmac::digest::Output;
use sha2::{Digest, Sha256};

use super::MediaStorage;
use super::cipher::{Sealer, dedup_hasher};
use crate::crypto::{CryptoError, DataKey};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Storage(#[from] super::StorageError),
    #[error("the object could not be sealed")]
    Sealed(#[from] CryptoError),
}

impl From<opendal::Error> for WriteError {
    fn from(e: opendal::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// An object being written at `path`; `abort` or `finish` it.
pub struct SealingWriter {
    path: String,
    sealer: Sealer,
    keyed: hmac::Hmac<Sha256>,
    plain: Sha256,
    writer: opendal::Writer,
    size: u64,
}

/// A written object: where, its keyed hash (hex), its plain SHA-256, and its plain size.
pub struct Written {
    pub path: String,
    pub content_hash: String,
    pub sha256: Output<Sha256>,
    pub size: u64,
}

impl SealingWriter {
    pub async fn create(storage: &MediaStorage, key: &DataKey, path: String) -> Result<Self, WriteError> {
        let (sealer, header) = Sealer::new(key, &path)?;
        let mut writer = storage.writer(&path).await?;
        writer.write(header).await?;
        Ok(Self { keyed: dedup_hasher(key)?, plain: Sha256::new(), sealer, writer, size: 0, path })
    }

    /// Plain bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), WriteError> {
        self.size += chunk.len() as u64;
        self.keyed.update(chunk);
        self.plain.update(chunk);
        let sealed = self.sealer.push(chunk)?;
        if !sealed.is_empty() {
            self.writer.write(sealed).await?;
        }
        Ok(())
    }

    /// Gives up and removes what was written; what a failure leaves, the sweeper removes.
    pub async fn abort(mut self, storage: &MediaStorage) {
        let _ = self.writer.abort().await;
        let _ = storage.delete(&self.path).await;
    }

    pub async fn finish(mut self) -> Result<Written, WriteError> {
        self.writer.write(self.sealer.finish()?).await?;
        self.writer.close().await?;
        Ok(Written {
            path: self.path,
            content_hash: hex::encode(self.keyed.finalize().into_bytes()),
            sha256: self.plain.finalize(),
            size: self.size,
        })
    }
}
