//! Builds the running service: shared state, the HTTP router, the workers, and graceful
//! shutdown (stop accepting, finish in-flight requests and jobs, release leases).
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use std::num::NonZeroU32;

use governor::{Quota, RateLimiter};

use crate::channels::Clients;
use crate::channels::fonnte::FonnteClient;
use crate::channels::meta::MetaClient;
use crate::channels::twilio::TwilioClient;
use crate::clock::{Clock, SystemClock};
use crate::config::Keys;
use crate::core::Core;
use crate::error::ApiError;
use crate::ingress;
use crate::llm::{Llm, LlmSettings};
use secrecy::{ExposeSecret, SecretString};

use crate::api::limits::ApiLimits;
use crate::auth::{Caller, TokenKeys};
use crate::jobs::JobSettings;
use crate::owner::email::{Mailer, SmtpSettings};
use crate::store::Store;
use crate::worker::{Worker, WorkerDeps};

/// Tunables of the pipeline.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Externally visible base URL, for webhook URLs given to providers.
    pub public_url: String,
    pub meta_graph_url: String,
    pub twilio_api_url: String,
    pub fonnte_api_url: String,
    /// Background workers; 0 runs none (tests and the demo drain the queue themselves).
    pub workers: usize,
    pub max_attempts: i32,
    pub lease: Duration,
    pub retry_base: Duration,
    pub poll_interval: Duration,
    /// How long a late owner reply waits for the customer to answer the follow-up template.
    pub late_reply_wait: Duration,
    /// Minimum FAQ match confidence for the offline responder to answer.
    pub faq_threshold: f64,
    pub shutdown_grace: Duration,
    /// The LLM endpoints and limits; `None` runs the offline FAQ responder alone.
    pub llm: Option<LlmSettings>,
    /// The voice-note transcription endpoint; `None`: voice notes follow the media policy.
    pub transcription: Option<crate::transcription::TranscriptionSettings>,
    /// E-mail to owners; `None` keeps notices on WhatsApp alone.
    pub smtp: Option<SmtpSettings>,
    /// Signs and checks API tokens; `None` leaves the owner API switched off.
    pub jwt_secret: Option<SecretString>,
    /// The secret before the last rotation: its tokens are accepted until they expire.
    pub jwt_previous_secret: Option<SecretString>,
    /// Guards `/metrics` when set (`BALAS_METRICS_TOKEN`); unset, the route is open.
    pub metrics_token: Option<SecretString>,
    /// PostgreSQL's host[:port] without credentials, for the subprocessor list (`None`: SQLite or unknown).
    pub database_host: Option<String>,
    /// Timeouts for slow clients and the bound on requests in flight.
    pub server: crate::server::ServerLimits,
    /// Where customers' attachments are stored and what may be fetched.
    pub media: crate::media::MediaSettings,
    /// What the shop's webhook endpoints may be.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// Rupiah per US dollar for costs shown in IDR.
    pub usd_idr_rate: f64,
    /// Days between announcing a new sub-processor to a tenant and using it for its data.
    pub subprocessor_notice_days: i64,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            meta_graph_url: "https://graph.facebook.com/v21.0".into(),
            twilio_api_url: "https://api.twilio.com".into(),
            fonnte_api_url: "https://api.fonnte.com".into(),
            workers: 4,
            max_attempts: 10,
            lease: Duration::from_secs(120),
            retry_base: Duration::from_secs(2),
            poll_interval: Duration::from_secs(1),
            late_reply_wait: Duration::from_secs(7 * 24 * 3600),
            faq_threshold: 0.6,
            shutdown_grace: Duration::from_secs(15),
            llm: None,
            transcription: None,
            smtp: None,
            jwt_secret: None,
            jwt_previous_secret: None,
            database_host: None,
            metrics_token: None,
            server: crate::server::ServerLimits::default(),
            media: crate::media::MediaSettings::default(),
            webhooks: crate::webhooks::WebhookSettings::default(),
            usd_idr_rate: crate::core::DEFAULT_USD_IDR_RATE,
            subprocessor_notice_days: crate::privacy::subprocessor_changes::DEFAULT_NOTICE_DAYS,
        }
    }
}

/// What a request handler needs; cheap to clone. The layers below take its `core` (and the
/// worker its `deps`), never the whole state.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    /// The worker's own dependencies (provider clients, LLM, limiter, mailer, metrics).
    pub deps: WorkerDeps,
    pub config: Arc<AppConfig>,
    pub token_keys: Option<Arc<TokenKeys>>,
    pub limits: Arc<ApiLimits>,
    /// Webhooks waiting to share their tenant's next ingest transaction.
    pub group_commit: ingress::group_commit::Committers,
    /// Channels and their opened secrets, for a few seconds (`ingress::CHANNEL_CACHE_TTL`).
    pub channel_cache: Arc<ingress::ChannelCache>,
    /// Lets through one log line a minute per provider and reason of refused webhooks.
    pub refusal_log: Arc<ingress::refusals::RefusalLog>,
    /// The one-time setup token before the first tenant exists (`setup`).
    pub first_run: Arc<crate::setup::FirstRun>,
}

/// Handlers read `state.store`, `state.keys`, `state.clock` as before, and `&state` passes as `&Core`.
impl std::ops::Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, keys: Keys, config: AppConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::crypto::install_crypto_provider();
        store.use_audit_keys(keys.audit.clone()); // every transaction signs its audit rows with these
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("balas/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let channels = Arc::new(Clients {
            meta: MetaClient::new(http.clone(), &config.meta_graph_url),
            twilio: TwilioClient::new(http.clone(), &config.twilio_api_url),
            fonnte: FonnteClient::new(http, &config.fonnte_api_url),
            public_url: config.public_url.clone(),
        });
        let llm = config.llm.clone().map(Llm::new).transpose()?.map(Arc::new);
        let per_minute = config.llm.as_ref().map_or(6, |l| l.per_customer_per_minute);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        let llm_limiter = Arc::new(RateLimiter::keyed(quota));
        let mailer = config.smtp.as_ref().map(Mailer::new).transpose()?.map(Arc::new);
        let token_keys = match &config.jwt_secret {
            Some(current) => Some(Arc::new(TokenKeys::rotating(current, config.jwt_previous_secret.as_ref())?)),
            None => None,
        };
        let jobs = JobSettings {
            max_attempts: config.max_attempts,
            lease: config.lease,
            retry_base: config.retry_base,
            poll_interval: config.poll_interval,
            late_reply_wait: config.late_reply_wait,
        };
        let urls = [config.meta_graph_url.as_str(), config.twilio_api_url.as_str(), config.fonnte_api_url.as_str()];
        let media = Arc::new(crate::media::Media::new(&config.media, urls)?);
        let core = Core {
            owner_email: mailer.is_some(),
            usd_idr_rate: config.usd_idr_rate,
            ..Core::new(store, keys, clock, jobs, media)
        };
        let deps = WorkerDeps {
            channels,
            llm,
            transcriber: match &config.transcription {
                Some(settings) => Some(Arc::new(crate::transcription::Transcriber::new(settings.clone())?)),
                None => None,
            },
            llm_limiter,
            mailer,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            faq_threshold: config.faq_threshold,
            webhooks: Arc::new(crate::webhooks::Sender::new(config.webhooks)?),
        };
        let group_commit = ingress::group_commit::Committers {
            queue: Arc::default(),
            core: core.clone(),
            metrics: deps.metrics.clone(),
        };
        Ok(Self {
            core,
            deps,
            config: Arc::new(config),
            token_keys,
            limits: Arc::new(ApiLimits::default()),
            group_commit,
            channel_cache: Arc::default(),
            refusal_log: Arc::default(),
            first_run: Arc::default(),
        })
    }

    pub fn with_system_clock(store: Arc<dyn Store>, keys: Keys, config: AppConfig) -> anyhow::Result<Self> {
        Self::new(store, keys, config, Arc::new(SystemClock))
    }

    /// A worker on this state's core and dependencies.
    pub fn worker(&self, name: &str) -> Worker {
        Worker::new(self.core.clone(), self.deps.clone(), name)
    }
}

pub fn router(state: AppState) -> Router {
    let limits = state.config.server;
    let served = Router::new()
        .merge(ingress::router().route_layer(axum::middleware::from_fn_with_state(state.clone(), count_webhook)))
        .merge(crate::api::router())
        .merge(crate::dashboard::router(state.clone()))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // Health and metrics stay outside the in-flight bound, so an overload can be seen.
    let probes = Router::new()
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    let app = probes.merge(crate::server::bound_in_flight(served, &limits, state.deps.metrics.clone()));
    crate::server::bound_bodies(app, &limits)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Prometheus text; with `BALAS_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.metrics_token {
        let given = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let expected = format!("Bearer {}", token.expose_secret());
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
            return Err(ApiError::unauthorized("metrics_token", "this needs the metrics bearer token"));
        }
    }
    let text = state.deps.metrics.render(&*state.store, state.clock.now()).await?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Counts every webhook request by provider (from the path) and the status it got.
async fn count_webhook(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let provider = request.uri().path().split('/').nth(2).unwrap_or("unknown").to_string();
    let response = next.run(request).await;
    state.deps.metrics.webhook(&provider, response.status().as_u16());
    response
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "not_ready", "detail": "the database is not reachable" })),
            )
        }
    }
}

/// Gives every tenant (new ones within 15 minutes) its retention, digest and analytics jobs, at
/// start and then every 15 minutes; the jobs' unique key makes this idempotent across instances.
async fn schedule_tenant_jobs(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(15 * 60));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                let now = state.clock.now();
                let attempts = state.jobs.max_attempts;
                let store = &*state.store;
                let scheduled = async {
                    Ok::<_, crate::store::StoreError>(
                        crate::privacy::retention::schedule_all(store, attempts, now).await?
                            + crate::owner::digest::schedule_all(store, attempts, now).await?
                            + crate::analytics::rollup::schedule_all(store, attempts, now).await?,
                    )
                };
                match scheduled.await {
                    Ok(0) => {}
                    Ok(jobs) => tracing::info!(jobs, "per-tenant jobs scheduled"),
                    Err(e) => tracing::error!(error = %e, "could not schedule per-tenant jobs; retrying later"),
                }
                sync_subprocessors(&state).await;
            }
        }
    }
}

/// Records, announces and applies every tenant's sub-processor changes (see
/// `privacy::subprocessor_changes`); a tenant that fails is retried at the next tick.
pub async fn sync_subprocessors(state: &AppState) {
    let Ok(tenants) = state.store.tenant_ids().await else { return };
    for tenant in tenants {
        match crate::api::subprocessors::resync(state, tenant, None).await {
            Ok(synced) if synced.announced > 0 => {
                tracing::info!(tenant = %tenant, changes = synced.announced, "sub-processor changes announced")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(tenant = %tenant, error = %e.code, "sub-processor sync failed; retrying later"),
        }
    }
}

/// After the grace period: the most that releasing leases and closing the database may take.
pub const SHUTDOWN_TAIL: Duration = Duration::from_secs(5);

/// Serves HTTP and runs the workers until `shutdown` fires, then drains and releases leases,
/// all within `shutdown_grace` + [`SHUTDOWN_TAIL`].
pub async fn serve(listener: TcpListener, state: AppState, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut workers = Vec::new();
    let mut worker_ids = Vec::new();
    if state.config.workers > 0 {
        tokio::spawn(schedule_tenant_jobs(state.clone(), shutdown.child_token()));
    }
    for n in 0..state.config.workers {
        let worker = state.worker(&format!("w{n}"));
        worker_ids.push(worker.id().to_string());
        workers.push(tokio::spawn(worker.run(shutdown.child_token())));
    }
    // The limiters keep every key they saw; forget the idle ones now and then.
    let (limiter, limits, tidy) = (state.deps.llm_limiter.clone(), state.limits.clone(), state.clone());
    let forget = shutdown.child_token();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = forget.cancelled() => break,
                _ = tick.tick() => {
                    limiter.retain_recent();
                    limits.retain_recent();
                    // Login attempt windows are kept in the database; drop the ones over.
                    if let Err(e) = crate::login_limits::forget_old(&*tidy.store, tidy.clock.now()).await {
                        tracing::warn!(error = %e, "old login attempt counts could not be dropped");
                    }
                }
            }
        }
    });
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, workers = state.config.workers, "balas is listening");
    let http = crate::server::accept(listener, router(state.clone()), state.config.server, shutdown.clone());
    let mut http = std::pin::pin!(http);
    let http_done = tokio::select! {
        () = &mut http => true,
        () = shutdown.cancelled() => false,
    };
    // One deadline for the whole drain: axum alone would wait for a stalled request forever.
    let grace = state.config.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    if !http_done && tokio::time::timeout_at(deadline, http).await.is_err() {
        tracing::warn!(?grace, "requests still in flight after the grace period; no longer waiting for them");
    }
    let drained = tokio::time::timeout_at(deadline, async {
        for handle in workers.iter_mut() {
            let _ = handle.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(?grace, "workers did not finish in time; stopping them and releasing their leases");
        workers.iter().for_each(|h| h.abort());
    }
    // The database may be why we stop: releasing and closing get a short bound of their own.
    let tail = async {
        // Aborted jobs must drop their database connections before their leases are released.
        for handle in workers.iter_mut().filter(|h| !h.is_finished()) {
            let _ = handle.await;
        }
        for id in worker_ids {
            match state.store.release_jobs(&id).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(worker = %id, released = n, "released job leases"),
                Err(e) => tracing::error!(worker = %id, error = %e, "could not release job leases"),
            }
        }
        state.store.close().await;
    };
    if tokio::time::timeout(SHUTDOWN_TAIL, tail).await.is_err() {
        tracing::error!("releasing leases and closing the database timed out; unreleased leases expire on their own");
    }
    Ok(())
}

impl AppState {
    /// Checks a token (signature, expiry, rate, revocation, its user still enabled): the API's
    /// bearer header and the dashboard's session cookie both come through here.
    pub async fn caller(&self, token: &str) -> Result<Caller, ApiError> {
        let Some(keys) = &self.token_keys else {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "api_disabled",
                "the owner API needs BALAS_JWT_SECRET to be configured",
            ));
        };
        let claims = keys.verify(token, self.clock.now())?;
        self.limits.per_token(&claims.jti)?;
        crate::auth::caller_of(&*self.store, claims)
            .await?
            .ok_or_else(|| ApiError::unauthorized("token_revoked", "the bearer token has been revoked"))
    }
}

// The extractor reads the server's configuration, so it lives with AppState, not in client_ip.rs.
impl axum::extract::FromRequestParts<AppState> for crate::client_ip::ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unspecified = std::net::IpAddr::from([0, 0, 0, 0]);
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map_or(unspecified, |c| c.0.ip());
        Ok(Self(state.config.server.client_ip.resolve(peer, &parts.headers)))
    }
}
