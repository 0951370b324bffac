//! Twilio Programmable Messaging (WhatsApp): sending, with a status callback back to us.
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Recipient, SendError};

/// Credentials of one Twilio channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwilioSecrets {
    /// `AC…`; part of every API path.
    pub account_sid: String,
    /// Signs webhooks (`X-Twilio-Signature`) and authenticates API calls.
    #[serde(with = "super::sealed")]
    pub auth_token: SecretString,
}

/// The free-form 24-hour window is closed: only templates may be sent.
const WINDOW_CLOSED: i64 = 63016;
/// Twilio's own throttling and queue-overflow codes.
const RETRYABLE_CODES: &[i64] = &[20429, 30001, 20500, 20503];

pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
}

impl TwilioClient {
    /// `base` is `BALAS_TWILIO_API_URL`, e.g. `https://api.twilio.com`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    /// Sends one message from `from` (`whatsapp:+…`) and returns Twilio's `SM…` sid.
    pub async fn send_text(
        &self,
        secrets: &TwilioSecrets,
        from: &str,
        to: &Recipient,
        body: &str,
        status_callback: &str,
    ) -> Result<String, SendError> {
        self.send(secrets, from, to, &[("Body", body)], status_callback).await
    }

    /// Sends a file Twilio fetches from `media_url` (ours, short-lived), with `body` as its text.
    pub async fn send_media(
        &self,
        secrets: &TwilioSecrets,
        from: &str,
        to: &Recipient,
        (body, media_url): (&str, &str),
        status_callback: &str,
    ) -> Result<String, SendError> {
        self.send(secrets, from, to, &[("Body", body), ("MediaUrl", media_url)], status_callback).await
    }

    /// Sends an approved content template (`HX…`) with its variables, a JSON string of
    /// numbered keys; no `Body`.
    pub async fn send_content(
        &self,
        secrets: &TwilioSecrets,
        from: &str,
        to: &Recipient,
        content_sid: &str,
        variables: &str,
        status_callback: &str,
    ) -> Result<String, SendError> {
        let fields = [("ContentSid", content_sid), ("ContentVariables", variables)];
        self.send(secrets, from, to, &fields, status_callback).await
    }

    async fn send(
        &self,
        secrets: &TwilioSecrets,
        from: &str,
        to: &Recipient,
        fields: &[(&str, &str)],
        status_callback: &str,
    ) -> Result<String, SendError> {
        let Recipient::Phone(phone) = to else {
            return Err(SendError::Rejected("twilio_needs_phone".into()));
        };
        let to = format!("whatsapp:{}", phone.expose());
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, secrets.account_sid);
        let mut form = vec![("From", from), ("To", to.as_str()), ("StatusCallback", status_callback)];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(url)
            .basic_auth(&secrets.account_sid, Some(secrets.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return answer["sid"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SendError::Retryable("response_without_sid".into()));
        }
        Err(match answer["code"].as_i64() {
            Some(WINDOW_CLOSED) => SendError::WindowClosed,
            Some(c) if RETRYABLE_CODES.contains(&c) => SendError::Retryable(format!("twilio_{c}")),
            _ if status.is_server_error() || status.as_u16() == 429 => {
                SendError::Retryable(format!("http_{}", status.as_u16()))
            }
            Some(c) => SendError::Rejected(format!("twilio_{c}")),
            None => SendError::Rejected(format!("http_{}", status.as_u16())),
        })
    }
}
