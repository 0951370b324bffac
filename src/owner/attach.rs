//! An owner's file attached to a reply on the dashboard: its type checked, its bytes sealed under
//! the ticket's customer's key as they arrive (within WhatsApp's limit for its kind, ours and
//! the tenant's daily cap), then sent through `tickets::apply` like any reply.
use super::desk::{Acted, act_on_ticket, not_found};
use super::files::{FileReply, FileSource, MAX_CAPTION_CHARS, SealedFile};
use super::{Action, ActionError};
use crate::auth::Caller;
use crate::core::Core;
use crate::domain::{EscalationId, MessageKind};
use crate::media::seal::{SealingWriter, WriteError};
use crate::media::{MediaStorage, is_allowed, kind_of, provider_limit};
use crate::usecase::{UseCaseError, UseCaseResult};

/// The file's bytes, piece by piece, as the request brings them.
#[async_trait::async_trait]
pub trait Chunks: Send {
    /// The next piece; `None` at the end. The error is a short class.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, &'static str>;
}

/// A file an owner attached: its declared type, its caption, and its bytes.
pub struct Attached<'a> {
    pub mime_type: &'a str,
    pub caption: &'a str,
    pub chunks: &'a mut dyn Chunks,
}

/// Seals the file under the customer's key and sends it on the ticket; the action is audited
/// like a reply, naming `actor`. A refused file leaves nothing in the media store.
pub async fn send_file(
    core: &Core,
    caller: &Caller,
    actor: &str,
    ticket: EscalationId,
    file: Attached<'_>,
) -> UseCaseResult<Acted> {
    let mime_type = crate::media::essence(file.mime_type);
    if !is_allowed(&mime_type) {
        return Err(UseCaseError::invalid("file_type_refused", "this type of file cannot be sent on WhatsApp"));
    }
    // A WebP goes as a sticker (WhatsApp's only use of it), within the sticker's limit.
    let kind = kind_of(&mime_type);
    // WhatsApp shows no caption on audio or a sticker: it would be lost.
    if matches!(kind, MessageKind::Audio | MessageKind::Sticker) && !file.caption.trim().is_empty() {
        return Err(UseCaseError::invalid(
            "caption_not_shown",
            "audio and stickers take no caption on WhatsApp; send the text as a reply",
        ));
    }
    if file.caption.chars().count() > MAX_CAPTION_CHARS {
        return Err(super::desk::refusal(ActionError::CaptionTooLong));
    }
    let now = core.clock.now();
    let mut tx = core.store.begin_read(caller.tenant).await?;
    let found = tx.escalation(ticket).await?.ok_or_else(not_found)?;
    let contact = tx.contact(found.contact_id).await?.ok_or_else(not_found)?;
    let tenant = tx.tenant().await?.ok_or_else(not_found)?;
    let cap = tenant.settings.daily_media_bytes_cap;
    let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let used = if cap > 0 { tx.media_bytes_since(today).await? } else { 0 };
    tx.commit().await?;
    if found.closed_at.is_some() {
        return Err(super::desk::refusal(ActionError::Closed));
    }
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(crate::store::StoreError::from)?;
    let mut limit = core.media.max_bytes.min(provider_limit(kind));
    if cap > 0 {
        limit = limit.min(u64::try_from(cap - used).unwrap_or(0));
    }

    let path = MediaStorage::path(caller.tenant, contact.id, crate::media::sweep::object_id(now));
    let mut writer = SealingWriter::create(&core.media.storage, &key, path).await.map_err(fault)?;
    let streamed = async {
        while let Some(chunk) = file.chunks.next_chunk().await.map_err(|why| UseCaseError::invalid(why, why))? {
            if writer.size() + chunk.len() as u64 > limit {
                let message = format!("the file is larger than the {limit} bytes allowed");
                return Err(UseCaseError::invalid("file_too_large", message));
            }
            writer.push(&chunk).await.map_err(fault)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = streamed {
        writer.abort(&core.media.storage).await;
        return Err(e);
    }
    let written = writer.finish().await.map_err(fault)?;
    if written.size == 0 {
        let _ = core.media.storage.delete(&written.path).await;
        return Err(UseCaseError::invalid("file_empty", "the file is empty"));
    }
    let sealed = SealedFile {
        path: written.path.clone(),
        content_hash: written.content_hash,
        sha256_enc: key.encrypt(&hex::encode(written.sha256)),
        mime_type,
        size: i64::try_from(written.size).unwrap_or(i64::MAX),
    };
    let reply = FileReply { kind, caption: file.caption.trim().to_string(), source: FileSource::Sealed(sealed) };
    let acted = act_on_ticket(core, caller, actor, ticket, Action::SendFile(Box::new(reply))).await;
    if acted.is_err() {
        let _ = core.media.storage.delete(&written.path).await; // no row names it
    }
    acted
}

fn fault(e: WriteError) -> UseCaseError {
    tracing::warn!(error = %e, "storing an owner's file failed");
    UseCaseError::Fault("media_storage".into())
}
