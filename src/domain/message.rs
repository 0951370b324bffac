//! Provider-neutral inbound events: what every ingress adapter turns its payload into.
use chrono::{DateTime, Utc};

use super::identity::{Bsuid, CustomerIdentity};
use super::text_code::text_code;

/// What kind of WhatsApp message arrived; non-text kinds are recorded by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Button,
    Reaction,
    Order,
    Unsupported,
}

impl MessageKind {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "text" => Self::Text,
            "image" => Self::Image,
            "audio" | "voice" => Self::Audio,
            "video" => Self::Video,
            "document" => Self::Document,
            "sticker" => Self::Sticker,
            "location" => Self::Location,
            "contacts" => Self::Contacts,
            "interactive" => Self::Interactive,
            "button" => Self::Button,
            "reaction" => Self::Reaction,
            "order" => Self::Order,
            _ => Self::Unsupported,
        }
    }

    /// Kinds whose text a reply engine can read: typed text and the title of a tapped button.
    pub fn carries_question(self) -> bool {
        matches!(self, Self::Text | Self::Interactive | Self::Button)
    }

    /// Whether WhatsApp shows a caption with this kind of file (not on voice notes and stickers).
    pub fn takes_caption(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Document)
    }

    /// A photo, voice note, video, document or sticker: a file to fetch and show.
    pub fn is_media(self) -> bool {
        matches!(self, Self::Image | Self::Audio | Self::Video | Self::Document | Self::Sticker)
    }
}

text_code!(MessageKind, from_code;
    Text => "text",
    Image => "image",
    Audio => "audio",
    Video => "video",
    Document => "document",
    Sticker => "sticker",
    Location => "location",
    Contacts => "contacts",
    Interactive => "interactive",
    Button => "button",
    Reaction => "reaction",
    Order => "order",
    Unsupported => "unsupported",
);

/// One customer message, provider-neutral.
#[derive(Clone)]
pub struct InboundMessage {
    /// The provider's id, the deduplication key (`wamid.…`, `SM…`, Fonnte's `inboxid`).
    pub provider_message_id: String,
    pub from: CustomerIdentity,
    pub kind: MessageKind,
    /// Text, caption or button title; `None` for kinds that carry no text.
    pub body: Option<String>,
    /// Media and group details; media is never downloaded inside the webhook request.
    pub meta: MessageMeta,
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider id of the message this one quote-replies to, if any.
    pub quoted: Option<String>,
}

/// What a message carries besides its text; stored encrypted as JSON.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The provider's media id or download URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Meta's SHA-256 of the file (base64), checked after the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Meta's direct download link, when the webhook carries one (it expires in minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    /// An audio message recorded as a voice note.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
    /// The message's text is the transcript of its voice note.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transcribed: bool,
    /// Attachments after the first (Twilio's `MediaUrl1..N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_media: Vec<MediaPart>,
    /// The group chat the message was written in (Fonnte); replies go to the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A tapped button's id or payload (its title is the body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    /// An outbound message sent as the channel's approved template of this purpose (the body
    /// is its text, for the conversation's history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// One further attachment of a message.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaPart {
    pub media_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// One attachment to fetch: what the provider told about it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// The provider's media id (Meta) or download URL (Twilio, Fonnte).
    pub media_ref: String,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<String>,
    pub media_url: Option<String>,
}

impl MessageMeta {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Every attachment, first one first; empty for a message without media.
    pub fn attachments(&self) -> Vec<Attachment> {
        let Some(first) = &self.media_ref else { return Vec::new() };
        let mut all = vec![Attachment {
            media_ref: first.clone(),
            mime_type: self.mime_type.clone(),
            filename: self.filename.clone(),
            sha256: self.sha256.clone(),
            media_url: self.media_url.clone(),
        }];
        all.extend(self.more_media.iter().map(|p| Attachment {
            media_ref: p.media_ref.clone(),
            mime_type: p.mime_type.clone(),
            ..Attachment::default()
        }));
        all
    }
}

/// Only which parts are present: URLs and group ids can identify people.
impl std::fmt::Debug for MessageMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageMeta")
            .field("mime_type", &self.mime_type)
            .field("has_media_ref", &self.media_ref.is_some())
            .field("has_filename", &self.filename.is_some())
            .field("voice", &self.voice)
            .field("more_media", &self.more_media.len())
            .field("group", &self.group.is_some())
            .field("button", &self.button.is_some())
            .field("template", &self.template)
            .finish()
    }
}

/// The body never appears in `Debug` output, only its length.
impl std::fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundMessage")
            .field("provider_message_id", &self.provider_message_id)
            .field("from", &self.from)
            .field("kind", &self.kind)
            .field("body_chars", &self.body.as_ref().map(|b| b.chars().count()))
            .field("meta", &self.meta)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

/// Delivery state of an outbound message. Status only ever moves forward by `rank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Failed,
    Delivered,
    Read,
}

impl DeliveryStatus {
    /// Meta's, Twilio's and Fonnte's words, case-insensitive. Meta's `played` (voice) counts
    /// as read; `deleted`, `warning` and Twilio's inbound `received` carry no delivery step.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "queued" | "accepted" | "pending" | "sending" | "scheduled" | "processing" | "waiting" => {
                Some(Self::Queued)
            }
            "sent" => Some(Self::Sent),
            "failed" | "undelivered" | "canceled" | "invalid" | "expired" | "url unreachable" => Some(Self::Failed),
            "delivered" | "partially_delivered" => Some(Self::Delivered),
            "read" | "played" => Some(Self::Read),
            _ => None,
        }
    }

    /// `failed` outranks `sent` but not `delivered`: a multi-device user may report
    /// `delivered` after `failed`, and the later truth wins.
    pub fn rank(self) -> i32 {
        match self {
            Self::Queued => 0,
            Self::Sent => 1,
            Self::Failed => 2,
            Self::Delivered => 3,
            Self::Read => 4,
        }
    }
}

text_code!(DeliveryStatus, from_code; Queued => "queued", Sent => "sent", Failed => "failed", Delivered => "delivered", Read => "read");

/// A provider's report about a message we sent.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    pub at: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
}

/// Meta's `system` message telling us a customer's BSUID changed.
#[derive(Debug, Clone)]
pub struct IdentityChange {
    pub previous: Bsuid,
    pub current: Bsuid,
}

/// Meta's `message_template_status_update`: a template of the business account changed status
/// (approved, paused, disabled, rejected, deleted…). `event` is Meta's word, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatusChange {
    pub name: String,
    pub language: String,
    pub event: String,
}

#[derive(Debug, Clone)]
pub enum InboundEvent {
    Message(Box<InboundMessage>),
    Status(StatusUpdate),
    IdentityChange(IdentityChange),
    TemplateStatus(TemplateStatusChange),
}

/// Who wrote a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Customer,
    Bot,
    Owner,
    System,
}

text_code!(Author, parse; Customer => "customer", Bot => "bot", Owner => "owner", System => "system");

/// Which way a stored message went: from the customer (or owner) to us, or from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

text_code!(Direction, parse; In => "in", Out => "out");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_body_and_name() {
        let m = InboundMessage {
            provider_message_id: "wamid.1".into(),
            from: CustomerIdentity { name: Some("Siti Rahasia".into()), ..Default::default() },
            kind: MessageKind::Text,
            body: Some("alamat saya Jl. Melati".into()),
            meta: MessageMeta::default(),
            sent_at: None,
            quoted: None,
        };
        let shown = format!("{m:?}");
        assert!(!shown.contains("Melati") && !shown.contains("Siti"), "{shown}");
    }

    #[test]
    fn read_outranks_delivered_and_failed_yields_to_delivery() {
        use DeliveryStatus::*;
        assert!(Read.rank() > Delivered.rank());
        assert!(Delivered.rank() > Failed.rank());
        assert!(Failed.rank() > Sent.rank());
        assert_eq!(DeliveryStatus::parse("played"), Some(Read));
        assert_eq!(DeliveryStatus::parse("deleted"), None);
    }
}
