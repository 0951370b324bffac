//! A customer's fetched photo, voice note or document, forwarded to the owners while their
//! ticket is open: one `forward_media` owner message per attachment and owner, captioned with
//! the ticket. Outside the owner's 24-hour window (Meta, Twilio) it is held, and goes when the
//! owner writes or taps (`digest::release_held`), after the ticket's notice template.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::notify::{About, Note, customer_label, queue_carrying, shorten};
use super::template_notice::window_open;
use super::texts::OwnerTexts;
use super::{HELD, Purpose, Route};
use crate::audit::AuditEntry;
use crate::channels::media_send::MediaOut;
use crate::channels::{ChannelSecrets, Recipient, SendError};
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{MessageId, OwnerMessageId};
use crate::jobs::JobFailure;
use crate::store::{
    ChannelRecord, ConversationOps, JobOps, MediaOps, MediaRecord, OwnerMessageRecord, OwnerOps, OwnerRecord,
    StoreResult, TenantOps,
};
use crate::worker::WorkerDeps;

/// Characters of the customer's caption quoted in the forward.
const CAPTION_CHARS: usize = 300;

/// Queues the forwards of a message's stored attachments when its conversation has an open
/// ticket; returns the audit rows (none when there is no ticket).
pub async fn queue_forwards(
    core: &Core,
    tx: &mut (impl ConversationOps + OwnerOps + JobOps + TenantOps + MediaOps + ?Sized),
    message: MessageId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Some(message) = tx.message(message).await? else { return Ok(Vec::new()) };
    let Some(ticket) = tx.open_escalation(message.conversation_id).await? else { return Ok(Vec::new()) };
    let Some(contact) = tx.contact(message.contact_id).await? else { return Ok(Vec::new()) };
    let Some(tenant) = tx.tenant().await? else { return Ok(Vec::new()) };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let texts = OwnerTexts::new(&tenant.settings.language);
    let caption = match key.decrypt_opt(message.body_enc.as_deref())? {
        Some(text) if !text.trim().is_empty() => format!(": “{}”", shorten(text.trim(), CAPTION_CHARS)),
        _ => String::new(),
    };
    let values = [
        ("ticket", ticket.number.to_string()),
        ("customer", customer_label(&contact, &key)?),
        ("kind", texts.kind(message.kind)),
        ("caption", caption),
    ];
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = texts.fill("forward_media_caption", &values);
    let Some(channel) = tx.channel(message.channel_id).await? else { return Ok(Vec::new()) };
    let about = About { channel: channel.id, escalation: Some(ticket.id), contact: Some(contact.id), key: &key };
    let owners: Vec<OwnerRecord> =
        tx.owners().await?.into_iter().filter(|o| o.phone_enc.is_some() || o.bsuid_enc.is_some()).collect();
    let mut trail = Vec::new();
    let files = tx.media_of_message(message.id).await?;
    if files.is_empty() {
        return Ok(Vec::new()); // not fetched yet: the `media_fetch` job forwards it
    }
    // Meta takes no caption on a voice note or sticker: the ticket line goes first as text.
    if !message.kind.takes_caption() && !tx.media_forwarded(files[0].id).await? {
        for owner in &owners {
            let note = Note { route: Route::WhatsApp, purpose: Purpose::Forward, text: &text };
            if let Some(id) = queue_carrying(core, tx, owner.id, about, (note, None), now).await? {
                trail.extend(hold_if_closed(tx, id, owner, &channel, now).await?);
            }
        }
    }
    let mut queued = 0;
    for media in files {
        // The respond and fetch jobs may both get here; a file is forwarded once.
        if tx.media_forwarded(media.id).await? {
            continue;
        }
        for owner in &owners {
            let note = Note { route: Route::WhatsApp, purpose: Purpose::ForwardMedia, text: &text };
            // The unique (owner, file) index makes a racing second forward a no-op.
            if let Some(id) = queue_carrying(core, tx, owner.id, about, (note, Some(media.id)), now).await? {
                trail.extend(hold_if_closed(tx, id, owner, &channel, now).await?);
                queued += 1;
            }
        }
    }
    trail.push(
        AuditEntry::new("worker", "message.forwarded_to_owner", "message", Some(message.id.to_string()))
            .detail(json!({ "ticket": ticket.number, "media_messages": queued })),
    );
    Ok(trail)
}

/// Outside the owner's window a forward waits, held, for the owner to write or tap.
async fn hold_if_closed(
    tx: &mut (impl OwnerOps + ?Sized),
    id: OwnerMessageId,
    owner: &OwnerRecord,
    channel: &ChannelRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuditEntry>> {
    if channel.provider == "fonnte" || window_open(owner, now) {
        return Ok(None);
    }
    tx.move_owner_message_status(id, "queued", HELD, now).await?;
    Ok(Some(AuditEntry::new("worker", "owner_message.held", "owner_message", Some(id.to_string()))))
}

/// Sends the attachment a `forward_media` owner message carries, with its caption.
pub async fn send(
    core: &Core,
    deps: &WorkerDeps,
    message: &OwnerMessageRecord,
    (channel, secrets, to): (&ChannelRecord, &ChannelSecrets, &Recipient),
    (key, caption): (&DataKey, &str),
) -> Result<Result<String, SendError>, JobFailure> {
    let Some(id) = message.media_id else { return Err(JobFailure::Permanent("media_missing".into())) };
    let mut tx = core.store.begin_read(message.tenant_id).await?;
    let media = tx.media(id).await?;
    tx.commit().await?;
    // Retention or an erasure took the file first: nothing is left to forward.
    let Some(media) = media else { return Err(JobFailure::Permanent("media_gone".into())) };
    send_stored(core, deps, &media, (channel, secrets, to), (key, caption)).await
}

/// Sends one stored file sealed under `key`: its bytes (Meta uploads them) or a short-lived
/// signed link to them (Twilio, Fonnte). Also an owner's file to a customer (`worker::outbound`).
pub async fn send_stored(
    core: &Core,
    deps: &WorkerDeps,
    media: &MediaRecord,
    (channel, secrets, to): (&ChannelRecord, &ChannelSecrets, &Recipient),
    (key, caption): (&DataKey, &str),
) -> Result<Result<String, SendError>, JobFailure> {
    // Retention or an erasure took the file first: nothing is left to send.
    let Some(bytes) = core.media.open_for_job(key, &media.object_key).await? else {
        return Err(JobFailure::Permanent("media_gone".into()));
    };
    let path = crate::media::links::path(&core.keys.index, media.tenant_id, media.id, core.clock.now());
    let link = format!("{}{path}", deps.channels.public_url.trim_end_matches('/'));
    let out = MediaOut { bytes, mime_type: &media.mime_type, caption, link: &link };
    Ok(deps.channels.send_media(channel, secrets, to, out).await)
}
