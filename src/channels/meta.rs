//! Meta WhatsApp Cloud API: sending text and templates through the Graph API.
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::templates::TemplateMessage;
use super::{Recipient, ReplyButton, SendError};

/// Meta's limits on an interactive reply-button message.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_BODY: usize = 1024;

/// Credentials of one Meta channel (`Debug` prints them redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetaSecrets {
    /// Signs webhooks (`X-Hub-Signature-256`).
    #[serde(with = "super::sealed")]
    pub app_secret: SecretString,
    /// System-user or long-lived token for the Graph API.
    #[serde(with = "super::sealed")]
    pub access_token: SecretString,
    /// Echoed by Meta in the GET verification handshake.
    #[serde(with = "super::sealed")]
    pub verify_token: SecretString,
}

/// Error codes worth retrying (throughput, rate limits, unknown/transient errors).
const RETRYABLE_CODES: &[i64] = &[4, 80007, 130429, 131000, 131056, 133004];
/// More than 24 hours since the customer last wrote.
const WINDOW_CLOSED: i64 = 131047;

pub struct MetaClient {
    http: reqwest::Client,
    base: String,
}

impl MetaClient {
    /// `base` is `BALAS_META_GRAPH_URL`, e.g. `https://graph.facebook.com/v21.0`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    /// Uploads a file to the business number's media and returns its id; a received media id
    /// cannot be sent on, so a customer's file is uploaded again to be forwarded.
    pub async fn upload_media(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        bytes: Vec<u8>,
        mime_type: &str,
    ) -> Result<String, SendError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("file")
            .mime_str(mime_type)
            .map_err(|_| SendError::Rejected("media_type".into()))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_string())
            .part("file", part);
        let url = format!("{}/{}/media", self.base, phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(secrets.access_token.expose_secret())
            .multipart(form)
            .send()
            .await
            .map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["id"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_string()),
            _ => Err(graph_error(status, &body)),
        }
    }

    /// Sends an uploaded file as `kind` (image, audio, video, document, sticker); the caption
    /// goes where Meta takes one (image, video, document).
    pub async fn send_media(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        to: &Recipient,
        (kind, id): (&str, &str),
        caption: &str,
    ) -> Result<String, SendError> {
        let mut media = json!({ "id": id });
        if matches!(kind, "image" | "video" | "document") && !caption.is_empty() {
            media["caption"] = json!(caption);
        }
        let mut payload = json!({ "type": kind });
        payload[kind] = media;
        self.send(secrets, phone_number_id, to, payload).await
    }

    /// Sends one text message and returns Meta's message id (`wamid.…`).
    pub async fn send_text(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        to: &Recipient,
        body: &str,
    ) -> Result<String, SendError> {
        let payload = json!({ "type": "text", "text": { "preview_url": false, "body": body } });
        self.send(secrets, phone_number_id, to, payload).await
    }

    /// Sends an approved template, the only message a closed window lets through.
    pub async fn send_template(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        to: &Recipient,
        template: &TemplateMessage,
    ) -> Result<String, SendError> {
        let payload = json!({ "type": "template", "template": template.meta_template() });
        self.send(secrets, phone_number_id, to, payload).await
    }

    /// Sends text with up to three reply buttons; a tap comes back as `interactive.button_reply`
    /// with the button's id. Only inside the window, like text.
    pub async fn send_buttons(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        to: &Recipient,
        body: &str,
        buttons: &[ReplyButton],
    ) -> Result<String, SendError> {
        let buttons: Vec<Value> = buttons
            .iter()
            .take(MAX_BUTTONS)
            .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
            .collect();
        let payload = json!({
            "type": "interactive",
            "interactive": { "type": "button", "body": { "text": body }, "action": { "buttons": buttons } },
        });
        self.send(secrets, phone_number_id, to, payload).await
    }

    /// Submits a template for review (`POST /{waba}/message_templates`); returns Meta's
    /// status for it (`PENDING`, or `APPROVED` when reviewed at once).
    pub async fn create_template(
        &self,
        secrets: &MetaSecrets,
        waba: &str,
        request: &Value,
    ) -> Result<String, SendError> {
        let url = format!("{}/{}/message_templates", self.base, waba);
        let body = self.graph(self.http.post(url).json(request), secrets).await?;
        Ok(body["status"].as_str().unwrap_or("PENDING").to_string())
    }

    /// The business account's templates as (name, language, status), first page of 250.
    pub async fn list_templates(
        &self,
        secrets: &MetaSecrets,
        waba: &str,
    ) -> Result<Vec<(String, String, String)>, SendError> {
        let url = format!("{}/{}/message_templates?fields=name,language,status&limit=250", self.base, waba);
        let body = self.graph(self.http.get(url), secrets).await?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let rows = body["data"].as_array().cloned().unwrap_or_default();
        Ok(rows.iter().map(|t| (text(&t["name"]), text(&t["language"]), text(&t["status"]))).collect())
    }

    /// A management call: the JSON answer, or Meta's error code as the class.
    async fn graph(&self, request: reqwest::RequestBuilder, secrets: &MetaSecrets) -> Result<Value, SendError> {
        let response = request
            .bearer_auth(secrets.access_token.expose_secret())
            .send()
            .await
            .map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["error"]["code"].as_i64() {
            _ if status.is_success() => Ok(body),
            Some(code) => Err(SendError::Rejected(format!("meta_{code}"))),
            None => Err(SendError::Rejected(format!("http_{}", status.as_u16()))),
        }
    }

    async fn send(
        &self,
        secrets: &MetaSecrets,
        phone_number_id: &str,
        to: &Recipient,
        mut payload: Value,
    ) -> Result<String, SendError> {
        payload["messaging_product"] = json!("whatsapp");
        payload["recipient_type"] = json!("individual");
        match to {
            Recipient::Phone(p) => payload["to"] = json!(p.digits()),
            Recipient::Bsuid(b) => payload["recipient"] = json!(b.expose()),
            Recipient::Group(_) => return Err(SendError::Rejected("meta_group_unsupported".into())),
        }
        let url = format!("{}/{}/messages", self.base, phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(secrets.access_token.expose_secret())
            .json(&payload)
            .send()
            .await
            .map_err(|e| SendError::Retryable(if e.is_timeout() { "timeout".into() } else { "network".into() }))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return body["messages"][0]["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SendError::Retryable("response_without_message_id".into()));
        }
        Err(graph_error(status, &body))
    }
}

/// A Graph API error answer as a send error: by Meta's code, else by the HTTP status.
fn graph_error(status: reqwest::StatusCode, body: &Value) -> SendError {
    match body["error"]["code"].as_i64() {
        Some(WINDOW_CLOSED) => SendError::WindowClosed,
        Some(c) if RETRYABLE_CODES.contains(&c) => SendError::Retryable(format!("meta_{c}")),
        Some(c) => SendError::Rejected(format!("meta_{c}")),
        None if status.is_server_error() || status.as_u16() == 429 => {
            SendError::Retryable(format!("http_{}", status.as_u16()))
        }
        None => SendError::Rejected(format!("http_{}", status.as_u16())),
    }
}
