//! The `owner_send` job: delivers one owner message on its route (WhatsApp through the
//! tenant's channel, as a template outside the owner's window when one is approved, or
//! e-mail). A closed 24-hour window is not retried (see `window`).
use serde_json::json;

use super::buttons::Signer;
use super::forward_media;
use super::template_notice::{Shape, alert_shape, refused_status, shape_for};
use super::window::owner_unreachable;
use super::{HELD, OwnerContact, Purpose, Route};
use crate::audit::{self, AuditEntry};
use crate::channels::meta::MAX_BUTTON_BODY;
use crate::channels::templates;
use crate::channels::{ChannelSecrets, Recipient, SendError};
use crate::core::Core;
use crate::domain::{Bsuid, DeliveryStatus, OwnerMessageId};
use crate::jobs::{JobFailure, finish_sent_before};
use crate::store::{ChannelTemplateRecord, JobOutcome, JobRecord, StatusChange};
use crate::tenants;
use crate::worker::WorkerDeps;

/// The error class of a notice held back by the tenant's monthly template cap.
const CAPPED: &str = "template_cap";
/// Meta's per-user limit on template messages: wait at least 24 hours.
const PER_USER_LIMIT: &str = "meta_131049";

pub async fn run(core: &Core, deps: &WorkerDeps, worker: &str, job: &JobRecord) -> Result<(), JobFailure> {
    let permanent = |class: &str| JobFailure::Permanent(class.into());
    let undecryptable = |_| permanent("undecryptable");
    let id = OwnerMessageId(job.subject_id);
    let mut tx = core.store.begin_read(job.tenant_id).await?;
    let message = tx.owner_message(id).await?.ok_or_else(|| permanent("message_missing"))?;
    if message.body_enc.is_none() && message.provider_message_id.is_none() {
        // An erasure cleared its text before delivery: there is nothing left to send.
        tx.commit().await?;
        let now = core.clock.now();
        let mut tx = core.store.begin(job.tenant_id).await?;
        if tx.finish_job(job.id, worker, &JobOutcome::Done, now).await? {
            let entry = AuditEntry::new("worker", "owner_message.dropped", "owner_message", Some(id.to_string()))
                .detail(json!({ "why": "erased" }));
            audit::append(&mut *tx, vec![entry], now).await?;
        }
        tx.commit().await?;
        return Ok(());
    }
    if message.provider_message_id.is_some() {
        tx.commit().await?;
        return finish_sent_before(&*core.store, worker, job, core.clock.now()).await;
    }
    if message.status == HELD {
        // Waits for the owner's window; `release_held` runs this job again.
        tx.commit().await?;
        let now = core.clock.now();
        let mut tx = core.store.begin(job.tenant_id).await?;
        tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
        tx.commit().await?;
        return Ok(());
    }
    let owner = tx.owner(message.owner_id).await?.ok_or_else(|| permanent("owner_missing"))?;
    let channel = tx.channel(message.channel_id).await?.ok_or_else(|| permanent("channel_missing"))?;
    let tenant_key = tenants::data_key(&mut *tx, &core.keys).await?;
    let contact = match message.contact_id {
        Some(id) => Some(tx.contact(id).await?.ok_or_else(|| permanent("contact_missing"))?),
        None => None,
    };
    let contact_key =
        contact.as_ref().map(|c| core.keys.vault.unwrap_key(&c.wrapped_key)).transpose().map_err(undecryptable)?;
    let shape = match message.route {
        Route::WhatsApp => match tx.tenant().await? {
            Some(tenant) if matches!(message.purpose, Purpose::Webhook | Purpose::Subprocessor) => {
                let text = tenant_key.decrypt_opt(message.body_enc.as_deref()).map_err(undecryptable)?;
                let about = (&owner, &channel, &tenant);
                alert_shape(&mut *tx, about, &text.unwrap_or_default(), core.clock.now()).await?
            }
            Some(tenant) => {
                let customer = contact.as_ref().zip(contact_key.as_ref());
                let signer = Signer { index: &core.keys.index, tenant: job.tenant_id, owner: owner.id };
                shape_for(&mut *tx, &message, &owner, &channel, customer, &tenant, signer, core.clock.now()).await?
            }
            None => Shape::Text,
        },
        Route::Email => Shape::Text,
    };
    tx.commit().await?;

    let key = contact_key.as_ref().unwrap_or(&tenant_key);
    let body = key.decrypt_opt(message.body_enc.as_deref()).map_err(undecryptable)?.unwrap_or_default();
    let details = OwnerContact::open(&owner, &tenant_key).map_err(|_| permanent("undecryptable"))?;
    let sent = match message.route {
        Route::Email => match (&deps.mailer, &details.email) {
            (Some(mailer), Some(address)) => mailer.send(address, &subject_of(&body), &body).await,
            _ => Err(SendError::Rejected("no_email_route".into())),
        },
        Route::WhatsApp => {
            let bsuid = tenant_key.decrypt_opt(owner.bsuid_enc.as_deref()).map_err(undecryptable)?;
            let to = match (details.phone, bsuid.and_then(|b| Bsuid::parse(&b).ok())) {
                (Some(phone), _) => Recipient::Phone(phone),
                (None, Some(bsuid)) => Recipient::Bsuid(bsuid),
                (None, None) => return Err(permanent("no_recipient")),
            };
            let secrets = ChannelSecrets::open(&channel.secrets_enc, &tenant_key).map_err(undecryptable)?;
            match &shape {
                _ if message.media_id.is_some() => {
                    let to_owner = (&channel, &secrets, &to);
                    forward_media::send(core, deps, &message, to_owner, (key, &body)).await?
                }
                Shape::Capped => Err(SendError::Rejected(CAPPED.into())),
                Shape::Template(t) => deps.channels.send_template(&channel, &secrets, &to, &t.message).await,
                Shape::Buttons(buttons) if body.chars().count() <= MAX_BUTTON_BODY => {
                    deps.channels.send_buttons(&channel, &secrets, &to, &body, buttons).await
                }
                Shape::Buttons(_) | Shape::Text => deps.channels.send_text(&channel, &secrets, &to, &body).await,
            }
        }
    };

    let capped = matches!(shape, Shape::Capped);
    let provider = if message.route == Route::Email { "email" } else { channel.provider.as_str() };
    if !capped {
        deps.metrics.sent(provider, &sent);
    }
    let template = match shape {
        Shape::Template(t) => Some(t),
        Shape::Buttons(_) | Shape::Text | Shape::Capped => None,
    };
    if let Some(t) = &template {
        deps.metrics.template_sent(&t.record.purpose, &sent);
    }
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let subject = Some(id.to_string());
    // Meta's per-user limit: the template is fine but this owner gets no more today; try again in a day.
    if template.is_some() && matches!(&sent, Err(SendError::Rejected(class)) if class == PER_USER_LIMIT) {
        let later = JobOutcome::Later { run_at: now + chrono::Duration::hours(24) };
        if tx.finish_job(job.id, worker, &later, now).await? {
            let entry = AuditEntry::new("worker", "owner_message.deferred", "owner_message", subject)
                .detail(json!({ "code": PER_USER_LIMIT, "hours": 24 }));
            audit::append(&mut *tx, vec![entry], now).await?;
        }
        tx.commit().await?;
        return Ok(());
    }
    let trail = match sent {
        Ok(provider_id) => {
            tx.set_owner_message_sent(id, &provider_id, now).await?;
            let name = template.as_ref().map(|t| t.message.name.as_str());
            let mut trail = vec![
                AuditEntry::new("worker", "owner_message.sent", "owner_message", subject)
                    .detail(json!({ "route": message.route, "purpose": message.purpose, "template": name })),
            ];
            if let Some(t) = &template {
                tx.record_template_send(channel.id, &t.record.purpose, templates::CATEGORY, now).await?;
                if message.purpose == Purpose::Digest {
                    super::digest::hold_full_text(&mut *tx, &message, now).await?;
                }
            }
            // A paused template went through: its pause is over.
            if let Some(t) = template.as_ref().filter(|t| t.record.status != "approved") {
                let approved = ChannelTemplateRecord { status: "approved".into(), updated_at: now, ..t.record.clone() };
                tx.set_channel_template(&approved).await?;
                trail.push(
                    AuditEntry::new("worker", "channel.template_resumed", "channel", Some(channel.id.to_string()))
                        .detail(
                            json!({ "template": t.record.name, "purpose": t.record.purpose, "was": t.record.status }),
                        ),
                );
            }
            trail
        }
        // The month's templates are used up: never sent, e-mailed where it can be.
        Err(SendError::Rejected(_)) if capped => {
            let failed =
                StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some(CAPPED), now };
            tx.advance_owner_message_status(id, &failed).await?;
            let mut trail = vec![
                AuditEntry::new("worker", "owner_message.template_capped", "owner_message", subject)
                    .detail(json!({ "purpose": message.purpose })),
            ];
            trail.extend(owner_unreachable(core, &mut *tx, &message, now).await?);
            trail
        }
        Err(SendError::WindowClosed) => {
            let failed = StatusChange {
                status: "failed",
                rank: DeliveryStatus::Failed.rank(),
                error_code: Some("window_closed"),
                now,
            };
            tx.advance_owner_message_status(id, &failed).await?;
            owner_unreachable(core, &mut *tx, &message, now).await?
        }
        // A paused, disabled or mismatched template: recorded, never retried; e-mail instead.
        Err(SendError::Rejected(class)) if let Some((t, status)) = template.as_ref().zip(refused_status(&class)) => {
            let failed =
                StatusChange { status: "failed", rank: DeliveryStatus::Failed.rank(), error_code: Some(&class), now };
            tx.advance_owner_message_status(id, &failed).await?;
            tx.set_channel_template(&ChannelTemplateRecord {
                status: status.into(),
                updated_at: now,
                ..t.record.clone()
            })
            .await?;
            let mut trail = vec![
                AuditEntry::new("worker", "channel.template_refused", "channel", Some(channel.id.to_string())).detail(
                    json!({ "template": t.record.name, "purpose": t.record.purpose, "code": class, "status": status }),
                ),
            ];
            trail.extend(owner_unreachable(core, &mut *tx, &message, now).await?);
            trail
        }
        Err(e @ SendError::Retryable(_)) => return Err(JobFailure::Retryable(e.class())),
        Err(e @ SendError::Rejected(_)) => return Err(JobFailure::Permanent(e.class())),
    };
    tx.finish_job(job.id, worker, &JobOutcome::Done, now).await?;
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    core.work_queued();
    Ok(())
}

/// The first line of the text, without WhatsApp's bold markers.
fn subject_of(body: &str) -> String {
    let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("balas");
    format!("[balas] {}", first.replace('*', "").trim())
}
