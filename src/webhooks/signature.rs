//! Standard Webhooks `v1` signatures: HMAC-SHA256 over `id.timestamp.body` under the
//! endpoint's `whsec_` secret, as space-separated `v1,<base64>` entries (one per live secret).
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// Random bytes in a new secret: Svix's size, which base64 writes without padding.
const NEW_SECRET_BYTES: usize = 24;

/// An endpoint's signing secret, `whsec_<base64 of 24–64 bytes>`.
#[derive(Clone)]
pub struct Secret(SecretString);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is whsec_ and the base64 of 24 to 64 bytes")]
pub struct BadSecret;

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; NEW_SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{PREFIX}{}", STANDARD.encode(bytes)).into())
    }

    pub fn parse(text: &str) -> Result<Self, BadSecret> {
        let secret = Self(text.trim().to_string().into());
        let len = secret.key()?.len();
        if !(24..=64).contains(&len) {
            return Err(BadSecret);
        }
        Ok(secret)
    }

    /// The whole `whsec_…` text: shown to the owner once, stored encrypted.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn key(&self) -> Result<Vec<u8>, BadSecret> {
        let encoded = self.expose().strip_prefix(PREFIX).ok_or(BadSecret)?;
        STANDARD.decode(encoded).map_err(|_| BadSecret)
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()?).map_err(|_| BadSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

/// The `webhook-signature` header: one entry per secret, current first.
pub fn header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let entries = secrets.iter().map(|s| s.sign(id, timestamp, body)).collect::<Result<Vec<_>, _>>()?;
    Ok(entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the Standard Webhooks libraries' own tests (Python, then Rust).
    #[test]
    fn the_reference_vectors_sign_alike() {
        let python = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = python.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).unwrap();
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_ne!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=");
        let rust = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let signed = rust.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body).unwrap();
        assert_eq!(signed, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_space_separated() {
        let (new, old) = (Secret::generate(), Secret::generate());
        let both = header(&[new.clone(), old.clone()], "msg_1", 1, b"{}").unwrap();
        let entries: Vec<&str> = both.split(' ').collect();
        assert_eq!(entries, [new.sign("msg_1", 1, b"{}").unwrap(), old.sign("msg_1", 1, b"{}").unwrap()]);
    }

    #[test]
    fn secrets_are_whsec_with_24_to_64_bytes() {
        let fresh = Secret::generate();
        assert!(fresh.expose().starts_with("whsec_") && !fresh.expose().ends_with('='));
        assert!(Secret::parse(fresh.expose()).is_ok());
        assert_eq!(Secret::parse("whsec_c2hvcnQ=").err(), Some(BadSecret));
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").err(), Some(BadSecret));
        assert!(!format!("{fresh:?}").contains(&fresh.expose()[6..]));
    }
}
