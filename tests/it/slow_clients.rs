//! Slow and numerous clients against the real `balas serve`: with short timeouts configured,
//! a client that stalls in its head or its body is cut off in about two seconds while signed
//! webhooks keep flowing; past the in-flight bound, requests get 503 with `Retry-After`.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use balas::fakes::meta_webhook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;
use crate::serve_process::{ServeProcess, free_addr};

/// The configured header and body timeouts.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How late a cut may come on a busy test machine.
const SLACK: Duration = Duration::from_secs(2);

/// What a stalled client got before the server closed, and when it closed after the stall began.
async fn until_closed(mut stream: impl AsyncReadExt + Unpin, stalled_at: Instant) -> (String, Duration) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buffer)).await;
        match read.expect("the server kept a stalled connection open for 15 s") {
            Ok(0) | Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), stalled_at.elapsed()),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

fn head(app: &TestApp, addr: &str, length: usize) -> String {
    format!(
        "POST /webhooks/meta/{} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-hub-signature-256: sha256=00\r\ncontent-length: {length}\r\n\r\n",
        app.channel.id
    )
}

/// Posts signed webhooks one after another until `stop`; counts the 200s and anything else.
fn keep_posting(app: &TestApp, url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, usize)> {
    let (http, secret) = (app.http.clone(), app.app_secret.clone());
    let payloads: Vec<Vec<u8>> = (0..400)
        .map(|n| serde_json::to_vec(&app.text(&customer(n), &format!("wamid.FLOW{n}"), "halo")).unwrap())
        .collect();
    tokio::spawn(async move {
        let (mut ok, mut other) = (0, 0);
        for body in payloads.into_iter().cycle() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let signature = meta_webhook::sign(&secret, &body);
            let sent = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 200 => ok += 1,
                _ => other += 1,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (ok, other)
    })
}

on_both_databases! {
    async fn stalled_clients_are_cut_off_while_webhooks_keep_flowing(app) {
        let secs = TIMEOUT.as_secs().to_string();
        let balas = ServeProcess::start(&app, &free_addr(), &[
            ("BALAS_WORKERS", "0"),
            ("BALAS_HEADER_TIMEOUT_SECS", secs.as_str()),
            ("BALAS_BODY_TIMEOUT_SECS", secs.as_str()),
        ]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let flow = keep_posting(&app, balas.url(&format!("/webhooks/meta/{}", app.channel.id)), stop.clone());

        let addr = balas.addr.clone();
        let silent = async {
            let stream = TcpStream::connect(&addr).await.unwrap();
            until_closed(stream, Instant::now()).await
        };
        let half_head = async {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream.write_all(b"POST /webhooks/meta/x HTTP/1.1\r\nhost: balas\r\n").await.unwrap();
            until_closed(stream, Instant::now()).await
        };
        let one_body_byte = async {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream.write_all(format!("{}{{", head(&app, &addr, 1000)).as_bytes()).await.unwrap();
            until_closed(stream, Instant::now()).await
        };
        // A byte every half second: the body timeout bounds the whole body, not each pause.
        let trickle = async {
            let stream = TcpStream::connect(&addr).await.unwrap();
            let (reader, mut writer) = stream.into_split();
            writer.write_all(head(&app, &addr, 1000).as_bytes()).await.unwrap();
            let started = Instant::now();
            let dripping = tokio::spawn(async move {
                for _ in 0..30 {
                    if writer.write_all(b" ").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
            let closed = until_closed(reader, started).await;
            dripping.abort();
            closed
        };
        let (silent, half_head, one_byte, trickle) = tokio::join!(silent, half_head, one_body_byte, trickle);

        eprintln!("cut after: silent {:?}, half a head {:?}, one body byte {:?}, trickle {:?}", silent.1, half_head.1, one_byte.1, trickle.1);
        for (case, (_, took)) in [("silent", &silent), ("half a head", &half_head)] {
            assert!(*took >= TIMEOUT - Duration::from_millis(500) && *took <= TIMEOUT + SLACK, "{case}: cut after {took:?}");
        }
        let (answer, took) = one_byte;
        assert!(took >= TIMEOUT - Duration::from_millis(500) && took <= TIMEOUT + SLACK, "one body byte: cut after {took:?}");
        assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("body_timeout"), "{answer}");
        let (answer, took) = trickle;
        assert!(took <= TIMEOUT + SLACK, "a trickling body was cut after {took:?}");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

        stop.store(true, Ordering::SeqCst);
        let (ok, other) = flow.await.unwrap();
        eprintln!("webhooks meanwhile: {ok} answered 200, {other} otherwise");
        assert_eq!(other, 0, "a real webhook failed while slow clients were held");
        assert!(ok >= 20, "only {ok} webhooks got through in {:?}", silent.1);
        assert_eq!(app.count("inbound").await as usize, ok.min(400));
    }

    async fn past_the_in_flight_bound_requests_get_503_with_retry_after(app) {
        let balas = ServeProcess::start(&app, &free_addr(), &[("BALAS_WORKERS", "0"), ("BALAS_MAX_IN_FLIGHT", "1")]).await;
        // A webhook whose body never comes holds the one slot ("100 Continue": its handler reads).
        let mut stalled = TcpStream::connect(&balas.addr).await.unwrap();
        let expect = head(&app, &balas.addr, 1000).replace("\r\n\r\n", "\r\nexpect: 100-continue\r\n\r\n");
        stalled.write_all(expect.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        stalled.read_exact(&mut interim).await.unwrap();
        assert!(interim.starts_with(b"HTTP/1.1 100 Continue"), "{}", String::from_utf8_lossy(&interim));

        let body = serde_json::to_vec(&app.text(&customer(1), "wamid.SHED1", "halo")).unwrap();
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let url = balas.url(&format!("/webhooks/meta/{}", app.channel.id));
        let post = || app.http.post(&url).header("content-type", "application/json")
            .header("x-hub-signature-256", signature.clone()).body(body.clone()).send();
        let shed = post().await.unwrap();
        assert_eq!(shed.status().as_u16(), 503);
        assert_eq!(shed.headers()["retry-after"], "1");
        let error: serde_json::Value = shed.json().await.unwrap();
        assert_eq!(error["error"], "overloaded", "{error}");
        assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()));

        // Health and metrics stay outside the bound, so the overload can be seen.
        assert_eq!(app.http.get(balas.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
        let metrics = app.http.get(balas.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("balas_http_requests_shed_total 1"), "{metrics}");

        // A client that gives up gives its slot back.
        drop(stalled);
        let deadline = Instant::now() + Duration::from_secs(5);
        while post().await.unwrap().status() != 200 {
            assert!(Instant::now() < deadline, "the slot was never given back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.count("inbound").await, 1);
    }

    async fn a_channel_is_known_before_its_body_is_read(app) {
        let (fonnte, _) = app.fonnte_channel(None).await;
        let addr = app.base.trim_start_matches("http://").to_string();
        let paths = [
            (format!("/webhooks/meta/{}", uuid::Uuid::new_v4()), "404", "unknown_channel"),
            (format!("/webhooks/twilio/{}", app.channel.id), "404", "unknown_channel"),
            (format!("/webhooks/fonnte/{}/{}", fonnte.id, "0".repeat(32)), "401", "invalid_secret"),
        ];
        for (path, status, code) in paths {
            // A large body announced and never sent: the answer must not wait for it.
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 3000000\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = vec![0u8; 4096];
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await;
            let n = read.unwrap_or_else(|_| panic!("{path}: the server waited for the body")).unwrap();
            let answer = String::from_utf8_lossy(&answer[..n]);
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}")) && answer.contains(code), "{path}: {answer}");
        }
    }

    async fn a_connection_on_which_nothing_moves_is_closed_after_the_idle_timeout(app) {
        let secs = TIMEOUT.as_secs().to_string();
        let balas = ServeProcess::start(&app, &free_addr(), &[
            ("BALAS_WORKERS", "0"),
            ("BALAS_HEADER_TIMEOUT_SECS", "30"),
            ("BALAS_IDLE_TIMEOUT_SECS", secs.as_str()),
        ]).await;
        let stream = TcpStream::connect(&balas.addr).await.unwrap();
        let (_, took) = until_closed(stream, Instant::now()).await;
        assert!(took >= TIMEOUT - Duration::from_millis(500) && took <= TIMEOUT + SLACK, "cut after {took:?}");
    }
}
