#![no_main]
//! `X-Hub-Signature-256` as `ingress::meta::verify_signature` checks it, on arbitrary secret,
//! header and body bytes. Properties, not only "no panic":
//! - an arbitrary header verifies only if it is `sha256=` + the true HMAC (no forgery);
//! - the signature computed here (independent HMAC-SHA256) always verifies;
//! - one flipped bit in the digest or in the body never verifies.
//!
//! Input: 2 bytes flip position (LE), 1 byte flip bit, then `secret \n header \n body`.
use balas::ingress::meta::{SignatureError, verify_signature};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const HEADER: &str = "x-hub-signature-256";

fn headers(value: &[u8]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    map.insert(HEADER, HeaderValue::from_bytes(value).ok()?);
    Some(map)
}

fn reference(secret: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn run(data: &[u8]) -> Option<()> {
    let (control, rest) = data.split_at_checked(3)?;
    let flip_at = usize::from(u16::from_le_bytes([control[0], control[1]]));
    let flip_bit = control[2];
    let mut parts = rest.splitn(3, |b| *b == b'\n');
    let secret = std::str::from_utf8(parts.next()?).ok()?;
    let header = parts.next()?;
    let body = parts.next().unwrap_or_default();
    let mask = 1u8 << (flip_bit % 8);
    let truth = reference(secret, body);

    // No header at all is "missing", whatever the body.
    assert_eq!(verify_signature(secret, &HeaderMap::new(), body), Err(SignatureError::Missing));

    // Arbitrary header bytes: no panic, and acceptance implies the header carries the true digest.
    if let Some(map) = headers(header)
        && verify_signature(secret, &map, body).is_ok()
    {
        let text = std::str::from_utf8(header).expect("an accepted header is text");
        let digest = text.strip_prefix("sha256=").expect("an accepted header has the prefix");
        assert_eq!(hex::decode(digest.trim()).ok().as_deref(), Some(&truth[..]), "forged signature accepted");
    }

    // The correct signature always verifies.
    let good = format!("sha256={}", hex::encode(truth));
    let map = headers(good.as_bytes()).expect("hex is a valid header value");
    assert_eq!(verify_signature(secret, &map, body), Ok(()), "a correct signature was refused");

    // One flipped bit in the digest never verifies.
    let mut wrong = truth;
    wrong[flip_at % wrong.len()] ^= mask;
    let map = headers(format!("sha256={}", hex::encode(wrong)).as_bytes()).expect("hex header");
    assert_eq!(verify_signature(secret, &map, body), Err(SignatureError::Mismatch), "a flipped digest verified");

    // One flipped bit in the body never verifies against the original signature.
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        tampered[flip_at % body.len()] ^= mask;
        let map = headers(good.as_bytes()).expect("hex header");
        assert_eq!(
            verify_signature(secret, &map, &tampered),
            Err(SignatureError::Mismatch),
            "a tampered body verified"
        );
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
