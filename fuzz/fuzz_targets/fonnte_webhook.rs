#![no_main]
//! Fonnte JSON webhook as `ingress::fonnte::receive` runs it after the URL secret: decode,
//! secret-key and device checks, then the parse into a provider-neutral event. Properties:
//! - with a secret key configured, a payload carrying no key field is refused (fail closed);
//! - without one, a payload with no `device` passes the checks;
//! - every message has an E.164 phone and a non-empty, stable dedup id (a redelivery
//!   of the same bytes gets the same id).
use std::sync::{Arc, OnceLock};

use balas::channels::fonnte::FonnteSecrets;
use balas::config::Keys;
use balas::crypto::{BlindIndex, Vault};
use balas::domain::{InboundEvent, TenantId};
use balas::ingress::fonnte::{Rejection, check_payload, check_url_secret, decode, parse};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use serde_json::Value;

/// The channel's device number in the seeds.
const ADDRESS: &str = "6281234567890";
const URL_SECRET: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "fuzz-secret-key";
/// The field names `ingress::fonnte` accepts Fonnte's secret key under.
const KEY_FIELDS: &[&str] = &["secret", "secret_key", "secretkey", "key"];

/// Fixed keys and tenant, so a crash reproduces byte for byte.
fn fixture() -> &'static (Keys, TenantId) {
    static FIXTURE: OnceLock<(Keys, TenantId)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SecretString::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string());
        let keys = Keys {
            vault: Arc::new(Vault::from_keys(&key).expect("a valid Fernet key")),
            index: Arc::new(BlindIndex::from_secret(&key).expect("32 bytes")),
            audit: Arc::new(balas::audit::AuditKeys::from_secret(&key).expect("32 bytes")),
        };
        let tenant = "01900000-0000-7000-8000-000000000000".parse().expect("a uuid");
        (keys, tenant)
    })
}

fn secrets(key: Option<&str>) -> FonnteSecrets {
    FonnteSecrets {
        token: SecretString::from("token".to_string()),
        webhook_secret: SecretString::from(URL_SECRET.to_string()),
        webhook_key: key.map(|k| SecretString::from(k.to_string())),
    }
}

fuzz_target!(|data: &[u8]| {
    let (keys, tenant) = fixture();
    let open = secrets(None);
    let keyed = secrets(Some(KEY));
    assert_eq!(check_url_secret(&open, URL_SECRET), Ok(()));
    assert_eq!(check_url_secret(&open, &URL_SECRET[1..]), Err(Rejection::WrongUrlSecret));

    let Ok(payload) = decode(data) else { return };

    let keyed_verdict = check_payload(&keyed, ADDRESS, &payload);
    let has_key_field = KEY_FIELDS.iter().any(|f| matches!(payload.get(*f), Some(Value::String(_) | Value::Number(_))));
    if !has_key_field {
        assert_eq!(keyed_verdict, Err(Rejection::WrongSecretKey), "a keyed channel accepted a payload with no key");
    }
    let open_verdict = check_payload(&open, ADDRESS, &payload);
    if payload.get("device").is_none() {
        assert_eq!(open_verdict, Ok(()), "no key configured and no device, yet refused");
    }

    // Parsed regardless of the verdict: the checks only gate it, and more code gets covered.
    let Ok(event) = parse(&payload, keys, *tenant) else { return };
    let _ = format!("{event:?}");
    if let InboundEvent::Message(m) = event {
        let phone = m.from.phone.as_ref().expect("a Fonnte message always has a phone");
        assert!(phone.expose().starts_with('+'));
        assert!(!m.provider_message_id.is_empty());
        let Ok(InboundEvent::Message(again)) = parse(&payload, keys, *tenant) else {
            panic!("the same payload parsed differently the second time")
        };
        assert_eq!(again.provider_message_id, m.provider_message_id, "dedup id is not stable");
    }
});
