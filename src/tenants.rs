//! Tenants (businesses) and their data keys; channels are attached to them here too.
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::channels::ChannelSecrets;
use crate::config::Keys;
use crate::crypto::DataKey;
use crate::domain::text_code::text_code;
use crate::domain::{ChannelId, Provider, TenantId};
use crate::store::{ChannelRecord, Store, StoreError, StoreResult, TenantOps, TenantRecord};
use crate::usecase::{UseCaseError, UseCaseResult};

/// Where a business stands; stored as `tenants.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    /// `tenant cancel` ran; data and keys are purged 30 days later.
    Cancelled,
    /// Only the audit is left.
    Purged,
}

text_code!(TenantStatus, parse; Active => "active", Cancelled => "cancelled", Purged => "purged");

/// How a tenant wants its customers handled, and what the LLM may say about the business;
/// settable at creation, later through the API.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Customer-facing language: `id` (default) or `en`.
    pub language: String,
    /// Media the bot cannot read: `reply` politely asking for text (default) or `escalate`.
    pub media_policy: String,
    /// Send customers' images to a vision-capable model and voice notes to the transcription
    /// endpoint, when those are configured; `media_policy` answers when it is off or fails.
    #[serde(default)]
    pub understand_media: bool,
    /// Answer in group chats (Fonnte); off by default.
    pub answer_groups: bool,
    /// What the LLM may tell customers about the business.
    pub description: String,
    pub address: String,
    pub opening_hours: String,
    pub tone: String,
    /// LLM tokens per calendar month (UTC); 0 keeps this tenant on the offline responder.
    pub monthly_token_budget: i64,
    /// WhatsApp templates per calendar month (UTC), each billed; past it notices go by e-mail.
    /// 0: no cap. Operator-only.
    #[serde(default)]
    pub monthly_template_cap: i64,
    /// Bytes of customers' files stored per UTC day; past it a file is not fetched and the
    /// owner is told. 0: no cap. Operator-only.
    #[serde(default)]
    pub daily_media_bytes_cap: i64,
    /// Comma-separated words that send a customer straight to the owner.
    pub escalation_keywords: String,
    /// Bot answers in a row before the owner is asked to look; 0 switches the rule off.
    pub max_bot_turns: i32,
    /// `HH:MM-HH:MM` in `timezone`; outside it conversations go to the owner. Empty: no rule.
    pub business_hours: String,
    /// IANA time zone of the business, `Asia/Jakarta` by default.
    pub timezone: String,
    /// Remind the owner of an unanswered ticket after this many minutes.
    pub renotify_minutes: i32,
    /// The owner-response target: minutes (in business hours when those are set) after which a
    /// waiting customer is told honestly when to expect an answer; 0 switches the notice off.
    pub response_target_minutes: i32,
    /// Hours after which the bot resumes a ticket the owner never answered, marking it
    /// `unanswered` and telling the owner; 0 waits for the owner forever.
    pub resume_after_hours: i32,
    /// Tell the customer, in the tenant's language, when their ticket is resolved.
    pub announce_resolved: bool,
    /// Give a human-mode conversation back to the bot after this many hours of silence.
    pub human_idle_hours: i32,
    /// Days messages are kept; `None` keeps them while the tenant is active.
    pub message_retention_days: Option<i32>,
    /// Hours to acknowledge a data-subject request: 168 (7 days) down to 72 (UU PDP's 3×24 h).
    pub dsar_ack_hours: i32,
    /// Hours to answer a data-subject request: 720 (30 days) down to 72.
    pub dsar_answer_hours: i32,
    /// When the owners get the daily digest, `HH:MM` in `timezone`; empty: no digest.
    pub digest_time: String,
    /// Hosts (comma-separated, e.g. `tokobusri.com, tokobusri.id`) the bot may link to, with
    /// their subdomains, besides the links in the profile and the FAQ.
    #[serde(default)]
    pub link_hosts: String,
    /// The operator's LLM profile this tenant answers with (empty: the operator's default chain).
    #[serde(default)]
    pub llm_profile: String,
    /// The profile tried when that one fails (empty: none).
    #[serde(default)]
    pub llm_fallback_profile: String,
    /// The operator lets this tenant bring its own LLM key (operator-only).
    #[serde(default)]
    pub own_llm_key_allowed: bool,
}

impl TenantSettings {
    /// The tenant's IANA zone (validated on save; Jakarta if a stored one no longer parses).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Jakarta)
    }

    /// The settings trimmed and checked; `invalid_settings` names the first thing wrong.
    pub fn validated(&self) -> UseCaseResult<Self> {
        let invalid = |m: String| UseCaseError::invalid("invalid_settings", m);
        let bad = |m: &str| Err(invalid(m.into()));
        if !["id", "en"].contains(&self.language.as_str()) {
            return bad("language must be id or en");
        }
        if !["reply", "escalate"].contains(&self.media_policy.as_str()) {
            return bad("media policy must be reply or escalate");
        }
        crate::engine::triggers::BusinessHours::parse(&self.business_hours, &self.timezone).map_err(invalid)?;
        let periods = [
            self.max_bot_turns,
            self.renotify_minutes,
            self.response_target_minutes,
            self.resume_after_hours,
            self.human_idle_hours,
        ];
        if periods.iter().any(|t| *t < 0) {
            return bad("turn counts and timer periods must not be negative (0 switches one off)");
        }
        if self.message_retention_days.is_some_and(|d| d < 1) {
            return bad("message retention must be at least 1 day (null keeps messages while the tenant is active)");
        }
        if !(72..=168).contains(&self.dsar_ack_hours) || !(72..=720).contains(&self.dsar_answer_hours) {
            return bad("requests must be acknowledged within 72–168 hours and answered within 72–720 hours");
        }
        if !self.digest_time.trim().is_empty()
            && chrono::NaiveTime::parse_from_str(self.digest_time.trim(), "%H:%M").is_err()
        {
            return bad("the digest time must look like 07:00 (or be empty for no digest)");
        }
        if self.dsar_ack_hours > self.dsar_answer_hours {
            return bad("the acknowledgement deadline must not be later than the answer deadline");
        }
        let link_hosts = crate::engine::check::normalise_setting(&self.link_hosts).map_err(invalid)?;
        Ok(Self {
            link_hosts,
            description: self.description.trim().to_string(),
            address: self.address.trim().to_string(),
            opening_hours: self.opening_hours.trim().to_string(),
            tone: self.tone.trim().to_string(),
            business_hours: self.business_hours.trim().to_string(),
            digest_time: self.digest_time.trim().to_string(),
            monthly_token_budget: self.monthly_token_budget.max(0),
            monthly_template_cap: self.monthly_template_cap.max(0),
            daily_media_bytes_cap: self.daily_media_bytes_cap.max(0),
            ..self.clone()
        })
    }
}

/// The default hand-over phrases: complaints, refunds, fraud. A request for a person is
/// recognised in context whatever the list holds (`engine::intents`), so no bare "admin" or
/// "orang" here: customers greet a shop with "halo admin" and order "untuk 10 orang".
pub const DEFAULT_KEYWORDS: &str =
    "komplain,complain,kecewa,refund,uang kembali,balikin uang,penipuan,penipu,ditipu,lapor polisi,somasi";

/// The defaults before migration 0015; a tenant still on them gets the new ones.
pub const OLD_DEFAULT_KEYWORDS: &str = "admin,manusia,orang,komplain,refund,human,agent";

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            language: "id".into(),
            media_policy: "reply".into(),
            understand_media: false,
            answer_groups: false,
            description: String::new(),
            address: String::new(),
            opening_hours: String::new(),
            tone: String::new(),
            monthly_token_budget: 2_000_000,
            monthly_template_cap: 0,
            daily_media_bytes_cap: 0,
            escalation_keywords: DEFAULT_KEYWORDS.into(),
            max_bot_turns: 8,
            business_hours: String::new(),
            timezone: "Asia/Jakarta".into(),
            renotify_minutes: 30,
            response_target_minutes: 120,
            resume_after_hours: 24,
            announce_resolved: true,
            human_idle_hours: 12,
            message_retention_days: None,
            dsar_ack_hours: 168,
            dsar_answer_hours: 720,
            digest_time: "07:00".into(),
            link_hosts: String::new(),
            llm_profile: String::new(),
            llm_fallback_profile: String::new(),
            own_llm_key_allowed: false,
        }
    }
}

/// Settings that cost the operator money (the LLM budget on a shared key, billed templates,
/// stored files): tenant users may read them, only the operator changes them (`balas tenant
/// set`, through `set_limits`).
pub const OPERATOR_ONLY: &[&str] =
    &["monthly_token_budget", "monthly_template_cap", "daily_media_bytes_cap", "own_llm_key_allowed"];

/// New values for the operator-only limits; `None` keeps a limit as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub monthly_token_budget: Option<i64>,
    pub monthly_template_cap: Option<i64>,
    pub daily_media_bytes_cap: Option<i64>,
    /// Whether the tenant may bring its own LLM key; taking it back deletes a stored key.
    pub own_llm_key_allowed: Option<bool>,
}

/// Sets operator-only limits on `tenant`, audited as `tenant.limits_changed` with the old and new
/// values of each limit given. Returns the settings after the change.
pub async fn set_limits(
    store: &dyn Store,
    tenant: TenantId,
    limits: &Limits,
    actor: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<TenantSettings> {
    if limits.monthly_token_budget.is_some_and(|b| b < 0) {
        return Err(UseCaseError::invalid(
            "invalid_settings",
            "the token budget must not be negative (0 keeps the LLM off)",
        ));
    }
    if limits.monthly_template_cap.is_some_and(|c| c < 0) {
        return Err(UseCaseError::invalid("invalid_settings", "the template cap must not be negative (0: no cap)"));
    }
    if limits.daily_media_bytes_cap.is_some_and(|c| c < 0) {
        return Err(UseCaseError::invalid("invalid_settings", "the media cap must not be negative (0: no cap)"));
    }
    let mut tx = store.begin(tenant).await?;
    let record = tx.tenant().await?.ok_or_else(|| tenant_gone(tenant))?;
    let mut settings = record.settings.clone();
    let mut detail = serde_json::Map::new();
    if let Some(budget) = limits.monthly_token_budget {
        detail.insert("monthly_token_budget".into(), json!({ "old": settings.monthly_token_budget, "new": budget }));
        settings.monthly_token_budget = budget;
    }
    if let Some(cap) = limits.monthly_template_cap {
        detail.insert("monthly_template_cap".into(), json!({ "old": settings.monthly_template_cap, "new": cap }));
        settings.monthly_template_cap = cap;
    }
    if let Some(cap) = limits.daily_media_bytes_cap {
        detail.insert("daily_media_bytes_cap".into(), json!({ "old": settings.daily_media_bytes_cap, "new": cap }));
        settings.daily_media_bytes_cap = cap;
    }
    if let Some(allowed) = limits.own_llm_key_allowed {
        detail.insert("own_llm_key_allowed".into(), json!({ "old": settings.own_llm_key_allowed, "new": allowed }));
        settings.own_llm_key_allowed = allowed;
        if !allowed && record.own_llm_key_enc.is_some() {
            tx.set_own_llm_key(None).await?;
            detail.insert("own_llm_key_deleted".into(), json!(true));
        }
    }
    let settings = settings.validated()?;
    tx.update_tenant_settings(&record.name, &settings).await?;
    let entry = AuditEntry::new(actor, "tenant.limits_changed", "tenant", Some(tenant.to_string()))
        .detail(serde_json::Value::Object(detail));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(settings)
}

fn tenant_gone(tenant: TenantId) -> UseCaseError {
    UseCaseError::not_found("tenant_not_found", format!("tenant {tenant} not found"))
}

/// Merges a patch (any subset of the settings, and `name`) into `tenant`'s settings, refuses a
/// change to an operator-only limit (forbidden `operator_only`, whoever the actor), checks them
/// with `TenantSettings::validated` (`invalid_settings` naming what is wrong), stores them and
/// audits `tenant.settings_changed` naming `actor`. An LLM profile must be one of `profiles`,
/// the operator's catalogue. Returns the name, slug and settings.
pub async fn change_settings(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    mut patch: serde_json::Map<String, serde_json::Value>,
    profiles: &[String],
    now: DateTime<Utc>,
) -> UseCaseResult<(String, String, TenantSettings)> {
    let invalid = |detail: String| UseCaseError::invalid("invalid_settings", detail);
    let mut tx = store.begin(tenant).await?;
    let record = tx.tenant().await?.ok_or_else(|| UseCaseError::not_found("tenant_not_found", "the tenant is gone"))?;
    let name = match patch.remove("name") {
        Some(serde_json::Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
        Some(_) => return Err(invalid("name must be a non-empty string".into())),
        None => record.name.clone(),
    };
    let mut merged = serde_json::to_value(&record.settings).map_err(|e| UseCaseError::Fault(e.to_string()))?;
    for field in OPERATOR_ONLY {
        // Sending back the stored value (a client echoing GET) changes nothing and is no attempt.
        match patch.remove(*field) {
            Some(value) if value != merged[*field] => {
                return Err(UseCaseError::forbidden(
                    "operator_only",
                    format!("{field} is set by the operator of this service and can be read but not changed here"),
                ));
            }
            _ => {}
        }
    }
    let changed: Vec<String> = patch.keys().cloned().collect();
    for (key, value) in patch {
        merged[key] = value;
    }
    let settings: TenantSettings = serde_json::from_value(merged).map_err(|e| invalid(e.to_string()))?;
    let settings = settings.validated()?;
    crate::llm_profiles::check_choice(&settings, profiles)?;
    tx.update_tenant_settings(&name, &settings).await?;
    let entry = AuditEntry::new(actor, "tenant.settings_changed", "tenant", Some(tenant.to_string()))
        .detail(json!({ "fields": changed, "name_changed": name != record.name }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok((name, record.slug, settings))
}

/// Creates a tenant with its own data key; the slug defaults to a lowercase form of the name.
pub async fn create(
    store: &dyn Store,
    keys: &Keys,
    name: &str,
    slug: Option<&str>,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> UseCaseResult<TenantRecord> {
    create_by(store, keys, name, slug, settings, "cli", now).await
}

/// `create`, audited as `actor` (the CLI, or the first-run setup page).
pub async fn create_by(
    store: &dyn Store,
    keys: &Keys,
    name: &str,
    slug: Option<&str>,
    settings: &TenantSettings,
    actor: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<TenantRecord> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UseCaseError::invalid("invalid_tenant", "the tenant name must not be empty"));
    }
    let slug = slug.map(str::to_string).unwrap_or_else(|| slugify(name));
    if slug.is_empty() || !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(UseCaseError::invalid("invalid_tenant", "the slug must be lowercase letters, digits and dashes"));
    }
    let settings = settings.validated()?;
    let (_, wrapped_key) = keys.vault.new_data_key().map_err(StoreError::from)?;
    let tenant = TenantRecord {
        id: TenantId::new(),
        slug,
        name: name.to_string(),
        status: TenantStatus::Active,
        wrapped_key,
        settings,
        budget_notice_month: None,
        cancelled_at: None,
        own_llm_key_enc: None,
        created_at: now,
    };

    let mut tx = store.begin(tenant.id).await?;
    tx.insert_tenant(&tenant).await?;
    let entry = AuditEntry::new(actor, "tenant.created", "tenant", Some(tenant.id.to_string())).detail(json!({
        "slug": tenant.slug,
        "language": tenant.settings.language,
        "media_policy": tenant.settings.media_policy,
        "understand_media": tenant.settings.understand_media,
        "answer_groups": tenant.settings.answer_groups,
    }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// The tenant's data key, which encrypts tenant-level secrets such as channel credentials.
pub async fn data_key(tx: &mut (impl TenantOps + ?Sized), keys: &Keys) -> StoreResult<DataKey> {
    let tenant =
        tx.tenant().await?.ok_or_else(|| StoreError::Invariant(format!("tenant {} not found", tx.tenant_id())))?;
    Ok(keys.vault.unwrap_key(&tenant.wrapped_key)?)
}

/// Finds a tenant by id or slug (slugs need a view of all tenants: the owner URL on PostgreSQL).
pub async fn find(store: &dyn Store, id_or_slug: &str) -> StoreResult<Option<TenantRecord>> {
    if let Ok(id) = id_or_slug.parse::<TenantId>() {
        let mut tx = store.begin_read(id).await?;
        return tx.tenant().await;
    }
    Ok(store.list_tenants().await?.into_iter().find(|t| t.slug == id_or_slug))
}

/// Connects a provider number to a tenant; secrets are sealed with the tenant's data key.
pub async fn add_channel(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    provider: Provider,
    address: &str,
    secrets: &ChannelSecrets,
    now: DateTime<Utc>,
) -> StoreResult<ChannelRecord> {
    let mut tx = store.begin(tenant).await?;
    let key = data_key(&mut *tx, keys).await?;
    let channel = ChannelRecord {
        id: ChannelId::new(),
        tenant_id: tenant,
        provider: provider.as_str().to_string(),
        address: address.trim().to_string(),
        secrets_enc: secrets.seal(&key)?,
        created_at: now,
    };
    tx.insert_channel(&channel).await?;
    let entry = AuditEntry::new("cli", "channel.added", "channel", Some(channel.id.to_string()))
        .detail(json!({ "provider": channel.provider }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(channel)
}

pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(super::slugify("Warung Bu Sri — Jl. Kenanga"), "warung-bu-sri-jl-kenanga");
    }
}
