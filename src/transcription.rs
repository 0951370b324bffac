//! Voice notes to text through `POST {base}/audio/transcriptions`, in either of its two shapes:
//! OpenAI's multipart form (OpenAI, Groq, local servers such as speaches or LocalAI) or
//! OpenRouter's JSON with the audio in base64. The file goes as stored (WhatsApp's OGG/Opus,
//! which all of these take); the answer is JSON with `text`. Only the HTTP client: the worker
//! decides when to call it and records what it cost, like an LLM call, against the budget.
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::llm::Attempt;

#[derive(Debug, Clone)]
pub struct TranscriptionSettings {
    /// e.g. `https://api.openai.com/v1`, `https://api.groq.com/openai/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: SecretString,
    /// The whole call: upload, transcription and answer.
    pub timeout: Duration,
    /// US dollars per minute of audio, for the cost estimate.
    pub usd_per_minute: f64,
    pub shape: RequestShape,
}

/// How the endpoint wants the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestShape {
    /// `multipart/form-data` with `file` and `model` (OpenAI's API).
    Multipart,
    /// JSON `{model, input_audio: {data, format}, language}` (OpenRouter's API).
    Json,
}

impl RequestShape {
    /// `auto` picks JSON for OpenRouter, whose endpoint takes no multipart.
    pub fn parse(raw: &str, base_url: &str) -> Option<Self> {
        match raw {
            "multipart" => Some(Self::Multipart),
            "json" => Some(Self::Json),
            "auto" if base_url.contains("openrouter.ai") => Some(Self::Json),
            "auto" => Some(Self::Multipart),
            _ => None,
        }
    }
}

/// Tokens a second of audio counts against the budget when the endpoint reports only seconds
/// (OpenAI's `gpt-4o-transcribe` reports tokens, about this many).
const TOKENS_PER_SECOND: f64 = 10.0;
/// Bytes per second of a WhatsApp voice note (Opus at about 16 kbit/s), to estimate its length
/// when the endpoint says nothing of it.
const BYTES_PER_SECOND: f64 = 2_000.0;

pub struct Transcriber {
    http: reqwest::Client,
    settings: TranscriptionSettings,
}

/// The answer's fields we read; both usage shapes of OpenAI's API are taken.
#[derive(Deserialize)]
struct Answer {
    text: String,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default, alias = "prompt_tokens")]
    input_tokens: Option<i64>,
    #[serde(default, alias = "completion_tokens")]
    output_tokens: Option<i64>,
}

impl Transcriber {
    pub fn new(settings: TranscriptionSettings) -> anyhow::Result<Self> {
        Ok(Self { http: crate::llm::client(settings.timeout)?, settings })
    }

    /// The endpoint's host, for the sub-processor list.
    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    /// Transcribes one file; the error is a short class (never the endpoint's text, which may
    /// quote the audio). `language` is a hint (ISO 639-1: `id`, `en`).
    pub async fn transcribe(
        &self,
        audio: Vec<u8>,
        mime_type: &str,
        language: &str,
    ) -> (Result<String, String>, Attempt) {
        let started = Instant::now();
        let bytes = audio.len();
        let mut attempt = Attempt {
            model: self.settings.model.clone(),
            outcome: String::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
            cost_micro_usd: 0,
            own_key: false,
        };
        let result = self.call(audio, mime_type, language).await;
        attempt.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let answer = match result {
            Ok(answer) => answer,
            Err(class) => {
                attempt.outcome = format!("unavailable:{class}");
                return (Err(class.to_string()), attempt);
            }
        };
        let text = answer.text.trim().to_string();
        let usage = answer.usage.as_ref();
        let seconds = usage.and_then(|u| u.seconds).or(answer.duration).unwrap_or(bytes as f64 / BYTES_PER_SECOND);
        match usage.and_then(|u| u.input_tokens.zip(u.output_tokens)) {
            Some((input, output)) => (attempt.prompt_tokens, attempt.completion_tokens) = (input, output),
            None => {
                attempt.prompt_tokens = (seconds * TOKENS_PER_SECOND).ceil() as i64;
                attempt.completion_tokens = (text.chars().count() / 4) as i64;
            }
        }
        attempt.cost_micro_usd = (seconds / 60.0 * self.settings.usd_per_minute * 1e6).round() as i64;
        if text.is_empty() {
            attempt.outcome = "malformed:empty".into();
            return (Err("empty".into()), attempt);
        }
        attempt.outcome = "transcribed".into();
        (Ok(text), attempt)
    }

    async fn call(&self, audio: Vec<u8>, mime_type: &str, language: &str) -> Result<Answer, &'static str> {
        let url = format!("{}/audio/transcriptions", self.settings.base_url.trim_end_matches('/'));
        let request = self.http.post(url).bearer_auth(self.settings.api_key.expose_secret());
        let request = match self.settings.shape {
            RequestShape::Multipart => {
                let file = reqwest::multipart::Part::bytes(audio)
                    .file_name(format!("voice.{}", extension(mime_type)))
                    .mime_str(mime_type)
                    .map_err(|_| "bad_type")?;
                let form = reqwest::multipart::Form::new()
                    .part("file", file)
                    .text("model", self.settings.model.clone())
                    .text("language", language.to_string())
                    .text("response_format", "json");
                request.multipart(form)
            }
            RequestShape::Json => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD.encode(&audio);
                let format = extension(mime_type);
                let body = serde_json::json!({
                    "model": self.settings.model,
                    "input_audio": { "data": data, "format": format },
                    "language": language,
                });
                request.json(&body)
            }
        };
        let response = request.send().await.map_err(|e| if e.is_timeout() { "timeout" } else { "network" })?;
        let status = response.status();
        if status.as_u16() == 429 {
            return Err("rate_limited");
        }
        if status.is_server_error() {
            return Err("server_error");
        }
        if status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return Err("refused_format"); // an endpoint that wants another format (see the README)
        }
        if !status.is_success() {
            return Err("refused");
        }
        response.json::<Answer>().await.map_err(|e| if e.is_timeout() { "timeout" } else { "unreadable_json" })
    }
}

/// The file name's extension the endpoints go by to tell the format.
fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/x-m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/wav" | "audio/x-wav" => "wav",
        "audio/webm" => "webm",
        _ => "ogg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrouter_gets_json_unless_told_otherwise() {
        assert_eq!(RequestShape::parse("auto", "https://openrouter.ai/api/v1"), Some(RequestShape::Json));
        assert_eq!(RequestShape::parse("auto", "https://api.groq.com/openai/v1"), Some(RequestShape::Multipart));
        assert_eq!(RequestShape::parse("multipart", "https://openrouter.ai/api/v1"), Some(RequestShape::Multipart));
        assert_eq!(RequestShape::parse("json", "http://localhost:8000/v1"), Some(RequestShape::Json));
        assert_eq!(RequestShape::parse("xml", "http://localhost:8000/v1"), None);
    }
}
