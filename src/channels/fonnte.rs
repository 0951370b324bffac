//! Fonnte (an Indonesian WhatsApp gateway): sending through `/send`.
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Recipient, SendError, sanitize_reason};

/// Credentials of one Fonnte channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FonnteSecrets {
    /// The device token, sent raw in `Authorization`.
    #[serde(with = "super::sealed")]
    pub token: SecretString,
    /// The ≥128-bit secret in our webhook URL: Fonnte signs nothing, so the URL authenticates.
    #[serde(with = "super::sealed")]
    pub webhook_secret: SecretString,
    /// Fonnte's optional webhook "secret key", checked when configured.
    #[serde(with = "super::sealed::option", default)]
    pub webhook_key: Option<SecretString>,
}

/// Reasons that describe a passing condition (the phone offline, a busy server).
const RETRYABLE_REASONS: &[&str] = &["disconnect", "timeout", "try again", "busy", "server", "rate limit", "too many"];

pub struct FonnteClient {
    http: reqwest::Client,
    base: String,
}

impl FonnteClient {
    /// `base` is `BALAS_FONNTE_API_URL`, e.g. `https://api.fonnte.com`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    /// Sends one message and returns Fonnte's message id. `"status": false` is a failure
    /// even when the HTTP status is 200.
    pub async fn send_text(&self, secrets: &FonnteSecrets, to: &Recipient, body: &str) -> Result<String, SendError> {
        self.send(secrets, to, body, None).await
    }

    /// Sends a file Fonnte fetches from `url` (ours, short-lived), with `body` as its caption.
    pub async fn send_file(
        &self,
        secrets: &FonnteSecrets,
        to: &Recipient,
        body: &str,
        url: &str,
        filename: &str,
    ) -> Result<String, SendError> {
        self.send(secrets, to, body, Some((url, filename))).await
    }

    async fn send(
        &self,
        secrets: &FonnteSecrets,
        to: &Recipient,
        body: &str,
        file: Option<(&str, &str)>,
    ) -> Result<String, SendError> {
        let target = match to {
            Recipient::Phone(p) => p.digits().to_string(),
            Recipient::Group(g) => g.clone(),
            Recipient::Bsuid(_) => return Err(SendError::Rejected("fonnte_needs_phone".into())),
        };
        let response = self
            .http
            .post(format!("{}/send", self.base))
            .header("Authorization", secrets.token.expose_secret())
            .json(&match file {
                Some((url, filename)) => {
                    json!({ "target": target, "message": body, "countryCode": "62", "url": url, "filename": filename })
                }
                None => json!({ "target": target, "message": body, "countryCode": "62" }),
            })
            .send()
            .await
            .map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(SendError::Retryable(format!("http_{}", status.as_u16())));
        }
        if answer["status"].as_bool() == Some(true) {
            let id = &answer["id"][0];
            return id
                .as_str()
                .map(str::to_string)
                .or_else(|| id.as_i64().map(|n| n.to_string()))
                .ok_or_else(|| SendError::Retryable("response_without_id".into()));
        }
        let reason = answer["reason"].as_str().unwrap_or("no_reason");
        let class = format!("fonnte_{}", sanitize_reason(reason));
        let lower = reason.to_lowercase();
        if RETRYABLE_REASONS.iter().any(|r| lower.contains(r)) {
            Err(SendError::Retryable(class))
        } else {
            Err(SendError::Rejected(class))
        }
    }
}
