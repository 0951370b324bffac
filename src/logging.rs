//! Tracing setup. Log lines carry ids and codes; phone numbers only masked, bodies never.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Off whatever `RUST_LOG` says: async-openai logs an unreadable model response whole at
/// ERROR, and a model's answer can quote the customer.
const QUIET_ALWAYS: &[&str] = &["async_openai::error=off"];

/// `default_level` applies unless `RUST_LOG` says otherwise.
pub fn init(format: LogFormat, default_level: &str) {
    init_with(format, default_level, false);
}

/// With `error_reporting`, events also feed Sentry (errors as events, info and warnings as
/// breadcrumbs); without it no Sentry layer exists at all.
pub fn init_with(format: LogFormat, default_level: &str, error_reporting: bool) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn")));
    for quiet in QUIET_ALWAYS {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let registry =
        tracing_subscriber::registry().with(filter).with(error_reporting.then(crate::error_reporting::tracing_layer));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => registry.with(stderr).try_init(),
        LogFormat::Json => registry.with(stderr.json().flatten_event(true)).try_init(),
    };
}
