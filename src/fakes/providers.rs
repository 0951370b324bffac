//! Fake provider APIs on one local server: Meta's Graph API
//! (`POST /{version}/{phone_number_id}/messages`), Twilio's Messages API
//! (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded) and Fonnte's `POST /send`.
//! Each request is recorded; the answers follow the providers' documented shapes. A template
//! (Meta's by name, Twilio's content SID) must be approved in the fake's account
//! (`set_template`) to be sent.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::domain::Provider;

/// One send request the fake received; form bodies are turned into a JSON object.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub provider: Provider,
    /// Meta's phone number id, Twilio's account SID; empty for Fonnte.
    pub account: String,
    pub authorization: Option<String>,
    pub body: Value,
    /// When the request arrived, for latency benchmarks.
    pub received_at: std::time::Instant,
}

impl ProviderRequest {
    /// The message text, wherever this provider puts it.
    pub fn text(&self) -> &str {
        let field = match self.provider {
            Provider::Meta if self.body["type"] == "interactive" => &self.body["interactive"]["body"]["text"],
            Provider::Meta => &self.body["text"]["body"],
            Provider::Twilio => &self.body["Body"],
            Provider::Fonnte => &self.body["message"],
        };
        field.as_str().unwrap_or_default()
    }

    /// The template a request sends: Meta's name, language and body parameter count, or
    /// Twilio's content SID (no language) and variable count.
    pub fn template(&self) -> Option<(String, String, usize)> {
        if self.provider == Provider::Twilio {
            let sid = self.body.get("ContentSid")?.as_str()?.to_string();
            let variables = self.body["ContentVariables"].as_str().unwrap_or("{}");
            let count = serde_json::from_str::<Map<String, Value>>(variables).map_or(0, |m| m.len());
            return Some((sid, String::new(), count));
        }
        let t = self.body.get("template").filter(|_| self.provider == Provider::Meta)?;
        let parameters = t["components"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "body"))
            .and_then(|b| b["parameters"].as_array())
            .map_or(0, Vec::len);
        Some((t["name"].as_str()?.to_string(), t["language"]["code"].as_str()?.to_string(), parameters))
    }

    /// The reply buttons of a Meta interactive message: (id, title) in order.
    pub fn buttons(&self) -> Vec<(String, String)> {
        let buttons = self.body["interactive"]["action"]["buttons"].as_array().cloned().unwrap_or_default();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        buttons.iter().map(|b| (text(&b["reply"]["id"]), text(&b["reply"]["title"]))).collect()
    }

    /// The quick-reply payloads a Meta template send carries, in button order.
    pub fn payloads(&self) -> Vec<String> {
        let components = self.body["template"]["components"].as_array().cloned().unwrap_or_default();
        let buttons = components.iter().filter(|c| c["type"] == "button");
        buttons.filter_map(|b| b["parameters"][0]["payload"].as_str().map(str::to_string)).collect()
    }

    /// Who the message is for: digits of a phone number, a BSUID, or a group id.
    pub fn recipient(&self) -> String {
        let field = match self.provider {
            Provider::Meta => self.body.get("to").or_else(|| self.body.get("recipient")),
            Provider::Twilio => self.body.get("To"),
            Provider::Fonnte => self.body.get("target"),
        };
        let raw = field.and_then(Value::as_str).unwrap_or_default();
        raw.trim_start_matches("whatsapp:").trim_start_matches('+').to_string()
    }
}

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// HTTP 500 (with Meta's retryable "unknown error" 131000 for Meta).
    ServerError,
    /// Meta or Twilio error `code` (HTTP 400); Fonnte `"status": false, "reason": "target invalid"` (HTTP 200).
    Reject(i64),
    /// Never answers within any sane timeout (a stalled provider).
    Hang,
}

/// A template as the fake's WhatsApp Business Account holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateStatus {
    /// Submitted, not yet reviewed: sends fail like a missing template.
    Pending,
    Approved,
    /// Meta pauses a template of low quality: sends fail with 132015 until it is approved again.
    Paused,
    /// Paused too often: sends fail with 132016 for good.
    Disabled,
}

impl TemplateStatus {
    /// The word both providers use for it (Meta in upper case).
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }
}

/// Meta's answers to a template send ([`Inner::template_answer`]).
const TEMPLATE_MISSING: i64 = 132001;
const TEMPLATE_PARAMETERS: i64 = 132000;
const TEMPLATE_PAUSED: i64 = 132015;
const TEMPLATE_DISABLED: i64 = 132016;
/// Twilio's: an unknown content SID, and a variable count that does not match.
const CONTENT_MISSING: i64 = 21655;
const CONTENT_VARIABLES: i64 = 63028;
/// Meta's "parameter value is not valid", for an interactive message out of its limits.
const INVALID_PARAMETER: i64 = 131009;
/// Window refusals: a template is exactly what gets past them.
const WINDOW_CODES: [i64; 2] = [131047, 63016];

#[derive(Default)]
struct Inner {
    /// (name, language) → (body parameters, status).
    templates: Mutex<Vec<(String, String, usize, TemplateStatus)>>,
    received: Mutex<Vec<ProviderRequest>>,
    behaviour: Mutex<Option<Behaviour>>,
    /// Recipients refused with an error code, whatever the general behaviour.
    refused: Mutex<Vec<(String, i64)>>,
    counter: AtomicU64,
    /// Uploaded and downloadable media (`fakes::media`).
    media: Arc<super::media::MediaFiles>,
}

pub struct FakeProviders {
    /// For `BALAS_META_GRAPH_URL`.
    pub meta_url: String,
    /// For `BALAS_TWILIO_API_URL`.
    pub twilio_url: String,
    /// For `BALAS_FONNTE_API_URL`.
    pub fonnte_url: String,
    /// The files the providers' media downloads serve (`fakes::media`).
    pub media: Arc<super::media::MediaFiles>,
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl FakeProviders {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner::default());
        let media = inner.media.clone();
        media.set_port(listener.local_addr()?.port());
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(meta))
            .route("/{version}/{phone_number_id}/message_templates", post(create_template).get(list_templates))
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
            .route("/v1/Content", post(create_content))
            .route("/v1/Content/{sid}/ApprovalRequests/whatsapp", post(request_approval))
            .route("/v1/Content/{sid}/ApprovalRequests", get(approval))
            .route("/send", post(fonnte))
            .with_state(inner.clone())
            .merge(super::media::router(media.clone()));
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await;
        });
        Ok(Self { meta_url: format!("{base}/v21.0"), twilio_url: base.clone(), fonnte_url: base, media, inner, stop })
    }

    pub fn received(&self) -> Vec<ProviderRequest> {
        self.inner.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many send requests arrived (without copying them).
    pub fn received_count(&self) -> usize {
        self.inner.received.lock().map(|r| r.len()).unwrap_or_default()
    }

    /// Refuses every message to `recipient` (digits or BSUID) with `code`, e.g. 131047.
    pub fn refuse_recipient(&self, recipient: &str, code: i64) {
        if let Ok(mut r) = self.inner.refused.lock() {
            r.push((recipient.trim_start_matches('+').to_string(), code));
        }
    }

    /// Stops refusing a recipient (their window opened again: they wrote).
    pub fn accept_recipient(&self, recipient: &str) {
        if let Ok(mut r) = self.inner.refused.lock() {
            r.retain(|(who, _)| who != recipient.trim_start_matches('+'));
        }
    }

    /// Puts a template in the fake's account (Meta: name and language; Twilio: content SID and
    /// an empty language) with this many parameters, or changes its status; a template send is
    /// refused unless it is here and approved.
    pub fn set_template(&self, name: &str, language: &str, parameters: usize, status: TemplateStatus) {
        if let Ok(mut t) = self.inner.templates.lock() {
            t.retain(|(n, l, _, _)| !(n == name && l == language));
            t.push((name.to_string(), language.to_string(), parameters, status));
        }
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut b) = self.inner.behaviour.lock() {
            *b = Some(behaviour);
        }
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Inner {
    /// Records the request, waits if told to hang, and returns the behaviour and a fresh number.
    async fn record(&self, request: ProviderRequest) -> (Behaviour, u64) {
        let to = request.recipient();
        let template = request.template();
        let invalid = invalid_interactive(&request.body).then_some(INVALID_PARAMETER);
        let invalid = invalid.or_else(|| self.media.refused_send(&request.body));
        if let Ok(mut received) = self.received.lock() {
            received.push(request);
        }
        let refused = self.refused.lock().ok().and_then(|r| r.iter().find(|(who, _)| *who == to).map(|(_, c)| *c));
        // A closed window refuses free-form text only.
        let refused = refused.filter(|code| template.is_none() || !WINDOW_CODES.contains(code));
        let general = self.behaviour.lock().ok().and_then(|b| *b).unwrap_or(Behaviour::Accept);
        let twilio = template.as_ref().is_some_and(|(_, language, _)| language.is_empty());
        let behaviour = match template.and_then(|t| self.template_answer(&t, twilio)).or(invalid) {
            Some(code) => Behaviour::Reject(code),
            None => refused.map_or(general, Behaviour::Reject),
        };
        if behaviour == Behaviour::Hang {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        }
        (behaviour, self.counter.fetch_add(1, Ordering::SeqCst))
    }
}

impl Inner {
    /// The error code a template send gets, if any: missing or unapproved in that language,
    /// the wrong number of parameters, paused, disabled. Twilio documents no pause code, so
    /// the fake refuses a paused or disabled content like an unknown one.
    fn template_answer(&self, (name, language, parameters): &(String, String, usize), twilio: bool) -> Option<i64> {
        let templates = self.templates.lock().ok()?;
        let missing = if twilio { CONTENT_MISSING } else { TEMPLATE_MISSING };
        let Some((_, _, expected, status)) = templates.iter().find(|(n, l, _, _)| n == name && l == language) else {
            return Some(missing);
        };
        match status {
            TemplateStatus::Pending => Some(missing),
            TemplateStatus::Paused | TemplateStatus::Disabled if twilio => Some(CONTENT_MISSING),
            TemplateStatus::Paused => Some(TEMPLATE_PAUSED),
            TemplateStatus::Disabled => Some(TEMPLATE_DISABLED),
            TemplateStatus::Approved if expected != parameters => {
                Some(if twilio { CONTENT_VARIABLES } else { TEMPLATE_PARAMETERS })
            }
            TemplateStatus::Approved => None,
        }
    }
}

/// Meta's limits on reply buttons: one to three, titles of at most 20 characters and unique,
/// ids of at most 256, a body of at most 1024.
fn invalid_interactive(body: &Value) -> bool {
    if body["type"] != "interactive" {
        return false;
    }
    let chars = |v: &Value| v.as_str().map(|s| s.chars().count());
    let buttons = body["interactive"]["action"]["buttons"].as_array().cloned().unwrap_or_default();
    let bad_button = buttons.iter().any(|b| {
        !matches!(chars(&b["reply"]["title"]), Some(1..=20)) || !matches!(chars(&b["reply"]["id"]), Some(1..=256))
    });
    let mut titles: Vec<String> = buttons.iter().map(|b| b["reply"]["title"].to_string()).collect();
    titles.sort();
    titles.dedup();
    let repeated = titles.len() != buttons.len();
    let body_chars = chars(&body["interactive"]["body"]["text"]);
    !matches!(body_chars, Some(1..=1024)) || !(1..=3).contains(&buttons.len()) || bad_button || repeated
}

/// Meta's template management on a business account: a new template waits for review
/// (`PENDING`) until the test approves it (`set_template`); the same name and language twice is
/// refused (code 100, as Meta does).
async fn create_template(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let error = |code: i64, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": message, "type": "OAuthException", "code": code } })),
        )
    };
    if authorization(&headers).is_none() {
        return unauthenticated(Provider::Meta);
    }
    let (Some(name), Some(language)) = (body["name"].as_str(), body["language"].as_str()) else {
        return error(100, "name and language are required");
    };
    let components = body["components"].as_array().cloned().unwrap_or_default();
    let Some(text) = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["text"].as_str()) else {
        return error(100, "a BODY component is required");
    };
    let parameters = text.matches("{{").count();
    let Ok(mut templates) = inner.templates.lock() else { return error(1, "fake poisoned") };
    if templates.iter().any(|(n, l, _, _)| n == name && l == language) {
        return error(100, "Content in this language already exists");
    }
    templates.push((name.to_string(), language.to_string(), parameters, TemplateStatus::Pending));
    let id = format!("{}", 1_000_000 + templates.len());
    (StatusCode::OK, Json(json!({ "id": id, "status": "PENDING", "category": "UTILITY" })))
}

async fn list_templates(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    if authorization(&headers).is_none() {
        return unauthenticated(Provider::Meta);
    }
    let templates = inner.templates.lock().map(|t| t.clone()).unwrap_or_default();
    let data: Vec<Value> = templates
        .iter()
        .enumerate()
        .filter(|(_, (_, language, _, _))| !language.is_empty())
        .map(|(i, (name, language, _, status))| {
            let status = status.as_str().to_ascii_uppercase();
            json!({ "name": name, "language": language, "status": status, "id": format!("{}", 1_000_001 + i) })
        })
        .collect();
    (StatusCode::OK, Json(json!({ "data": data, "paging": {} })))
}

/// Twilio's Content API: new content gets an `HX…` SID; its WhatsApp approval is `received`,
/// then what the test set (`set_template(sid, "", …)`: approved, paused, …).
async fn create_content(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if authorization(&headers).is_none() {
        return unauthenticated(Provider::Twilio);
    }
    let Some(variables) = body["variables"].as_object() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": 20001, "message": "variables required", "status": 400 })),
        );
    };
    let Ok(mut templates) = inner.templates.lock() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(Value::Null));
    };
    let sid = format!("HX{:032x}", 0xC0FFEE_u128 + templates.len() as u128);
    templates.push((sid.clone(), String::new(), variables.len(), TemplateStatus::Pending));
    (StatusCode::CREATED, Json(json!({ "sid": sid, "friendly_name": body["friendly_name"], "types": body["types"] })))
}

async fn request_approval(
    State(inner): State<Arc<Inner>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if authorization(&headers).is_none() {
        return unauthenticated(Provider::Twilio);
    }
    match content_status(&inner, &sid) {
        Some(_) => (StatusCode::CREATED, Json(json!({ "name": sid, "category": "UTILITY", "status": "received" }))),
        None => (StatusCode::NOT_FOUND, Json(json!({ "code": 20404, "message": "not found", "status": 404 }))),
    }
}

async fn approval(
    State(inner): State<Arc<Inner>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if authorization(&headers).is_none() {
        return unauthenticated(Provider::Twilio);
    }
    match content_status(&inner, &sid) {
        Some(status) => {
            (StatusCode::OK, Json(json!({ "whatsapp": { "name": sid, "category": "UTILITY", "status": status } })))
        }
        None => (StatusCode::NOT_FOUND, Json(json!({ "code": 20404, "message": "not found", "status": 404 }))),
    }
}

/// A content SID's WhatsApp approval status in the fake's account.
fn content_status(inner: &Inner, sid: &str) -> Option<&'static str> {
    let templates = inner.templates.lock().ok()?;
    let (_, _, _, status) = templates.iter().find(|(name, language, _, _)| name == sid && language.is_empty())?;
    Some(status.as_str())
}

/// A management call without credentials, answered as each provider does.
fn unauthenticated(provider: Provider) -> (StatusCode, Json<Value>) {
    let body = match provider {
        Provider::Twilio => json!({ "code": 20003, "message": "Authenticate", "status": 401 }),
        _ => json!({ "error": { "message": "no token", "code": 190 } }),
    };
    (StatusCode::UNAUTHORIZED, Json(body))
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn meta(
    State(inner): State<Arc<Inner>>,
    Path((_version, account)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let input = body.get("to").or_else(|| body.get("recipient")).cloned().unwrap_or(Value::Null);
    let request = ProviderRequest {
        provider: Provider::Meta,
        account,
        authorization: authorization(&headers),
        body,
        received_at: std::time::Instant::now(),
    };
    let meta_error = |code: i64| json!({ "error": { "message": format!("(#{code}) fake"), "type": "OAuthException", "code": code } });
    match inner.record(request).await {
        (Behaviour::Accept, n) => (
            StatusCode::OK,
            Json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{ "input": input }],
                "messages": [{ "id": format!("wamid.FAKE{n:012}") }],
            })),
        ),
        (Behaviour::Reject(code), _) => (StatusCode::BAD_REQUEST, Json(meta_error(code))),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(meta_error(131000))),
    }
}

async fn twilio(
    State(inner): State<Arc<Inner>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let form: Map<String, Value> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
    let request = ProviderRequest {
        provider: Provider::Twilio,
        account,
        authorization: authorization(&headers),
        body: Value::Object(form),
        received_at: std::time::Instant::now(),
    };
    match inner.record(request).await {
        (Behaviour::Accept, n) => {
            (StatusCode::CREATED, Json(json!({ "sid": format!("SMFAKE{n:028}"), "status": "queued" })))
        }
        (Behaviour::Reject(code), _) => {
            (StatusCode::BAD_REQUEST, Json(json!({ "code": code, "message": "Rejected by the fake", "status": 400 })))
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "code": 20500, "message": "Internal Server Error", "status": 500 })),
        ),
    }
}

async fn fonnte(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let target = body["target"].clone();
    let request = ProviderRequest {
        provider: Provider::Fonnte,
        account: String::new(),
        authorization: authorization(&headers),
        body,
        received_at: std::time::Instant::now(),
    };
    match inner.record(request).await {
        (Behaviour::Accept, n) => (
            StatusCode::OK,
            Json(json!({
                "detail": "success! message in queue",
                "id": [format!("{}", 80_000_000 + n)],
                "process": "pending",
                "requestid": 2_937_124 + n,
                "status": true,
                "target": [target],
            })),
        ),
        (Behaviour::Reject(_), _) => {
            (StatusCode::OK, Json(json!({ "status": false, "reason": "target invalid", "requestid": 1 })))
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "status": false, "reason": "server error" }))),
    }
}
