//! Opening a customer's attachment: by an owner or staff member (the row of their own tenant,
//! the read audited naming the reader, like a conversation read), or by a provider through a
//! signed link, to deliver it to an owner (audited `media.served`).
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::core::Core;
use crate::domain::TenantId;
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
    let detail = json!({ "token": caller.token_id });
    open_audited(core, caller.tenant, id, (actor, "media.read", detail)).await
}

/// A provider fetching a file through a signed link, to deliver it to an owner.
pub async fn read_by_link(core: &Core, tenant: TenantId, id: Uuid) -> UseCaseResult<MediaFile> {
    open_audited(core, tenant, id, ("provider", "media.served", json!({}))).await
}

/// Opens one attachment of `tenant` and audits the read as `action` by `actor`.
async fn open_audited(
    core: &Core,
    tenant: TenantId,
    id: Uuid,
    (actor, action, mut detail): (&str, &'static str, serde_json::Value),
) -> UseCaseResult<MediaFile> {
    let now = core.clock.now();
    let mut tx = core.store.begin(tenant).await?;
    let media = tx.media(id).await?.ok_or_else(not_found)?;
    let contact = tx.contact(media.contact_id).await?.ok_or_else(not_found)?;
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(|e| UseCaseError::Fault(e.to_string()))?;
    let bytes = core.media.open(&key, &media.object_key).await.map_err(|e| UseCaseError::Fault(e.to_string()))?;
    detail["media"] = json!(media.id);
    detail["part"] = json!(media.part);
    detail["mime_type"] = json!(media.mime_type);
    let entry = AuditEntry::new(actor, action, "message", Some(media.message_id.to_string())).detail(detail);
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(MediaFile { mime_type: media.mime_type, bytes })
}
