//! A fake Meta Graph API: accepts `POST /{version}/{phone_number_id}/messages` like the real
//! one, records each request, and answers with a fresh `wamid` or a configured Meta error.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub phone_number_id: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl GraphRequest {
    pub fn text(&self) -> &str {
        self.body["text"]["body"].as_str().unwrap_or_default()
    }
}

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// HTTP 500 with Meta's "unknown error" code 131000 (retryable).
    ServerError,
    /// HTTP 400 with the given Meta error code.
    Reject(i64),
    /// Never answers within any sane timeout (a stalled provider).
    Hang,
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<GraphRequest>>,
    behaviour: Mutex<Option<Behaviour>>,
    counter: AtomicU64,
}

pub struct FakeGraph {
    /// What to set `BALAS_META_GRAPH_URL` to, e.g. `http://127.0.0.1:41234/v21.0`.
    pub base_url: String,
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl FakeGraph {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v21.0", listener.local_addr()?);
        let inner = Arc::new(Inner::default());
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(receive))
            .with_state(inner.clone());
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        Ok(Self {
            base_url,
            inner,
            stop,
        })
    }

    pub fn received(&self) -> Vec<GraphRequest> {
        self.inner
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut b) = self.inner.behaviour.lock() {
            *b = Some(behaviour);
        }
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Ok(mut received) = inner.received.lock() {
        received.push(GraphRequest {
            phone_number_id,
            authorization,
            body: body.clone(),
        });
    }
    let behaviour = inner
        .behaviour
        .lock()
        .ok()
        .and_then(|b| *b)
        .unwrap_or(Behaviour::Accept);
    match behaviour {
        Behaviour::Accept => {
            let n = inner.counter.fetch_add(1, Ordering::SeqCst);
            let input = body
                .get("to")
                .or_else(|| body.get("recipient"))
                .cloned()
                .unwrap_or(Value::Null);
            (
                StatusCode::OK,
                Json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{ "input": input }],
                    "messages": [{ "id": format!("wamid.FAKE{n:012}") }],
                })),
            )
        }
        Behaviour::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(meta_error(131000, "Something went wrong")),
        ),
        Behaviour::Reject(code) => (
            StatusCode::BAD_REQUEST,
            Json(meta_error(code, "Rejected by the fake")),
        ),
        Behaviour::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                Json(meta_error(131000, "Hung")),
            )
        }
    }
}

fn meta_error(code: i64, message: &str) -> Value {
    json!({ "error": { "message": format!("(#{code}) {message}"), "type": "OAuthException", "code": code, "fbtrace_id": "FAKE" } })
}
