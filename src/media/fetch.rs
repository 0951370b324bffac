//! The `media_fetch` job: downloads each attachment of one customer message through the
//! outbound guard, checks its declared and actual type and size, streams it sealed into the
//! media store, verifies Meta's SHA-256, and records it. A retry skips parts already stored.
//! When it fails for good, the worker dead-letters it and the owners are told (`tell_owners`).
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::seal::{SealingWriter, WriteError};
use super::{Media, MediaStorage, is_allowed, provider_limit};
use crate::audit::{self, AuditEntry};
use crate::channels::ChannelSecrets;
use crate::channels::media_source::{MediaSource, MediaSources, SourceError};
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{Attachment, ContactId, DeliveryStatus, Direction, MessageId, TenantId};
use crate::fetch_guard::FetchError;
use crate::jobs::{JobFailure, JobKind};
use crate::owner::Purpose;
use crate::owner::notify::{About, customer_label, to_owners};
use crate::owner::texts::OwnerTexts;
use crate::store::{JobOutcome, JobRecord, MediaRecord, MessageRecord, StatusChange, StoreResult, TenantTx};

/// One attachment, sealed and written, not yet recorded.
struct Saved {
    path: String,
    hash: String,
    sha256: String,
    mime_type: String,
    size: u64,
}

pub async fn run(core: &Core, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let (fetched, direction) = fetch_all(core, worker, job).await?;
    let now = core.clock.now();
    let message = MessageId(job.subject_id);
    let mut tx = core.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(()); // our lease was taken over: the other worker finishes
    }
    match direction {
        // An owner's file for a customer, stored under the customer's key: now it can go.
        Some(Direction::Out) => {
            tx.enqueue_job(&JobRecord::new(job.tenant_id, JobKind::Send, message.0, core.jobs.max_attempts, now))
                .await?;
        }
        Some(Direction::In) => {
            // A reply waiting to understand the file runs now.
            tx.wake_job(JobKind::Respond, message.0, now).await?;
            // While a ticket is open, the owners get the files themselves.
            if fetched > 0 {
                let trail = crate::owner::forward_media::queue_forwards(core, &mut *tx, message, now).await?;
                audit::append(&mut *tx, trail, now).await?;
            }
        }
        None => {}
    }
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

/// Fetches and records every attachment not stored yet; returns how many it stored and the
/// message's direction (`None`: the message or its contact was erased meanwhile).
async fn fetch_all(core: &Core, worker: &str, job: &JobRecord) -> Result<(usize, Option<Direction>), JobFailure> {
    let media = &core.media;
    let message_id = MessageId(job.subject_id);
    let mut tx = core.store.begin(job.tenant_id).await?;
    let Some(message) = tx.message(message_id).await? else { return Ok((0, None)) };
    let Some(contact) = tx.contact(message.contact_id).await? else { return Ok((0, None)) };
    let channel =
        tx.channel(message.channel_id).await?.ok_or_else(|| JobFailure::Permanent("channel_missing".into()))?;
    let tenant = tx.tenant().await?.ok_or_else(|| JobFailure::Permanent("tenant_missing".into()))?;
    let stored = tx.media_of_message(message_id).await?;
    tx.commit().await?;
    let (tenant_key, cap) = (core.keys.vault.unwrap_key(&tenant.wrapped_key)?, tenant.settings.daily_media_bytes_cap);

    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let secrets = ChannelSecrets::open(&channel.secrets_enc, &tenant_key)?;
    let meta = contacts::message_meta(&message, &key)?;
    let mut fetched = 0;
    for (part, attachment) in meta.attachments().iter().enumerate() {
        let part = i32::try_from(part).unwrap_or(i32::MAX);
        if stored.iter().any(|m| m.part == part) {
            continue;
        }
        // A large file takes a while: the lease is renewed per file, and a lost lease stops here.
        let now = core.clock.now();
        let mut tx = core.store.begin(job.tenant_id).await?;
        let holding = tx.note_job(job.id, worker, "fetching", now, core.jobs.lease_until(now)).await?;
        let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let used = if cap > 0 { tx.media_bytes_since(today).await? } else { 0 };
        tx.commit().await?;
        if !holding {
            return Err(JobFailure::Retryable("lease_lost".into()));
        }
        let left = (cap > 0).then(|| u64::try_from(cap - used).unwrap_or(0));
        if left == Some(0) {
            return Err(JobFailure::Permanent(DAILY_CAP.into()));
        }
        let kind = attachment.mime_type.as_deref().map_or(message.kind, super::kind_of);
        let limit = Limit { file: media.max_bytes.min(provider_limit(kind)), left_today: left };
        let target = Target { now, tenant: job.tenant_id, contact: contact.id, key: &key, limit };
        let saved = fetch_one(media, &secrets, &channel.address, attachment, &target).await?;
        record(core, &message, &key, part, saved).await?;
        fetched += 1;
    }
    Ok((fetched, Some(message.direction)))
}

/// Whose the attachment is and how large it may be.
struct Target<'a> {
    now: DateTime<Utc>,
    tenant: TenantId,
    contact: ContactId,
    key: &'a DataKey,
    limit: Limit,
}

/// The error class of a file refused by the tenant's daily cap.
const DAILY_CAP: &str = "daily_cap";

/// How large a file may be: WhatsApp's and our per-file limit, and what is left of the tenant's
/// daily cap (none without a cap).
#[derive(Clone, Copy)]
struct Limit {
    file: u64,
    left_today: Option<u64>,
}

impl Limit {
    /// Refuses `size` bytes when they pass the file limit or today's remainder.
    fn check(self, size: u64) -> Result<(), JobFailure> {
        if size > self.file {
            return Err(JobFailure::Permanent("too_large".into()));
        }
        if self.left_today.is_some_and(|left| size > left) {
            return Err(JobFailure::Permanent(DAILY_CAP.into()));
        }
        Ok(())
    }
}

/// Downloads one attachment; an expired Meta link is asked for again once.
async fn fetch_one(
    media: &Media,
    secrets: &ChannelSecrets,
    phone_number_id: &str,
    attachment: &Attachment,
    target: &Target<'_>,
) -> Result<Saved, JobFailure> {
    let mut fresh = false;
    loop {
        let source = media
            .sources
            .source(&media.guard, secrets, phone_number_id, attachment, fresh)
            .await
            .map_err(source_failure)?;
        check_declared(&source, source.mime_type.as_deref(), target.limit)?;
        let response =
            media.guard.get(&source.url, &source.allowed, source.credential.as_ref()).await.map_err(fetch_failure)?;
        let status = response.status();
        if status.is_success() {
            return save(&media.storage, response, &source, target).await;
        }
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) && !fresh && MediaSources::renews_links(secrets) {
            fresh = true; // Meta's links expire after minutes: ask for a new one
            continue;
        }
        return Err(status_failure(status));
    }
}

/// Refuses, before any byte is read, what the provider declared too large or not allowed.
fn check_declared(source: &MediaSource, mime: Option<&str>, limit: Limit) -> Result<(), JobFailure> {
    if let Some(size) = source.size {
        limit.check(size)?;
    }
    if mime.is_some_and(|m| !is_allowed(m)) {
        return Err(JobFailure::Permanent("type_not_allowed".into()));
    }
    Ok(())
}

/// Streams the body into a sealed object, never holding more than a segment and an upload part.
async fn save(
    storage: &MediaStorage,
    mut response: reqwest::Response,
    source: &MediaSource,
    target: &Target<'_>,
) -> Result<Saved, JobFailure> {
    let served =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mime_type = match (served, &source.mime_type) {
        (Some(served), _) if served != "application/octet-stream" => served,
        (_, Some(declared)) => declared.clone(),
        (Some(served), None) => served,
        (None, None) => return Err(JobFailure::Permanent("type_unknown".into())),
    };
    check_declared(source, Some(&mime_type), target.limit)?;
    if let Some(length) = response.content_length() {
        target.limit.check(length)?;
    }
    let path = MediaStorage::path(target.tenant, target.contact, super::sweep::object_id(target.now));
    let mut writer = SealingWriter::create(storage, target.key, path).await.map_err(write_failure)?;
    let streamed: Result<(), JobFailure> = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| fetch_failure(FetchError::Transport(e)))? {
            target.limit.check(writer.size() + chunk.len() as u64)?;
            writer.push(&chunk).await.map_err(write_failure)?;
        }
        Ok(())
    }
    .await;
    if let Err(failure) = streamed {
        writer.abort(storage).await;
        return Err(failure);
    }
    let written = writer.finish().await.map_err(write_failure)?;
    if source.sha256.as_deref().is_some_and(|expected| !sha256_matches(expected, &written.sha256)) {
        let _ = storage.delete(&written.path).await;
        return Err(JobFailure::Permanent("sha256_mismatch".into()));
    }
    Ok(Saved {
        path: written.path,
        hash: written.content_hash,
        sha256: hex::encode(written.sha256),
        mime_type: super::essence(&mime_type),
        size: written.size,
    })
}

/// Meta's `sha256` is base64 in its examples; hex is accepted too.
fn sha256_matches(expected: &str, digest: &[u8]) -> bool {
    use base64::Engine;
    let expected = expected.trim();
    let decoded = hex::decode(expected)
        .ok()
        .filter(|d| d.len() == 32)
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(expected).ok());
    decoded.is_some_and(|d| d == digest)
}

/// Records the part, sharing the object of an identical earlier file of the same contact.
async fn record(
    core: &Core,
    message: &MessageRecord,
    key: &DataKey,
    part: i32,
    saved: Saved,
) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(message.tenant_id).await?;
    let earlier = tx.media_with_hash(message.contact_id, &saved.hash).await?;
    let deduplicated = earlier.is_some();
    let row = MediaRecord {
        id: Uuid::now_v7(),
        tenant_id: message.tenant_id,
        contact_id: message.contact_id,
        message_id: message.id,
        part,
        object_key: earlier.map_or_else(|| saved.path.clone(), |e| e.object_key),
        content_hash: saved.hash,
        sha256_enc: key.encrypt(&saved.sha256),
        mime_type: saved.mime_type.clone(),
        size_bytes: i64::try_from(saved.size).unwrap_or(i64::MAX),
        created_at: now,
    };
    let inserted = tx.insert_media(&row).await?;
    if inserted {
        let entry = AuditEntry::new("worker", "media.stored", "message", Some(message.id.to_string())).detail(
            json!({ "part": part, "mime_type": saved.mime_type, "bytes": saved.size, "deduplicated": deduplicated }),
        );
        audit::append(&mut *tx, vec![entry], now).await?;
    }
    tx.commit().await?;
    if deduplicated || !inserted {
        let _ = core.media.storage.delete(&saved.path).await; // unreferenced; the sweeper retries
    }
    Ok(())
}

/// Told when a fetch failed for good: which customer sent what, and why it is not there.
pub async fn tell_owners(
    core: &Core,
    tx: &mut dyn TenantTx,
    job: &JobRecord,
    class: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AuditEntry>> {
    let Some(message) = tx.message(MessageId(job.subject_id)).await? else { return Ok(Vec::new()) };
    let Some(contact) = tx.contact(message.contact_id).await? else { return Ok(Vec::new()) };
    let Some(tenant) = tx.tenant().await? else { return Ok(Vec::new()) };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    let texts = OwnerTexts::new(&tenant.settings.language);
    let ticket = tx.open_escalation(message.conversation_id).await?;
    let reason = match class {
        "too_large" => texts.fill("media_too_large", &[]),
        DAILY_CAP => texts.fill("media_daily_cap", &[]),
        "type_not_allowed" | "type_unknown" => texts.fill("media_type_refused", &[]),
        _ => texts.fill("media_unreachable", &[]),
    };
    let number = ticket.as_ref().map(|t| format!("#{} ", t.number)).unwrap_or_default();
    let customer = customer_label(&contact, &key)?;
    let fields = [
        ("ticket", number.as_str()),
        ("customer", &customer),
        ("kind", &texts.kind(message.kind)),
        ("reason", &reason),
    ];
    // The owner's own file for a customer: it is not sent, and they hear why.
    let outbound = message.direction == Direction::Out;
    if outbound {
        let failed =
            StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some(class), now };
        tx.advance_message_status(message.id, &failed).await?;
    }
    let text = texts.fill(if outbound { "media_reply_failed" } else { "media_failed" }, &fields);
    let about =
        About { channel: message.channel_id, escalation: ticket.map(|t| t.id), contact: Some(contact.id), key: &key };
    let queued = to_owners(core, tx, about, Purpose::Forward, &text, now).await?;
    Ok(vec![
        AuditEntry::new("worker", "media.fetch_failed", "message", Some(message.id.to_string()))
            .detail(json!({ "error": class, "kind": message.kind, "owner_messages": queued })),
    ])
}

fn source_failure(e: SourceError) -> JobFailure {
    match e {
        SourceError::Fetch(f) => fetch_failure(f),
        SourceError::Status(status) => status_failure(status),
        SourceError::Malformed => JobFailure::Retryable("media_lookup_malformed".into()),
    }
}

fn fetch_failure(e: FetchError) -> JobFailure {
    match e {
        FetchError::Refused(refusal) => JobFailure::Permanent(format!("refused_{}", refusal.code())),
        FetchError::Transport(e) if e.is_timeout() => JobFailure::Retryable("timeout".into()),
        FetchError::Transport(_) => JobFailure::Retryable("network".into()),
    }
}

/// Throttling and server errors pass; any other refusal is final.
fn status_failure(status: StatusCode) -> JobFailure {
    let class = format!("http_{}", status.as_u16());
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        JobFailure::Retryable(class)
    } else {
        JobFailure::Permanent(class)
    }
}

fn write_failure(e: WriteError) -> JobFailure {
    match e {
        WriteError::Storage(e) => storage_failure(e),
        WriteError::Sealed(e) => e.into(),
    }
}

fn storage_failure(e: super::StorageError) -> JobFailure {
    tracing::warn!(error = %e, "media storage failed");
    JobFailure::Retryable("storage".into())
}
