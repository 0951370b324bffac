//! Events built through the real path (the `tracing` layer, the panic hook, `capture_error`,
//! breadcrumbs) with the production options; nothing personal or secret may reach the transport.
use std::sync::Arc;

use sentry::protocol::{Breadcrumb, Event, Map};
use tracing_subscriber::layer::SubscriberExt;

use super::{Scrubber, options, tracing_layer};

const PHONE_E164: &str = "+6281234567890";
const PHONE_LOCAL: &str = "081234567890";
const PHONE_SPACED: &str = "0812-3456-7890";
const BSUID: &str = "ID.48291038475610293";
const BODY: &str = "Paket saya belum sampai, tolong cek resi";
const CONFIGURED_SECRET: &str = "cfg-app-secret-value";
const BEARER: &str = "EAAGm0PX4ZCpsBAKZCqhWtoken";
const SK_KEY: &str = "sk-proj-abcDEF0123456789xyz";
const URL_PASSWORD: &str = "hunter2-pass";
const CHANNEL: &str = "0191d6a4-7c1e-7a55-9b35-3c2f6e8f1a20";

/// Every form a leak could take, named so that a failure names the form, not the value.
fn forbidden(fernet: &str) -> Vec<(&'static str, String)> {
    vec![
        ("phone +62", PHONE_E164.into()),
        ("phone 62", PHONE_E164.trim_start_matches('+').into()),
        ("phone 08", PHONE_LOCAL.into()),
        ("phone national digits", PHONE_LOCAL.trim_start_matches('0').into()),
        ("phone with dashes", PHONE_SPACED.into()),
        ("BSUID digits", BSUID.trim_start_matches("ID.").into()),
        ("message body", BODY.into()),
        ("part of the body", "belum sampai".into()),
        ("configured secret", CONFIGURED_SECRET.into()),
        ("bearer token", BEARER.into()),
        ("sk- key", SK_KEY.into()),
        ("URL password", URL_PASSWORD.into()),
        ("query string value", "verify-me-123".into()),
        ("Fernet key", fernet.into()),
    ]
}

/// Runs `f` with the production options (defaults applied, as `sentry::init` does) and the
/// `tracing` layer; returns the events the transport received.
fn captured(f: impl FnOnce()) -> Vec<Event<'static>> {
    let options = sentry::apply_defaults(options(Arc::new(Scrubber::new([CONFIGURED_SECRET]))));
    sentry::test::with_captured_events_options(
        || {
            let subscriber = tracing_subscriber::registry().with(tracing_layer());
            tracing::subscriber::with_default(subscriber, f);
        },
        options,
    )
}

#[test]
fn events_reach_the_transport_without_personal_data_or_secrets() {
    let fernet = crate::crypto::generate_key();
    let events = captured(|| {
        tracing::info!(phone = PHONE_E164, "customer {PHONE_LOCAL} wrote {BODY:?}");
        sentry::add_breadcrumb(Breadcrumb {
            message: Some(format!("inbound from {BSUID}: {BODY:?}")),
            data: Map::from_iter([("text".to_string(), BODY.into()), ("wa_id".to_string(), PHONE_LOCAL.into())]),
            ..Default::default()
        });
        let provider = format!(
            "GET https://bot:{URL_PASSWORD}@graph.example/v21.0/me?hub.verify_token=verify-me-123 answered \
             {{\"to\":\"{PHONE_E164}\",\"text\":\"{BODY}\"}} Authorization: Bearer {BEARER}"
        );
        tracing::error!(
            channel = %CHANNEL,
            body = BODY,
            recipient = PHONE_LOCAL,
            error = %provider,
            key = CONFIGURED_SECRET,
            "send to {PHONE_SPACED} via channel {CHANNEL} failed with {fernet} and {SK_KEY}: {BODY:?}"
        );
        let _ = std::panic::catch_unwind(|| {
            panic!("could not parse {BODY:?} from 62{} with secret={CONFIGURED_SECRET}", &PHONE_LOCAL[1..])
        });
        let error = std::io::Error::other(format!("row for {BSUID} / {PHONE_E164}: Debug {{ text: {BODY:?} }}"));
        sentry::capture_error(&error);
    });

    assert_eq!(events.len(), 3, "the tracing error, the panic and the captured error are all sent");
    let json = serde_json::to_string(&events).expect("events serialise");
    for (form, value) in forbidden(&fernet) {
        assert!(!json.contains(&value), "{form} reached the transport");
    }

    let logged = events.iter().find(|e| e.message.as_deref().is_some_and(|m| m.starts_with("send to")));
    let logged = logged.expect("the tracing error is an event whose message survives scrubbing");
    assert!(logged.message.as_deref().is_some_and(|m| m.contains(CHANNEL)), "row ids stay readable");
    assert!(
        logged.breadcrumbs.values.iter().any(|b| b.message.as_deref().is_some_and(|m| m.starts_with("customer"))),
        "the info line before the error is its breadcrumb"
    );
    assert!(
        logged.breadcrumbs.values.iter().any(|b| b.message.as_deref().is_some_and(|m| m.starts_with("inbound from"))),
        "a manual breadcrumb is kept, scrubbed"
    );
    let panic = events.iter().find(|e| e.exception.values.iter().any(|x| x.ty == "panic"));
    let panic = panic.expect("the panic is reported");
    assert!(
        panic.exception.values.iter().any(|x| x.value.as_deref().is_some_and(|v| v.starts_with("could not parse")))
    );
}

#[test]
fn ordinary_text_ids_prices_and_times_are_kept() {
    let scrubber = Scrubber::new(["short", "a-configured-secret"]);
    let text = "job 0191d6a4-7c1e-7a55-9b35-3c2f6e8f1a20 failed: attempt 3 of 10, Rp1.250.000, 08.00-21.00, short";
    assert_eq!(scrubber.text(text), text);
}

#[test]
fn each_rule_removes_its_shape() {
    let s = Scrubber::new(["postgres://balas_app:pa%40ss-word@db.internal/balas", "key-one-aaaa,key-two-bbbb"]);
    let cases = [
        ("connect postgres://balas_app:pa%40ss-word@db.internal/balas", "connect [SECRET]"),
        ("password pa@ss-word rejected", "password [SECRET] rejected"),
        ("old key key-two-bbbb", "old key [SECRET]"),
        ("GET /webhooks/meta/x?hub.challenge=1&hub.verify_token=abc done", "GET /webhooks/meta/x?[REDACTED] done"),
        ("redis://user:pw@cache:6379/0", "redis://[REDACTED]@cache:6379/0"),
        ("header Authorization: Bearer abc.def", "header Authorization: [REDACTED]"),
        ("x-hub-signature-256=sha256=00ff", "x-hub-signature-256=[REDACTED]"),
        ("value \"quoted \\\" text\" end", "value \"[REDACTED]\" end"),
        ("to 6281234567890 and x6281234567890", "to [PHONE_1] and x[NUMBER]"),
        ("mail siti.rahma@gmail.com", "mail [EMAIL_1]"),
        ("wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjBCNjM1", "wamid.[REDACTED]"),
    ];
    for (input, expected) in cases {
        assert_eq!(s.text(input), expected, "case {:?}", expected);
    }
}
