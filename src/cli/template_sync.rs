//! `balas template submit|sync`: submits balas's templates for review with the channel's own
//! credentials (Meta: to its WhatsApp Business Account; Twilio: as Content API content with a
//! WhatsApp approval request), and reads their review status back into the channel's records.
use chrono::{DateTime, Utc};

use super::template::record_template;
use crate::channels::meta::{MetaClient, MetaSecrets};
use crate::channels::templates::{self, Template, Translation, status_of_event};
use crate::channels::twilio::TwilioSecrets;
use crate::channels::twilio_content::{ContentClient, status_of_approval};
use crate::channels::{ChannelSecrets, SendError};
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
    /// Meta: the WhatsApp Business Account id that holds the channel's number (WhatsApp Manager).
    #[arg(long)]
    pub waba_id: Option<String>,
    /// Only this language (id or en).
    #[arg(long)]
    pub language: Option<String>,
}

/// The provider APIs' base URLs.
#[derive(Clone, Copy)]
pub struct Apis<'a> {
    /// `BALAS_META_GRAPH_URL`.
    pub graph: &'a str,
    /// `BALAS_TWILIO_CONTENT_URL`.
    pub content: &'a str,
}

/// A channel's provider account, opened for template management.
enum Account {
    Meta { client: MetaClient, secrets: MetaSecrets, waba: String },
    Twilio { client: ContentClient, secrets: TwilioSecrets },
}

impl Account {
    /// Submits one template; returns the name to record (Twilio: the content SID) and its status.
    async fn submit(&self, t: &Template, tr: &Translation) -> Result<(String, &'static str), SendError> {
        match self {
            Self::Meta { client, secrets, waba } => {
                let status = client.create_template(secrets, waba, &t.meta_create_request(tr)).await?;
                Ok((t.name.to_string(), status_of_event(&status).unwrap_or("pending")))
            }
            Self::Twilio { client, secrets } => {
                let sid = client.create(secrets, &t.twilio_content_request(tr)).await?;
                let status = client.request_approval(secrets, &sid, &t.twilio_approval_request(tr)).await?;
                Ok((sid, status_of_approval(&status)))
            }
        }
    }
}

/// Submits every template (in one language, or both) and records the status the provider
/// answers; returns how many were refused.
pub async fn submit(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &AccountArgs,
    apis: Apis<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let account = open_account(store, keys, tenant, args, apis).await?;
    let mut refused = 0;
    for (t, tr) in wanted(args) {
        let label = format!("{} {}", t.name, tr.language);
        match account.submit(t, tr).await {
            Ok((name, status)) => {
                record(store, tenant, args.channel, t.purpose.as_str(), &name, tr.language, status, now).await?;
                println!("{label}: submitted as {name} ({status})");
            }
            Err(e) => {
                refused += 1;
                println!("{label}: refused ({}); if it exists already, run balas template sync", e.class());
            }
        }
    }
    Ok(refused)
}

/// Reads the review status of balas's templates and records it: Meta's by name and language
/// from the account's list, Twilio's per recorded content SID.
pub async fn sync(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &AccountArgs,
    apis: Apis<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let account = open_account(store, keys, tenant, args, apis).await?;
    let mut recorded = 0;
    match &account {
        Account::Meta { client, secrets, waba } => {
            let listed = client
                .list_templates(secrets, waba)
                .await
                .map_err(|e| anyhow::anyhow!("Meta refused the template list ({})", e.class()))?;
            for (t, tr) in wanted(args) {
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
        Account::Twilio { client, secrets } => {
            let mut tx = store.begin_read(tenant.id).await?;
            let rows = tx.channel_templates(args.channel).await?;
            tx.commit().await?;
            for row in rows.iter().filter(|r| r.name.starts_with("HX")) {
                let approval = client
                    .approval(secrets, &row.name)
                    .await
                    .map_err(|e| anyhow::anyhow!("Twilio refused {} ({})", row.name, e.class()))?;
                let status = status_of_approval(&approval);
                record(store, tenant, args.channel, &row.purpose, &row.name, &row.language, status, now).await?;
                println!("{} {} {}: {status}", row.purpose, row.language, row.name);
                recorded += 1;
            }
        }
    }
    Ok(recorded)
}

/// balas's templates in the languages asked for (both by default).
fn wanted(args: &AccountArgs) -> impl Iterator<Item = (&'static Template, &'static Translation)> + '_ {
    let language = args.language.as_deref();
    templates::catalogue()
        .iter()
        .flat_map(|t| t.translations.iter().map(move |tr| (t, tr)))
        .filter(move |(_, tr)| language.is_none_or(|l| l == tr.language))
}

/// The channel's provider account, with its own credentials.
async fn open_account(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    args: &AccountArgs,
    apis: Apis<'_>,
) -> anyhow::Result<Account> {
    let channel = args.channel;
    let mut tx = store.begin_read(tenant.id).await?;
    let record =
        tx.channel(channel).await?.ok_or_else(|| anyhow::anyhow!("no channel {channel} in {}", tenant.slug))?;
    let key = tenants::data_key(&mut *tx, keys).await?;
    tx.commit().await?;
    crate::crypto::install_crypto_provider();
    let http = reqwest::Client::new();
    match ChannelSecrets::open(&record.secrets_enc, &key)? {
        ChannelSecrets::Meta(secrets) => {
            let waba = args.waba_id.clone().ok_or_else(|| anyhow::anyhow!("a Meta channel needs --waba-id"))?;
            Ok(Account::Meta { client: MetaClient::new(http, apis.graph), secrets, waba })
        }
        ChannelSecrets::Twilio(secrets) => {
            Ok(Account::Twilio { client: ContentClient::new(http, apis.content), secrets })
        }
        ChannelSecrets::Fonnte(_) => anyhow::bail!("Fonnte has no 24-hour window and no templates"),
    }
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
