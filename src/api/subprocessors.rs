//! `GET /api/v1/subprocessors`: the third parties this gateway hands the tenant's personal data
//! to, derived from its configuration and the tenant's own channels, so the list a tenant is
//! shown cannot drift from what the gateway actually talks to. Hosts only: never credentials,
//! paths or query strings (an LLM or SMTP URL may carry a key in any of them).
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::Caller;
use crate::app::{AppConfig, AppState};
use crate::domain::Provider;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::llm::{LlmLink, TenantChoice};
use crate::privacy::subprocessor_changes::{self, LiveEntry, Synced};
use crate::store::{Backend, TenantRecord};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/subprocessors", get(list))
        .route("/api/v1/subprocessors/changes/{id}/accept", post(accept))
        .route("/api/v1/subprocessors/changes/{id}/object", post(object))
}

/// One recipient of personal data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subprocessor {
    pub name: String,
    /// `messaging`, `llm`, `transcription`, `email`, `database`, `storage` or `webhook`.
    pub kind: &'static str,
    pub purpose: &'static str,
    /// `scheme://host[:port]`, when the gateway reaches it over the network.
    pub url: Option<String>,
    pub host: Option<String>,
    /// The categories of personal data it receives.
    pub data: Vec<&'static str>,
    /// LLMs: `primary` or `fallback N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

impl Subprocessor {
    fn new(name: impl Into<String>, kind: &'static str, purpose: &'static str, data: Vec<&'static str>) -> Self {
        Self { name: name.into(), kind, purpose, url: None, host: None, data, role: None, model: None, note: None }
    }

    fn at(mut self, raw_url: &str) -> Self {
        (self.url, self.host) = origin(raw_url).unzip();
        self
    }
}

#[utoipa::path(get, path = "/api/v1/subprocessors", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, description = "who receives the tenant's personal data now (`subprocessors`: WhatsApp providers of the tenant's channels, its LLM chain, the SMTP server, storage and the database, as name, purpose, host and data categories, no credentials), the recorded list it is under (`recorded`), the announced changes not yet in effect with their dates (`pending_changes`) and every earlier change (`history`); any role"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    // Any role: the list names companies and hosts, no personal data, so it is not audited.
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let providers = tx.channel_providers().await?;
    let tenant = tx.tenant().await?;
    let endpoints = tx.enabled_webhook_endpoints().await?;
    tx.commit().await?;
    let mut list = live_list(&state, tenant.as_ref(), &providers);
    let with_content = endpoints.iter().filter(|e| e.include_content).map(|e| e.url.as_str());
    list.extend(content_webhooks(with_content));
    let overview = subprocessor_changes::overview(&state, caller.tenant).await?;
    Ok(Json(json!({
        "subprocessors": list,
        "recorded": overview.current,
        "pending_changes": overview.pending,
        "history": overview.history,
        "notice_days": state.config.subprocessor_notice_days,
    })))
}

/// What the configuration sends the tenant's data to now: its channels' providers, its LLM
/// chain (profile and fallback, or the default chain), and the operator's services.
fn live_list(state: &AppState, tenant: Option<&TenantRecord>, providers: &[String]) -> Vec<Subprocessor> {
    describe_for(state, tenant, providers, tenant.is_some_and(|t| t.settings.understand_media))
}

/// `live_list`, with the services for understanding media listed or not.
fn describe_for(
    state: &AppState,
    tenant: Option<&TenantRecord>,
    providers: &[String],
    understands: bool,
) -> Vec<Subprocessor> {
    let chain = match (&state.deps.llm, tenant) {
        (Some(llm), Some(t)) => {
            let choice = TenantChoice {
                profile: &t.settings.llm_profile,
                fallback: &t.settings.llm_fallback_profile,
                own_key: None,
                blocked_hosts: Vec::new(),
            };
            llm.for_tenant(choice).links()
        }
        _ => Vec::new(),
    };
    describe(&state.config, state.store.backend(), providers, understands, &chain)
}

/// Records the tenant's list the first time, and announces what the configuration added since
/// (`notice` ahead) or, when `chosen_by` the owner (an LLM profile they picked), accepts it.
/// The shop's channels and its own webhook endpoints are its own choice: never announced.
pub async fn resync(state: &AppState, tenant: TenantId, chosen_by: Option<&str>) -> Result<Synced, ApiError> {
    let mut tx = state.store.begin_read(tenant).await?;
    let providers = tx.channel_providers().await?;
    let record = tx.tenant().await?;
    tx.commit().await?;
    if record.as_ref().is_none_or(|t| t.status != crate::tenants::TenantStatus::Active) {
        return Ok(Synced::default());
    }
    // Understanding media is the shop's own switch: the operator's speech-to-text host is
    // announced whether or not it is on, so turning it on announces nothing.
    let live: Vec<LiveEntry> = describe_for(state, record.as_ref(), &providers, true)
        .into_iter()
        .filter(|s| s.kind != "messaging")
        .map(|s| LiveEntry { kind: s.kind.to_string(), name: s.name, host: s.host })
        .collect();
    let notice = chrono::Duration::days(state.config.subprocessor_notice_days);
    Ok(subprocessor_changes::sync(state, tenant, &live, notice, chosen_by, state.clock.now()).await?)
}

fn change_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(raw).map_err(|_| {
        ApiError::not_found("change_not_found", "no pending sub-processor change with this id in your tenant")
    })
}

#[utoipa::path(post, path = "/api/v1/subprocessors/changes/{id}/accept", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "change id")),
    responses((status = 204, description = "accepted: used for the shop's data from now on (audited)"), (status = 404, description = "no pending change with this id"), (status = 409, description = "the change took effect already"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn accept(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    subprocessor_changes::accept(&state, caller.tenant, &caller.actor(), change_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/subprocessors/changes/{id}/object", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "change id")),
    responses((status = 204, description = "objected: never applied to this shop; the operator is told (audited)"), (status = 404, description = "no pending change with this id"), (status = 409, description = "the change took effect already"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn object(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    subprocessor_changes::object(&state, caller.tenant, &caller.actor(), change_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

const MESSAGING_DATA: &[&str] = &[
    "customer phone numbers and WhatsApp user ids",
    "customer profile names",
    "text and media of messages to and from customers",
    "owner numbers and the notices sent to owners",
];

/// The list for a tenant whose channels use `providers`, under `config`; `understands_media`
/// is the tenant's setting that sends photos and voice notes to be understood.
pub fn describe(
    config: &AppConfig,
    backend: Backend,
    providers: &[String],
    understands_media: bool,
    chain: &[LlmLink],
) -> Vec<Subprocessor> {
    let mut out = Vec::new();
    let messaging = |name: &str, url: Option<&str>| {
        let entry = Subprocessor::new(
            name,
            "messaging",
            "carries WhatsApp messages between the business and its customers and owners",
            MESSAGING_DATA.to_vec(),
        );
        match url {
            Some(u) => entry.at(u),
            None => entry,
        }
    };
    for raw in providers {
        out.push(match Provider::parse(raw) {
            Some(Provider::Meta) => {
                messaging("Meta Platforms (WhatsApp Business Platform)", Some(&config.meta_graph_url))
            }
            Some(Provider::Twilio) => messaging("Twilio (WhatsApp)", Some(&config.twilio_api_url)),
            Some(Provider::Fonnte) => messaging("Fonnte (WhatsApp)", Some(&config.fonnte_api_url)),
            None => messaging(raw, None),
        });
    }
    for (i, endpoint) in chain.iter().enumerate() {
        let mut entry = Subprocessor::new(
            "LLM provider",
            "llm",
            "drafts replies to customers and ticket summaries for owners",
            vec![
                "the business profile and FAQ",
                "recent conversation messages, with phone numbers, e-mail addresses, NIK, card and account numbers masked",
            ],
        )
        .at(&endpoint.base_url);
        if let Some(host) = &entry.host {
            entry.name = format!("LLM provider at {host}");
        }
        if understands_media && endpoint.vision {
            entry
                .data
                .push("customers' photos, with their captions masked (the business turned on understanding media)");
        }
        entry.role = Some(if i == 0 { "primary".into() } else { format!("fallback {i}") });
        entry.model = Some(endpoint.model.clone());
        out.push(entry);
    }
    if let Some(stt) = config.transcription.as_ref().filter(|_| understands_media) {
        let mut entry = Subprocessor::new(
            "Speech-to-text provider",
            "transcription",
            "turns customers' voice notes into text for the bot to answer",
            vec!["customers' voice notes (audio), when the business turned on understanding media"],
        )
        .at(&stt.base_url);
        if let Some(host) = &entry.host {
            entry.name = format!("Speech-to-text provider at {host}");
        }
        entry.model = Some(stt.model.clone());
        out.push(entry);
    }
    if let Some(smtp) = &config.smtp {
        out.push(
            Subprocessor::new(
                "SMTP server",
                "email",
                "e-mails escalation notices and reminders to owners",
                vec![
                    "owner e-mail addresses",
                    "ticket notices: number, reason and a summary of the customer's request",
                    "the customer's name and masked phone number",
                ],
            )
            .at(smtp.url.expose_secret()),
        );
    }
    let stored =
        vec!["all of the tenant's data: contacts, messages, tickets, users and the audit log (contact data encrypted)"];
    out.push(match backend {
        Backend::Sqlite => Subprocessor {
            note: Some("a file on the gateway's own disk: no third party unless the gateway's host is one"),
            ..Subprocessor::new("SQLite (local file)", "database", "stores the tenant's data", stored)
        },
        Backend::Postgres => Subprocessor {
            host: config.database_host.clone(),
            note: Some("the database server's operator is a subprocessor when it is hosted by a third party"),
            ..Subprocessor::new("PostgreSQL", "database", "stores the tenant's data", stored)
        },
    });
    if let Some(host) = config.media.storage.host() {
        out.push(Subprocessor {
            host: Some(host),
            note: Some("files are sealed under each customer's own key before they leave the gateway"),
            ..Subprocessor::new(
                "S3-compatible object storage",
                "storage",
                "stores customers' photos, voice notes and documents",
                vec!["customers' photos, voice notes and documents (encrypted)"],
            )
        });
    }
    out
}

/// The business's own webhook endpoints that it chose to send message text and phone numbers to.
fn content_webhooks<'a>(urls: impl Iterator<Item = &'a str>) -> Vec<Subprocessor> {
    let mut urls: Vec<&str> = urls.collect();
    urls.sort_unstable();
    urls.dedup();
    urls.into_iter()
        .map(|url| {
            let mut entry = Subprocessor::new(
                "Webhook endpoint",
                "webhook",
                "receives the events the business subscribed to, with their content (include_content)",
                vec!["customer phone numbers", "text of customers' messages"],
            )
            .at(url);
            if let Some(host) = &entry.host {
                entry.name = format!("Webhook endpoint at {host}");
            }
            entry.note = Some("the business registered it and chose to include content; the choice is audited");
            entry
        })
        .collect()
}

/// `scheme://host[:port]` and `host[:port]` of a URL; `None` rather than echoing an unparsable one.
fn origin(raw: &str) -> Option<(String, String)> {
    let scheme = url::Url::parse(raw).ok()?.scheme().to_string();
    let host = crate::fetch_guard::host_with_port(raw)?;
    Some((format!("{scheme}://{host}"), host))
}

/// PostgreSQL's `host[:port]` from a database URL, for `AppConfig::database_host`; `None` for SQLite.
pub fn database_host(database_url: &str) -> Option<String> {
    let postgres = database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    postgres.then(|| origin(database_url).map(|(_, host)| host)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{LlmEndpoint, LlmLink, LlmSettings};
    use crate::owner::email::SmtpSettings;

    #[test]
    fn hosts_carry_no_credentials_paths_or_queries() {
        assert_eq!(
            origin("smtps://mailer:hunter2@mail.example.com:465?tls=required").unwrap().1,
            "mail.example.com:465"
        );
        assert_eq!(
            origin("https://generativelanguage.googleapis.com/v1beta/openai?key=SECRET").unwrap(),
            ("https://generativelanguage.googleapis.com".into(), "generativelanguage.googleapis.com".into())
        );
        assert_eq!(origin("not a url"), None);
        assert_eq!(database_host("postgres://app:pw@db.internal:5433/balas").as_deref(), Some("db.internal:5433"));
        assert_eq!(database_host("sqlite://balas.db"), None);
    }

    #[test]
    fn the_list_follows_the_configuration() {
        let endpoint = |url: &str| LlmEndpoint { base_url: url.into(), model: "m".into(), api_key: "sk-secret".into() };
        let config = AppConfig {
            llm: Some(LlmSettings::new(vec![
                endpoint("https://openrouter.ai/api/v1"),
                endpoint("http://localhost:11434/v1"),
            ])),
            smtp: Some(SmtpSettings { url: "smtp://u:p4ss@smtp.example.com".into(), from: "a@b.c".into() }),
            ..AppConfig::default()
        };
        let chain: Vec<LlmLink> = ["https://openrouter.ai/api/v1", "http://localhost:11434/v1"]
            .into_iter()
            .map(|url| LlmLink { base_url: url.into(), model: "m".into(), vision: false })
            .collect();
        let list = describe(&config, Backend::Sqlite, &["meta".into()], false, &chain);
        let hosts: Vec<_> = list.iter().map(|s| (s.kind, s.host.as_deref())).collect();
        assert_eq!(
            hosts,
            [
                ("messaging", Some("graph.facebook.com")),
                ("llm", Some("openrouter.ai")),
                ("llm", Some("localhost:11434")),
                ("email", Some("smtp.example.com")),
                ("database", None)
            ]
        );
        assert_eq!(list[2].role.as_deref(), Some("fallback 1"));
        let whole = serde_json::to_string(&list).unwrap();
        assert!(!whole.contains("secret") && !whole.contains("p4ss") && !whole.contains("/api/v1"), "{whole}");
        let bare = describe(&AppConfig::default(), Backend::Postgres, &[], false, &[]);
        assert_eq!(bare.iter().map(|s| s.kind).collect::<Vec<_>>(), ["database"]);
    }
}
