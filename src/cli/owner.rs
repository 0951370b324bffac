//! `balas owner add|list`: the numbers (and e-mail addresses) that get escalation notices and
//! may send owner commands from WhatsApp.
use chrono::{DateTime, Utc};

use crate::config::Keys;
use crate::domain::Phone;
use crate::owner::{OwnerContact, add_owner};
use crate::store::{Store, TenantRecord};

/// Registers each phone, paired by position with an optional e-mail address.
pub async fn add_all(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    phones: &[String],
    emails: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(emails.len() <= phones.len(), "each --owner-email needs an --owner-phone before it");
    for (i, raw) in phones.iter().enumerate() {
        let phone = Phone::parse(raw).map_err(|e| anyhow::anyhow!("owner phone: {e}"))?;
        let owner = add_owner(store, keys, tenant.id, &phone, emails.get(i).map(String::as_str), "cli", now).await?;
        println!("owner {} added for {} ({phone})", owner.id, tenant.slug);
    }
    Ok(())
}

pub async fn list(store: &dyn Store, keys: &Keys, tenant: &TenantRecord) -> anyhow::Result<()> {
    let mut tx = store.begin_read(tenant.id).await?;
    let key = crate::tenants::data_key(&mut *tx, keys).await?;
    let owners = tx.owners().await?;
    tx.commit().await?;
    println!("{:<36}  {:<16}  {:<5}  LAST MESSAGE FROM OWNER", "ID", "PHONE", "EMAIL");
    for owner in owners {
        let contact = OwnerContact::open(&owner, &key)?;
        let phone = contact.phone.map_or_else(|| "-".into(), |p| p.masked());
        let email = if contact.email.is_some() { "yes" } else { "no" };
        let last = owner.last_inbound_at.map_or_else(|| "never".into(), |t| t.to_rfc3339());
        println!("{:<36}  {phone:<16}  {email:<5}  {last}", owner.id);
    }
    Ok(())
}
