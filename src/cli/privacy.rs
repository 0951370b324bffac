//! `balas export|correct|erase`: data-subject rights from the operator's shell, audited as `cli`.
use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use crate::config::Keys;
use crate::domain::{ContactId, DsarId, Phone};
use crate::privacy::correct::{self, Corrected, Correction};
use crate::privacy::requests::DsarKind;
use crate::privacy::{erase, export, requests};
use crate::store::{Store, TenantRecord};

/// Which contact: by phone number (found through the blind index) or by id.
#[derive(Args)]
pub struct ContactArgs {
    #[arg(long)]
    pub tenant: String,
    /// The contact's phone number.
    #[arg(long, conflicts_with = "contact")]
    pub phone: Option<String>,
    /// The contact's id.
    #[arg(long)]
    pub contact: Option<String>,
    /// The data-subject request this answers; it is closed as done.
    #[arg(long)]
    pub request: Option<String>,
}

#[derive(Args)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub who: ContactArgs,
    /// The corrected name ("" removes it).
    #[arg(long)]
    pub name: Option<String>,
    /// The corrected phone number.
    #[arg(long)]
    pub new_phone: Option<String>,
}

#[derive(Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub who: ContactArgs,
    /// Erasure cannot be undone: say so explicitly.
    #[arg(long)]
    pub yes: bool,
}

fn phone(raw: &str, flag: &str) -> anyhow::Result<Phone> {
    Phone::parse(raw).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// The `--request` id, checked against the contact and the operation before acting.
async fn request_of(
    store: &dyn Store,
    tenant: &TenantRecord,
    who: &ContactArgs,
    contact: ContactId,
    kind: DsarKind,
) -> anyhow::Result<Option<DsarId>> {
    let Some(raw) = who.request.as_deref() else { return Ok(None) };
    let id: DsarId = raw.parse().map_err(|_| anyhow::anyhow!("--request is not a request id"))?;
    match requests::check(store, tenant.id, id, contact, kind).await? {
        Ok(()) => Ok(Some(id)),
        Err(why) => anyhow::bail!("--request: {}", why.explain()),
    }
}

async fn contact_of(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    who: &ContactArgs,
) -> anyhow::Result<ContactId> {
    let id = match (&who.phone, &who.contact) {
        (Some(p), _) => export::find_by_phone(store, keys, tenant.id, &phone(p, "--phone")?).await?,
        (None, Some(c)) => Some(c.parse().map_err(|_| anyhow::anyhow!("--contact is not a contact id"))?),
        (None, None) => anyhow::bail!("give --phone or --contact"),
    };
    id.context("no such contact in this tenant")
}

pub async fn export(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    who: &ContactArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let id = contact_of(store, keys, tenant, who).await?;
    let request = request_of(store, tenant, who, id, DsarKind::Access).await?;
    let answering = export::Answering { actor: "cli", request };
    let bundle = export::export_contact(store, keys, tenant.id, id, answering, now).await?;
    println!("{}", serde_json::to_string_pretty(&bundle.context("no such contact in this tenant")?)?);
    Ok(())
}

pub async fn correct(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &CorrectArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.name.is_some() || args.new_phone.is_some(), "give --name and/or --new-phone");
    let id = contact_of(store, keys, tenant, &args.who).await?;
    let fix = Correction {
        name: args.name.clone(),
        phone: args.new_phone.as_deref().map(|p| phone(p, "--new-phone")).transpose()?,
        request: request_of(store, tenant, &args.who, id, DsarKind::Correction).await?,
    };
    match correct::correct_contact(store, keys, tenant.id, id, &fix, "cli", now).await? {
        Corrected::Done => println!("corrected {id}"),
        Corrected::NoSuchContact => anyhow::bail!("no such contact in this tenant"),
        Corrected::PhoneInUse => anyhow::bail!("another contact of this tenant has that number"),
    }
    Ok(())
}

pub async fn erase(
    store: &dyn Store,
    media: &crate::media::MediaStorage,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &EraseArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.yes, "erasure deletes the contact's data and key for good: add --yes");
    let id = contact_of(store, keys, tenant, &args.who).await?;
    let request = request_of(store, tenant, &args.who, id, DsarKind::Erasure).await?;
    let done = erase::erase_contact(store, media, tenant.id, id, "cli", request, now).await?;
    let done = done.context("no such contact in this tenant")?;
    println!("{}", serde_json::to_string_pretty(&done)?);
    Ok(())
}

/// One retention pass over one tenant or all of them; prints what each deleted.
pub async fn retention(store: &dyn Store, tenant: Option<&TenantRecord>, now: DateTime<Utc>) -> anyhow::Result<()> {
    let targets = match tenant {
        Some(t) => vec![t.id],
        None => store.tenant_ids().await?,
    };
    for id in targets {
        match crate::privacy::retention::run_tenant(store, id, now).await? {
            Some(run) => println!("{}", serde_json::json!({ "tenant": id, "purged": run })),
            None => {
                println!("{}", serde_json::json!({ "tenant": id, "purged": null, "note": "tenant already purged" }))
            }
        }
    }
    Ok(())
}

pub async fn cancel(store: &dyn Store, tenant: &TenantRecord, yes: bool, now: DateTime<Utc>) -> anyhow::Result<()> {
    anyhow::ensure!(yes, "cancelling stops the tenant's webhooks now and purges its data in 30 days: add --yes");
    if crate::privacy::retention::cancel_tenant(store, tenant.id, "cli", now).await? {
        let purge_at = now + chrono::Duration::days(crate::privacy::retention::CANCELLED_GRACE_DAYS);
        println!(
            "cancelled {}: webhooks stop now; data and keys are purged after {}",
            tenant.slug,
            purge_at.format("%Y-%m-%d")
        );
        Ok(())
    } else {
        anyhow::bail!("{} is not active (status {})", tenant.slug, tenant.status)
    }
}
