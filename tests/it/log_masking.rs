//! The real binary's production logs (JSON, everything at debug and balas at trace) while a
//! customer writes, the LLM answers, the reply goes out and things fail: every line is JSON,
//! the events are there by id, and no phone number, BSUID, username, name, text or secret is.
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::Behaviour;
use serde_json::Value;

use crate::helpers::{JWT_SECRET, PHONE_NUMBER_ID, TestApp};
use crate::on_both_databases;
use crate::serve_process::{ServeProcess, free_addr};

const PHONE: &str = "6281298765432";
const BSUID: &str = "ID.7318264950172638495";
const USERNAME: &str = "rinakopiwati88";
const NAME: &str = "Rina Kopiwati";
const BODY: &str = "Paket atas nama saya belum sampai, alamatnya Jl. Melati 12";
const BODY_2: &str = "Tolong kirim ulang ke rumah ibu saya";
const REPLY: &str = "Baik kak, kami cek pengirimannya sekarang";
const REPLY_2: &str = "Siap kak, kami bantu kirim ulang";
/// What a model said in a response that does not parse (async-openai used to log it whole).
const UNREADABLE: &str = "Kak Rina, alamat Jl. Melati 12 sudah kami catat";
const METRICS_TOKEN: &str = "metrics-token-for-the-log-test";
const LLM_KEY: &str = "sk-log-test-llm-key-0123456789";
/// Reporting is on (a DSN nobody listens at): its start and flush must not disturb the logs.
const SENTRY_KEY: &str = "0123456789abcdef0123456789abcdef";

fn customer() -> FakeCustomer {
    FakeCustomer {
        bsuid: Some(BSUID.into()),
        phone: Some(PHONE.into()),
        name: NAME.into(),
        username: Some(USERNAME.into()),
    }
}

/// The running binary and the stderr lines it wrote so far.
struct Server {
    process: ServeProcess,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(app: &TestApp, llm: &FakeLlm) -> Self {
        let addr = free_addr();
        let dsn = format!("http://{SENTRY_KEY}@127.0.0.1:9/1");
        let env = [
            ("BALAS_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug,balas=trace"),
            ("BALAS_WORKERS", "1"),
            ("BALAS_JWT_SECRET", JWT_SECRET),
            ("BALAS_METRICS_TOKEN", METRICS_TOKEN),
            ("BALAS_LLM_BASE_URL", llm.base_url.as_str()),
            ("BALAS_LLM_MODEL", "log-test-model"),
            ("BALAS_LLM_API_KEY", LLM_KEY),
            ("BALAS_SENTRY_DSN", dsn.as_str()),
        ];
        let mut process = ServeProcess::spawn(app, &addr, &env, Stdio::piped());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = process.child.stderr.take().expect("stderr");
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self { base: process.url(""), process, lines, reader: Some(reader) }
    }

    fn logged(&self, needle: &str) -> bool {
        self.lines.lock().expect("lines").iter().any(|l| l.contains(needle))
    }

    /// SIGTERM (a graceful stop, as in production), then everything it wrote.
    async fn stop(mut self) -> Vec<String> {
        self.process.terminate();
        let status = self.process.wait_exit(Duration::from_secs(20)).await;
        assert!(status.success(), "balas serve stops cleanly on SIGTERM: {status}");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        std::mem::take(&mut *self.lines.lock().expect("lines"))
    }
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn env_value(app: &TestApp, name: &str) -> String {
    app.cli_env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).expect("set by the harness")
}

on_both_databases! {
    async fn json_logs_at_trace_level_carry_ids_but_no_personal_data_or_secrets(app) {
        let llm = FakeLlm::start().await.expect("fake llm");
        llm.script([LlmStep::Reply(REPLY.into()), LlmStep::Unreadable(UNREADABLE.into())]);
        llm.always(LlmStep::Reply(REPLY_2.into()));
        let server = Server::start(&app, &llm);
        let http = reqwest::Client::new();
        eventually("the server to listen", || server.logged("balas is listening")).await;
        assert!(server.logged("error reporting to Sentry is on"));
        let webhook = format!("{}/webhooks/meta/{}", server.base, app.channel.id);

        let verify = format!(
            "{webhook}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=4711", app.verify_token
        );
        assert_eq!(http.get(&verify).send().await.expect("verify").status(), 200);

        let who = customer();
        let now = chrono::Utc::now().timestamp();
        let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&who], vec![who.text("wamid.LOG1", BODY, now)], vec![]);
        let body = serde_json::to_vec(&payload).expect("json");
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let accepted = http.post(&webhook).header("content-type", "application/json")
            .header("x-hub-signature-256", &signature).body(body.clone()).send().await.expect("webhook");
        assert_eq!(accepted.status(), 200);
        eventually("the reply at the provider", || app.sent_to(PHONE).iter().any(|t| t == REPLY)).await;

        // Error paths: a forged signature, then a provider that fails with 500.
        let forged = http.post(&webhook).header("content-type", "application/json")
            .header("x-hub-signature-256", "sha256=00").body(body).send().await.expect("forged");
        assert_eq!(forged.status(), 401);
        app.providers.set_behaviour(Behaviour::ServerError);
        let again = meta_webhook::envelope(PHONE_NUMBER_ID, &[&who], vec![who.text("wamid.LOG2", BODY_2, now + 1)], vec![]);
        let again = serde_json::to_vec(&again).expect("json");
        let signed = meta_webhook::sign(&app.app_secret, &again);
        http.post(&webhook).header("content-type", "application/json").header("x-hub-signature-256", signed)
            .body(again).send().await.expect("second webhook");
        eventually("a failed send to be logged", || server.logged("retry scheduled")).await;
        assert!(llm.requests().len() >= 2, "the model was asked again and answered unreadably");
        let lines = server.stop().await;

        let parsed: Vec<Value> = lines.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|_| panic!("stderr line {} is not JSON", i + 1))
        }).collect();
        let channel = app.channel.id.to_string();
        assert!(parsed.iter().any(|l| l["message"] == "meta webhook accepted" && l["channel"] == channel.as_str() && l["stored"] == 1),
            "the accepted message is logged with its channel id");
        // The forged one is counted, without its channel: a Fonnte webhook URL carries its secret.
        assert!(parsed.iter().any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("webhook rejected"))
            && l["provider"] == "meta" && l["reason"] == "mismatch" && l["total"] == 1 && l.get("channel").is_none()),
            "the forged one too, with its count and without its channel");
        assert!(parsed.iter().any(|l| l["message"] == "job failed; retry scheduled"), "and the failed send");
        assert!(parsed.iter().any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("sqlx"))), "sqlx statements are logged at debug");

        let national = &PHONE[2..];
        let forbidden: Vec<(&str, String)> = vec![
            ("phone +62…", format!("+{PHONE}")),
            ("phone 62…", PHONE.into()),
            ("phone 08…", format!("0{national}")),
            ("phone national digits", national.into()),
            ("phone 0812-…", format!("0{}-{}-{}", &national[..3], &national[3..7], &national[7..])),
            ("BSUID", BSUID.into()),
            ("BSUID digits", BSUID[3..].into()),
            ("username", USERNAME.into()),
            ("profile name", NAME.into()),
            ("first body", BODY.into()),
            ("part of the first body", "belum sampai".into()),
            ("second body", BODY_2.into()),
            ("first reply", REPLY.into()),
            ("second reply", REPLY_2.into()),
            ("unreadable model answer", UNREADABLE.into()),
            ("app secret", app.app_secret.clone()),
            ("signature header", signature.clone()),
            ("access token", balas::demo::ACCESS_TOKEN.into()),
            ("verify token", app.verify_token.clone()),
            ("Fernet key", env_value(&app, "BALAS_FERNET_KEYS")),
            ("index key", env_value(&app, "BALAS_INDEX_KEY")),
            ("audit key", env_value(&app, "BALAS_AUDIT_KEY")),
            ("JWT secret", JWT_SECRET.into()),
            ("metrics token", METRICS_TOKEN.into()),
            ("LLM key", LLM_KEY.into()),
            ("Sentry DSN key", SENTRY_KEY.into()),
            ("a Fernet ciphertext (a bound value)", "gAAAAA".into()),
        ];
        for (i, line) in lines.iter().enumerate() {
            for (form, value) in &forbidden {
                assert!(!line.contains(value.as_str()), "stderr line {} contains the {form}", i + 1);
            }
        }
    }
}
