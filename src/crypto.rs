//! Envelope encryption with standard Fernet tokens, and HMAC blind indexes.
//!
//! Master keys (`BALAS_FERNET_KEYS`, first one encrypts) wrap per-tenant and per-contact data
//! keys; data keys encrypt content. Rotating a master key re-wraps data keys only, and
//! destroying a contact's wrapped key makes its messages unreadable (crypto-shredding).
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernet::{Fernet, MultiFernet};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::domain::{Bsuid, Phone, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0} is empty: give at least one key")]
    NoKeys(&'static str),
    #[error("{var} entry {position} is not a Fernet key (32 bytes, URL-safe base64)")]
    BadFernetKey { var: &'static str, position: usize },
    #[error("BALAS_INDEX_KEY must be at least 32 bytes of URL-safe base64 (e.g. from `balas keys generate`)")]
    BadIndexKey,
    #[error("a stored token could not be decrypted with the configured keys")]
    Undecryptable,
    #[error("decrypted content is not valid UTF-8")]
    NotUtf8,
}

/// rustls needs one process-wide crypto provider; we use ring everywhere. Idempotent: every
/// TLS user (HTTP clients, SMTP, error reports) calls it before building a client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The master keys. Cheap to share behind an `Arc`.
pub struct Vault {
    master: MultiFernet,
    /// The first key alone: what new wrapping uses, and what rotation checks against.
    primary: Fernet,
}

impl Vault {
    /// Parses a comma-separated key list; the first key encrypts, all keys decrypt.
    pub fn from_keys(keys: &SecretString) -> Result<Self, CryptoError> {
        let fernets = parse_fernet_list(keys.expose_secret(), "BALAS_FERNET_KEYS")?;
        let primary = fernets.first().cloned().ok_or(CryptoError::NoKeys("BALAS_FERNET_KEYS"))?;
        Ok(Self { master: MultiFernet::new(fernets), primary })
    }

    /// A vault holding the primary key only: proof that older keys are no longer needed.
    pub fn primary_only(&self) -> Self {
        Self { master: MultiFernet::new(vec![self.primary.clone()]), primary: self.primary.clone() }
    }

    /// The wrapped key re-wrapped under the primary key, or `None` when it already is.
    pub fn rewrap(&self, wrapped: &str) -> Result<Option<String>, CryptoError> {
        if self.primary.decrypt(wrapped).is_ok() {
            return Ok(None);
        }
        let raw = self.master.decrypt(wrapped).map_err(|_| CryptoError::Undecryptable)?;
        Ok(Some(self.primary.encrypt(&raw)))
    }

    /// A fresh data key and its wrapped form, which is what gets stored.
    pub fn new_data_key(&self) -> Result<(DataKey, String), CryptoError> {
        let raw = Fernet::generate_key();
        let key = DataKey::new(&raw)?;
        Ok((key, self.master.encrypt(raw.as_bytes())))
    }

    pub fn unwrap_key(&self, wrapped: &str) -> Result<DataKey, CryptoError> {
        let raw = self.master.decrypt(wrapped).map_err(|_| CryptoError::Undecryptable)?;
        let raw = String::from_utf8(raw).map_err(|_| CryptoError::NotUtf8)?;
        DataKey::new(&raw)
    }
}

/// One data key: encrypts the content of one contact or one tenant. Besides Fernet for text,
/// it derives the keys of media (`derive`), so destroying it shreds both.
pub struct DataKey {
    fernet: Fernet,
    raw: SecretString,
}

impl DataKey {
    fn new(raw: &str) -> Result<Self, CryptoError> {
        let fernet = Fernet::new(raw).ok_or(CryptoError::Undecryptable)?;
        Ok(Self { fernet, raw: SecretString::from(raw.to_string()) })
    }

    /// A 32-byte key for one `purpose`, by HKDF-SHA256 from this data key.
    pub fn derive(&self, purpose: &str) -> Result<[u8; 32], CryptoError> {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"balas data key"), self.raw.expose_secret().as_bytes());
        let mut out = [0u8; 32];
        hk.expand(purpose.as_bytes(), &mut out).map_err(|_| CryptoError::Undecryptable)?;
        Ok(out)
    }

    pub fn encrypt(&self, plain: &str) -> String {
        self.fernet.encrypt(plain.as_bytes())
    }

    pub fn decrypt(&self, token: &str) -> Result<String, CryptoError> {
        let bytes = self.fernet.decrypt(token).map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::NotUtf8)
    }

    pub fn encrypt_opt(&self, plain: Option<&str>) -> Option<String> {
        plain.map(|p| self.encrypt(p))
    }

    pub fn decrypt_opt(&self, token: Option<&str>) -> Result<Option<String>, CryptoError> {
        token.map(|t| self.decrypt(t)).transpose()
    }
}

fn parse_fernet_list(list: &str, var: &'static str) -> Result<Vec<Fernet>, CryptoError> {
    let keys: Vec<Fernet> = list
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        .map(|(i, k)| Fernet::new(k).ok_or(CryptoError::BadFernetKey { var, position: i + 1 }))
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err(CryptoError::NoKeys(var));
    }
    Ok(keys)
}

/// 128 random bits as 32 hex digits: verify tokens and URL secrets, safe in any URL.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new random Fernet key, URL-safe base64; also valid as a `BALAS_INDEX_KEY`.
pub fn generate_key() -> String {
    Fernet::generate_key()
}

/// Keyed HMAC-SHA256 over normalised identifiers, so contacts can be found without storing
/// a phone number or BSUID in plaintext. The tenant id is mixed in: the same phone number
/// gives unrelated index values in two tenants.
pub struct BlindIndex {
    /// HMAC state already keyed; cloned per computation.
    mac: Hmac<Sha256>,
}

impl BlindIndex {
    pub fn from_secret(secret: &SecretString) -> Result<Self, CryptoError> {
        let text = secret.expose_secret().trim();
        let bytes =
            URL_SAFE.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text)).map_err(|_| CryptoError::BadIndexKey)?;
        if bytes.len() < 32 {
            return Err(CryptoError::BadIndexKey);
        }
        let key = SecretBox::new(Box::new(bytes));
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret()).map_err(|_| CryptoError::BadIndexKey)?;
        Ok(Self { mac })
    }

    pub fn phone(&self, tenant: TenantId, phone: &Phone) -> Vec<u8> {
        self.compute(tenant, "phone", phone.expose())
    }

    pub fn bsuid(&self, tenant: TenantId, bsuid: &Bsuid) -> Vec<u8> {
        self.compute(tenant, "bsuid", bsuid.expose())
    }

    /// A user's login e-mail, case-insensitive.
    pub fn email(&self, tenant: TenantId, email: &str) -> Vec<u8> {
        self.compute(tenant, "email", &email.trim().to_lowercase())
    }

    /// A WhatsApp group id, so a group's conversation is found without storing the id in clear.
    pub fn group(&self, tenant: TenantId, group: &str) -> Vec<u8> {
        self.compute(tenant, "group", group.trim())
    }

    /// A keyed deduplication key for a provider that gives no message id.
    pub fn dedup_key(&self, tenant: TenantId, provider: &str, material: &str) -> Vec<u8> {
        self.compute(tenant, &format!("dedup:{provider}"), material)
    }

    /// The signature of an owner's button: binds the tap to one tenant (and what `material` names).
    pub fn button(&self, tenant: TenantId, material: &str) -> Vec<u8> {
        self.compute(tenant, "button", material)
    }

    /// The signature of a short-lived link to a stored file (what `material` names: the file and expiry).
    pub fn media_link(&self, tenant: TenantId, material: &str) -> Vec<u8> {
        self.compute(tenant, "media_link", material)
    }

    /// A login-limit key (`scope` names what `material` is), so the shared attempt table holds
    /// no e-mail or client address. It belongs to no tenant: logins are limited before one is known.
    pub fn login_limit(&self, scope: &str, material: &str) -> Vec<u8> {
        self.compute(TenantId(uuid::Uuid::nil()), &format!("login:{scope}"), material)
    }

    fn compute(&self, tenant: TenantId, kind: &str, value: &str) -> Vec<u8> {
        let mut mac = self.mac.clone();
        // Length-prefixed fields keep ("a","bc") and ("ab","c") apart.
        for part in [tenant.0.as_bytes().as_slice(), kind.as_bytes(), value.as_bytes()] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(keys: &str) -> Vault {
        Vault::from_keys(&SecretString::from(keys.to_string())).unwrap()
    }

    #[test]
    fn data_key_round_trip_and_wrapping() {
        let v = vault(&generate_key());
        let (key, wrapped) = v.new_data_key().unwrap();
        let token = key.encrypt("Halo, kak");
        assert!(!token.contains("Halo"));
        let again = v.unwrap_key(&wrapped).unwrap();
        assert_eq!(again.decrypt(&token).unwrap(), "Halo, kak");
    }

    #[test]
    fn old_master_key_still_unwraps_after_a_new_primary_is_added() {
        let old = generate_key();
        let before = vault(&old);
        let (key, wrapped) = before.new_data_key().unwrap();
        let token = key.encrypt("pesanan");
        let after = vault(&format!("{},{}", generate_key(), old));
        assert_eq!(after.unwrap_key(&wrapped).unwrap().decrypt(&token).unwrap(), "pesanan");
        let without_old = vault(&generate_key());
        assert!(without_old.unwrap_key(&wrapped).is_err());
    }

    #[test]
    fn rewrap_moves_a_key_to_the_primary_and_leaves_current_ones() {
        let old = generate_key();
        let (key, wrapped) = vault(&old).new_data_key().unwrap();
        let token = key.encrypt("pesanan");
        let both = vault(&format!("{},{}", generate_key(), old));
        let rewrapped = both.rewrap(&wrapped).unwrap().expect("wrapped under the old key");
        assert_eq!(both.rewrap(&rewrapped).unwrap(), None, "already current");
        let new_alone = both.primary_only();
        assert_eq!(new_alone.unwrap_key(&rewrapped).unwrap().decrypt(&token).unwrap(), "pesanan");
        assert!(new_alone.unwrap_key(&wrapped).is_err(), "the old wrapping needs the old key");
        assert!(vault(&generate_key()).rewrap(&wrapped).is_err());
    }

    #[test]
    fn bad_key_lists_are_named() {
        let err = Vault::from_keys(&SecretString::from(format!("{},nope", generate_key()))).err().unwrap();
        assert!(err.to_string().contains("entry 2"), "{err}");
        assert!(Vault::from_keys(&SecretString::from(" , ".to_string())).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_tenant_scoped() {
        let a = BlindIndex::from_secret(&SecretString::from(generate_key())).unwrap();
        let b = BlindIndex::from_secret(&SecretString::from(generate_key())).unwrap();
        let phone = Phone::parse("+6281234567890").unwrap();
        let t1 = TenantId::new();
        let t2 = TenantId::new();
        assert_eq!(a.phone(t1, &phone), a.phone(t1, &Phone::parse("0812 3456 7890").unwrap()));
        assert_ne!(a.phone(t1, &phone), a.phone(t2, &phone));
        assert_ne!(a.phone(t1, &phone), b.phone(t1, &phone));
        assert!(BlindIndex::from_secret(&SecretString::from("short".to_string())).is_err());
    }
}
