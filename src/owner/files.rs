//! An owner's photo, document or voice note for a customer. From WhatsApp, ingest keeps its kind
//! and the provider's references with the owner's message (under the tenant key); when the
//! caption or the quoted notice names a ticket, it becomes an outbound message to that ticket's
//! customer whose file the `media_fetch` job stores under the customer's key before it is sent.
//! From the dashboard, the file is sealed on upload and the message is sent at once.
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, DataKey};
use crate::domain::{InboundMessage, MessageKind, MessageMeta};

/// The file of an owner's message to the business number, besides its caption.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderFile {
    kind: String,
    meta: MessageMeta,
}

impl ProviderFile {
    pub fn kind(&self) -> MessageKind {
        MessageKind::from_code(&self.kind).unwrap_or(MessageKind::Document)
    }

    /// The provider's references to the file, for the fetch (captions and groups left out).
    pub fn meta(&self) -> &MessageMeta {
        &self.meta
    }

    /// Sealed for `owner_messages.meta_enc`: a message with a file the provider gave a reference for.
    pub fn seal(m: &InboundMessage, key: &DataKey) -> Option<String> {
        if !m.kind.is_media() || m.kind == MessageKind::Sticker || m.meta.media_ref.is_none() {
            return None;
        }
        let meta = MessageMeta { group: None, button: None, template: None, ..m.meta.clone() };
        let file = Self { kind: m.kind.as_str().to_string(), meta };
        serde_json::to_string(&file).ok().map(|json| key.encrypt(&json))
    }

    pub fn open(sealed: Option<&str>, key: &DataKey) -> Result<Option<Self>, CryptoError> {
        match key.decrypt_opt(sealed)? {
            Some(json) => serde_json::from_str(&json).map(Some).map_err(|_| CryptoError::Undecryptable),
            None => Ok(None),
        }
    }
}

impl std::fmt::Debug for ProviderFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderFile").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A file sealed into the media store on upload, not yet recorded (`owner::attach`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedFile {
    pub path: String,
    pub content_hash: String,
    /// The plain SHA-256 (hex), encrypted under the customer's key.
    pub sha256_enc: String,
    pub mime_type: String,
    pub size: i64,
}

/// Where the file of an owner's reply comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// On the provider: fetched under the customer's key, then sent.
    Provider(ProviderFile),
    /// Already sealed under the customer's key (a dashboard upload).
    Sealed(SealedFile),
}

/// An owner's file for a ticket's customer, with its caption (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReply {
    pub kind: MessageKind,
    pub caption: String,
    pub source: FileSource,
}

/// WhatsApp's longest caption (its app allows no more); a longer one is refused.
pub const MAX_CAPTION_CHARS: usize = 1024;
