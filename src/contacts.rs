//! Customer identity: find a contact by blind index (BSUID first, then phone), link what a
//! webhook newly reveals, create with a fresh data key, and decrypt where a reply must go.
use chrono::{DateTime, Utc};

use crate::channels::Recipient;
use crate::config::Keys;
use crate::crypto::{CryptoError, DataKey};
use crate::domain::{Bsuid, ContactId, CustomerIdentity, IdentityChange, MessageMeta, Phone, TenantId};
use crate::store::{
    ContactRecord, ConversationOps, IdentityIndex, IdentityLink, MessageRecord, StoreError, StoreResult,
};

pub struct ResolvedContact {
    pub record: ContactRecord,
    pub key: DataKey,
    pub created: bool,
}

/// Finds or creates the contact for `who` inside the tenant transaction.
pub async fn resolve(
    tx: &mut (impl ConversationOps + ?Sized),
    keys: &Keys,
    who: &CustomerIdentity,
    now: DateTime<Utc>,
) -> StoreResult<ResolvedContact> {
    let tenant = tx.tenant_id();
    let bsuid_index = who.bsuid.as_ref().map(|b| keys.index.bsuid(tenant, b));
    let phone_index = who.phone.as_ref().map(|p| keys.index.phone(tenant, p));
    if let Some(record) = find(tx, bsuid_index.as_deref(), phone_index.as_deref()).await? {
        let key = keys.vault.unwrap_key(&record.wrapped_key)?;
        if let Some(link) = identity_link(&record, who, (&bsuid_index, &phone_index), &key, now) {
            tx.link_contact_identity(record.id, &link).await?;
        }
        return Ok(ResolvedContact { record, key, created: false });
    }
    let (record, key) = new_contact(keys, tenant, who, (bsuid_index.clone(), phone_index.clone()), now)?;
    if tx.insert_contact(&record).await? {
        return Ok(ResolvedContact { record, key, created: true });
    }
    // A concurrent webhook created this customer first; use that record.
    let record = find(tx, bsuid_index.as_deref(), phone_index.as_deref())
        .await?
        .ok_or_else(|| StoreError::Invariant("contact vanished during insert".into()))?;
    let key = keys.vault.unwrap_key(&record.wrapped_key)?;
    Ok(ResolvedContact { record, key, created: false })
}

/// A new contact for `who` with a fresh data key; `indexes` are its (BSUID, phone) blind indexes.
pub fn new_contact(
    keys: &Keys,
    tenant: TenantId,
    who: &CustomerIdentity,
    indexes: (Option<Vec<u8>>, Option<Vec<u8>>),
    now: DateTime<Utc>,
) -> StoreResult<(ContactRecord, DataKey)> {
    let (key, wrapped_key) = keys.vault.new_data_key()?;
    let record = ContactRecord {
        id: ContactId::new(),
        tenant_id: tenant,
        wrapped_key,
        bsuid_index: indexes.0,
        phone_index: indexes.1,
        bsuid_enc: key.encrypt_opt(who.bsuid.as_ref().map(Bsuid::expose)),
        phone_enc: key.encrypt_opt(who.phone.as_ref().map(Phone::expose)),
        username_enc: key.encrypt_opt(who.username.as_deref()),
        name_enc: key.encrypt_opt(who.name.as_deref()),
        bot_stopped_at: None,
        created_at: now,
        updated_at: now,
    };
    Ok((record, key))
}

async fn find(
    tx: &mut (impl ConversationOps + ?Sized),
    bsuid_index: Option<&[u8]>,
    phone_index: Option<&[u8]>,
) -> StoreResult<Option<ContactRecord>> {
    if let Some(ix) = bsuid_index
        && let Some(found) = tx.contact_by_index(IdentityIndex::Bsuid(ix)).await?
    {
        return Ok(Some(found));
    }
    match phone_index {
        Some(ix) => tx.contact_by_index(IdentityIndex::Phone(ix)).await,
        None => Ok(None),
    }
}

/// What to link when `who` reveals an identifier the contact lacks; `indexes` are who's
/// (BSUID, phone) blind indexes and `key` the contact's.
pub fn identity_link(
    record: &ContactRecord,
    who: &CustomerIdentity,
    indexes: (&Option<Vec<u8>>, &Option<Vec<u8>>),
    key: &DataKey,
    now: DateTime<Utc>,
) -> Option<IdentityLink> {
    let link = IdentityLink {
        bsuid: missing(&record.bsuid_index, indexes.0, who.bsuid.as_ref().map(Bsuid::expose), key),
        phone: missing(&record.phone_index, indexes.1, who.phone.as_ref().map(Phone::expose), key),
        rekey_bsuid: false,
        now: Some(now),
    };
    (link.bsuid.is_some() || link.phone.is_some()).then_some(link)
}

/// The (index, ciphertext) pair to link when the contact lacks an identifier we now have.
fn missing(
    stored: &Option<Vec<u8>>,
    index: &Option<Vec<u8>>,
    plain: Option<&str>,
    key: &DataKey,
) -> Option<(Vec<u8>, String)> {
    match (stored, index, plain) {
        (None, Some(ix), Some(p)) => Some((ix.clone(), key.encrypt(p))),
        _ => None,
    }
}

/// Applies Meta's "this customer's BSUID changed" notice; returns the contact it moved.
pub async fn rekey_bsuid(
    tx: &mut (impl ConversationOps + ?Sized),
    keys: &Keys,
    change: &IdentityChange,
    now: DateTime<Utc>,
) -> StoreResult<Option<ContactId>> {
    let tenant = tx.tenant_id();
    let previous = keys.index.bsuid(tenant, &change.previous);
    let Some(record) = tx.contact_by_index(IdentityIndex::Bsuid(&previous)).await? else {
        return Ok(None);
    };
    let key = keys.vault.unwrap_key(&record.wrapped_key)?;
    let link = IdentityLink {
        bsuid: Some((keys.index.bsuid(tenant, &change.current), key.encrypt(change.current.expose()))),
        phone: None,
        rekey_bsuid: true,
        now: Some(now),
    };
    tx.link_contact_identity(record.id, &link).await?;
    Ok(Some(record.id))
}

/// The media and group details of a stored message.
pub fn message_meta(message: &MessageRecord, key: &DataKey) -> Result<MessageMeta, CryptoError> {
    open_meta(message.meta_enc.as_deref(), key)
}

/// Opens sealed message metadata (`None`: the message had none).
pub fn open_meta(sealed: Option<&str>, key: &DataKey) -> Result<MessageMeta, CryptoError> {
    match key.decrypt_opt(sealed)? {
        Some(json) => serde_json::from_str(&json).map_err(|_| CryptoError::Undecryptable),
        None => Ok(MessageMeta::default()),
    }
}

/// Seals message metadata for storage; nothing is stored when there is none.
pub fn seal_meta(meta: &MessageMeta, key: &DataKey) -> Option<String> {
    (!meta.is_empty()).then(|| serde_json::to_string(meta).ok()).flatten().map(|json| key.encrypt(&json))
}

/// Where to send a reply: the phone number when known, otherwise the BSUID.
pub fn recipient(record: &ContactRecord, key: &DataKey) -> StoreResult<Option<Recipient>> {
    if let Some(phone) = key.decrypt_opt(record.phone_enc.as_deref())?
        && let Ok(phone) = Phone::parse(&phone)
    {
        return Ok(Some(Recipient::Phone(phone)));
    }
    if let Some(bsuid) = key.decrypt_opt(record.bsuid_enc.as_deref())?
        && let Ok(bsuid) = Bsuid::parse(&bsuid)
    {
        return Ok(Some(Recipient::Bsuid(bsuid)));
    }
    Ok(None)
}
