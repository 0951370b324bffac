//! Access and portability: one versioned JSON bundle with everything balas holds about one
//! contact: the contact, conversations with their messages (decrypted), tickets, the notices
//! owners got about them, and the audit entries about all of those. The export is audited.
//! It names no channel id: with one, anyone can post to a channel's webhook URL.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::contacts;
use crate::crypto::DataKey;
use crate::domain::{ContactId, Phone, TenantId};
use crate::store::{AuditOps, ContactRecord, IdentityIndex, Store, StoreResult};

/// Bumped whenever a field changes meaning or goes away (adding fields keeps it).
/// 2: a conversation's `channel_id` became `provider`; audit details lost their `channel`.
pub const FORMAT_VERSION: u32 = 2;
/// Audit detail fields the customer does not get (what the operator needs stays in the log).
const WITHHELD_DETAIL: &[&str] = &["channel"];
/// Messages per conversation in one export; more than any real chat holds.
const MAX_MESSAGES: i64 = 1_000_000;

/// The contact with this phone number in the tenant, found by blind index.
pub async fn find_by_phone(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    phone: &Phone,
) -> StoreResult<Option<ContactId>> {
    let mut tx = store.begin_read(tenant).await?;
    let found = tx.contact_by_index(IdentityIndex::Phone(&keys.index.phone(tenant, phone))).await?;
    tx.commit().await?;
    Ok(found.map(|c| c.id))
}

/// Who acts, and the access request the export answers (closed as done with it).
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    pub actor: &'a str,
    pub request: Option<crate::domain::DsarId>,
}

/// Builds the bundle and records `contact.exported` in the same transaction; `None` when the
/// tenant has no such contact.
pub async fn export_contact(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    contact: ContactId,
    answers: Answering<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Option<Value>> {
    let Answering { actor, request } = answers;
    let mut tx = store.begin(tenant).await?;
    let Some(record) = tx.contact(contact).await? else { return Ok(None) };
    let Some(tenant_record) = tx.tenant().await? else { return Ok(None) };
    let key = keys.vault.unwrap_key(&record.wrapped_key)?;
    let mut subjects: HashSet<String> = HashSet::from([contact.to_string()]);

    let mut conversations = Vec::new();
    let mut providers: HashMap<crate::domain::ChannelId, Option<String>> = HashMap::new();
    for c in tx.conversations_of_contact(contact).await? {
        if let Entry::Vacant(slot) = providers.entry(c.channel_id) {
            slot.insert(tx.channel(c.channel_id).await?.map(|ch| ch.provider));
        }
        subjects.insert(c.id.to_string());
        let mut messages = Vec::new();
        for m in tx.recent_messages(c.id, MAX_MESSAGES).await? {
            subjects.insert(m.id.to_string());
            let meta = contacts::message_meta(&m, &key)?;
            messages.push(json!({
                "id": m.id, "direction": m.direction, "author": m.author, "kind": m.kind,
                "text": key.decrypt_opt(m.body_enc.as_deref())?,
                "media": { "mime_type": meta.mime_type, "provider_media_ref": meta.media_ref, "filename": meta.filename },
                "group": meta.group, "status": m.status, "sent_at": m.sent_at, "created_at": m.created_at,
            }));
        }
        conversations.push(json!({
            "id": c.id, "provider": providers.get(&c.channel_id).cloned().flatten(), "state": c.state, "escalation_reason": c.escalation_reason,
            "last_inbound_at": c.last_inbound_at, "created_at": c.created_at, "messages": messages,
        }));
    }

    let mut media = Vec::new();
    for item in tx.media_of_contact(contact).await? {
        subjects.insert(item.id.to_string());
        media.push(json!({
            "id": item.id, "message_id": item.message_id, "part": item.part, "mime_type": item.mime_type,
            "bytes": item.size_bytes, "sha256": key.decrypt(&item.sha256_enc)?, "stored_at": item.created_at,
        }));
    }

    let mut tickets = Vec::new();
    for t in tx.escalations_of_contact(contact).await? {
        subjects.insert(t.id.to_string());
        tickets.push(json!({
            "id": t.id, "number": t.number, "conversation_id": t.conversation_id, "reason": t.reason, "status": t.status,
            "summary": key.decrypt_opt(t.summary_enc.as_deref())?, "suggested_reply": key.decrypt_opt(t.draft_enc.as_deref())?,
            "opened_at": t.opened_at, "answered_at": t.answered_at, "closed_at": t.closed_at, "closed_by": t.closed_by,
        }));
    }
    let mut notices = Vec::new();
    for n in tx.owner_messages_about(contact).await? {
        subjects.insert(n.id.to_string());
        notices.push(json!({
            "id": n.id, "escalation_id": n.escalation_id, "route": n.route, "purpose": n.purpose,
            "text": key.decrypt_opt(n.body_enc.as_deref())?, "status": n.status, "created_at": n.created_at,
        }));
    }

    // The questions the bot could not answer, in the customer's words (masked).
    let mut gaps = Vec::new();
    for g in tx.gaps_of_contact(contact).await? {
        gaps.push(json!({
            "id": g.id, "escalation_id": g.escalation_id, "question": key.decrypt(&g.question_enc)?, "state": g.state,
            "faq_entry_id": g.kb_entry_id, "created_at": g.created_at, "closed_at": g.closed_at,
        }));
    }

    let audit_rows = audit_about(&mut *tx, &subjects).await?;
    let bundle = json!({
        "format": "balas.contact-export",
        "version": FORMAT_VERSION,
        "generated_at": now,
        "tenant": { "id": tenant_record.id, "slug": tenant_record.slug, "name": tenant_record.name },
        "contact": contact_json(&record, &key)?,
        "conversations": conversations,
        "escalations": tickets,
        "owner_notices": notices,
        "unanswered_questions": gaps,
        "media": media,
        "audit": audit_rows,
    });
    let entry = AuditEntry::new(actor, "contact.exported", "contact", Some(contact.to_string()))
        .detail(json!({ "format_version": FORMAT_VERSION, "conversations": bundle["conversations"].as_array().map_or(0, Vec::len) }));
    let mut trail = vec![entry];
    if let Some(id) = request {
        trail.extend(super::requests::close(&mut *tx, id, super::requests::DsarStatus::Done, actor, now).await?);
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    Ok(Some(bundle))
}

fn contact_json(c: &ContactRecord, key: &DataKey) -> StoreResult<Value> {
    Ok(json!({
        "id": c.id,
        "phone": key.decrypt_opt(c.phone_enc.as_deref())?,
        "whatsapp_user_id": key.decrypt_opt(c.bsuid_enc.as_deref())?,
        "username": key.decrypt_opt(c.username_enc.as_deref())?,
        "name": key.decrypt_opt(c.name_enc.as_deref())?,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }))
}

/// The tenant's audit rows whose subject is one of `subjects`, oldest first.
async fn audit_about(tx: &mut dyn AuditOps, subjects: &HashSet<String>) -> StoreResult<Vec<Value>> {
    let rows = audit::rows_matching(tx, |row| row.subject_id.as_ref().is_some_and(|s| subjects.contains(s))).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
            if let Some(fields) = detail.as_object_mut() {
                fields.retain(|name, _| !WITHHELD_DETAIL.contains(&name.as_str()));
            }
            json!({
                "seq": row.seq, "at": row.at, "actor": row.actor, "action": row.action,
                "subject_type": row.subject_type, "subject_id": row.subject_id, "detail": detail,
            })
        })
        .collect())
}
