//! `balas template submit|sync` for a Meta channel: submits balas's templates to the channel's
//! WhatsApp Business Account for review, and reads their review status back into the
//! channel's records. Twilio's Content API is not driven from here (its requests are printed by
//! `balas template print --provider twilio`).
use chrono::{DateTime, Utc};

use super::template::record_template;
use crate::channels::ChannelSecrets;
use crate::channels::meta::{MetaClient, MetaSecrets};
use crate::channels::templates::{self, status_of_event};
use crate::config::Keys;
use crate::domain::ChannelId;
use crate::store::{ChannelTemplateRecord, Store, TenantRecord};
use crate::tenants;

#[derive(clap::Args)]
pub struct AccountArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub channel: ChannelId,
    /// The WhatsApp Business Account id that holds the channel's number (WhatsApp Manager).
    #[arg(long)]
    pub waba_id: String,
    /// Only this language (id or en).
    #[arg(long)]
    pub language: Option<String>,
}

/// Submits every template (in one language, or both) and records the status Meta answers.
pub async fn submit(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &AccountArgs,
    graph_url: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let (secrets, client) = meta_account(store, keys, tenant, args.channel, graph_url).await?;
    let mut refused = 0;
    for t in templates::catalogue() {
        for tr in t.translations.iter().filter(|tr| args.language.as_deref().is_none_or(|l| l == tr.language)) {
            let label = format!("{} {}", t.name, tr.language);
            match client.create_template(&secrets, &args.waba_id, &t.meta_create_request(tr)).await {
                Ok(status) => {
                    let status = status_of_event(&status).unwrap_or("pending");
                    record(store, tenant, args.channel, t.purpose.as_str(), t.name, tr.language, status, now).await?;
                    println!("{label}: submitted ({status})");
                }
                Err(e) => {
                    refused += 1;
                    println!("{label}: refused ({}); if it exists already, run balas template sync", e.class());
                }
            }
        }
    }
    Ok(refused)
}

/// Reads the account's templates and records the status of each of balas's (by name and language).
pub async fn sync(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &AccountArgs,
    graph_url: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let (secrets, client) = meta_account(store, keys, tenant, args.channel, graph_url).await?;
    let listed = client
        .list_templates(&secrets, &args.waba_id)
        .await
        .map_err(|e| anyhow::anyhow!("Meta refused the template list ({})", e.class()))?;
    let mut recorded = 0;
    for t in templates::catalogue() {
        for tr in t.translations.iter().filter(|tr| args.language.as_deref().is_none_or(|l| l == tr.language)) {
            let found = listed.iter().find(|(name, language, _)| name == t.name && language == tr.language);
            let Some(status) = found.and_then(|(_, _, status)| status_of_event(status)) else {
                println!("{} {}: not in the account (balas template submit)", t.name, tr.language);
                continue;
            };
            record(store, tenant, args.channel, t.purpose.as_str(), t.name, tr.language, status, now).await?;
            println!("{} {}: {status}", t.name, tr.language);
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// The channel's Meta credentials and a Graph API client.
async fn meta_account(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    channel: ChannelId,
    graph_url: &str,
) -> anyhow::Result<(MetaSecrets, MetaClient)> {
    let mut tx = store.begin_read(tenant.id).await?;
    let record =
        tx.channel(channel).await?.ok_or_else(|| anyhow::anyhow!("no channel {channel} in {}", tenant.slug))?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    tx.commit().await?;
    let ChannelSecrets::Meta(secrets) = ChannelSecrets::open(&record.secrets_enc, &key)? else {
        anyhow::bail!("channel {channel} is not a Meta channel: submit Twilio content in its console");
    };
    crate::crypto::install_crypto_provider();
    Ok((secrets, MetaClient::new(reqwest::Client::new(), graph_url)))
}

/// Records one template's status on the channel, unless it is recorded so already.
#[allow(clippy::too_many_arguments)]
async fn record(
    store: &dyn Store,
    tenant: &TenantRecord,
    channel: ChannelId,
    purpose: &str,
    name: &str,
    language: &str,
    status: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = store.begin(tenant.id).await?;
    let existing = tx.channel_templates(channel).await?;
    if existing.iter().any(|r| r.purpose == purpose && r.language == language && r.name == name && r.status == status) {
        tx.commit().await?;
        return Ok(());
    }
    let row = ChannelTemplateRecord {
        channel_id: channel,
        purpose: purpose.into(),
        language: language.into(),
        name: name.into(),
        status: status.into(),
        updated_at: now,
    };
    record_template(&mut *tx, &row, now).await?;
    tx.commit().await?;
    Ok(())
}
