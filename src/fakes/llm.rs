//! A fake OpenAI-compatible server: chat completions (`POST /v1/chat/completions`) and audio
//! transcriptions (`POST /v1/audio/transcriptions`, multipart or JSON). It records every request and
//! answers with scripted steps, in the API's own shapes and errors.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmStep {
    Reply(String),
    /// The reply after a delay (a slow model).
    ReplyAfter(std::time::Duration, String),
    /// A call of `escalate_to_owner` with this reason.
    Escalate(String),
    /// A call of `escalate_to_owner` with these arguments (reason, summary, draft_reply).
    EscalateWith(Value),
    /// HTTP 200 whose message has neither content nor a tool call.
    Malformed,
    /// HTTP 200 whose JSON does not have the API's shape (`choices` is this text).
    Unreadable(String),
    /// HTTP 429 with `Retry-After: 0`.
    RateLimited,
    ServerError,
    /// Never answers within any sane timeout.
    Hang,
}

/// One scripted answer of the transcription endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscribeStep {
    Text(String),
    RateLimited,
    ServerError,
    /// Never answers within any sane timeout.
    Hang,
}

/// One transcription request as the endpoint got it.
#[derive(Debug, Clone)]
pub struct Transcription {
    pub auth: Option<String>,
    /// `multipart` (OpenAI's shape) or `json` (OpenRouter's).
    pub shape: &'static str,
    pub model: String,
    pub language: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    /// JSON's `input_audio.format`.
    pub format: Option<String>,
    pub bytes: Vec<u8>,
}

/// The formats OpenAI's endpoint takes, by the file name's extension; others get its 400.
const AUDIO_FORMATS: [&str; 9] = ["flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"];
/// The formats OpenRouter's JSON endpoint takes.
const JSON_AUDIO_FORMATS: [&str; 7] = ["wav", "mp3", "flac", "m4a", "ogg", "webm", "aac"];

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<LlmStep>>,
    fallback: Mutex<Option<LlmStep>>,
    requests: Mutex<Vec<(Option<String>, Value)>>,
    transcripts: Mutex<VecDeque<TranscribeStep>>,
    transcriptions: Mutex<Vec<Transcription>>,
}

pub struct FakeLlm {
    /// For `BALAS_LLM_BASE_URL`, e.g. `http://127.0.0.1:41234/v1`.
    pub base_url: String,
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl FakeLlm {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let inner = Arc::new(Inner::default());
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/v1/audio/transcriptions", post(transcribe))
            .with_state(inner.clone());
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await;
        });
        Ok(Self { base_url, inner, stop })
    }

    /// Queues the next answers; once the queue is empty, `always` (or a short reply) answers.
    pub fn script(&self, steps: impl IntoIterator<Item = LlmStep>) {
        if let Ok(mut s) = self.inner.script.lock() {
            s.extend(steps);
        }
    }

    pub fn always(&self, step: LlmStep) {
        if let Ok(mut f) = self.inner.fallback.lock() {
            *f = Some(step);
        }
    }

    /// Every request body received, with its Authorization header.
    pub fn requests(&self) -> Vec<(Option<String>, Value)> {
        self.inner.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Queues the transcription endpoint's next answers; once empty, it answers "halo".
    pub fn script_transcripts(&self, steps: impl IntoIterator<Item = TranscribeStep>) {
        if let Ok(mut s) = self.inner.transcripts.lock() {
            s.extend(steps);
        }
    }

    /// Every transcription request received.
    pub fn transcriptions(&self) -> Vec<Transcription> {
        self.inner.transcriptions.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn complete(State(inner): State<Arc<Inner>>, headers: HeaderMap, Json(request): Json<Value>) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let prompt_tokens = (request.to_string().len() / 4) as i64;
    let model = request["model"].clone();
    if let Ok(mut r) = inner.requests.lock() {
        r.push((auth, request));
    }
    let next = inner.script.lock().ok().and_then(|mut s| s.pop_front());
    let step = next
        .or_else(|| inner.fallback.lock().ok().and_then(|f| f.clone()))
        .unwrap_or_else(|| LlmStep::Reply("Baik kak 🙏".into()));
    let message = match step {
        LlmStep::Reply(text) => json!({ "role": "assistant", "content": text }),
        LlmStep::ReplyAfter(delay, text) => {
            tokio::time::sleep(delay).await;
            json!({ "role": "assistant", "content": text })
        }
        LlmStep::Escalate(reason) => tool_call(&json!({ "reason": reason })),
        LlmStep::EscalateWith(arguments) => tool_call(&arguments),
        LlmStep::Malformed => json!({ "role": "assistant", "content": "" }),
        LlmStep::Unreadable(text) => return Json(json!({ "id": "chatcmpl-fake", "choices": text })).into_response(),
        LlmStep::RateLimited => {
            let body = json!({ "error": { "message": "rate limited", "type": "rate_limit_error", "param": null, "code": null } });
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], Json(body)).into_response();
        }
        LlmStep::ServerError => {
            let body = json!({ "error": { "message": "upstream error", "type": "server_error", "param": null, "code": null } });
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
        }
        LlmStep::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
    };
    let completion_tokens = (message.to_string().len() / 4) as i64;
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": "" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens },
    }))
    .into_response()
}

fn tool_call(arguments: &Value) -> Value {
    json!({
        "role": "assistant",
        "content": null,
        "tool_calls": [{ "id": "call_1", "type": "function", "function": {
            "name": "escalate_to_owner", "arguments": arguments.to_string() } }],
    })
}

/// OpenAI's error body.
fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })))
        .into_response()
}

async fn transcribe(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let mut got = Transcription {
        auth: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
        shape: "multipart",
        model: String::new(),
        language: None,
        file_name: None,
        content_type: None,
        format: None,
        bytes: Vec::new(),
    };
    let multipart =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("multipart/"));
    if multipart {
        let Ok(mut form) = Multipart::from_request(request, &()).await else {
            return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", "unreadable form");
        };
        while let Ok(Some(field)) = form.next_field().await {
            match field.name().unwrap_or_default().to_string().as_str() {
                "file" => {
                    got.file_name = field.file_name().map(str::to_string);
                    got.content_type = field.content_type().map(str::to_string);
                    got.bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                }
                "model" => got.model = field.text().await.unwrap_or_default(),
                "language" => got.language = field.text().await.ok(),
                _ => {}
            }
        }
    } else {
        use base64::Engine;
        let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await.unwrap_or_default();
        let json: Value = serde_json::from_slice(&body).unwrap_or_default();
        got.shape = "json";
        got.model = json["model"].as_str().unwrap_or_default().to_string();
        got.language = json["language"].as_str().map(str::to_string);
        got.format = json["input_audio"]["format"].as_str().map(str::to_string);
        let data = json["input_audio"]["data"].as_str().unwrap_or_default();
        got.bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default();
    }
    let accepted = match got.shape {
        "json" => got.format.as_deref().is_some_and(|f| JSON_AUDIO_FORMATS.contains(&f)),
        _ => got.file_name.as_deref().and_then(|n| n.rsplit_once('.')).is_some_and(|(_, e)| AUDIO_FORMATS.contains(&e)),
    };
    let seconds = (got.bytes.len() as f64 / 2_000.0).ceil().max(1.0);
    let model_missing = got.model.is_empty();
    if let Ok(mut r) = inner.transcriptions.lock() {
        r.push(got);
    }
    if model_missing {
        return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", "you must provide a model parameter");
    }
    if !accepted {
        let message = format!("Invalid file format. Supported formats: {AUDIO_FORMATS:?}");
        return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
    }
    let step = inner.transcripts.lock().ok().and_then(|mut s| s.pop_front());
    match step.unwrap_or_else(|| TranscribeStep::Text("halo".into())) {
        TranscribeStep::Text(text) => {
            Json(json!({ "text": text, "usage": { "type": "duration", "seconds": seconds } })).into_response()
        }
        TranscribeStep::RateLimited => api_error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "rate limited"),
        TranscribeStep::ServerError => api_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "upstream error"),
        TranscribeStep::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
