//! The tenant's side of the operator's LLM catalogue: which profile and fallback it answers
//! with, and its own key where the operator allows one (`balas tenant set --allow-own-llm-key`).
//! The key is stored encrypted under the tenant's data key and never shown again; calls made
//! with it are marked and do not count against the operator's token budget.
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::config::Keys;
use crate::domain::TenantId;
use crate::llm::TenantChoice;
use crate::store::{Store, StoreResult, TenantRecord};
use crate::tenants::TenantSettings;
use crate::usecase::{UseCaseError, UseCaseResult};

/// Longest key accepted (provider keys are under 200 characters).
const MAX_KEY_CHARS: usize = 512;

/// A chosen profile and fallback must be in the catalogue, and differ.
pub fn check_choice(settings: &TenantSettings, catalogue: &[String]) -> UseCaseResult<()> {
    let offered = || if catalogue.is_empty() { "none".to_string() } else { catalogue.join(", ") };
    for (field, name) in
        [("llm_profile", &settings.llm_profile), ("llm_fallback_profile", &settings.llm_fallback_profile)]
    {
        if !name.is_empty() && !catalogue.contains(name) {
            let detail = format!("{field}: no LLM profile named {name:?}; the operator offers: {}", offered());
            return Err(UseCaseError::invalid("invalid_settings", detail));
        }
    }
    if !settings.llm_profile.is_empty() && settings.llm_profile == settings.llm_fallback_profile {
        return Err(UseCaseError::invalid("invalid_settings", "the fallback must be another profile"));
    }
    Ok(())
}

/// The tenant's choice for the worker: its profile, fallback, its own key only while the
/// operator allows it, and the hosts a sub-processor change keeps out for now.
pub fn choice_of<'a>(
    tenant: &'a TenantRecord,
    keys: &Keys,
    blocked_hosts: Vec<String>,
) -> StoreResult<TenantChoice<'a>> {
    let own_key = match (&tenant.own_llm_key_enc, tenant.settings.own_llm_key_allowed) {
        (Some(enc), true) => Some(SecretString::from(keys.vault.unwrap_key(&tenant.wrapped_key)?.decrypt(enc)?)),
        _ => None,
    };
    Ok(TenantChoice {
        profile: &tenant.settings.llm_profile,
        fallback: &tenant.settings.llm_fallback_profile,
        own_key,
        blocked_hosts,
    })
}

fn not_allowed() -> UseCaseError {
    UseCaseError::forbidden(
        "own_llm_key_not_allowed",
        "the operator of this service has not allowed this shop to bring its own LLM key",
    )
}

/// Stores the tenant's own LLM key (replacing one), audited `llm.own_key_set`; refused unless the
/// operator allows it for this tenant.
pub async fn set_own_key(
    store: &dyn Store,
    keys: &Keys,
    tenant: TenantId,
    actor: &str,
    key: &str,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS || key.chars().any(char::is_whitespace) {
        return Err(UseCaseError::invalid("invalid_key", "the key must be one word of at most 512 characters"));
    }
    let mut tx = store.begin(tenant).await?;
    let record = tx.tenant().await?.ok_or_else(|| UseCaseError::not_found("tenant_not_found", "the tenant is gone"))?;
    if !record.settings.own_llm_key_allowed {
        return Err(not_allowed());
    }
    let data_key = keys.vault.unwrap_key(&record.wrapped_key).map_err(|e| UseCaseError::Fault(e.to_string()))?;
    tx.set_own_llm_key(Some(&data_key.encrypt(key))).await?;
    let entry = AuditEntry::new(actor, "llm.own_key_set", "tenant", Some(tenant.to_string()))
        .detail(json!({ "replaced": record.own_llm_key_enc.is_some() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the tenant's own key, audited `llm.own_key_deleted`; the operator's keys answer again.
pub async fn delete_own_key(store: &dyn Store, tenant: TenantId, actor: &str, now: DateTime<Utc>) -> UseCaseResult<()> {
    let mut tx = store.begin(tenant).await?;
    let record = tx.tenant().await?.ok_or_else(|| UseCaseError::not_found("tenant_not_found", "the tenant is gone"))?;
    if record.own_llm_key_enc.is_none() {
        return Err(UseCaseError::not_found("no_own_llm_key", "this shop has no LLM key of its own stored"));
    }
    tx.set_own_llm_key(None).await?;
    let entry = AuditEntry::new(actor, "llm.own_key_deleted", "tenant", Some(tenant.to_string()));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(())
}
