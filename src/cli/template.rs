//! `balas template list|print|set|status`: the WhatsApp templates balas ships, the requests
//! that create them at Meta or Twilio, and which approved template serves each purpose on a
//! channel. `submit` and `sync` (Meta) are in `template_sync`.
use std::io::Write;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::channels::templates::{self, Template, TemplatePurpose, Translation};
use crate::domain::ChannelId;
use crate::store::{ChannelTemplateRecord, Store, TenantRecord, TenantTx};

#[derive(Subcommand)]
pub enum TemplateCommand {
    /// The purposes, and the template balas ships for each.
    List,
    /// Print the requests that create the templates, one per language.
    Print {
        #[arg(long, value_enum)]
        provider: TemplateProvider,
        /// Only this language (id or en).
        #[arg(long)]
        language: Option<String>,
    },
    /// Record the template serving a purpose on a channel, and its approval status (until the
    /// status is synced from the provider, the operator records it).
    Set(Box<TemplateSetArgs>),
    /// Every purpose, and the template recorded for it on one channel (or missing).
    Status {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: ChannelId,
    },
    /// Submit balas's templates for review to a Meta channel's business account, and record
    /// them on the channel with the status Meta gives (pending until reviewed).
    Submit(super::template_sync::AccountArgs),
    /// Read the review status of balas's templates from a Meta business account and record it.
    Sync(super::template_sync::AccountArgs),
}

#[derive(clap::Args)]
pub struct TemplateSetArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub channel: ChannelId,
    /// owner_escalation, owner_escalation_draft, owner_reminder, owner_digest or customer_follow_up.
    #[arg(long, value_parser = parse_purpose)]
    pub purpose: TemplatePurpose,
    #[arg(long, default_value = "id")]
    pub language: String,
    /// Meta's template name (default: balas's own) or, on Twilio, the content SID (`HX…`).
    #[arg(long)]
    pub name: Option<String>,
    /// approved, pending, rejected, paused or disabled; only approved is sent.
    #[arg(long, value_parser = ["approved", "pending", "rejected", "paused", "disabled"])]
    pub status: String,
}

fn parse_purpose(value: &str) -> Result<TemplatePurpose, String> {
    TemplatePurpose::parse(value).ok_or_else(|| format!("unknown purpose {value:?} (see `balas template list`)"))
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TemplateProvider {
    Meta,
    Twilio,
}

/// `graph_url` is `BALAS_META_GRAPH_URL`, so the printed path has the version balas sends with.
pub fn run(command: &TemplateCommand, graph_url: &str) -> anyhow::Result<()> {
    // Written, not printed: a closed pipe (`| head`) ends the command instead of panicking.
    let mut out = std::io::stdout().lock();
    match command {
        TemplateCommand::List => {
            writeln!(out, "{:<24}  {:<32}  {:<9}  BUTTONS (id)", "PURPOSE", "TEMPLATE", "LANGUAGES")?;
            for t in templates::catalogue() {
                let languages: Vec<&str> = t.translations.iter().map(|tr| tr.language).collect();
                let buttons = t.translation("id").buttons.join(", ");
                writeln!(out, "{:<24}  {:<32}  {:<9}  {buttons}", t.purpose.as_str(), t.name, languages.join(","))?;
            }
        }
        TemplateCommand::Print { provider, language } => {
            for t in templates::catalogue() {
                for tr in t.translations.iter().filter(|tr| language.as_deref().is_none_or(|l| l == tr.language)) {
                    write_requests(&mut out, t, tr, *provider, graph_url.trim_end_matches('/'))?;
                }
            }
        }
        TemplateCommand::Set(_)
        | TemplateCommand::Status { .. }
        | TemplateCommand::Submit(_)
        | TemplateCommand::Sync(_) => anyhow::bail!("needs the database"),
    }
    Ok(())
}

/// `set`: one row of `channel_templates`, audited.
pub async fn set(
    store: &dyn Store,
    tenant: &TenantRecord,
    args: &TemplateSetArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = store.begin(tenant.id).await?;
    let channel = tx
        .channel(args.channel)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no channel {} in {}", args.channel, tenant.slug))?;
    let name = match (&args.name, channel.provider.as_str()) {
        (Some(name), _) => name.clone(),
        (None, "twilio") => anyhow::bail!("a Twilio channel needs --name HX… (the approved content's SID)"),
        (None, "fonnte") => anyhow::bail!("Fonnte has no 24-hour window and no templates"),
        (None, _) => templates::template(args.purpose).name.to_string(),
    };
    let record = ChannelTemplateRecord {
        channel_id: args.channel,
        purpose: args.purpose.as_str().into(),
        language: args.language.clone(),
        name,
        status: args.status.clone(),
        updated_at: now,
    };
    record_template(&mut *tx, &record, now).await?;
    tx.commit().await?;
    println!("{} {} on {}: {} ({})", record.purpose, record.language, args.channel, record.name, record.status);
    Ok(())
}

/// Records which template serves a purpose on a channel, and its status, audited.
pub async fn record_template(
    tx: &mut dyn TenantTx,
    record: &ChannelTemplateRecord,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    tx.set_channel_template(record).await?;
    let entry =
        AuditEntry::new("cli", "channel.template_set", "channel", Some(record.channel_id.to_string())).detail(json!({
            "purpose": record.purpose, "language": record.language, "name": record.name, "status": record.status,
        }));
    audit::append(tx, vec![entry], now).await?;
    Ok(())
}

/// `status`: every purpose, and what serves it on the channel.
pub async fn status(store: &dyn Store, tenant: &TenantRecord, channel: ChannelId) -> anyhow::Result<()> {
    let mut tx = store.begin_read(tenant.id).await?;
    tx.channel(channel).await?.ok_or_else(|| anyhow::anyhow!("no channel {channel} in {}", tenant.slug))?;
    let recorded = tx.channel_templates(channel).await?;
    tx.commit().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<24}  {:<8}  {:<32}  STATUS", "PURPOSE", "LANGUAGE", "TEMPLATE")?;
    for purpose in TemplatePurpose::ALL {
        let rows: Vec<&ChannelTemplateRecord> = recorded.iter().filter(|r| r.purpose == purpose.as_str()).collect();
        if rows.is_empty() {
            writeln!(out, "{:<24}  {:<8}  {:<32}  missing", purpose.as_str(), "-", "-")?;
        }
        for r in rows {
            writeln!(out, "{:<24}  {:<8}  {:<32}  {}", r.purpose, r.language, r.name, r.status)?;
        }
    }
    Ok(())
}

fn write_requests(
    out: &mut impl Write,
    t: &Template,
    tr: &Translation,
    provider: TemplateProvider,
    graph_url: &str,
) -> anyhow::Result<()> {
    match provider {
        TemplateProvider::Meta => {
            writeln!(out, "POST {graph_url}/{{WABA-ID}}/message_templates")?;
            writeln!(out, "{}\n", serde_json::to_string(&t.meta_create_request(tr))?)?;
        }
        TemplateProvider::Twilio => {
            writeln!(out, "POST https://content.twilio.com/v1/Content")?;
            writeln!(out, "{}", serde_json::to_string(&t.twilio_content_request(tr))?)?;
            writeln!(out, "POST https://content.twilio.com/v1/Content/{{HX-SID}}/ApprovalRequests/whatsapp")?;
            writeln!(out, "{}\n", serde_json::to_string(&t.twilio_approval_request(tr))?)?;
        }
    }
    Ok(())
}
