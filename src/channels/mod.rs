//! Sending to customers through their provider, and the provider secrets a channel holds.
//! Only this module and `ingress/` know a provider's field names.
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, DataKey};
use crate::domain::{Bsuid, ChannelId, Phone};
use crate::store::ChannelRecord;

pub mod fonnte;
pub mod media_send;
pub mod media_source;
pub mod meta;
pub mod templates;
pub mod twilio;
pub mod twilio_content;

/// A channel's provider credentials, stored as JSON encrypted with the tenant's data key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ChannelSecrets {
    Meta(meta::MetaSecrets),
    Twilio(twilio::TwilioSecrets),
    Fonnte(fonnte::FonnteSecrets),
}

impl ChannelSecrets {
    pub fn seal(&self, key: &DataKey) -> Result<String, CryptoError> {
        let json = serde_json::to_string(self).map_err(|_| CryptoError::Undecryptable)?;
        Ok(key.encrypt(&json))
    }

    pub fn open(sealed: &str, key: &DataKey) -> Result<Self, CryptoError> {
        serde_json::from_str(&key.decrypt(sealed)?).map_err(|_| CryptoError::Undecryptable)
    }
}

/// Serde for secret fields: they are written out only inside the sealed (encrypted) document.
mod sealed {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
        String::deserialize(deserializer).map(SecretString::from)
    }

    pub mod option {
        use secrecy::{ExposeSecret, SecretString};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(secret: &Option<SecretString>, serializer: S) -> Result<S::Ok, S::Error> {
            match secret {
                Some(s) => serializer.serialize_some(s.expose_secret()),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
            Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
        }
    }
}

/// Where a reply goes: a phone number when known, otherwise the BSUID; a group chat when
/// the customer wrote in one.
#[derive(Debug, Clone)]
pub enum Recipient {
    Phone(Phone),
    Bsuid(Bsuid),
    Group(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network trouble, 5xx, throttling.
    #[error("temporary send failure ({0})")]
    Retryable(String),
    /// The provider refused the message for good; retrying would not help.
    #[error("provider rejected the message ({0})")]
    Rejected(String),
    /// The 24-hour customer-service window is closed; only a template could be sent now.
    #[error("the 24-hour customer service window is closed")]
    WindowClosed,
}

impl SendError {
    /// A short class for the job's `last_error` and the audit: no provider text, no content.
    pub fn class(&self) -> String {
        match self {
            Self::Retryable(c) => format!("retryable:{c}"),
            Self::Rejected(code) => format!("rejected:{code}"),
            Self::WindowClosed => "window_closed".to_string(),
        }
    }

    /// Classifies a transport error (no response at all) as retryable.
    pub fn transport(e: &reqwest::Error) -> Self {
        Self::Retryable(if e.is_timeout() { "timeout".into() } else { "network".into() })
    }
}

/// The three provider clients behind one `send`.
pub struct Clients {
    pub meta: meta::MetaClient,
    pub twilio: twilio::TwilioClient,
    pub fonnte: fonnte::FonnteClient,
    /// Our public base URL, for Twilio's `StatusCallback`.
    pub public_url: String,
}

impl Clients {
    /// Sends one text part and returns the provider's message id.
    pub async fn send_text(
        &self,
        channel: &ChannelRecord,
        secrets: &ChannelSecrets,
        to: &Recipient,
        body: &str,
    ) -> Result<String, SendError> {
        match secrets {
            ChannelSecrets::Meta(s) => self.meta.send_text(s, &channel.address, to, body).await,
            ChannelSecrets::Twilio(s) => {
                let callback = webhook_url(&self.public_url, "twilio", &channel.id);
                self.twilio.send_text(s, &channel.address, to, body, &callback).await
            }
            ChannelSecrets::Fonnte(s) => self.fonnte.send_text(s, to, body).await,
        }
    }
}

impl Clients {
    /// Sends an approved template: Meta by name and language, Twilio by content SID (the
    /// name recorded for a Twilio channel). Fonnte has no templates (and no window).
    pub async fn send_template(
        &self,
        channel: &ChannelRecord,
        secrets: &ChannelSecrets,
        to: &Recipient,
        template: &templates::TemplateMessage,
    ) -> Result<String, SendError> {
        match secrets {
            ChannelSecrets::Meta(s) => self.meta.send_template(s, &channel.address, to, template).await,
            ChannelSecrets::Twilio(s) => {
                let callback = webhook_url(&self.public_url, "twilio", &channel.id);
                let variables = template.twilio_variables();
                self.twilio.send_content(s, &channel.address, to, &template.name, &variables, &callback).await
            }
            ChannelSecrets::Fonnte(_) => Err(SendError::Rejected("fonnte_no_templates".into())),
        }
    }
}

/// One reply button under a message: the id that comes back when it is tapped, and its title.
#[derive(Debug, Clone)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

impl Clients {
    /// Sends text with reply buttons where the provider has them inside the window (Meta's
    /// interactive message); elsewhere the text alone (its commands still work typed).
    pub async fn send_buttons(
        &self,
        channel: &ChannelRecord,
        secrets: &ChannelSecrets,
        to: &Recipient,
        body: &str,
        buttons: &[ReplyButton],
    ) -> Result<String, SendError> {
        match secrets {
            ChannelSecrets::Meta(s) => self.meta.send_buttons(s, &channel.address, to, body, buttons).await,
            _ => self.send_text(channel, secrets, to, body).await,
        }
    }
}

/// The URL to give a provider for one channel; Fonnte's carries the channel's secret.
pub fn webhook_url(public_url: &str, provider: &str, channel: &ChannelId) -> String {
    format!("{}/webhooks/{provider}/{channel}", public_url.trim_end_matches('/'))
}

/// The webhook URL printed by `channel add`.
pub fn printed_webhook_url(public_url: &str, channel: &ChannelRecord, secrets: &ChannelSecrets) -> String {
    let base = webhook_url(public_url, &channel.provider, &channel.id);
    match secrets {
        ChannelSecrets::Fonnte(f) => format!("{base}/{}", f.webhook_secret.expose_secret()),
        _ => base,
    }
}

/// Provider error text may quote numbers; keep a short, digit-free class.
pub fn sanitize_reason(reason: &str) -> String {
    let mut out = String::new();
    let mut digits = 0;
    for c in reason.trim().to_lowercase().chars().take(80) {
        if c.is_ascii_digit() {
            digits += 1;
            if digits == 1 {
                out.push('#');
            }
        } else {
            digits = 0;
            out.push(if c.is_alphanumeric() || c == ' ' { c } else { '_' });
        }
    }
    out.trim().replace(' ', "_")
}

/// Splits a reply into parts of at most `max_chars` characters, breaking at a paragraph,
/// line, sentence or word boundary when one exists in the second half of the part.
pub fn split_body(text: &str, max_chars: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max_chars {
        let limit = rest.char_indices().nth(max_chars).map(|(i, _)| i).unwrap_or(rest.len());
        let window = &rest[..limit];
        let floor = window.char_indices().nth(max_chars / 2).map(|(i, _)| i).unwrap_or(0);
        let cut = ["\n\n", "\n", ". ", " "]
            .iter()
            .find_map(|sep| window.rfind(sep).filter(|&i| i >= floor).map(|i| i + sep.len()))
            .unwrap_or(limit);
        parts.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_body("Halo kak", 4096), vec!["Halo kak"]);
    }

    #[test]
    fn long_text_splits_under_the_limit_at_word_boundaries() {
        let text = "kata ".repeat(2000);
        let parts = split_body(&text, 4096);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 4096));
        assert!(parts.iter().all(|p| !p.starts_with(' ') && p.ends_with("kata")));
        assert_eq!(parts.join(" "), text.trim());
        assert!(split_body(&text, 1600).iter().all(|p| p.chars().count() <= 1600));
    }

    #[test]
    fn text_without_spaces_is_cut_hard_on_char_boundaries() {
        let text = "é".repeat(5000);
        let parts = split_body(&text, 4096);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![4096, 904]);
    }

    #[test]
    fn paragraph_breaks_are_preferred() {
        let text = format!("{}\n\n{}", "a ".repeat(30), "b ".repeat(30));
        let parts = split_body(&text, 100);
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with('b'));
    }

    #[test]
    fn reasons_lose_their_numbers() {
        assert_eq!(sanitize_reason("Target 6281234567890 invalid!"), "target_#_invalid_");
        assert_eq!(sanitize_reason("token invalid"), "token_invalid");
    }

    #[test]
    fn secrets_survive_sealing_and_stay_out_of_debug() {
        let vault = crate::crypto::Vault::from_keys(&crate::crypto::generate_key().into()).unwrap();
        let (key, _) = vault.new_data_key().unwrap();
        let secrets = ChannelSecrets::Fonnte(fonnte::FonnteSecrets {
            token: "tok-123".into(),
            webhook_secret: "abc".into(),
            webhook_key: Some("k".into()),
        });
        assert!(!format!("{secrets:?}").contains("tok-123"));
        let sealed = secrets.seal(&key).unwrap();
        assert!(!sealed.contains("tok-123"));
        match ChannelSecrets::open(&sealed, &key).unwrap() {
            ChannelSecrets::Fonnte(f) => assert_eq!(f.token.expose_secret(), "tok-123"),
            other => panic!("{other:?}"),
        }
    }
}
