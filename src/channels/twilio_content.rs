//! Twilio's Content API (`content.twilio.com`, its own host): creating a content template and
//! asking WhatsApp to approve it, and reading the approval back.
use secrecy::ExposeSecret;
use serde_json::Value;

use super::SendError;
use super::twilio::TwilioSecrets;

pub struct ContentClient {
    http: reqwest::Client,
    base: String,
}

impl ContentClient {
    /// `base` is `BALAS_TWILIO_CONTENT_URL`, e.g. `https://content.twilio.com`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    /// Creates the content (`POST /v1/Content`); returns its `HX…` SID.
    pub async fn create(&self, secrets: &TwilioSecrets, request: &Value) -> Result<String, SendError> {
        let url = format!("{}/v1/Content", self.base);
        let body = self.call(self.http.post(url).json(request), secrets).await?;
        body["sid"].as_str().map(str::to_string).ok_or_else(|| SendError::Rejected("twilio_no_sid".into()))
    }

    /// Asks WhatsApp to approve it; returns the approval status (`received`, `pending`, …).
    pub async fn request_approval(
        &self,
        secrets: &TwilioSecrets,
        sid: &str,
        request: &Value,
    ) -> Result<String, SendError> {
        let url = format!("{}/v1/Content/{sid}/ApprovalRequests/whatsapp", self.base);
        let body = self.call(self.http.post(url).json(request), secrets).await?;
        Ok(body["status"].as_str().unwrap_or("received").to_string())
    }

    /// The WhatsApp approval status of a content SID.
    pub async fn approval(&self, secrets: &TwilioSecrets, sid: &str) -> Result<String, SendError> {
        let url = format!("{}/v1/Content/{sid}/ApprovalRequests", self.base);
        let body = self.call(self.http.get(url), secrets).await?;
        Ok(body["whatsapp"]["status"].as_str().unwrap_or("unsubmitted").to_string())
    }

    async fn call(&self, request: reqwest::RequestBuilder, secrets: &TwilioSecrets) -> Result<Value, SendError> {
        let response = request
            .basic_auth(&secrets.account_sid, Some(secrets.auth_token.expose_secret()))
            .send()
            .await
            .map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["code"].as_i64() {
            _ if status.is_success() => Ok(body),
            Some(code) => Err(SendError::Rejected(format!("twilio_{code}"))),
            None => Err(SendError::Rejected(format!("http_{}", status.as_u16()))),
        }
    }
}

/// The status balas records for a Twilio WhatsApp approval status.
pub fn status_of_approval(status: &str) -> &'static str {
    match status.to_ascii_lowercase().as_str() {
        "approved" => "approved",
        "rejected" => "rejected",
        "paused" => "paused",
        "disabled" => "disabled",
        _ => "pending",
    }
}
