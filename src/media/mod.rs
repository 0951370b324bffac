//! Customers' photos, voice notes and documents: fetched from the provider by a durable job,
//! sealed under the contact's data key, and kept in the media store.
//! - `cipher`: the streaming encryption and the per-contact dedup hash;
//! - `storage`: the directory or S3 bucket behind opendal;
//! - `fetch`: the job that downloads, checks and stores one message's attachments;
//! - `read`: an owner opening one, audited;
//! - `seal`: writing one object, for the fetch and the dashboard's upload;
//! - `sweep`: removes objects no row names.
use crate::domain::MessageKind;

pub mod cipher;
pub mod fetch;
pub mod links;
pub mod read;
pub mod seal;
pub mod storage;
pub mod sweep;

pub use storage::{MediaStorage, StorageError, StorageSettings};

use crate::channels::media_source::MediaSources;
use crate::fetch_guard::{Guard, Hosts};

/// What the media jobs and routes share: the store of sealed objects, the guarded client, where
/// each provider's bytes come from, and our size cap.
pub struct Media {
    pub storage: MediaStorage,
    pub guard: Guard,
    pub sources: MediaSources,
    pub max_bytes: u64,
}

impl Media {
    /// `provider_urls`: the Meta Graph, Twilio API and Fonnte API base URLs.
    pub fn new(settings: &MediaSettings, provider_urls: [&str; 3]) -> anyhow::Result<Self> {
        let [meta, twilio, fonnte] = provider_urls;
        Ok(Self {
            storage: MediaStorage::open(&settings.storage)?,
            guard: Guard::new(settings.allow_private, std::time::Duration::from_secs(600))?,
            sources: MediaSources {
                meta_base: meta.to_string(),
                twilio_base: twilio.to_string(),
                fonnte_base: fonnte.to_string(),
                extra_hosts: Hosts::new(&settings.extra_hosts),
            },
            max_bytes: settings.max_bytes,
        })
    }

    /// The plain bytes of a stored object, read and opened a megabyte at a time.
    pub async fn open(&self, key: &crate::crypto::DataKey, path: &str) -> Result<Vec<u8>, ReadError> {
        const READ: u64 = 1024 * 1024;
        let size = self.storage.size(path).await?;
        let mut opener = cipher::Opener::new(key, path)?;
        let mut plain = Vec::new();
        let mut offset = 0;
        while offset < size {
            let len = READ.min(size - offset);
            plain.extend(opener.push(&self.storage.read_range(path, offset, len).await?.to_vec())?);
            offset += len;
        }
        plain.extend(opener.finish()?);
        Ok(plain)
    }
}

impl Media {
    /// `open` for a job: the bytes, or `None` when retention or an erasure took the object; a
    /// storage error is retried, an object that does not open is not.
    pub async fn open_for_job(
        &self,
        key: &crate::crypto::DataKey,
        path: &str,
    ) -> Result<Option<Vec<u8>>, crate::jobs::JobFailure> {
        match self.open(key, path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ReadError::Storage(e)) if e.not_found() => Ok(None),
            Err(ReadError::Storage(_)) => Err(crate::jobs::JobFailure::Retryable("storage".into())),
            Err(ReadError::Sealed(e)) => Err(e.into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Tampered with, truncated, or its key is gone (erased).
    #[error("the object does not open")]
    Sealed(#[from] crate::crypto::CryptoError),
}

/// Limits on what is fetched; the provider's own per-kind limits apply below ours.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub storage: StorageSettings,
    /// Our cap on one file (`BALAS_MEDIA_MAX_BYTES`), below the provider's per-kind limits.
    pub max_bytes: u64,
    /// Hosts a media link may point to besides the providers' own (`BALAS_MEDIA_EXTRA_HOSTS`);
    /// a provider's credential never goes to them.
    pub extra_hosts: Vec<String>,
    /// Lets fetches reach private and loopback addresses, over plain http too
    /// (`BALAS_FETCH_ALLOW_PRIVATE`): for a local test setup only.
    pub allow_private: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            storage: StorageSettings::Dir("balas-media".into()),
            max_bytes: 16 * 1024 * 1024,
            extra_hosts: Vec::new(),
            allow_private: false,
        }
    }
}

/// The kind of file a MIME type names (a Twilio message's attachments may differ in kind).
pub fn kind_of(mime: &str) -> MessageKind {
    match essence(mime).as_str() {
        "image/webp" => MessageKind::Sticker,
        m if m.starts_with("image/") => MessageKind::Image,
        m if m.starts_with("audio/") => MessageKind::Audio,
        m if m.starts_with("video/") => MessageKind::Video,
        _ => MessageKind::Document,
    }
}

/// The WhatsApp limit for one kind of file (Meta's media reference; Twilio's are the same or lower).
pub fn provider_limit(kind: MessageKind) -> u64 {
    const MB: u64 = 1024 * 1024;
    match kind {
        MessageKind::Image => 5 * MB,
        MessageKind::Audio | MessageKind::Video => 16 * MB,
        MessageKind::Sticker => 500 * 1024,
        _ => 100 * MB,
    }
}

/// The MIME types balas accepts, by kind; anything else is refused before it is stored.
const ALLOWED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "audio/ogg",
    "audio/opus",
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "video/mp4",
    "video/3gpp",
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// The bare type of a declared MIME type (`audio/ogg; codecs=opus` → `audio/ogg`).
pub fn essence(mime: &str) -> String {
    mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

pub fn is_allowed(mime: &str) -> bool {
    ALLOWED.contains(&essence(mime).as_str())
}

/// The MIME type of a file extension (Fonnte sends an extension, not a type).
pub fn mime_of_extension(extension: &str) -> Option<&'static str> {
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "ogg" | "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_judged_by_their_essence() {
        assert!(is_allowed("audio/ogg; codecs=opus"));
        assert!(is_allowed("IMAGE/JPEG"));
        assert!(!is_allowed("application/x-msdownload"));
        assert!(!is_allowed("text/html"));
        assert_eq!(mime_of_extension("PDF"), Some("application/pdf"));
        assert_eq!(mime_of_extension("exe"), None);
    }
}
