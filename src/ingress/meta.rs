//! Meta WhatsApp Cloud API webhooks: the GET verification handshake, and POSTed messages
//! and statuses signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, app secret).
//! The payload shapes live in `meta_payload`.
use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::group_commit;
use super::meta_payload::Envelope;
use super::persist::IngestReport;
use super::read_body;
use crate::app::AppState;
use crate::channels::ChannelSecrets;
use crate::channels::meta::MetaSecrets;
use crate::domain::{InboundEvent, Provider};
use crate::error::ApiError;
use crate::store::ChannelRecord;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/meta/{channel_id}", get(handshake).post(receive))
}

/// Meta's subscription check: echo `hub.challenge` when `hub.verify_token` matches.
async fn handshake(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (channel, secrets) = meta_channel(&state, &channel_id).await?;
    super::ensure_routed(&state, &channel).await?;
    let mode_ok = params.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = params
        .get("hub.verify_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(secrets.verify_token.expose_secret().as_bytes())));
    match params.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok && challenge.len() <= 256 => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge.clone()).into_response())
        }
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "verification_failed",
            "hub.mode must be subscribe and hub.verify_token must match the channel's verify token",
        )),
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestReport>, ApiError> {
    let (channel, secrets) = meta_channel(&state, &channel_id).await?;
    let raw = read_body(&headers, body, super::MAX_WEBHOOK_BYTES).await?;
    if let Err(reason) = verify_signature(secrets.app_secret.expose_secret(), &headers, &raw) {
        state.refusal_log.rejected(&state.deps.metrics, Provider::Meta, reason.code());
        return Err(ApiError::unauthorized("invalid_signature", reason.detail()));
    }
    let events = parse_events(&raw, &channel.address)?;
    let report = group_commit::ingest(&state.group_commit, &channel, events).await?;
    tracing::info!(channel = %channel.id, stored = report.stored, duplicates = report.duplicates, statuses = report.statuses, "meta webhook accepted");
    Ok(Json(report))
}

/// The raw body's messages and statuses for the channel with this phone number id. Pure (no
/// state, no I/O), so `fuzz/` can drive exactly what `receive` runs after verification.
pub fn parse_events(raw: &[u8], phone_number_id: &str) -> Result<Vec<InboundEvent>, ApiError> {
    let envelope: Envelope = serde_json::from_slice(raw).map_err(|e| super::malformed_json(&e))?;
    envelope.into_events(phone_number_id)
}

/// Loads the path's channel and its Meta secrets; 404 for unknown or non-Meta channels.
async fn meta_channel(state: &AppState, raw_id: &str) -> Result<(ChannelRecord, MetaSecrets), ApiError> {
    match super::load_channel(state, raw_id, Provider::Meta).await? {
        (channel, ChannelSecrets::Meta(secrets)) => Ok((channel, secrets)),
        _ => Err(super::unknown_channel()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Mismatch,
}

impl SignatureError {
    fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Mismatch => "mismatch",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Self::Missing => "the X-Hub-Signature-256 header is missing",
            Self::Malformed => "the X-Hub-Signature-256 header is not sha256=<64 hex digits>",
            Self::Mismatch => "the X-Hub-Signature-256 header does not match the body",
        }
    }
}

/// Checks `sha256=<hex>` against HMAC-SHA256(app secret, raw body), in constant time.
pub fn verify_signature(app_secret: &str, headers: &HeaderMap, raw: &[u8]) -> Result<(), SignatureError> {
    let header = headers.get("x-hub-signature-256").ok_or(SignatureError::Missing)?;
    let hex_digest = header.to_str().ok().and_then(|v| v.strip_prefix("sha256=")).ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest.trim()).map_err(|_| SignatureError::Malformed)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(raw);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}
