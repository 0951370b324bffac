//! `send(message)`: deliver one stored outbound message through its channel's provider.
//! A message that already has a provider id is never sent again.
use serde_json::json;

use super::WorkerDeps;
use crate::audit::{self, AuditEntry};
use crate::channels::{ChannelSecrets, Recipient, SendError};
use crate::contacts;
use crate::core::Core;
use crate::domain::{DeliveryStatus, MessageId};
use crate::jobs::JobFailure;
use crate::owner;
use crate::store::{JobOutcome, JobRecord, MessageRecord, StatusChange};
use crate::tenants;

/// Noted on the job just before the provider is called; a retry's error class replaces it, and a
/// recorded provider id makes it moot.
const HANDING_OVER: &str = "handing_over";

pub async fn run(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let message_id = MessageId(job.subject_id);
    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let message = tx.message(message_id).await?.ok_or_else(|| JobFailure::Permanent("message_missing".into()))?;
    if message.provider_message_id.is_some() {
        tx.commit().await?;
        return crate::jobs::finish_sent_before(&*core.store, worker, job, core.clock.now()).await;
    }
    // The last attempt was cut off (a crash, a shutdown past its grace) while the provider had
    // the message: it may have reached the customer, so the owner decides instead of a resend.
    if job.last_error.as_deref() == Some(HANDING_OVER) {
        return Err(JobFailure::Permanent("delivery_unknown".into()));
    }
    let contact =
        tx.contact(message.contact_id).await?.ok_or_else(|| JobFailure::Permanent("contact_missing".into()))?;
    let channel =
        tx.channel(message.channel_id).await?.ok_or_else(|| JobFailure::Permanent("channel_missing".into()))?;
    let tenant_key = tenants::data_key(&mut *tx, &core.keys).await?;
    tx.commit().await?;

    let undecryptable = |_| JobFailure::Permanent("undecryptable".into());
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key).map_err(undecryptable)?;
    let body = key.decrypt_opt(message.body_enc.as_deref()).map_err(undecryptable)?.unwrap_or_default();
    let meta = contacts::message_meta(&message, &key).map_err(undecryptable)?;
    let to = match meta.group {
        Some(group) => Recipient::Group(group),
        None => contacts::recipient(&contact, &key)?.ok_or_else(|| JobFailure::Permanent("no_recipient".into()))?,
    };
    let secrets = ChannelSecrets::open(&channel.secrets_enc, &tenant_key).map_err(undecryptable)?;

    // Committed before the provider call, on its own: see the in-doubt rule above. The lease is
    // renewed with it, so a send handed over with a reply's earlier parts has its full lease.
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let holding = tx.note_job(job.id, worker, HANDING_OVER, now, core.jobs.lease_until(now)).await?;
    tx.commit().await?;
    if !holding {
        return Ok(()); // the lease lapsed: the job's new holder sends it
    }
    let sent = deps.channels.send_text(&channel, &secrets, &to, &body).await;
    deps.metrics.sent(&channel.provider, &sent);
    let provider_id = match sent {
        Ok(id) => id,
        Err(SendError::WindowClosed) => return window_closed(core, worker, job, &message).await,
        Err(e @ SendError::Retryable(_)) => return Err(JobFailure::Retryable(e.class())),
        Err(e @ SendError::Rejected(_)) => return Err(JobFailure::Permanent(e.class())),
    };

    let recorded = async {
        let now = core.clock.now();
        let mut tx = core.store.begin(job.tenant_id).await?;
        // Record the provider id even if our lease lapsed meanwhile: the message did go out.
        tx.set_provider_message_id(message_id, &provider_id, now).await?;
        tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
        let entry = AuditEntry::new("worker", "message.sent", "message", Some(message_id.to_string()))
            .detail(json!({ "provider": channel.provider, "provider_message_id": provider_id }));
        audit::append(&mut *tx, vec![entry], now).await?;
        tx.commit().await
    };
    if let Err(e) = recorded.await {
        // Not a retry (that would send again): the note stays, and when the lease lapses the
        // next attempt hands the reply to the owner as delivery_unknown.
        tracing::error!(job = %job.id, error = %e, "the provider took the message but recording it failed");
    }
    Ok(())
}

/// Not retried: only a template could reach the customer now; the owner is told instead.
async fn window_closed(core: &Core, worker: &str, job: &JobRecord, message: &MessageRecord) -> Result<(), JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    if !tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
        return Ok(());
    }
    let failed =
        StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some("window_closed"), now };
    tx.advance_message_status(message.id, &failed).await?;
    let mut trail = vec![
        AuditEntry::new("worker", "message.undeliverable", "message", Some(message.id.to_string()))
            .detail(json!({ "error": "window_closed" })),
    ];
    trail.extend(owner::window::customer_unreachable(core, &mut *tx, message, now).await?);
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(())
}
