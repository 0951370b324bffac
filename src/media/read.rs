//! An owner or staff member opening a customer's attachment: the row of their own tenant,
//! opened with that contact's key, and the read audited naming the reader, like a
//! conversation read.
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::core::Core;
use crate::usecase::{UseCaseError, UseCaseResult};

/// One opened attachment.
pub struct MediaFile {
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

fn not_found() -> UseCaseError {
    UseCaseError::NotFound { code: "media_not_found", detail: "no such attachment".into() }
}

pub async fn read_attachment(core: &Core, caller: &Caller, actor: &str, id: Uuid) -> UseCaseResult<MediaFile> {
    caller.require_content_access()?;
    let now = core.clock.now();
    let mut tx = core.store.begin(caller.tenant).await?;
    let media = tx.media(id).await?.ok_or_else(not_found)?;
    let contact = tx.contact(media.contact_id).await?.ok_or_else(not_found)?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(|e| UseCaseError::Fault(e.to_string()))?;
    let bytes = core.media.open(&key, &media.object_key).await.map_err(|e| UseCaseError::Fault(e.to_string()))?;
    let entry = AuditEntry::new(actor, "media.read", "message", Some(media.message_id.to_string())).detail(
        json!({ "media": media.id, "part": media.part, "mime_type": media.mime_type, "token": caller.token_id }),
    );
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(MediaFile { mime_type: media.mime_type, bytes })
}
