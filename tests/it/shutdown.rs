//! SIGTERM on the real `balas serve` process: a request in flight finishes, new connections
//! are refused, a job cut off by the grace period is released unharmed, and the process exits
//! 0 within the grace period plus a small margin.
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::fakes::meta_webhook;

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;
use crate::serve_process::{ServeProcess, free_addr};

/// Short, so each test stays quick; the production default is 15 s.
const GRACE: Duration = Duration::from_secs(2);
/// Releasing leases, closing the pool and the runtime's own shutdown, on a busy test machine.
const MARGIN: Duration = Duration::from_secs(3);

/// `balas serve` with the short grace period, plus `env`.
async fn start(app: &TestApp, env: &[(&str, &str)]) -> ServeProcess {
    let grace = GRACE.as_secs().to_string();
    let env: Vec<(&str, &str)> =
        [("BALAS_SHUTDOWN_GRACE_SECS", grace.as_str())].into_iter().chain(env.iter().copied()).collect();
    ServeProcess::start(app, &free_addr(), &env).await
}

/// Polls until a new connection is refused: the listener is closed.
async fn wait_refused(balas: &ServeProcess) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(&balas.addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            // A handshake the kernel completed just before the listener closed is reset, not served.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("unexpected connect error: {e}"),
            Ok(_) => assert!(Instant::now() < deadline, "new connections were still accepted after SIGTERM"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

on_both_databases! {
    async fn sigterm_lets_a_webhook_still_being_streamed_finish_and_refuses_new_connections(app) {
        let mut balas = start(&app, &[("BALAS_WORKERS", "0")]).await;
        let body = serde_json::to_vec(&app.text(&customer(7), "wamid.SIGTERM1", "Masih buka kak?")).unwrap();
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let mut stream = TcpStream::connect(&balas.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /webhooks/meta/{} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             x-hub-signature-256: {signature}\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
            app.channel.id, balas.addr, body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // "100 Continue" comes once the handler reads the body: the request is in flight.
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).unwrap();
        assert!(interim.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"), "{}", String::from_utf8_lossy(&interim));
        let half = body.len() / 2;
        stream.write_all(&body[..half]).unwrap();

        balas.terminate();
        let signalled = Instant::now();
        wait_refused(&balas).await;
        assert!(balas.child.try_wait().unwrap().is_none(), "the process waits for the request in flight");

        stream.write_all(&body[half..]).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");

        let status = balas.wait_exit(GRACE + MARGIN).await;
        assert!(status.success(), "exit status {status}");
        assert!(signalled.elapsed() < GRACE + MARGIN);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND provider_message_id = 'wamid.SIGTERM1'").await, 1);
        assert_eq!(app.count("respond_jobs").await, 1, "its reply job was enqueued with it");
    }

    async fn a_request_stalled_past_the_grace_period_does_not_hold_the_exit(app) {
        let mut balas = start(&app, &[("BALAS_WORKERS", "0")]).await;
        let mut stream = TcpStream::connect(&balas.addr).unwrap();
        let head = format!(
            "POST /webhooks/meta/{} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             x-hub-signature-256: sha256=00\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n",
            app.channel.id, balas.addr
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).unwrap();
        stream.write_all(b"{\"object\":").unwrap(); // and then nothing more, ever

        balas.terminate();
        let signalled = Instant::now();
        let status = balas.wait_exit(GRACE + MARGIN).await;
        assert!(status.success(), "exit status {status}");
        assert!(signalled.elapsed() >= GRACE, "the stalled request had its grace period");
        assert_eq!(app.count("inbound").await, 0);
    }

    async fn sigterm_releases_the_lease_of_a_job_stuck_past_the_grace_period(app) {
        let llm = FakeLlm::start().await.unwrap();
        llm.always(LlmStep::Hang);
        let mut balas = start(&app, &[
            ("BALAS_WORKERS", "1"),
            ("BALAS_LLM_BASE_URL", llm.base_url.as_str()),
            ("BALAS_LLM_MODEL", "test-model"),
            ("BALAS_LLM_API_KEY", "test-llm-key"),
            ("BALAS_LLM_TIMEOUT_SECS", "60"),
        ]).await;
        let body = serde_json::to_vec(&app.text(&customer(8), "wamid.SIGTERM2", "Ada kopi susu gula aren?")).unwrap();
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let url = balas.url(&format!("/webhooks/meta/{}", app.channel.id));
        let sent = app.http.post(url).header("content-type", "application/json")
            .header("x-hub-signature-256", signature).body(body).send().await.unwrap();
        assert_eq!(sent.status(), 200);

        let deadline = Instant::now() + Duration::from_secs(5);
        while llm.requests().is_empty() {
            assert!(Instant::now() < deadline, "the worker never called the LLM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let running = "SELECT COUNT(*) FROM jobs WHERE kind = 'respond' AND state = 'running' AND attempts = 1 AND locked_by IS NOT NULL";
        assert_eq!(app.inspect.scalar(running).await, 1, "the worker holds the job's lease");

        balas.terminate();
        let signalled = Instant::now();
        let status = balas.wait_exit(GRACE + MARGIN).await;
        let took = signalled.elapsed();
        assert!(status.success(), "exit status {status}");
        assert!(took >= GRACE, "the job had its grace period ({took:?})");

        let released = "SELECT COUNT(*) FROM jobs WHERE kind = 'respond' AND state = 'queued' AND attempts = 0 \
                        AND locked_by IS NULL AND locked_until IS NULL AND last_error IS NULL";
        assert_eq!(app.inspect.scalar(released).await, 1, "released, its attempt given back, no failure recorded");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('job.failed', 'job.dead')").await, 0);
        assert_eq!(app.count("outbound").await, 0, "nothing was answered");

        // The released job runs normally on the next worker (here the offline FAQ responder).
        app.clock.advance(chrono::Duration::minutes(1));
        app.drain().await;
        let done = "SELECT COUNT(*) FROM jobs WHERE kind = 'respond' AND state = 'done' AND attempts = 1";
        assert_eq!(app.inspect.scalar(done).await, 1);
    }
}
