//! Optional error reporting to Sentry, on only when `BALAS_SENTRY_DSN` is set: panics and
//! `tracing` errors become events, info and warning lines their breadcrumbs. Everything is
//! scrubbed before it is queued (see `scrub`); without a DSN nothing is initialised.
mod scrub;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use tracing::{Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::registry::LookupSpan;

pub use scrub::Scrubber;

/// How long shutdown waits for queued events.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the client alive; dropping it sends what is queued (for at most `FLUSH_TIMEOUT`).
pub struct Reporting {
    _guard: sentry::ClientInitGuard,
}

/// The options production runs with, minus DSN and transport (tests capture through them).
pub fn options(scrubber: Arc<Scrubber>) -> sentry::ClientOptions {
    let for_breadcrumbs = scrubber.clone();
    let mut options = sentry::ClientOptions::new()
        .send_default_pii(false)
        .max_request_body_size(sentry::MaxRequestBodySize::None)
        .shutdown_timeout(FLUSH_TIMEOUT)
        .before_send(move |event| scrubber.event(event))
        .before_breadcrumb(move |crumb| for_breadcrumbs.breadcrumb(crumb));
    options.release = sentry::release_name!();
    options
}

/// Starts reporting when `dsn` is given; the `secrets` (configured keys, tokens and URLs)
/// are removed verbatim from every event, on top of the scrubber's shape rules.
pub fn init(dsn: Option<&SecretString>, mut secrets: Vec<String>) -> anyhow::Result<Option<Reporting>> {
    let Some(dsn) = dsn.map(|d| d.expose_secret().trim()).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    // The parse error is not chained: it could quote the DSN.
    let parsed: sentry::types::Dsn =
        dsn.parse().map_err(|_| anyhow::anyhow!("BALAS_SENTRY_DSN is not a valid Sentry DSN"))?;
    secrets.push(dsn.to_string());
    let mut options = options(Arc::new(Scrubber::new(secrets)));
    options.dsn = Some(parsed);
    // The transport builds a reqwest client, which needs the process-wide rustls provider.
    crate::crypto::install_crypto_provider();
    let guard = sentry::init(options);
    tracing::info!("error reporting to Sentry is on");
    Ok(Some(Reporting { _guard: guard }))
}

/// The `tracing` layers: errors become events, warnings and info lines breadcrumbs; spans
/// are not sent (no performance monitoring).
pub fn tracing_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let errors = ErrorLayer::new().with_filter(LevelFilter::ERROR);
    let breadcrumbs =
        BreadcrumbLayer::new().with_filter(filter_fn(|m| matches!(*m.level(), Level::WARN | Level::INFO)));
    errors.and_then(breadcrumbs)
}

#[cfg(test)]
mod tests;
