//! `BALAS_AUDIT_KEY`: the HMAC keys that sign the audit chain, kept outside the database so
//! that whoever can write the database file still cannot forge a chain that verifies.
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Why `BALAS_AUDIT_KEY` was refused; never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("BALAS_AUDIT_KEY is empty: give at least one key")]
    Empty,
    #[error("BALAS_AUDIT_KEY entry {0} must be at least 32 bytes of URL-safe base64 (e.g. from `balas keys generate`)")]
    Malformed(usize),
}

/// One signing key and its public id.
pub struct AuditKey {
    /// HMAC state already keyed; cloned per row.
    mac: Hmac<Sha256>,
    id: String,
}

impl AuditKey {
    fn from_text(text: &str, position: usize) -> Result<Self, AuditKeyError> {
        let text = text.trim();
        let bytes = URL_SAFE
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| AuditKeyError::Malformed(position))?;
        if bytes.len() < 32 {
            return Err(AuditKeyError::Malformed(position));
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&bytes).map_err(|_| AuditKeyError::Malformed(position))?;
        // The id names the key in rows and heads without revealing it: 8 bytes of a keyed MAC.
        let mut id_mac = mac.clone();
        id_mac.update(b"balas-audit-key-id");
        let id = hex::encode(&id_mac.finalize().into_bytes()[..8]);
        Ok(Self { mac, id })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh HMAC state under this key.
    pub fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }
}

/// The configured keys: the first signs new rows, the rest only verify older ones.
pub struct AuditKeys {
    keys: Vec<AuditKey>,
}

impl AuditKeys {
    /// Comma-separated keys, newest first (like `BALAS_FERNET_KEYS`).
    pub fn from_secret(secret: &SecretString) -> Result<Self, AuditKeyError> {
        let keys = secret
            .expose_secret()
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .enumerate()
            .map(|(i, k)| AuditKey::from_text(k, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(AuditKeyError::Empty);
        }
        Ok(Self { keys })
    }

    pub fn signing(&self) -> &AuditKey {
        &self.keys[0]
    }

    pub fn find(&self, id: &str) -> Option<&AuditKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish()
    }
}

impl fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("AuditKeys").field("ids", &ids).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_signs_and_every_key_is_found_by_id() {
        let (a, b) = (crate::crypto::generate_key(), crate::crypto::generate_key());
        let keys = AuditKeys::from_secret(&format!("{a},{b}").into()).unwrap();
        let only_b = AuditKeys::from_secret(&b.into()).unwrap();
        assert_ne!(keys.signing().id(), only_b.signing().id());
        assert!(keys.find(only_b.signing().id()).is_some());
        assert_eq!(keys.signing().id().len(), 16);
        assert!(AuditKeys::from_secret(&"short".to_string().into()).is_err());
        assert!(AuditKeys::from_secret(&" , ".to_string().into()).is_err());
    }
}
