//! `balas serve`: error reporting (when configured), the HTTP server and the workers, until
//! SIGINT or SIGTERM.
use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Cli, ServeArgs};
use crate::app::{AppConfig, AppState};
use crate::config::{DatabaseArgs, KeyArgs};
use crate::owner::email::SmtpSettings;
use crate::store;

/// Serves until stopped; Sentry (with `reporting`) starts first and is flushed last.
pub(super) async fn run(cli: &Cli, reporting: bool) -> anyhow::Result<()> {
    let secrets = if reporting { configured_secrets(cli) } else { Vec::new() };
    let reporting = crate::error_reporting::init(cli.serve.sentry_dsn.as_ref(), secrets)?;
    let served = serve(&cli.db, &cli.keys, &cli.serve).await;
    if let Err(e) = &served {
        tracing::error!(error = %format!("{e:#}"), "serve stopped with an error");
    }
    drop(reporting); // sends what is still queued, for at most two seconds
    served
}

async fn serve(db: &DatabaseArgs, key_args: &KeyArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let keys = key_args.resolve(db)?;
    let store = store::connect(db.url()).await.context("connecting to BALAS_DATABASE_URL")?;
    if store.backend() == store::Backend::Sqlite {
        store.migrate(None).await?;
    }
    store.check_app_role().await?;
    let mut config = args.app_config()?;
    config.jwt_secret = crate::config::jwt_secret(args.jwt_secret.as_ref(), db, key_args.forbid_dev_keys)?;
    config.database_host = crate::api::subprocessors::database_host(db.url());
    config.media = args.media.settings(db);
    let state = AppState::with_system_clock(store, keys, config)?;
    crate::setup::arm_on_first_run(&state.core, &state.first_run, db.sqlite_path().as_deref()).await?;
    // Before any webhook: conversations from before chats were kept apart are split or closed.
    crate::chats::review::run(&state).await.context("reviewing conversations that may mix chats (migration 0009)")?;
    let listener = TcpListener::bind(&args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    crate::app::serve(listener, state, shutdown).await
}

impl ServeArgs {
    /// The server's configuration from its arguments, each bounded to a workable value.
    pub fn app_config(&self) -> anyhow::Result<AppConfig> {
        Ok(AppConfig {
            public_url: self.public_url(),
            meta_graph_url: self.meta_graph_url.clone(),
            twilio_api_url: self.twilio_api_url.clone(),
            fonnte_api_url: self.fonnte_api_url.clone(),
            workers: self.workers,
            max_attempts: self.max_attempts.max(1),
            lease: std::time::Duration::from_secs(self.job_lease_secs.max(1)),
            faq_threshold: self.faq_threshold.clamp(0.0, 1.0),
            late_reply_wait: std::time::Duration::from_secs(self.late_reply_days.clamp(1, 365) * 24 * 3600),
            shutdown_grace: std::time::Duration::from_secs(self.shutdown_grace_secs),
            llm: self.llm.settings()?,
            transcription: self.llm.transcription()?,
            smtp: self.smtp_url.clone().map(|url| SmtpSettings { url, from: self.smtp_from.clone() }),
            jwt_secret: self.jwt_secret.clone(),
            jwt_previous_secret: self.jwt_previous_secret.clone(),
            metrics_token: self.metrics_token.clone(),
            server: self.server_limits(),
            webhooks: crate::webhooks::WebhookSettings { allow_private: self.webhook_allow_private },
            subprocessor_notice_days: self.subprocessor_notice_days,
            usd_idr_rate: if self.usd_idr_rate.is_finite() && self.usd_idr_rate > 0.0 {
                self.usd_idr_rate
            } else {
                anyhow::bail!("BALAS_USD_IDR_RATE must be a positive number of rupiah per US dollar")
            },
            ..AppConfig::default()
        })
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// Every secret value `serve` was configured with, for the error-report scrubber to remove.
fn configured_secrets(cli: &Cli) -> Vec<String> {
    let s = &cli.serve;
    let llm_keys = s.llm.settings().ok().flatten().map(|l| l.endpoints).unwrap_or_default();
    let fixed = [
        Some(&cli.db.database_url),
        cli.db.database_owner_url.as_ref(),
        cli.keys.fernet_keys.as_ref(),
        cli.keys.index_key.as_ref(),
        s.smtp_url.as_ref(),
        s.jwt_secret.as_ref(),
        s.jwt_previous_secret.as_ref(),
        s.metrics_token.as_ref(),
        s.media.s3_secret_access_key.as_ref(),
    ];
    let fixed = fixed.into_iter().flatten().map(|secret| secret.expose_secret().to_string());
    // Key lists are comma-separated: each key alone is a secret too.
    let listed = [cli.keys.fernet_keys.as_ref(), cli.keys.audit_key.as_ref()].into_iter().flatten();
    let listed =
        listed.flat_map(|list| list.expose_secret().split(',').map(|k| k.trim().to_string()).collect::<Vec<_>>());
    let listed = listed.filter(|k| !k.is_empty());
    fixed.chain(listed).chain(llm_keys.iter().map(|e| e.api_key.expose_secret().to_string())).collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn every_configured_key_is_a_secret_for_the_error_reports_each_key_of_a_list_alone_too() {
        let cli = Cli::try_parse_from([
            "balas",
            "--fernet-keys",
            "fernet-one,fernet-two",
            "--audit-key",
            "audit-new, audit-old",
            "--index-key",
            "index-key",
        ])
        .unwrap();
        let secrets = configured_secrets(&cli);
        for key in ["fernet-one", "fernet-two", "audit-new", "audit-old", "index-key"] {
            assert!(secrets.iter().any(|s| s == key), "{key} is missing");
        }
    }
}
