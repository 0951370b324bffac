//! Owner numbers: registered by the operator, recognised on every inbound message before it
//! is treated as a customer's. Identifiers are stored like a contact's: blind index plus
//! ciphertext under the tenant's data key.
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::crypto::DataKey;
use crate::domain::{CustomerIdentity, OwnerId, Phone, TenantId};
use crate::store::{OwnerOps, OwnerRecord, Store, StoreResult};
use crate::tenants;
use crate::usecase::{UseCaseError, UseCaseResult};

/// An owner's decrypted contact details.
#[derive(Clone)]
pub struct OwnerContact {
    pub phone: Option<Phone>,
    pub email: Option<String>,
}

impl OwnerContact {
    pub fn open(owner: &OwnerRecord, key: &DataKey) -> StoreResult<Self> {
        let phone = key.decrypt_opt(owner.phone_enc.as_deref())?.and_then(|p| Phone::parse(&p).ok());
        Ok(Self { phone, email: key.decrypt_opt(owner.email_enc.as_deref())? })
    }
}

/// Registers an owner number (and optionally an e-mail) for a tenant; audited without either.
/// A bad e-mail or a number already registered is `invalid_settings`.
pub async fn add_owner(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    phone: &Phone,
    email: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<OwnerRecord> {
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    if email.is_some_and(|e| e.parse::<lettre::Address>().is_err()) {
        return Err(UseCaseError::invalid("invalid_settings", "the owner e-mail address is not valid"));
    }
    let mut tx = store.begin(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let owner = OwnerRecord {
        id: OwnerId::new(),
        tenant_id: tenant,
        phone_index: Some(keys.index.phone(tenant, phone)),
        bsuid_index: None,
        phone_enc: Some(key.encrypt(phone.expose())),
        bsuid_enc: None,
        email_enc: key.encrypt_opt(email),
        name_enc: None,
        last_inbound_at: None,
        window_closed_at: None,
        created_at: now,
    };
    if !tx.insert_owner(&owner).await? {
        return Err(UseCaseError::invalid("invalid_settings", "this number is already an owner number of the tenant"));
    }
    let entry = AuditEntry::new(actor, "owner.added", "owner", Some(owner.id.to_string()))
        .detail(json!({ "email": email.is_some() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(owner)
}

/// An owner number as the owner's tools show it: masked, no e-mail address.
#[derive(Debug, serde::Serialize)]
pub struct OwnerView {
    pub id: OwnerId,
    /// Masked, like everywhere else.
    pub phone: Option<String>,
    pub has_email: bool,
    pub last_message_at: Option<DateTime<Utc>>,
    pub window_closed: bool,
}

/// The tenant's owner numbers, masked.
pub async fn list_owners(store: &dyn Store, keys: &Keys, tenant: TenantId) -> UseCaseResult<Vec<OwnerView>> {
    let mut tx = store.begin_read(tenant).await?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    let mut views = Vec::new();
    for owner in tx.owners().await? {
        let contact = OwnerContact::open(&owner, &key)?;
        views.push(OwnerView {
            id: owner.id,
            phone: contact.phone.map(|p| p.masked()),
            has_email: contact.email.is_some(),
            last_message_at: owner.last_inbound_at,
            window_closed: owner.window_closed_at.is_some(),
        });
    }
    tx.commit().await?;
    Ok(views)
}

/// No owner number with this id in the tenant (also for an id that does not parse).
pub fn owner_not_found() -> UseCaseError {
    UseCaseError::not_found("owner_not_found", "no owner number with this id in your tenant")
}

/// Removes an owner number, with the messages exchanged with it; audited `owner.removed`.
pub async fn remove_owner(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    id: OwnerId,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let mut tx = store.begin(tenant).await?;
    if !tx.delete_owner(id).await? {
        return Err(owner_not_found());
    }
    audit::append(&mut *tx, vec![AuditEntry::new(actor, "owner.removed", "owner", Some(id.to_string()))], now).await?;
    tx.commit().await?;
    Ok(())
}

/// Links the BSUID of a message that also carried the owner's phone, so a later message
/// with the BSUID alone (a username user) is still recognised.
pub async fn link_bsuid(
    tx: &mut dyn OwnerOps,
    keys: &Keys,
    tenant_key: &DataKey,
    owner: &OwnerRecord,
    from: &CustomerIdentity,
) -> StoreResult<()> {
    if let (None, Some(bsuid)) = (&owner.bsuid_index, &from.bsuid) {
        let index = keys.index.bsuid(tx.tenant_id(), bsuid);
        tx.link_owner_bsuid(owner.id, &index, &tenant_key.encrypt(bsuid.expose())).await?;
    }
    Ok(())
}
