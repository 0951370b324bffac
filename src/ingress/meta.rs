//! Meta WhatsApp Cloud API webhooks: the GET verification handshake, and POSTed messages
//! and statuses signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, app secret).
use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::persist::{self, IngestReport};
use super::read_body;
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::channels::ChannelSecrets;
use crate::channels::meta::MetaSecrets;
use crate::domain::{
    Bsuid, ChannelId, CustomerIdentity, DeliveryStatus, IdentityChange, InboundEvent,
    InboundMessage, MessageKind, Phone, Provider, StatusUpdate,
};
use crate::error::ApiError;
use crate::store::ChannelRecord;
use crate::tenants;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/meta/{channel_id}", get(handshake).post(receive))
}

/// Meta's subscription check: echo `hub.challenge` when `hub.verify_token` matches.
async fn handshake(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (_, secrets) = meta_channel(&state, &channel_id).await?;
    let mode_ok = params.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = params.get("hub.verify_token").is_some_and(|t| {
        bool::from(
            t.as_bytes()
                .ct_eq(secrets.verify_token.expose_secret().as_bytes()),
        )
    });
    match params.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok && challenge.len() <= 256 => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge.clone(),
        )
            .into_response()),
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
    let raw = read_body(&headers, body, super::MAX_WEBHOOK_BYTES).await?;
    let (channel, secrets) = meta_channel(&state, &channel_id).await?;
    if let Err(reason) = verify_signature(secrets.app_secret.expose_secret(), &headers, &raw) {
        record_rejection(&state, &channel, reason).await;
        return Err(ApiError::unauthorized("invalid_signature", reason.detail()));
    }
    let envelope: Envelope = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::bad_request(
            "malformed_payload",
            format!(
                "the body is not a WhatsApp webhook JSON document (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let events = envelope.into_events(&channel.address)?;
    let report = persist::ingest(&state, &channel, events).await?;
    tracing::info!(channel = %channel.id, stored = report.stored, duplicates = report.duplicates, statuses = report.statuses, "meta webhook accepted");
    Ok(Json(report))
}

/// Routes the path's channel id to its tenant and opens its Meta secrets; 404 otherwise.
async fn meta_channel(
    state: &AppState,
    raw_id: &str,
) -> Result<(ChannelRecord, MetaSecrets), ApiError> {
    let unknown = || ApiError::not_found("unknown_channel", "no Meta channel has this id");
    let id: ChannelId = raw_id.parse().map_err(|_| unknown())?;
    let route = state.store.route_channel(id).await?.ok_or_else(unknown)?;
    if route.provider != Provider::Meta.as_str() {
        return Err(unknown());
    }
    let mut tx = state.store.begin_read(route.tenant_id).await?;
    let channel = tx.channel(id).await?.ok_or_else(unknown)?;
    let key = tenants::data_key(&mut *tx, &state.keys).await?;
    tx.commit().await?;
    match ChannelSecrets::open(&channel.secrets_enc, &key).map_err(ApiError::internal)? {
        ChannelSecrets::Meta(secrets) => Ok((channel, secrets)),
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
pub fn verify_signature(
    app_secret: &str,
    headers: &HeaderMap,
    raw: &[u8],
) -> Result<(), SignatureError> {
    let header = headers
        .get("x-hub-signature-256")
        .ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("sha256="))
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest.trim()).map_err(|_| SignatureError::Malformed)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(raw);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// One audit line per rejected webhook; a failure to write it must not turn the 401 into a 500.
async fn record_rejection(state: &AppState, channel: &ChannelRecord, reason: SignatureError) {
    tracing::warn!(channel = %channel.id, reason = reason.code(), "meta webhook signature rejected");
    let now = state.clock.now();
    let entry = AuditEntry::new(
        "provider:meta",
        "webhook.signature_rejected",
        "channel",
        Some(channel.id.to_string()),
    )
    .detail(json!({ "reason": reason.code() }));
    let result = async {
        let mut tx = state.store.begin(channel.tenant_id).await?;
        audit::append(&mut *tx, vec![entry], now).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not audit a rejected webhook");
    }
}

// ---- Payload shapes (lenient: unknown fields are ignored, optional ones default) ----

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    value: Option<ChangeValue>,
}

#[derive(Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    profile: Option<Profile>,
    wa_id: Option<String>,
    user_id: Option<String>,
    parent_user_id: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    id: String,
    from: Option<String>,
    from_user_id: Option<String>,
    from_parent_user_id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type", default)]
    kind: String,
    text: Option<TextBody>,
    image: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    interactive: Option<Interactive>,
    button: Option<Button>,
    location: Option<Location>,
    reaction: Option<Reaction>,
    system: Option<System>,
}

#[derive(Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    caption: Option<String>,
}

#[derive(Deserialize)]
struct Interactive {
    button_reply: Option<Titled>,
    list_reply: Option<Titled>,
}

#[derive(Deserialize)]
struct Titled {
    title: Option<String>,
}

#[derive(Deserialize)]
struct Button {
    text: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct Reaction {
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct System {
    user_id: Option<String>,
    parent_user_id: Option<String>,
    previous_user_id: Option<String>,
    previous_parent_user_id: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: Option<String>,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    code: Option<i64>,
}

impl Envelope {
    /// Every message and status of every entry and change, in payload order. Changes for
    /// another business number (same Meta app) are skipped: this channel cannot answer them.
    fn into_events(self, phone_number_id: &str) -> Result<Vec<InboundEvent>, ApiError> {
        let mut events = Vec::new();
        for change in self.entry.into_iter().flat_map(|e| e.changes) {
            let Some(value) = change.value.filter(|_| change.field == "messages") else {
                continue;
            };
            let number = value
                .metadata
                .as_ref()
                .and_then(|m| m.phone_number_id.as_deref());
            if number.is_some_and(|n| n != phone_number_id) {
                tracing::warn!("meta webhook change for another phone number id skipped");
                continue;
            }
            for message in value.messages {
                events.push(message.into_event(&value.contacts)?);
            }
            for status in value.statuses {
                if let Some(update) = status.into_update() {
                    events.push(InboundEvent::Status(update));
                }
            }
        }
        Ok(events)
    }
}

impl Message {
    fn into_event(self, contacts: &[Contact]) -> Result<InboundEvent, ApiError> {
        if self.kind == "system"
            && let Some(change) = self.system.as_ref().and_then(System::identity_change)
        {
            return Ok(InboundEvent::IdentityChange(change));
        }
        let from = self.identity(contacts);
        if !from.is_addressable() {
            return Err(ApiError::bad_request(
                "unidentified_sender",
                "a message carries neither a valid from_user_id nor a valid from phone number",
            ));
        }
        let kind = MessageKind::parse(&self.kind);
        let body = self.body(kind);
        Ok(InboundEvent::Message(InboundMessage {
            provider_message_id: self.id,
            from,
            kind,
            body,
            sent_at: unix_seconds(self.timestamp.as_deref()),
        }))
    }

    /// BSUID (parent first) before phone; `from`/`wa_id` may be absent for username users.
    fn identity(&self, contacts: &[Contact]) -> CustomerIdentity {
        let contact = contacts.iter().find(|c| {
            (c.user_id.is_some() && c.user_id == self.from_user_id)
                || (c.wa_id.is_some() && c.wa_id == self.from)
        });
        let contact = contact.or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        });
        let bsuid = [
            self.from_parent_user_id.as_deref(),
            contact.and_then(|c| c.parent_user_id.as_deref()),
            self.from_user_id.as_deref(),
            contact.and_then(|c| c.user_id.as_deref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|raw| Bsuid::parse(raw).ok());
        let phone = [
            self.from.as_deref(),
            contact.and_then(|c| c.wa_id.as_deref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|raw| Phone::parse(raw).ok());
        let profile = contact.and_then(|c| c.profile.as_ref());
        CustomerIdentity {
            bsuid,
            phone,
            username: profile.and_then(|p| p.username.clone()),
            name: profile.and_then(|p| p.name.clone()),
        }
    }

    fn body(&self, kind: MessageKind) -> Option<String> {
        match kind {
            MessageKind::Text => self.text.as_ref().map(|t| t.body.clone()),
            MessageKind::Image => self.image.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Video => self.video.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Document => self.document.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Interactive => self.interactive.as_ref().and_then(|i| {
                i.button_reply
                    .as_ref()
                    .or(i.list_reply.as_ref())
                    .and_then(|t| t.title.clone())
            }),
            MessageKind::Button => self.button.as_ref().and_then(|b| b.text.clone()),
            MessageKind::Reaction => self.reaction.as_ref().and_then(|r| r.emoji.clone()),
            MessageKind::Location => self.location.as_ref().map(|l| {
                let place = [l.name.as_deref(), l.address.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{},{} {}",
                    l.latitude.unwrap_or_default(),
                    l.longitude.unwrap_or_default(),
                    place
                )
                .trim()
                .to_string()
            }),
            _ => None,
        }
    }
}

impl System {
    fn identity_change(&self) -> Option<IdentityChange> {
        let previous = self
            .previous_parent_user_id
            .as_deref()
            .or(self.previous_user_id.as_deref())?;
        let current = self.parent_user_id.as_deref().or(self.user_id.as_deref())?;
        Some(IdentityChange {
            previous: Bsuid::parse(previous).ok()?,
            current: Bsuid::parse(current).ok()?,
        })
    }
}

impl Status {
    fn into_update(self) -> Option<StatusUpdate> {
        let status = DeliveryStatus::parse(&self.status)?;
        Some(StatusUpdate {
            provider_message_id: self.id,
            status,
            at: unix_seconds(self.timestamp.as_deref()),
            error_code: self
                .errors
                .first()
                .and_then(|e| e.code)
                .map(|c| c.to_string()),
        })
    }
}

fn unix_seconds(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
}
