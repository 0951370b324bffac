//! Media at rest: XChaCha20-Poly1305 in the STREAM construction (64 KiB segments, each
//! authenticated, the last one marked), keyed from the contact's data key. Fernet would need
//! the whole file in memory and base64 would grow it by a third; STREAM encrypts as the bytes
//! arrive, detects reordering and truncation, and keeps memory to one segment.
//! The object's path is the associated data of its header check, so an object moved under
//! another row does not open.
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::crypto::{CryptoError, DataKey};

/// Plaintext bytes per segment; each sealed segment is 16 bytes longer (its tag).
pub const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
/// Format tag and the 19-byte nonce prefix of XChaCha20 STREAM (24 − 5 bytes of counter).
const MAGIC: &[u8; 4] = b"BLM1";
const NONCE_PREFIX: usize = 19;
pub const HEADER: usize = MAGIC.len() + NONCE_PREFIX;

const CIPHER_PURPOSE: &str = "balas/media/cipher/v1";
const DEDUP_PURPOSE: &str = "balas/media/dedup/v1";

fn cipher(key: &DataKey) -> Result<XChaCha20Poly1305, CryptoError> {
    Ok(XChaCha20Poly1305::new(Key::from_slice(&key.derive(CIPHER_PURPOSE)?)))
}

/// The keyed hash that finds the same file sent twice by one contact; another contact's key
/// gives another hash, so nothing links files across contacts.
pub fn dedup_hasher(key: &DataKey) -> Result<Hmac<Sha256>, CryptoError> {
    <Hmac<Sha256> as Mac>::new_from_slice(&key.derive(DEDUP_PURPOSE)?).map_err(|_| CryptoError::Undecryptable)
}

/// Encrypts a stream: `push` plaintext as it arrives, `finish` for the last segment.
pub struct Sealer {
    encryptor: Option<EncryptorBE32<XChaCha20Poly1305>>,
    pending: Vec<u8>,
    aad: Vec<u8>,
}

impl Sealer {
    /// The sealer and the header to write first.
    pub fn new(key: &DataKey, path: &str) -> Result<(Self, Vec<u8>), CryptoError> {
        let mut prefix = [0u8; NONCE_PREFIX];
        rand::rng().fill_bytes(&mut prefix);
        let encryptor = EncryptorBE32::from_aead(cipher(key)?, prefix.as_slice().into());
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        let sealer =
            Self { encryptor: Some(encryptor), pending: Vec::with_capacity(SEGMENT), aad: path.as_bytes().to_vec() };
        Ok((sealer, header))
    }

    /// Sealed segments ready to write (empty until a whole segment and one more byte arrived:
    /// the last segment must stay behind for `finish`).
    pub fn push(&mut self, mut plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::new();
        while !plain.is_empty() {
            if self.pending.len() == SEGMENT {
                let encryptor = self.encryptor.as_mut().ok_or(CryptoError::Undecryptable)?;
                let sealed = encryptor
                    .encrypt_next(Payload { msg: &self.pending, aad: &self.aad })
                    .map_err(|_| CryptoError::Undecryptable)?;
                out.extend_from_slice(&sealed);
                self.pending.clear();
            }
            let take = (SEGMENT - self.pending.len()).min(plain.len());
            self.pending.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
        }
        Ok(out)
    }

    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let encryptor = self.encryptor.take().ok_or(CryptoError::Undecryptable)?;
        encryptor.encrypt_last(Payload { msg: &self.pending, aad: &self.aad }).map_err(|_| CryptoError::Undecryptable)
    }
}

/// Decrypts a stream sealed by `Sealer`: `push` ciphertext as read, `finish` at its end. Any
/// tampering, truncation or wrong key fails.
pub struct Opener {
    decryptor: Option<DecryptorBE32<XChaCha20Poly1305>>,
    key: [u8; 32],
    pending: Vec<u8>,
    aad: Vec<u8>,
}

impl Opener {
    pub fn new(key: &DataKey, path: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            decryptor: None,
            key: key.derive(CIPHER_PURPOSE)?,
            pending: Vec::new(),
            aad: path.as_bytes().to_vec(),
        })
    }

    pub fn push(&mut self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pending.extend_from_slice(sealed);
        let mut out = Vec::new();
        if self.decryptor.is_none() {
            if self.pending.len() < HEADER {
                return Ok(out);
            }
            if &self.pending[..MAGIC.len()] != MAGIC {
                return Err(CryptoError::Undecryptable);
            }
            let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.key));
            let prefix = &self.pending[MAGIC.len()..HEADER];
            self.decryptor = Some(DecryptorBE32::from_aead(cipher, prefix.into()));
            self.pending.drain(..HEADER);
        }
        // A full segment is surely not the last while more bytes follow it.
        while self.pending.len() > SEGMENT + TAG {
            let decryptor = self.decryptor.as_mut().ok_or(CryptoError::Undecryptable)?;
            let plain = decryptor
                .decrypt_next(Payload { msg: &self.pending[..SEGMENT + TAG], aad: &self.aad })
                .map_err(|_| CryptoError::Undecryptable)?;
            out.extend_from_slice(&plain);
            self.pending.drain(..SEGMENT + TAG);
        }
        Ok(out)
    }

    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let decryptor = self.decryptor.take().ok_or(CryptoError::Undecryptable)?;
        decryptor.decrypt_last(Payload { msg: &self.pending, aad: &self.aad }).map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Vault, generate_key};

    fn keys() -> (DataKey, DataKey) {
        let vault = Vault::from_keys(&generate_key().into()).unwrap();
        (vault.new_data_key().unwrap().0, vault.new_data_key().unwrap().0)
    }

    fn seal(key: &DataKey, path: &str, plain: &[u8], piece: usize) -> Vec<u8> {
        let (mut sealer, mut out) = Sealer::new(key, path).unwrap();
        for chunk in plain.chunks(piece.max(1)) {
            out.extend(sealer.push(chunk).unwrap());
        }
        out.extend(sealer.finish().unwrap());
        out
    }

    fn open(key: &DataKey, path: &str, sealed: &[u8], piece: usize) -> Result<Vec<u8>, CryptoError> {
        let mut opener = Opener::new(key, path)?;
        let mut out = Vec::new();
        for chunk in sealed.chunks(piece.max(1)) {
            out.extend(opener.push(chunk)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_segment_boundary_and_read_size() {
        let (key, _) = keys();
        for len in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 7] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, SEGMENT, 100_000] {
                let sealed = seal(&key, "p", &plain, piece);
                let segments = len.div_ceil(SEGMENT).max(1);
                assert_eq!(sealed.len(), HEADER + len + TAG * segments);
                assert_eq!(open(&key, "p", &sealed, piece / 3 + 1).unwrap(), plain, "len {len} piece {piece}");
            }
        }
    }

    #[test]
    fn a_wrong_key_path_truncation_or_flipped_byte_does_not_open() {
        let (key, other) = keys();
        let plain = vec![7u8; 2 * SEGMENT + 10];
        let sealed = seal(&key, "t/c/1", &plain, 4096);
        assert!(open(&other, "t/c/1", &sealed, 4096).is_err());
        assert!(open(&key, "t/c/2", &sealed, 4096).is_err());
        assert!(open(&key, "t/c/1", &sealed[..sealed.len() - 1], 4096).is_err());
        assert!(open(&key, "t/c/1", &sealed[..HEADER + SEGMENT + TAG], 4096).is_err(), "a cut at a segment end");
        let mut flipped = sealed.clone();
        flipped[HEADER + 5] ^= 1;
        assert!(open(&key, "t/c/1", &flipped, 4096).is_err());
        assert!(!sealed.windows(64).any(|w| w == &plain[..64]), "no plaintext run survives");
    }
}
