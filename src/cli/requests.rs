//! `balas requests list|open|set`: data-subject requests and their deadlines, for operators
//! who receive requests by e-mail (the owner API has the same under `/api/v1/requests`).
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::audit;
use crate::config::Keys;
use crate::domain::DsarId;
use crate::privacy::{export, requests};
use crate::store::{Store, TenantRecord};

#[derive(Subcommand)]
pub enum RequestsCommand {
    /// Requests with their deadlines; overdue ones are marked.
    List {
        #[arg(long)]
        tenant: String,
        /// Only open and acknowledged requests.
        #[arg(long)]
        pending: bool,
    },
    /// Record a request received outside WhatsApp; prints its id and deadlines.
    Open {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = requests::KINDS)]
        kind: String,
        /// The requester's phone number, when they are a known contact.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Acknowledge, or close as done or rejected.
    Set {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        request: String,
        #[arg(long, value_parser = ["acknowledged", "done", "rejected"])]
        status: String,
    },
}

impl RequestsCommand {
    pub fn tenant(&self) -> &str {
        match self {
            Self::List { tenant, .. } | Self::Open { tenant, .. } | Self::Set { tenant, .. } => tenant,
        }
    }
}

pub async fn run(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    command: RequestsCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    match command {
        RequestsCommand::List { pending, .. } => {
            let mut tx = store.begin_read(tenant.id).await?;
            let rows = tx.dsars(pending, 1000).await?;
            tx.commit().await?;
            println!("{:<36}  {:<10}  {:<12}  {:<10}  {:<20}  OVERDUE", "ID", "KIND", "STATUS", "SOURCE", "ANSWER BY");
            for r in rows {
                let overdue = requests::overdue(&r, now).unwrap_or("");
                let by = r.answer_by.format("%Y-%m-%d %H:%M UTC");
                println!("{:<36}  {:<10}  {:<12}  {:<10}  {by:<20}  {overdue}", r.id, r.kind, r.status, r.source);
            }
        }
        RequestsCommand::Open { kind, phone, .. } => {
            let contact = match phone {
                Some(p) => {
                    let phone = crate::domain::Phone::parse(&p).map_err(|e| anyhow::anyhow!("--phone: {e}"))?;
                    let found = export::find_by_phone(store, keys, tenant.id, &phone).await?;
                    Some(found.ok_or_else(|| anyhow::anyhow!("no contact with that number in this tenant"))?)
                }
                None => None,
            };
            let kind = requests::DsarKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown --kind"))?;
            let mut tx = store.begin(tenant.id).await?;
            let (request, entry) = requests::open(&mut *tx, contact, kind, "cli", now).await?;
            audit::append(&mut *tx, entry.into_iter().collect(), now).await?;
            tx.commit().await?;
            println!("{} acknowledge by {} answer by {}", request.id, request.acknowledge_by, request.answer_by);
        }
        RequestsCommand::Set { request, status, .. } => {
            let id: DsarId = request.parse().map_err(|_| anyhow::anyhow!("--request is not a request id"))?;
            let mut tx = store.begin(tenant.id).await?;
            let entry = match status.as_str() {
                "acknowledged" => requests::acknowledge(&mut *tx, id, "cli", now).await?,
                "done" => requests::close(&mut *tx, id, requests::DsarStatus::Done, "cli", now).await?,
                _ => requests::close(&mut *tx, id, requests::DsarStatus::Rejected, "cli", now).await?,
            };
            let entry = entry.ok_or_else(|| anyhow::anyhow!("no such request, or it is past that step"))?;
            audit::append(&mut *tx, vec![entry], now).await?;
            tx.commit().await?;
            println!("{id} {status}");
        }
    }
    Ok(())
}
