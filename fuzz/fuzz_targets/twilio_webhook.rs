#![no_main]
//! Twilio form webhook as `ingress::twilio::receive` runs it: form parse, `X-Twilio-Signature`
//! verdict (form and JSON-body variants), then the parse into a provider-neutral event.
//! Properties, not only "no panic":
//! - the production `signature` equals an independent HMAC-SHA1 reference;
//! - that signature always verifies; one flipped bit in it never does;
//! - a body whose signed material changed never verifies under the old signature (bodies
//!   decoding to the same sorted name+value string may: Twilio signs that string, undelimited);
//! - the JSON-body variant verifies with the right `bodySHA256`, not after the body changed.
//!
//! Input: 2 bytes flip position (LE), 1 byte flip bit, then `token \n url \n header \n body`.
use balas::domain::InboundEvent;
use balas::ingress::twilio::{form_params, parse, signature, verify_request};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Twilio's documented scheme: URL, then each name and value sorted by name (then value).
fn reference(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in &sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The request's own query, as axum's `uri.query()` gives it (no fragment on the wire).
fn query_of(url: &str) -> Option<&str> {
    url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or(q))
}

/// What Twilio signs after the URL: every name and value, sorted, with no delimiters.
fn signed_material(params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    sorted.into_iter().map(|(k, v)| k + &v).collect()
}

fn flip_signature(sig: &str, at: usize, mask: u8) -> String {
    let mut raw = STANDARD.decode(sig).expect("our own base64");
    let i = at % raw.len();
    raw[i] ^= mask;
    STANDARD.encode(raw)
}

fn run(data: &[u8]) -> Option<()> {
    let (control, rest) = data.split_at_checked(3)?;
    let flip_at = usize::from(u16::from_le_bytes([control[0], control[1]]));
    let mask = 1u8 << (control[2] % 8);
    let mut parts = rest.splitn(4, |b| *b == b'\n');
    let token = std::str::from_utf8(parts.next()?).ok()?;
    let url = std::str::from_utf8(parts.next()?).ok()?;
    // Production reads the header with `to_str`, so it is text or absent.
    let header = std::str::from_utf8(parts.next()?).ok();
    let body = parts.next().unwrap_or_default();
    let query = query_of(url);

    let params = form_params(body);
    if let Ok(InboundEvent::Message(m)) = parse(&params) {
        let phone = m.from.phone.as_ref().expect("a Twilio message always has a phone");
        assert!(phone.expose().starts_with('+'));
        let _ = format!("{m:?}");
    }

    // Arbitrary header: any verdict, no panic.
    let _ = verify_request(token, url, query, body, &params, header);
    assert_eq!(verify_request(token, url, query, body, &params, None), Err("missing"));

    // The correct signature always verifies; a flipped bit never does.
    let good = reference(token, url, &params);
    assert_eq!(signature(token, url, &params), good, "production signature differs from the reference");
    assert_eq!(
        verify_request(token, url, query, body, &params, Some(&good)),
        Ok(()),
        "a correct signature was refused"
    );
    let flipped = flip_signature(&good, flip_at, mask);
    assert!(verify_request(token, url, query, body, &params, Some(&flipped)).is_err(), "a flipped signature verified");

    // A body whose parameters changed does not verify under the old signature.
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        tampered[flip_at % body.len()] ^= mask;
        let changed = form_params(&tampered);
        if signed_material(&changed) != signed_material(&params) {
            assert!(
                verify_request(token, url, query, &tampered, &changed, Some(&good)).is_err(),
                "a tampered form verified"
            );
        }
    }

    // JSON-body variant: the URL carries the body's SHA-256, the signature covers the URL only.
    let digest = hex::encode(Sha256::digest(body));
    let signed_url = format!("{url}{}bodySHA256={digest}", if url.contains('?') { '&' } else { '?' });
    let declared = url::Url::parse(&signed_url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned()));
    if declared.as_deref() == Some(digest.as_str()) && !signed_url.contains('#') {
        let sig = reference(token, &signed_url, &[]);
        let q = query_of(&signed_url);
        assert_eq!(
            verify_request(token, &signed_url, q, body, &params, Some(&sig)),
            Ok(()),
            "JSON-body variant refused"
        );
        if !body.is_empty() {
            let mut tampered = body.to_vec();
            tampered[flip_at % body.len()] ^= mask;
            let changed = form_params(&tampered);
            // A form with nothing to sign (empty, or `=`) matches a URL-only signature by design.
            if !signed_material(&changed).is_empty() {
                assert!(
                    verify_request(token, &signed_url, q, &tampered, &changed, Some(&sig)).is_err(),
                    "a tampered JSON body verified"
                );
            }
        }
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
