//! Meta webhook payload shapes (lenient: unknown fields are ignored, optional ones default)
//! and their translation into provider-neutral events.
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{
    Bsuid, CustomerIdentity, DeliveryStatus, IdentityChange, InboundEvent, InboundMessage, MessageKind, MessageMeta,
    Phone, StatusUpdate,
};
use crate::error::ApiError;

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
    pub fn into_events(self, phone_number_id: &str) -> Result<Vec<InboundEvent>, ApiError> {
        let mut events = Vec::new();
        for change in self.entry.into_iter().flat_map(|e| e.changes) {
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
        let meta = self.media().map_or_else(MessageMeta::default, |m| MessageMeta {
            mime_type: m.mime_type.clone(),
            media_ref: m.id.clone(),
            filename: m.filename.clone(),
            group: None,
        });
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
