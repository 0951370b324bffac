//! `balas webhook add|list|delete|rotate|enable|deliveries|replay`: the shop's signed outbound
//! webhook endpoints, for operators; the owner API has the same under `/api/v1/webhook-endpoints`.
use chrono::{DateTime, Utc};
use clap::Subcommand;
use uuid::Uuid;

use crate::config::Keys;
use crate::store::{Store, TenantRecord};
use crate::webhooks::endpoints::{self, NewEndpoint};
use crate::webhooks::{EVENTS, Sender, WebhookSettings};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; prints its id and its whsec_ secret (shown this once).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        url: String,
        /// Comma-separated event types.
        #[arg(long, value_delimiter = ',', required = true, value_parser = EVENTS)]
        events: Vec<String>,
        /// Send message text and phone numbers too (audited; named in the sub-processor list).
        #[arg(long)]
        include_content: bool,
    },
    /// The endpoints, without their secrets.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Delete an endpoint and its deliveries.
    Delete {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Uuid,
    },
    /// A new secret (printed once); the old one also signs for 24 hours.
    Rotate {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Uuid,
    },
    /// Enable an endpoint that was disabled (410, or five days of failures).
    Enable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Uuid,
    },
    /// The endpoint's latest deliveries, newest first.
    Deliveries {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Uuid,
    },
    /// Send a settled delivery again, with the same webhook-id.
    Replay {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Uuid,
        #[arg(long)]
        delivery: Uuid,
    },
}

impl WebhookCommand {
    pub fn tenant(&self) -> &str {
        match self {
            Self::Add { tenant, .. }
            | Self::List { tenant }
            | Self::Delete { tenant, .. }
            | Self::Rotate { tenant, .. }
            | Self::Enable { tenant, .. }
            | Self::Deliveries { tenant, .. }
            | Self::Replay { tenant, .. } => tenant,
        }
    }
}

pub async fn run(
    (store, keys): (&dyn Store, &Keys),
    tenant: &TenantRecord,
    settings: WebhookSettings,
    command: WebhookCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let who = (tenant.id, "cli");
    match command {
        WebhookCommand::Add { url, events, include_content, .. } => {
            let sender = Sender::new(settings)?;
            let new = NewEndpoint { url, events, include_content };
            let made = endpoints::create((store, keys), &sender, who, new, now).await?;
            println!("endpoint {}\nsecret {}", made.endpoint.id, made.secret);
        }
        WebhookCommand::List { .. } => {
            println!("{:<36}  {:<8}  {:<7}  {:<40}  URL", "ID", "STATE", "CONTENT", "EVENTS");
            for e in endpoints::list(store, who, now).await? {
                let content = if e.include_content { "yes" } else { "no" };
                println!("{:<36}  {:<8}  {content:<7}  {:<40}  {}", e.id, e.state, e.events.join(","), e.url);
            }
        }
        WebhookCommand::Delete { endpoint, .. } => {
            endpoints::delete(store, who, endpoint, now).await?;
            println!("deleted {endpoint}");
        }
        WebhookCommand::Rotate { endpoint, .. } => {
            let made = endpoints::rotate((store, keys), who, endpoint, now).await?;
            let until = made.endpoint.previous_secret_until.map(|t| t.to_rfc3339()).unwrap_or_default();
            println!("secret {}\nthe previous secret also signs until {until}", made.secret);
        }
        WebhookCommand::Enable { endpoint, .. } => {
            let e = endpoints::enable(store, who, endpoint, now).await?;
            println!("{} {}", e.id, e.state);
        }
        WebhookCommand::Deliveries { endpoint, .. } => {
            println!("{:<36}  {:<24}  {:<9}  {:>8}  {:>6}  LAST ERROR", "ID", "EVENT", "STATE", "ATTEMPTS", "STATUS");
            for d in endpoints::deliveries(store, who, endpoint, now).await? {
                let status = d.last_status.map(|s| s.to_string()).unwrap_or_default();
                let error = d.last_error.unwrap_or_default();
                println!("{:<36}  {:<24}  {:<9}  {:>8}  {status:>6}  {error}", d.id, d.event_type, d.state, d.attempts);
            }
        }
        WebhookCommand::Replay { endpoint, delivery, .. } => {
            let d = endpoints::replay(store, who, (endpoint, delivery), now).await?;
            println!("{} {} (a running server's workers send it within a second)", d.id, d.state);
        }
    }
    Ok(())
}
