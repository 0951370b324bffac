//! Webhook ingress: verify the provider's signature on the raw body, parse into
//! provider-neutral events, persist them in one transaction, answer 200.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;

use crate::app::AppState;
use crate::channels::ChannelSecrets;
use crate::domain::{ChannelId, Provider};
use crate::error::ApiError;
use crate::store::ChannelRecord;
use crate::tenants;

mod customer_messages;
pub mod fonnte;
pub mod group_commit;
pub mod meta;
pub mod refusals;
pub mod twilio;

/// Meta documents payloads of up to 3 MB.
pub const MAX_WEBHOOK_BYTES: usize = 3 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().merge(meta::router()).merge(twilio::router()).merge(fonnte::router())
}

pub fn unknown_channel() -> ApiError {
    ApiError::not_found("unknown_channel", "no channel of this provider has this id")
}

pub fn malformed_json(e: &serde_json::Error) -> ApiError {
    // serde's own message can quote the payload; only the position is reported.
    ApiError::bad_request(
        "malformed_payload",
        format!("the body is not the JSON document this provider sends (line {}, column {})", e.line(), e.column()),
    )
}

/// The channel of the path's id with its opened secrets: from the channel cache, or routed to
/// its tenant and loaded; 404 when the channel is unknown or belongs to another provider.
/// Reads only: nothing changes before verification. A cached channel's route is checked again
/// before its webhook is stored (`group_commit`), so a cancelled business stops at once.
pub async fn load_channel(
    state: &AppState,
    raw_id: &str,
    provider: Provider,
) -> Result<(ChannelRecord, ChannelSecrets), ApiError> {
    let id: ChannelId = raw_id.parse().map_err(|_| unknown_channel())?;
    if let Some((channel, secrets)) = state.channel_cache.get(id) {
        if channel.provider != provider.as_str() {
            return Err(unknown_channel());
        }
        return Ok((channel, secrets));
    }
    let route = state.store.route_channel(id).await?.ok_or_else(unknown_channel)?;
    if route.provider != provider.as_str() {
        return Err(unknown_channel());
    }
    let mut tx = state.store.begin_read(route.tenant_id).await?;
    let channel = tx.channel(id).await?.ok_or_else(unknown_channel)?;
    let key = tenants::data_key(&mut *tx, &state.keys).await?;
    tx.commit().await?;
    let secrets = ChannelSecrets::open(&channel.secrets_enc, &key).map_err(ApiError::internal)?;
    state.channel_cache.put(&channel, &secrets);
    Ok((channel, secrets))
}

/// 404 when a channel taken from the cache has lost its route since (its business was
/// cancelled): for the rare paths that bypass the group committer's own check.
pub async fn ensure_routed(state: &AppState, channel: &ChannelRecord) -> Result<(), ApiError> {
    match state.store.route_channel(channel.id).await? {
        Some(route) if route.tenant_id == channel.tenant_id => Ok(()),
        _ => Err(unknown_channel()),
    }
}

/// Reads the whole body, refusing anything over `limit` bytes with a 413. A moderately
/// oversized body is read to its end first, so the sender sees the 413 and not a reset.
/// Handlers call it only once their channel is known; the server bounds how long it may take.
pub async fn read_body(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let drain_cap = limit.saturating_mul(4);
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > drain_cap) {
        return Err(too_large());
    }
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(crate::server::body_error)?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        seen += chunk.len();
        if seen > drain_cap {
            return Err(too_large());
        }
        if seen <= limit {
            buffer.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buffer))
}

pub const CHANNEL_CACHE_TTL: Duration = Duration::from_secs(5);

/// Recently routed channels with their opened secrets. Without it every webhook paid five
/// database round trips and two decryptions before its signature check (BENCHMARKS.md). The
/// route is read again once per shared ingest transaction (`group_commit`). An entry lives `CHANNEL_CACHE_TTL`.
#[derive(Default)]
pub struct ChannelCache {
    entries: Mutex<HashMap<ChannelId, (Instant, ChannelRecord, ChannelSecrets)>>,
}

impl ChannelCache {
    /// The channel if it was loaded less than `CHANNEL_CACHE_TTL` ago.
    pub fn get(&self, id: ChannelId) -> Option<(ChannelRecord, ChannelSecrets)> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (loaded, channel, secrets) = entries.get(&id)?;
        (loaded.elapsed() < CHANNEL_CACHE_TTL).then(|| (channel.clone(), secrets.clone()))
    }

    /// Keeps a freshly loaded channel; expired entries are dropped on the way.
    pub fn put(&self, channel: &ChannelRecord, secrets: &ChannelSecrets) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, (loaded, _, _)| loaded.elapsed() < CHANNEL_CACHE_TTL);
        entries.insert(channel.id, (Instant::now(), channel.clone(), secrets.clone()));
    }
}
