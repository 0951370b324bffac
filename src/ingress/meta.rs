//! Meta WhatsApp Cloud API webhooks: the GET verification handshake, and POSTed messages
//! and statuses signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, app secret).
//! The payload shapes and their translation into events are at the end.
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
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::group_commit;
use super::group_commit::IngestReport;
use super::read_body;
use crate::app::AppState;
use crate::channels::ChannelSecrets;
use crate::channels::meta::MetaSecrets;
use crate::domain::{
    Bsuid, CustomerIdentity, DeliveryStatus, IdentityChange, InboundEvent, InboundMessage, MessageKind, MessageMeta,
    Phone, Provider, StatusUpdate, TemplateStatusChange,
};
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

// Payload shapes (lenient: unknown fields are ignored, optional ones default) and their
// translation into provider-neutral events.

#[derive(Deserialize)]
pub struct Envelope {
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
    /// `message_template_status_update` only.
    event: Option<String>,
    message_template_name: Option<String>,
    message_template_language: Option<String>,
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
    audio: Option<Media>,
    sticker: Option<Media>,
    interactive: Option<Interactive>,
    button: Option<Button>,
    location: Option<Location>,
    reaction: Option<Reaction>,
    system: Option<System>,
    /// Present on a quote-reply (and on a tapped button): the message replied to.
    context: Option<Context>,
}

#[derive(Deserialize)]
struct Context {
    id: Option<String>,
}

#[derive(Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    id: Option<String>,
    mime_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    sha256: Option<String>,
    url: Option<String>,
    #[serde(default)]
    voice: bool,
}

#[derive(Deserialize)]
struct Interactive {
    button_reply: Option<Titled>,
    list_reply: Option<Titled>,
}

#[derive(Deserialize)]
struct Titled {
    id: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct Button {
    payload: Option<String>,
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

/// The webhook field of a template's status change, and what it must carry.
const TEMPLATE_STATUS: &str = "message_template_status_update";
const TEMPLATE_STATUS_FIELDS: &str =
    "a message_template_status_update needs event, message_template_name and message_template_language";

impl Envelope {
    /// Every message and status of every entry and change, in payload order. Changes for
    /// another business number (same Meta app) are skipped: this channel cannot answer them.
    pub fn into_events(self, phone_number_id: &str) -> Result<Vec<InboundEvent>, ApiError> {
        let mut events = Vec::new();
        for change in self.entry.into_iter().flat_map(|e| e.changes) {
            if change.field == TEMPLATE_STATUS {
                let value = change.value.as_ref();
                let get = |f: fn(&ChangeValue) -> &Option<String>| value.and_then(|v| f(v).clone());
                let (Some(name), Some(language), Some(event)) =
                    (get(|v| &v.message_template_name), get(|v| &v.message_template_language), get(|v| &v.event))
                else {
                    return Err(ApiError::bad_request("malformed_template_status", TEMPLATE_STATUS_FIELDS));
                };
                events.push(InboundEvent::TemplateStatus(TemplateStatusChange { name, language, event }));
                continue;
            }
            let Some(value) = change.value.filter(|_| change.field == "messages") else {
                continue;
            };
            let number = value.metadata.as_ref().and_then(|m| m.phone_number_id.as_deref());
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
        let mut meta = self.media().map_or_else(MessageMeta::default, |m| MessageMeta {
            mime_type: m.mime_type.clone(),
            media_ref: m.id.clone(),
            filename: m.filename.clone(),
            sha256: m.sha256.clone(),
            media_url: m.url.clone(),
            voice: m.voice,
            ..MessageMeta::default()
        });
        meta.button = self.button_id();
        Ok(InboundEvent::Message(Box::new(InboundMessage {
            provider_message_id: self.id,
            from,
            kind,
            body,
            meta,
            sent_at: unix_seconds(self.timestamp.as_deref()),
            quoted: self.context.and_then(|c| c.id),
        })))
    }

    /// BSUID (parent first) before phone; `from`/`wa_id` may be absent for username users.
    fn identity(&self, contacts: &[Contact]) -> CustomerIdentity {
        let contact = contacts.iter().find(|c| {
            (c.user_id.is_some() && c.user_id == self.from_user_id) || (c.wa_id.is_some() && c.wa_id == self.from)
        });
        let contact = contact.or(if contacts.len() == 1 { contacts.first() } else { None });
        let bsuid = [
            self.from_parent_user_id.as_deref(),
            contact.and_then(|c| c.parent_user_id.as_deref()),
            self.from_user_id.as_deref(),
            contact.and_then(|c| c.user_id.as_deref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|raw| Bsuid::parse(raw).ok());
        let phone = [self.from.as_deref(), contact.and_then(|c| c.wa_id.as_deref())]
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

    /// A tap's id (interactive reply) or payload (template quick reply); routing uses it, never the title.
    fn button_id(&self) -> Option<String> {
        let reply = self.interactive.as_ref().and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()));
        reply.and_then(|r| r.id.clone()).or_else(|| self.button.as_ref().and_then(|b| b.payload.clone()))
    }

    fn media(&self) -> Option<&Media> {
        [&self.image, &self.video, &self.document, &self.audio, &self.sticker].into_iter().flatten().next()
    }

    fn body(&self, kind: MessageKind) -> Option<String> {
        match kind {
            MessageKind::Text => self.text.as_ref().map(|t| t.body.clone()),
            MessageKind::Image => self.image.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Video => self.video.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Document => self.document.as_ref().and_then(|m| m.caption.clone()),
            MessageKind::Interactive => self
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()).and_then(|t| t.title.clone())),
            MessageKind::Button => self.button.as_ref().and_then(|b| b.text.clone()),
            MessageKind::Reaction => self.reaction.as_ref().and_then(|r| r.emoji.clone()),
            MessageKind::Location => self.location.as_ref().map(|l| {
                let place =
                    [l.name.as_deref(), l.address.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
                format!("{},{} {}", l.latitude.unwrap_or_default(), l.longitude.unwrap_or_default(), place)
                    .trim()
                    .to_string()
            }),
            _ => None,
        }
    }
}

impl System {
    fn identity_change(&self) -> Option<IdentityChange> {
        let previous = self.previous_parent_user_id.as_deref().or(self.previous_user_id.as_deref())?;
        let current = self.parent_user_id.as_deref().or(self.user_id.as_deref())?;
        Some(IdentityChange { previous: Bsuid::parse(previous).ok()?, current: Bsuid::parse(current).ok()? })
    }
}

impl Status {
    fn into_update(self) -> Option<StatusUpdate> {
        let status = DeliveryStatus::parse(&self.status)?;
        Some(StatusUpdate {
            provider_message_id: self.id,
            status,
            at: unix_seconds(self.timestamp.as_deref()),
            error_code: self.errors.first().and_then(|e| e.code).map(|c| c.to_string()),
        })
    }
}

fn unix_seconds(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|s| s.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0))
}
