//! `balas breach-report`: who read, exported or changed personal data in a time window, from
//! the audit log. JSON (ids and counts only) on stdout with a short summary for the breach
//! notice on stderr; `--format text` prints only the summary, on stdout.
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, ValueEnum};

use crate::privacy::breach::{self, BreachReport, Filter};
use crate::store::{Store, TenantRecord};

#[derive(Args)]
pub struct BreachReportArgs {
    /// Start of the window, inclusive: RFC 3339 or YYYY-MM-DD (midnight UTC).
    #[arg(long, value_parser = parse_instant)]
    pub since: DateTime<Utc>,
    /// End of the window, exclusive: RFC 3339 or YYYY-MM-DD (default: now).
    #[arg(long, value_parser = parse_instant)]
    pub until: Option<DateTime<Utc>>,
    /// Only this actor, exactly as the audit names it (e.g. api:dashboard, cli, worker).
    #[arg(long)]
    pub actor: Option<String>,
    /// One tenant (id or slug); default all (on PostgreSQL this needs BALAS_DATABASE_OWNER_URL).
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// The JSON report on stdout, the summary on stderr.
    Json,
    /// The summary alone, on stdout.
    Text,
}

pub async fn run(
    store: &dyn Store,
    targets: Vec<TenantRecord>,
    args: &BreachReportArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let until = args.until.unwrap_or(now);
    anyhow::ensure!(args.since < until, "--since must be before --until");
    let filter = Filter { since: args.since, until, actor: args.actor.clone() };
    let mut tenants = Vec::with_capacity(targets.len());
    for t in &targets {
        tenants.push(breach::collect_tenant(store, t, &filter).await?);
    }
    let report = BreachReport { generated_at: now, filter, tenants };
    match args.format {
        ReportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            eprint!("{}", report.to_text());
        }
        ReportFormat::Text => print!("{}", report.to_text()),
    }
    Ok(())
}

/// An instant from RFC 3339 or a date (`YYYY-MM-DD`, midnight UTC).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| "use RFC 3339 (2025-01-31T08:00:00+07:00) or a date (2025-01-31, midnight UTC)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc3339_or_midnight_utc() {
        let day = parse_instant("2025-03-01").unwrap();
        assert_eq!(day.to_rfc3339(), "2025-03-01T00:00:00+00:00");
        assert_eq!(parse_instant("2025-03-02T07:00:00+07:00").unwrap(), day + chrono::Duration::hours(24));
        assert!(parse_instant("yesterday").is_err());
    }
}
