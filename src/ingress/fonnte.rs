//! Fonnte: JSON webhooks authenticated by a ≥128-bit secret in the URL (Fonnte signs
//! nothing), plus the configured device number and, when set, Fonnte's secret-key field.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::group_commit;
use super::group_commit::IngestReport;
use super::read_body;
use crate::app::AppState;
use crate::channels::ChannelSecrets;
use crate::channels::fonnte::FonnteSecrets;
use crate::config::Keys;
use crate::domain::{
    CustomerIdentity, DeliveryStatus, InboundEvent, InboundMessage, MessageKind, MessageMeta, Phone, Provider,
    StatusUpdate, TenantId,
};
use crate::error::ApiError;

const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Field names under which Fonnte may send its optional secret key (its docs do not say).
const KEY_FIELDS: &[&str] = &["secret", "secret_key", "secretkey", "key"];

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/fonnte/{channel_id}/{secret}", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    Path((channel_id, secret)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestReport>, ApiError> {
    let (channel, secrets) = match super::load_channel(&state, &channel_id, Provider::Fonnte).await? {
        (channel, ChannelSecrets::Fonnte(secrets)) => (channel, secrets),
        _ => return Err(super::unknown_channel()),
    };
    if let Err(rejection) = check_url_secret(&secrets, &secret) {
        state.refusal_log.rejected(&state.deps.metrics, Provider::Fonnte, rejection.code());
        return Err(rejection.into_error());
    }
    let raw = read_body(&headers, body, MAX_JSON_BYTES).await?;
    let payload = decode(&raw)?;
    if let Err(rejection) = check_payload(&secrets, &channel.address, &payload) {
        state.refusal_log.rejected(&state.deps.metrics, Provider::Fonnte, rejection.code());
        return Err(rejection.into_error());
    }
    let event = parse(&payload, &state.keys, channel.tenant_id)?;
    let report = group_commit::ingest(&state.group_commit, &channel, vec![event]).await?;
    tracing::info!(channel = %channel.id, stored = report.stored, duplicates = report.duplicates, statuses = report.statuses, "fonnte webhook accepted");
    Ok(Json(report))
}

/// Why a Fonnte webhook was refused; `code` is the reason in `/metrics` and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    WrongUrlSecret,
    WrongSecretKey,
    WrongDevice,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::WrongUrlSecret => "wrong_url_secret",
            Self::WrongSecretKey => "wrong_secret_key",
            Self::WrongDevice => "wrong_device",
        }
    }

    fn into_error(self) -> ApiError {
        match self {
            Self::WrongUrlSecret => ApiError::unauthorized("invalid_secret", "the secret in the webhook URL is wrong"),
            Self::WrongSecretKey => {
                ApiError::unauthorized("invalid_secret", "the payload's secret key does not match the channel's")
            }
            Self::WrongDevice => ApiError::new(
                StatusCode::FORBIDDEN,
                "device_mismatch",
                "the payload's device is not this channel's number",
            ),
        }
    }
}

/// The URL's secret against the channel's, in constant time; checked before the body is parsed.
pub fn check_url_secret(secrets: &FonnteSecrets, given: &str) -> Result<(), Rejection> {
    if bool::from(given.as_bytes().ct_eq(secrets.webhook_secret.expose_secret().as_bytes())) {
        Ok(())
    } else {
        Err(Rejection::WrongUrlSecret)
    }
}

/// The body as JSON; any JSON value is accepted here, `parse` decides what it means.
pub fn decode(raw: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(raw).map_err(|e| super::malformed_json(&e))
}

/// Fonnte's optional secret-key field and the device number, for the channel at `address`.
pub fn check_payload(secrets: &FonnteSecrets, address: &str, payload: &Value) -> Result<(), Rejection> {
    if !key_matches(secrets, payload) {
        return Err(Rejection::WrongSecretKey);
    }
    if text(payload, "device").is_some_and(|d| !same_number(&d, address)) {
        return Err(Rejection::WrongDevice);
    }
    Ok(())
}

fn key_matches(secrets: &FonnteSecrets, payload: &Value) -> bool {
    let Some(expected) = &secrets.webhook_key else { return true };
    KEY_FIELDS
        .iter()
        .filter_map(|f| text(payload, f))
        .any(|given| bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes())))
}

/// Fonnte writes numbers as `62…` or `08…`; compare their E.164 forms.
fn same_number(a: &str, b: &str) -> bool {
    match (Phone::parse(a), Phone::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A string field, also when Fonnte sends it as a number; empty strings count as absent.
fn text(payload: &Value, field: &str) -> Option<String> {
    match &payload[field] {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A status update (`id` with `status`/`state`) or an inbound message, provider-neutral.
pub fn parse(payload: &Value, keys: &Keys, tenant: TenantId) -> Result<InboundEvent, ApiError> {
    if text(payload, "sender").is_none()
        && let Some(id) = text(payload, "id")
    {
        let status = ["status", "state"]
            .iter()
            .filter_map(|f| text(payload, f))
            .filter_map(|s| DeliveryStatus::parse(&s))
            .max_by_key(|s| s.rank())
            .ok_or_else(|| {
                ApiError::bad_request("malformed_payload", "a status update needs a known status or state")
            })?;
        return Ok(InboundEvent::Status(StatusUpdate { provider_message_id: id, status, at: None, error_code: None }));
    }
    let sender = text(payload, "sender")
        .ok_or_else(|| ApiError::bad_request("malformed_payload", "the payload has no sender"))?;
    let member = text(payload, "member");
    // In a group, `sender` is the group and `member` the person who wrote.
    let person = member.as_deref().unwrap_or(&sender);
    let phone = Phone::parse(person)
        .map_err(|_| ApiError::bad_request("unidentified_sender", "sender is not a phone number"))?;
    let from = CustomerIdentity { phone: Some(phone), name: text(payload, "name"), ..Default::default() };
    let message = text(payload, "message");
    let (kind, meta) = match (text(payload, "url"), text(payload, "location"), text(payload, "text")) {
        (Some(url), _, _) => {
            let extension = text(payload, "extension").unwrap_or_default().to_ascii_lowercase();
            let kind = kind_of_extension(&extension);
            let mime_type = crate::media::mime_of_extension(&extension).map(str::to_string);
            let meta = MessageMeta {
                media_ref: Some(url),
                filename: text(payload, "filename"),
                mime_type,
                ..MessageMeta::default()
            };
            (kind, meta)
        }
        (None, Some(_), _) => (MessageKind::Location, MessageMeta::default()),
        (None, None, Some(_)) if message.is_none() => (MessageKind::Button, MessageMeta::default()),
        _ => (MessageKind::Text, MessageMeta::default()),
    };
    let body = match kind {
        MessageKind::Location => text(payload, "location"),
        MessageKind::Button => text(payload, "text"),
        _ => message.clone(),
    };
    let timestamp = text(payload, "timestamp");
    // Fonnte retries for 15 minutes; without an inbox id, a keyed hash of what identifies the
    // message is the dedup key (keyed, so the stored key reveals nothing about the text).
    let provider_message_id = match text(payload, "inboxid") {
        Some(inbox) => format!("inbox:{inbox}"),
        None => {
            let material =
                [text(payload, "device"), Some(sender.clone()), timestamp.clone(), message, text(payload, "url")]
                    .map(Option::unwrap_or_default)
                    .join("\u{1f}");
            format!("h:{}", hex::encode(keys.index.dedup_key(tenant, "fonnte", &material)))
        }
    };
    let sent_at = timestamp.and_then(|t| t.parse::<i64>().ok()).and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    let meta = MessageMeta { group: member.map(|_| sender), ..meta };
    Ok(InboundEvent::Message(Box::new(InboundMessage {
        provider_message_id,
        from,
        kind,
        body,
        meta,
        sent_at,
        quoted: None,
    })))
}

fn kind_of_extension(extension: &str) -> MessageKind {
    match extension {
        "jpg" | "jpeg" | "png" | "gif" => MessageKind::Image,
        "webp" => MessageKind::Sticker,
        "mp3" | "ogg" | "opus" | "m4a" | "aac" | "wav" | "amr" => MessageKind::Audio,
        "mp4" | "3gp" | "mov" | "mkv" => MessageKind::Video,
        _ => MessageKind::Document,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::crypto::{BlindIndex, Vault, generate_key};

    fn keys() -> Keys {
        Keys {
            vault: Arc::new(Vault::from_keys(&generate_key().into()).unwrap()),
            index: Arc::new(BlindIndex::from_secret(&generate_key().into()).unwrap()),
            audit: Arc::new(crate::audit::AuditKeys::from_secret(&generate_key().into()).unwrap()),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let payload = json!({"device":"6281234567890","sender":"6289876543210","message":"Halo, pesanan saya belum sampai","text":"","member":"","name":"Budi","location":"","pollname":"","choices":"","timestamp":1767225600,"inboxid":123456,"url":"","filename":"","extension":""});
        let InboundEvent::Message(m) = parse(&payload, &keys(), TenantId::new()).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(m.provider_message_id, "inbox:123456");
        assert_eq!(m.from.phone.unwrap().expose(), "+6289876543210");
        assert_eq!(m.kind, MessageKind::Text);
        assert!(m.meta.group.is_none());
        assert_eq!(m.sent_at.unwrap().timestamp(), 1767225600);
    }

    #[test]
    fn without_inbox_id_the_dedup_key_is_stable_keyed_and_opaque() {
        let (k, tenant) = (keys(), TenantId::new());
        let payload =
            json!({"device":"6281234567890","sender":"6289876543210","message":"rahasia","timestamp":"1767225600"});
        let id = |p: &Value, keys: &Keys| match parse(p, keys, tenant).unwrap() {
            InboundEvent::Message(m) => m.provider_message_id,
            _ => unreachable!(),
        };
        assert_eq!(id(&payload, &k), id(&payload, &k), "a redelivery gets the same key");
        assert_ne!(id(&payload, &k), id(&payload, &keys()), "the key depends on BALAS_INDEX_KEY");
        let mut later = payload.clone();
        later["timestamp"] = json!("1767225660");
        assert_ne!(id(&payload, &k), id(&later, &k), "the same words a minute later are a new message");
        assert!(!id(&payload, &k).contains("rahasia"));
    }

    #[test]
    fn group_messages_keep_the_group_and_name_the_member() {
        let payload = json!({"device":"6281234567890","sender":"120363025343299999@g.us","member":"6289876543210","message":"ada stok?"});
        let InboundEvent::Message(m) = parse(&payload, &keys(), TenantId::new()).unwrap() else { panic!() };
        assert_eq!(m.meta.group.as_deref(), Some("120363025343299999@g.us"));
        assert_eq!(m.from.phone.unwrap().expose(), "+6289876543210");
    }

    #[test]
    fn the_checks_refuse_a_wrong_url_secret_key_or_device() {
        let secrets = |key: Option<&str>| FonnteSecrets {
            token: "t".to_string().into(),
            webhook_secret: "s3cret".to_string().into(),
            webhook_key: key.map(|k| k.to_string().into()),
        };
        assert_eq!(check_url_secret(&secrets(None), "s3cret"), Ok(()));
        assert_eq!(check_url_secret(&secrets(None), "s3cre"), Err(Rejection::WrongUrlSecret));
        let payload = json!({"device":"081234567890","sender":"6289876543210","secret_key":"k"});
        assert_eq!(check_payload(&secrets(Some("k")), "6281234567890", &payload), Ok(()));
        assert_eq!(check_payload(&secrets(Some("other")), "6281234567890", &payload), Err(Rejection::WrongSecretKey));
        assert_eq!(check_payload(&secrets(None), "6281111111111", &payload), Err(Rejection::WrongDevice));
        assert!(decode(b"{").is_err());
    }

    #[test]
    fn attachments_and_statuses() {
        let media = json!({"device":"62811","sender":"6289876543210","message":"","url":"https://fonnte.example/f.jpg","filename":"f.jpg","extension":"jpg","inboxid":"9"});
        let InboundEvent::Message(m) = parse(&media, &keys(), TenantId::new()).unwrap() else { panic!() };
        assert_eq!(m.kind, MessageKind::Image);
        assert_eq!(m.meta.filename.as_deref(), Some("f.jpg"));
        let status = json!({"device":"62811","id":"80367170","stateid":"1","status":"sent","state":"read"});
        let InboundEvent::Status(s) = parse(&status, &keys(), TenantId::new()).unwrap() else { panic!() };
        assert_eq!((s.provider_message_id.as_str(), s.status), ("80367170", DeliveryStatus::Read));
        assert!(parse(&json!({"device":"62811"}), &keys(), TenantId::new()).is_err());
    }
}
