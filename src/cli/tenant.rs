//! `balas tenant create|list|cancel|set`: tenants, their settings at creation, and the
//! operator-only limits (`set`) that tenant users can read but not change.
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Subcommand};

use super::{admin, find_tenant, owner, privacy};
use crate::config::{DatabaseArgs, KeyArgs};
use crate::tenants::{self, Limits};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: Option<String>,
        #[command(flatten)]
        settings: Box<TenantArgs>,
        /// An owner number (repeatable); it gets escalation notices on WhatsApp.
        #[arg(long)]
        owner_phone: Vec<String>,
        /// The e-mail of the owner number at the same position (repeatable).
        #[arg(long)]
        owner_email: Vec<String>,
    },
    /// List tenants (on PostgreSQL this needs BALAS_DATABASE_OWNER_URL).
    List,
    /// End a tenant's contract: webhooks stop now, its data and keys are purged 30 days later.
    Cancel {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        yes: bool,
    },
    /// Change the limits only the operator sets (they cost money); tenant users can only read them.
    Set(SetArgs),
}

/// `balas tenant set`: at least one limit.
#[derive(Args)]
#[command(group(ArgGroup::new("limits").required(true).multiple(true)))]
pub struct SetArgs {
    /// The tenant's slug or id.
    #[arg(long)]
    tenant: String,
    /// LLM tokens per calendar month (UTC); 0 keeps the tenant on the offline FAQ responder.
    #[arg(long, group = "limits", value_parser = clap::value_parser!(i64).range(0..))]
    token_budget: Option<i64>,
    /// WhatsApp templates per calendar month (UTC), each billed by the provider; past it owner
    /// notices go by e-mail. 0: no cap.
    #[arg(long, group = "limits", value_parser = clap::value_parser!(i64).range(0..))]
    template_cap: Option<i64>,
    /// Bytes of customers' files stored per UTC day; past it a file is not fetched and the
    /// owner is told. 0: no cap.
    #[arg(long, group = "limits", value_parser = clap::value_parser!(i64).range(0..))]
    media_bytes_per_day: Option<i64>,
    /// Let the tenant bring its own LLM key (true) or not (false: a stored key is deleted).
    /// Its own usage does not count against the token budget.
    #[arg(long, group = "limits", action = clap::ArgAction::Set)]
    allow_own_llm_key: Option<bool>,
}

/// How a new tenant's bot behaves and what it may say about the business.
#[derive(Args)]
pub struct TenantArgs {
    /// Customer-facing language: id (Bahasa Indonesia) or en.
    #[arg(long, default_value = "id", value_parser = ["id", "en"])]
    language: String,
    /// Media the bot cannot read (photos, voice notes): reply asking for text, or escalate.
    #[arg(long, default_value = "reply", value_parser = ["reply", "escalate"])]
    media_policy: String,
    /// Send photos to a vision-capable model and voice notes to the transcription endpoint
    /// (when configured); the media policy answers when that is off or fails.
    #[arg(long)]
    understand_media: bool,
    /// Let the bot answer in group chats (Fonnte).
    #[arg(long)]
    answer_groups: bool,
    /// What the business is and sells, for the LLM's answers.
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long, default_value = "")]
    address: String,
    /// e.g. "Setiap hari 08.00–21.00 WIB".
    #[arg(long, default_value = "")]
    opening_hours: String,
    /// How the bot should sound, e.g. "ramah, santai, panggil pelanggan kak".
    #[arg(long, default_value = "")]
    tone: String,
    /// LLM tokens per calendar month (0: offline FAQ responder only).
    #[arg(long, default_value_t = 2_000_000)]
    token_budget: i64,
    /// WhatsApp templates per calendar month (UTC), each billed; 0: no cap.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    template_cap: i64,
    /// Bytes of customers' files stored per UTC day; 0: no cap.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    media_bytes_per_day: i64,
    /// Comma-separated words that hand a customer straight to the owner.
    #[arg(long, default_value = tenants::DEFAULT_KEYWORDS)]
    escalation_keywords: String,
    /// Bot answers in a row before the owner is asked to look (0: off).
    #[arg(long, default_value_t = 8)]
    max_bot_turns: i32,
    /// e.g. 08:00-21:00; outside these hours every conversation goes to the owner (empty: off).
    #[arg(long, default_value = "")]
    business_hours: String,
    /// IANA time zone of the business.
    #[arg(long, default_value = "Asia/Jakarta")]
    timezone: String,
    /// Remind the owner of an unanswered ticket after this many minutes.
    #[arg(long, default_value_t = 30)]
    renotify_minutes: i32,
    /// The owner-response target in minutes (business hours when set); then the customer is told when to expect an answer.
    #[arg(long, default_value_t = 120)]
    response_target_minutes: i32,
    /// Hours after which the bot resumes a ticket nobody answered (marked unanswered); 0: never.
    #[arg(long, default_value_t = 24)]
    resume_after_hours: i32,
    /// Tell the customer when their ticket is resolved (true or false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    announce_resolved: bool,
    /// Give a conversation the owner took over back to the bot after this many silent hours.
    #[arg(long, default_value_t = 12)]
    human_idle_hours: i32,
    /// Delete messages older than this many days (default: keep them while the tenant is active).
    #[arg(long)]
    message_retention_days: Option<i32>,
    /// Hours to acknowledge a data-subject request (72–168).
    #[arg(long, default_value_t = 168)]
    dsar_ack_hours: i32,
    /// Hours to answer a data-subject request (72–720).
    #[arg(long, default_value_t = 720)]
    dsar_answer_hours: i32,
    /// When the owners get the daily digest (local HH:MM; "" for none).
    #[arg(long, default_value = "07:00")]
    digest_time: String,
    /// Hosts the bot may link to besides the links in the profile and FAQ, comma-separated
    /// (e.g. "tokobusri.com,tokobusri.id"; subdomains included).
    #[arg(long, default_value = "")]
    link_hosts: String,
}

impl From<TenantArgs> for tenants::TenantSettings {
    fn from(a: TenantArgs) -> Self {
        Self {
            language: a.language,
            media_policy: a.media_policy,
            understand_media: a.understand_media,
            answer_groups: a.answer_groups,
            description: a.description,
            address: a.address,
            opening_hours: a.opening_hours,
            tone: a.tone,
            monthly_token_budget: a.token_budget,
            monthly_template_cap: a.template_cap,
            daily_media_bytes_cap: a.media_bytes_per_day,
            escalation_keywords: a.escalation_keywords,
            max_bot_turns: a.max_bot_turns,
            business_hours: a.business_hours,
            timezone: a.timezone,
            renotify_minutes: a.renotify_minutes,
            response_target_minutes: a.response_target_minutes,
            resume_after_hours: a.resume_after_hours,
            announce_resolved: a.announce_resolved,
            human_idle_hours: a.human_idle_hours,
            message_retention_days: a.message_retention_days,
            dsar_ack_hours: a.dsar_ack_hours,
            dsar_answer_hours: a.dsar_answer_hours,
            digest_time: a.digest_time,
            link_hosts: a.link_hosts,
            llm_profile: String::new(),
            llm_fallback_profile: String::new(),
            own_llm_key_allowed: false,
        }
    }
}

pub(super) async fn run(
    db: &DatabaseArgs,
    key_args: &KeyArgs,
    command: TenantCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { name, slug, settings, owner_phone, owner_email } => {
            let (store, keys) = admin(db, key_args).await?;
            let tenant = tenants::create(&*store, &keys, &name, slug.as_deref(), &(*settings).into(), now).await?;
            println!("{}", tenant.id);
            owner::add_all(&*store, &keys, &tenant, &owner_phone, &owner_email, now).await?;
        }
        TenantCommand::List => {
            let (store, _) = admin(db, key_args).await?;
            println!("{:<36}  {:<24}  {:<4}  {:<9}  NAME", "ID", "SLUG", "LANG", "STATUS");
            for t in store.list_tenants().await? {
                println!("{:<36}  {:<24}  {:<4}  {:<9}  {}", t.id, t.slug, t.settings.language, t.status, t.name);
            }
        }
        TenantCommand::Cancel { tenant, yes } => {
            let (store, _) = admin(db, key_args).await?;
            privacy::cancel(&*store, &find_tenant(&*store, &tenant).await?, yes, now).await?;
        }
        TenantCommand::Set(args) => {
            let (store, _) = admin(db, key_args).await?;
            let tenant = find_tenant(&*store, &args.tenant).await?;
            let limits = Limits {
                monthly_token_budget: args.token_budget,
                monthly_template_cap: args.template_cap,
                daily_media_bytes_cap: args.media_bytes_per_day,
                own_llm_key_allowed: args.allow_own_llm_key,
            };
            let settings = tenants::set_limits(&*store, tenant.id, &limits, "cli", now).await?;
            let (old, new) = (tenant.settings.monthly_token_budget, settings.monthly_token_budget);
            println!("{}: monthly token budget {old} -> {new}", tenant.slug);
            let (old, new) = (tenant.settings.monthly_template_cap, settings.monthly_template_cap);
            println!("{}: monthly template cap {old} -> {new} (0: no cap)", tenant.slug);
            let (old, new) = (tenant.settings.daily_media_bytes_cap, settings.daily_media_bytes_cap);
            println!("{}: media bytes per day {old} -> {new} (0: no cap)", tenant.slug);
            let (old, new) = (tenant.settings.own_llm_key_allowed, settings.own_llm_key_allowed);
            println!("{}: own LLM key allowed {old} -> {new}", tenant.slug);
        }
    }
    Ok(())
}
