//! The `balas` command line: `serve` (the default), `migrate`, and operator commands.
mod audit;
mod breach;
mod channel;
mod doctor;
mod keys;
mod llm;
mod media;
mod owner;
mod privacy;
mod requests;
mod serve;
mod template;
mod template_sync;
mod tenant;
mod webhook;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::audit as audit_log;
use crate::auth::{Claims, MAX_TOKEN_TTL, Role, TokenKeys};
use crate::clock::{Clock, SystemClock};
use crate::config::{DatabaseArgs, KeyArgs, Keys};
use crate::logging::{self, LogFormat};
use crate::store::{self, Store};
use crate::{crypto, demo, kb, tenants};

#[derive(Parser)]
#[command(name = "balas", version, about = "WhatsApp AI customer service for Indonesian small businesses")]
pub struct Cli {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// pretty for a terminal, json for production log collectors.
    #[arg(long, env = "BALAS_LOG_FORMAT", value_enum, default_value = "pretty", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Args)]
pub struct ServeArgs {
    #[arg(long, env = "BALAS_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: String,
    /// Externally visible base URL (default: http://LISTEN); printed webhook URLs use it.
    #[arg(long, env = "BALAS_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    #[arg(long, env = "BALAS_META_GRAPH_URL", default_value = "https://graph.facebook.com/v21.0", global = true)]
    pub meta_graph_url: String,
    #[arg(long, env = "BALAS_TWILIO_API_URL", default_value = "https://api.twilio.com", global = true)]
    pub twilio_api_url: String,
    /// Twilio's Content API, for `balas template submit|sync` on a Twilio channel.
    #[arg(long, env = "BALAS_TWILIO_CONTENT_URL", default_value = "https://content.twilio.com", global = true)]
    pub twilio_content_url: String,
    #[arg(long, env = "BALAS_FONNTE_API_URL", default_value = "https://api.fonnte.com", global = true)]
    pub fonnte_api_url: String,
    /// Concurrent background workers.
    #[arg(long, env = "BALAS_WORKERS", default_value_t = 4, global = true)]
    pub workers: usize,
    /// Attempts per job before it is dead-lettered.
    #[arg(long, env = "BALAS_JOB_MAX_ATTEMPTS", default_value_t = 10, global = true)]
    pub max_attempts: i32,
    /// Seconds a worker holds a job; a crashed instance's jobs are taken over after this.
    #[arg(long, env = "BALAS_JOB_LEASE_SECS", default_value_t = 120, global = true)]
    pub job_lease_secs: u64,
    /// Days a late owner reply waits for the customer to answer the follow-up template.
    #[arg(long, env = "BALAS_LATE_REPLY_DAYS", default_value_t = 7, global = true)]
    pub late_reply_days: u64,
    /// Minimum FAQ match confidence (0–1) for the offline responder to answer.
    #[arg(long, env = "BALAS_FAQ_THRESHOLD", default_value_t = 0.6, global = true)]
    pub faq_threshold: f64,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests and jobs before cutting them off.
    #[arg(long, env = "BALAS_SHUTDOWN_GRACE_SECS", default_value_t = 15, global = true)]
    pub shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's head (also how long a kept-alive connection may wait for its next request).
    #[arg(long, env = "BALAS_HEADER_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body once its head arrived.
    #[arg(long, env = "BALAS_BODY_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub body_timeout_secs: u64,
    /// Seconds a connection may go without a byte read or written before it is closed.
    #[arg(long, env = "BALAS_IDLE_TIMEOUT_SECS", default_value_t = 60, global = true)]
    pub idle_timeout_secs: u64,
    /// Requests handled at once; more get 503 with Retry-After (/healthz, /readyz, /metrics are exempt).
    #[arg(long, env = "BALAS_MAX_IN_FLIGHT", default_value_t = 512, global = true)]
    pub max_in_flight: usize,
    /// Where login limits read the client address: the TCP peer, or a header our proxy sets (fly-client-ip behind Fly).
    #[arg(long, env = "BALAS_CLIENT_IP_HEADER", value_enum, default_value = "peer", global = true)]
    pub client_ip_header: crate::client_ip::ClientIpSource,
    /// With x-forwarded-for: how many proxies of ours append to it (the client is that many entries from the right).
    #[arg(long, env = "BALAS_TRUSTED_PROXY_HOPS", default_value_t = 1, global = true)]
    pub trusted_proxy_hops: usize,
    #[command(flatten)]
    pub llm: llm::LlmArgs,
    #[command(flatten)]
    pub media: media::MediaArgs,
    /// SMTP server for owner e-mail, e.g. smtps://user:pass@mail.example.com (optional).
    #[arg(long, env = "BALAS_SMTP_URL", value_parser = crate::config::secret, hide_env_values = true, global = true)]
    pub smtp_url: Option<secrecy::SecretString>,
    #[arg(long, env = "BALAS_SMTP_FROM", default_value = "balas@localhost", global = true)]
    pub smtp_from: String,
    /// Signs owner-API tokens (at least 32 bytes); without it the API answers 503.
    #[arg(long, env = "BALAS_JWT_SECRET", value_parser = crate::config::secret, hide_env_values = true, global = true)]
    pub jwt_secret: Option<secrecy::SecretString>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this token>`.
    #[arg(long, env = "BALAS_METRICS_TOKEN", value_parser = crate::config::secret, hide_env_values = true, global = true)]
    pub metrics_token: Option<secrecy::SecretString>,
    /// The secret before a rotation: its tokens stay valid until they expire.
    #[arg(long, env = "BALAS_JWT_PREVIOUS_SECRET", value_parser = crate::config::secret, hide_env_values = true, global = true)]
    pub jwt_previous_secret: Option<secrecy::SecretString>,
    /// Let webhook endpoints be on private, loopback or link-local addresses and plain http: a
    /// receiver on the same machine or network only (tests, an n8n beside balas).
    #[arg(long, env = "BALAS_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, global = true)]
    pub webhook_allow_private: bool,
    /// Rupiah per US dollar, for LLM costs shown in IDR in analytics and the digest.
    #[arg(long, env = "BALAS_USD_IDR_RATE", default_value_t = crate::core::DEFAULT_USD_IDR_RATE, global = true)]
    pub usd_idr_rate: f64,
    /// Days between announcing a new sub-processor (an LLM host, e-mail relay, storage host) to
    /// a shop and using it for its data (the policies promise 14 to 30).
    #[arg(long, env = "BALAS_SUBPROCESSOR_NOTICE_DAYS", default_value_t = crate::privacy::subprocessor_changes::DEFAULT_NOTICE_DAYS, value_parser = clap::value_parser!(i64).range(0..=365), global = true)]
    pub subprocessor_notice_days: i64,
    /// Report panics and logged errors to Sentry, scrubbed of personal data and secrets (optional).
    #[arg(long, env = "BALAS_SENTRY_DSN", value_parser = crate::config::secret, hide_env_values = true, global = true)]
    pub sentry_dsn: Option<secrecy::SecretString>,
}

impl ServeArgs {
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_string()
    }

    /// The timeouts and the in-flight bound, each at least 1 (0 would refuse everything).
    pub fn server_limits(&self) -> crate::server::ServerLimits {
        let seconds = |s: u64| std::time::Duration::from_secs(s.max(1));
        crate::server::ServerLimits {
            header_timeout: seconds(self.header_timeout_secs),
            body_timeout: seconds(self.body_timeout_secs),
            idle_timeout: seconds(self.idle_timeout_secs),
            max_in_flight: self.max_in_flight.max(1),
            client_ip: crate::client_ip::ClientIp {
                source: self.client_ip_header,
                trusted_hops: self.trusted_proxy_hops.max(1),
            },
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server and the workers (the default).
    Serve,
    /// Apply database migrations (on PostgreSQL, as BALAS_DATABASE_OWNER_URL).
    Migrate,
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Owner numbers: they get escalation notices and may answer with commands.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Check a tenant's setup and say what is wrong and how to fix it (exit 1 on a problem).
    Doctor {
        #[arg(long)]
        tenant: String,
    },
    /// The WhatsApp templates that reach people outside the 24-hour window.
    #[command(subcommand)]
    Template(template::TemplateCommand),
    /// The tenant's FAQ / knowledge base.
    #[command(subcommand)]
    Kb(KbCommand),
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Owner-API bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Users of the owner API and dashboard.
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Play a scripted conversation through the real pipeline against a local fake Graph API.
    Demo,
    /// Data-subject requests and their deadlines.
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// The shop's signed outbound webhook endpoints (Standard Webhooks).
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Retention (also run daily inside `serve`).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Print everything held about one contact as a versioned JSON bundle (audited).
    Export(privacy::ContactArgs),
    /// Correct a contact's name or phone number (audited by field name only).
    Correct(privacy::CorrectArgs),
    /// Erase a contact: messages, conversations, tickets, identifiers and key (audited, anonymous).
    Erase(privacy::EraseArgs),
    /// Who read, exported or changed personal data in a time window (from the audit; ids and counts only).
    BreachReport(breach::BreachReportArgs),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a signed token for an API client or dashboard (needs BALAS_JWT_SECRET).
    Issue {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Lifetime: a number with m, h or d (e.g. 12h, 30d).
        #[arg(long, default_value = "30d", value_parser = parse_ttl)]
        ttl: chrono::Duration,
        /// Who the token is for, as shown in audit rows.
        #[arg(long, default_value = "api-client")]
        subject: String,
    },
    /// Refuse a token from now on, by its id (`jti`, printed in the audit as `token.issued`).
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        token_id: String,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user of the owner API and dashboard; the password is read from standard input.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from the first line of standard input (required: no prompt echo).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn parse_ttl(raw: &str) -> Result<chrono::Duration, String> {
    let (number, unit) = raw.split_at(raw.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| "use a number with m, h or d, e.g. 30d".to_string())?;
    let ttl = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err("use a number with m, h or d, e.g. 30d".into()),
    };
    if n <= 0 || ttl > MAX_TOKEN_TTL {
        return Err("the lifetime must be positive and at most 366 days".into());
    }
    Ok(ttl)
}

#[derive(Subcommand)]
pub enum OwnerCommand {
    /// Register an owner number (and optionally an e-mail for notices).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// List a tenant's owner numbers (masked).
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Connect a WhatsApp number; prints the webhook URL to give the provider.
    Add(Box<channel::ChannelAddArgs>),
}

#[derive(Subcommand)]
pub enum KbCommand {
    /// Import FAQ entries from a .csv (question,answer[,keywords]) or .json file.
    Import {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
        /// Add to the existing entries instead of replacing them.
        #[arg(long)]
        append: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a new random key (valid for BALAS_FERNET_KEYS, BALAS_INDEX_KEY and BALAS_AUDIT_KEY).
    Generate,
    /// Re-wrap every data key under the first key of BALAS_FERNET_KEYS, then verify that the
    /// older keys are no longer needed. Safe to interrupt and run again.
    Rotate,
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Delete what is past its retention period now; prints the counts per tenant.
    Run {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero and names the first bad row on any tampering.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        /// A file of heads printed earlier by `balas audit head`: each chain must still reach its head.
        #[arg(long)]
        head: Option<PathBuf>,
    },
    /// Print each tenant's current signed chain head as JSON lines, to keep outside the database.
    Head {
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub async fn run() -> anyhow::Result<ExitCode> {
    let mut cli = Cli::parse();
    let command = cli.command.take().unwrap_or(Command::Serve);
    let serving = matches!(command, Command::Serve);
    let level = if serving { "info" } else { "warn" };
    let reporting_wanted = serving && cli.serve.sentry_dsn.is_some();
    logging::init_with(cli.log_format, level, reporting_wanted);
    let now = SystemClock.now();
    match command {
        Command::Serve => serve::run(&cli, reporting_wanted).await?,
        Command::Migrate => {
            let store = store::connect(cli.db.admin_url()).await?;
            store.migrate(cli.db.app_role().as_deref()).await?;
            println!("migrations applied");
            if let Some(key) = &cli.keys.audit_key {
                // Only a key given explicitly: a generated one belongs with the other development keys.
                store.use_audit_keys(Arc::new(audit_log::AuditKeys::from_secret(key).context("BALAS_AUDIT_KEY")?));
                let anchored = audit::anchor_all(&*store, &store.list_tenants().await?, now).await?;
                println!("audit chains anchored or rotated: {anchored}");
            }
        }
        Command::Keys(KeysCommand::Generate) => println!("{}", crypto::generate_key()),
        Command::Keys(KeysCommand::Rotate) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            return keys::rotate(&*store, &keys).await;
        }
        Command::Export(who) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            privacy::export(&*store, &keys, &find_tenant(&*store, &who.tenant).await?, &who, now).await?;
        }
        Command::Correct(args) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            privacy::correct(&*store, &keys, &find_tenant(&*store, &args.who.tenant).await?, &args, now).await?;
        }
        Command::Erase(args) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let media = crate::media::MediaStorage::open(&cli.serve.media.settings(&cli.db).storage)?;
            privacy::erase(&*store, &media, &keys, &find_tenant(&*store, &args.who.tenant).await?, &args, now).await?;
        }
        Command::BreachReport(args) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let targets = match &args.tenant {
                Some(t) => vec![find_tenant(&*store, t).await?],
                None => store.list_tenants().await?,
            };
            breach::run(&*store, targets, &args, now).await?;
        }
        Command::Demo => demo::run().await?,
        Command::Doctor { tenant } => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            let setup = doctor::Setup { llm: cli.serve.llm.settings()?.is_some(), smtp: cli.serve.smtp_url.is_some() };
            if doctor::run(&*store, &keys, &tenant, &setup).await? > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Template(template::TemplateCommand::Set(args)) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            template::set(&*store, &find_tenant(&*store, &args.tenant).await?, &args, now).await?;
        }
        Command::Template(template::TemplateCommand::Status { tenant, channel }) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            template::status(&*store, &find_tenant(&*store, &tenant).await?, channel).await?;
        }
        Command::Template(template::TemplateCommand::Submit(args)) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &args.tenant).await?;
            let apis = template_sync::Apis { graph: &cli.serve.meta_graph_url, content: &cli.serve.twilio_content_url };
            if template_sync::submit(&*store, &keys, &tenant, &args, apis, now).await? > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Template(template::TemplateCommand::Sync(args)) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &args.tenant).await?;
            let apis = template_sync::Apis { graph: &cli.serve.meta_graph_url, content: &cli.serve.twilio_content_url };
            template_sync::sync(&*store, &keys, &tenant, &args, apis, now).await?;
        }
        Command::Template(command) => template::run(&command, &cli.serve.meta_graph_url)?,
        Command::Requests(command) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, command.tenant()).await?;
            requests::run(&*store, &keys, &tenant, command, now).await?;
        }
        Command::Webhook(command) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, command.tenant()).await?;
            let settings = crate::webhooks::WebhookSettings { allow_private: cli.serve.webhook_allow_private };
            webhook::run((&*store, &keys), &tenant, settings, command, now).await?;
        }
        Command::Retention(RetentionCommand::Run { tenant }) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let tenant = match tenant {
                Some(t) => Some(find_tenant(&*store, &t).await?),
                None => None,
            };
            privacy::retention(&*store, tenant.as_ref(), now).await?;
        }
        Command::Tenant(command) => tenant::run(&cli.db, &cli.keys, command, now).await?,
        Command::Owner(OwnerCommand::Add { tenant, phone, email }) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            owner::add_all(&*store, &keys, &tenant, &[phone], &email.into_iter().collect::<Vec<_>>(), now).await?;
        }
        Command::Token(TokenCommand::Issue { tenant, role, ttl, subject }) => {
            // The other keys first: on SQLite they create `<database>.keys`, which the token secret joins.
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let secret = crate::config::jwt_secret(cli.serve.jwt_secret.as_ref(), &cli.db, cli.keys.forbid_dev_keys)?;
            let keys = TokenKeys::new(&secret.context("BALAS_JWT_SECRET is not set")?)?;
            let tenant = find_tenant(&*store, &tenant).await?;
            let claims = Claims::new(tenant.id, role, &subject, ttl, now);
            let token = keys.issue(&claims)?;
            let mut tx = store.begin(tenant.id).await?;
            let entry = audit_log::AuditEntry::new("cli", "token.issued", "token", Some(claims.jti.clone()))
                .detail(serde_json::json!({ "role": role, "subject": claims.sub, "expires": claims.exp }));
            audit_log::append(&mut *tx, vec![entry], now).await?;
            tx.commit().await?;
            println!("{token}");
        }
        Command::Token(TokenCommand::Revoke { tenant, token_id }) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            let mut tx = store.begin(tenant.id).await?;
            let fresh = tx.revoke_token(&token_id, now + MAX_TOKEN_TTL, now).await?;
            let entry = audit_log::AuditEntry::new("cli", "token.revoked", "token", Some(token_id.clone()));
            audit_log::append(&mut *tx, vec![entry], now).await?;
            tx.commit().await?;
            println!("{} {token_id}", if fresh { "revoked" } else { "already revoked:" });
        }
        Command::User(UserCommand::Create { tenant, email, role, password_stdin }) => {
            anyhow::ensure!(password_stdin, "pass the password on standard input with --password-stdin");
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            let password = password.trim_end_matches(['\r', '\n']);
            let new = crate::users::NewUser { email: &email, role, password };
            let user = crate::users::create(&*store, &keys, tenant.id, new, "cli", now).await?;
            println!("{}", user.id);
        }
        Command::Owner(OwnerCommand::List { tenant }) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            owner::list(&*store, &keys, &tenant).await?;
        }
        Command::Channel(ChannelCommand::Add(args)) => {
            let (store, keys) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &args.tenant).await?;
            channel::add(&*store, &keys, &tenant, &cli.serve.public_url(), *args, now).await?
        }
        Command::Kb(KbCommand::Import { tenant, file, append }) => {
            let items = kb::read_file(&file)?;
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let tenant = find_tenant(&*store, &tenant).await?;
            let (removed, added) = kb::import(&*store, tenant.id, &items, append, now).await?;
            println!("imported {added} FAQ entries for {} (replaced {removed})", tenant.slug);
        }
        Command::Audit(AuditCommand::Verify { tenant, head }) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            let targets = tenants_or_all(&*store, tenant.as_deref()).await?;
            return audit::verify(&*store, &targets, tenant.is_none(), head.as_deref()).await;
        }
        Command::Audit(AuditCommand::Head { tenant }) => {
            let (store, _) = admin(&cli.db, &cli.keys).await?;
            return audit::head(&*store, &tenants_or_all(&*store, tenant.as_deref()).await?, now).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The store and keys for operator commands; migrates SQLite so a fresh file just works.
async fn admin(db: &DatabaseArgs, key_args: &KeyArgs) -> anyhow::Result<(Arc<dyn Store>, Keys)> {
    let keys = key_args.resolve(db)?;
    let store = store::connect(db.admin_url()).await?;
    store.use_audit_keys(keys.audit.clone());
    if store.backend() == store::Backend::Sqlite {
        store.migrate(None).await?;
    }
    Ok((store, keys))
}

async fn find_tenant(store: &dyn Store, id_or_slug: &str) -> anyhow::Result<store::TenantRecord> {
    tenants::find(store, id_or_slug).await?.with_context(|| format!("no tenant {id_or_slug:?}"))
}

/// One tenant by id or slug, or every tenant.
async fn tenants_or_all(store: &dyn Store, tenant: Option<&str>) -> anyhow::Result<Vec<store::TenantRecord>> {
    Ok(match tenant {
        Some(t) => vec![find_tenant(store, t).await?],
        None => store.list_tenants().await?,
    })
}
