//! A shop's webhook receiver for the tests: a real HTTP server on 127.0.0.1 that records every
//! delivery and answers from a script of statuses, and the official Standard Webhooks verifier
//! (PyPI `standardwebhooks`, driven through `tests/fixtures/verify_webhooks.py`).
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    /// Statuses to answer, in order; the last one repeats.
    statuses: Vec<u16>,
    /// How long to wait before answering.
    delay: std::time::Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Log>>,
}

impl Receiver {
    pub async fn start(statuses: &[u16]) -> Self {
        let log = Arc::new(Mutex::new(Log { statuses: statuses.to_vec(), ..Log::default() }));
        let app = Router::new().route("/hook", axum::routing::post(take)).with_state(log.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, log }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").received.clone()
    }

    pub fn answer(&self, statuses: &[u16]) {
        self.log.lock().expect("log").statuses = statuses.to_vec();
    }

    pub fn answer_after(&self, delay: std::time::Duration) {
        self.log.lock().expect("log").delay = delay;
    }
}

async fn take(State(log): State<Arc<Mutex<Log>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let delay = log.lock().expect("log").delay;
    tokio::time::sleep(delay).await;
    let mut log = log.lock().expect("log");
    let n = log.received.len();
    log.received.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    let status = log.statuses.get(n).or(log.statuses.last()).copied().unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// The official verifier's verdict on each delivery under `secret`, at `now` (the test's clock):
/// "ok" or its error.
pub fn verify(secret: &str, now: i64, deliveries: &[Received]) -> Vec<String> {
    let items: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            json!({
                "secret": secret,
                "headers": { "webhook-id": d.id, "webhook-timestamp": d.timestamp, "webhook-signature": d.signature },
                "body_b64": base64::engine::general_purpose::STANDARD.encode(&d.body),
                "now": now,
            })
        })
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/verify_webhooks.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the Standard Webhooks verifier");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(Value::Array(items).to_string().as_bytes()).expect("write the deliveries");
    }
    let out = child.wait_with_output().expect("the verifier ends");
    assert!(
        out.status.success(),
        "the Standard Webhooks verifier did not run (pip install standardwebhooks): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("verdicts")
}
