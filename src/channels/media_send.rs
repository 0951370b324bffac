//! Sending a stored file to an owner through each provider: Meta takes an upload to the
//! business number and then its id; Twilio and Fonnte fetch it from our short-lived signed link.
use super::{ChannelSecrets, Clients, Recipient, SendError, webhook_url};
use crate::store::ChannelRecord;

/// One file to send, with its caption and the link a provider may fetch it from.
pub struct MediaOut<'a> {
    pub bytes: Vec<u8>,
    pub mime_type: &'a str,
    pub caption: &'a str,
    /// Our signed, short-lived URL of the file (Twilio, Fonnte).
    pub link: &'a str,
}

/// The WhatsApp message type for a file: a WebP image is a sticker, other files documents.
pub fn meta_kind(mime_type: &str) -> &'static str {
    match mime_type {
        "image/webp" => "sticker",
        m if m.starts_with("image/") => "image",
        m if m.starts_with("audio/") => "audio",
        m if m.starts_with("video/") => "video",
        _ => "document",
    }
}

impl Clients {
    pub async fn send_media(
        &self,
        channel: &ChannelRecord,
        secrets: &ChannelSecrets,
        to: &Recipient,
        media: MediaOut<'_>,
    ) -> Result<String, SendError> {
        match secrets {
            ChannelSecrets::Meta(s) => {
                let kind = meta_kind(media.mime_type);
                let id = self.meta.upload_media(s, &channel.address, media.bytes, media.mime_type).await?;
                self.meta.send_media(s, &channel.address, to, (kind, &id), media.caption).await
            }
            ChannelSecrets::Twilio(s) => {
                let callback = webhook_url(&self.public_url, "twilio", &channel.id);
                self.twilio.send_media(s, &channel.address, to, (media.caption, media.link), &callback).await
            }
            ChannelSecrets::Fonnte(s) => {
                let filename = format!("{}.{}", meta_kind(media.mime_type), extension(media.mime_type));
                self.fonnte.send_file(s, to, media.caption, media.link, &filename).await
            }
        }
    }
}

/// A file name extension for a type (Fonnte names the file it sends).
fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/mp4" => "m4a",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
    }
}
