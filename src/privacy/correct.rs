//! Correction (rectification): a contact's name or phone number, audited by field name only.
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::domain::{ContactId, Phone, TenantId};
use crate::store::{ContactCorrection, IdentityIndex, Store, StoreResult};

/// The fields to change; `None` leaves one as it is, an empty name removes it.
#[derive(Debug, Clone, Default)]
pub struct Correction {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    /// The correction request this answers; it is closed as done.
    pub request: Option<crate::domain::DsarId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corrected {
    Done,
    NoSuchContact,
    /// Another contact of the tenant has this number: merging is not a correction.
    PhoneInUse,
}

pub async fn correct_contact(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    contact: ContactId,
    fix: &Correction,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<Corrected> {
    let mut tx = store.begin(tenant).await?;
    let Some(record) = tx.contact(contact).await? else { return Ok(Corrected::NoSuchContact) };
    let key = keys.vault.unwrap_key(&record.wrapped_key)?;
    let mut change = ContactCorrection::default();
    let mut fields = Vec::new();
    if let Some(name) = &fix.name {
        let name = name.trim();
        change.name_enc = Some((!name.is_empty()).then(|| key.encrypt(name)));
        fields.push("name");
    }
    if let Some(phone) = &fix.phone {
        let index = keys.index.phone(tenant, phone);
        if let Some(other) = tx.contact_by_index(IdentityIndex::Phone(&index)).await?
            && other.id != contact
        {
            return Ok(Corrected::PhoneInUse);
        }
        change.phone = Some((index, key.encrypt(phone.expose())));
        fields.push("phone");
    }
    tx.correct_contact(contact, &change, now).await?;
    // Field names only: old and new values stay out of the audit.
    let entry = AuditEntry::new(actor, "contact.corrected", "contact", Some(contact.to_string()))
        .detail(json!({ "fields": fields }));
    let mut trail = vec![entry];
    if let Some(id) = fix.request {
        trail.extend(super::requests::close(&mut *tx, id, super::requests::DsarStatus::Done, actor, now).await?);
    }
    audit::append(&mut *tx, trail, now).await?;
    tx.commit().await?;
    Ok(Corrected::Done)
}
