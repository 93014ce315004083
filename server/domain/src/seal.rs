//! Sealing secrets at rest with AES-256-GCM.
//!
//! A sealed value is text: `<key id>:<nonce>:<ciphertext>`, the last two in base64. The key
//! id (the first eight hex digits of the key's SHA-256) lets a later key rotation tell which
//! key sealed a value. Every value gets a fresh random nonce, so sealing the same secret
//! twice gives two different texts.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Seals and opens secrets with one 32-byte key.
pub struct Sealer {
    cipher: Aes256Gcm,
    key_id: String,
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the value is not in sealed form")]
    Malformed,
    #[error("the value was sealed with key {0}, not the configured key")]
    WrongKey(String),
    #[error("the value does not decrypt with the configured key")]
    Corrupt,
}

impl Sealer {
    /// A sealer for this key.
    pub fn new(key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        Self { cipher: Aes256Gcm::new(key.into()), key_id: hex::encode(&digest[..4]) }
    }

    /// The id stored beside each value this sealer seals.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Encrypts `plain` under a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        format!("{}:{}:{}", self.key_id, BASE64.encode(nonce), BASE64.encode(ciphertext))
    }

    /// Decrypts a value this sealer (or one with the same key) sealed.
    pub fn open(&self, sealed: &str) -> Result<Secret, SealError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(key_id), Some(nonce), Some(ciphertext)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        if key_id != self.key_id {
            return Err(SealError::WrongKey(key_id.to_owned()));
        }
        let nonce = BASE64.decode(nonce).map_err(|_| SealError::Malformed)?;
        let ciphertext = BASE64.decode(ciphertext).map_err(|_| SealError::Malformed)?;
        if nonce.len() != 12 {
            return Err(SealError::Malformed);
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map(Secret).map_err(|_| SealError::Corrupt)
    }
}

/// A secret in the clear, in memory only. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for "set, ending in …" hints.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&[byte; 32])
    }

    #[test]
    fn sealed_value_opens_to_the_original() {
        let sealer = sealer(7);
        let sealed = sealer.seal("sk-ant-secret");
        assert_eq!(sealer.open(&sealed).unwrap().expose(), "sk-ant-secret");
    }

    #[test]
    fn sealed_value_does_not_contain_the_secret_and_differs_each_time() {
        let sealer = sealer(7);
        let (a, b) = (sealer.seal("sk-ant-secret"), sealer.seal("sk-ant-secret"));
        assert!(!a.contains("secret"), "ciphertext leaks the plain text: {a}");
        assert_ne!(a, b, "two seals of one value must use different nonces");
        assert!(a.starts_with(sealer.key_id()), "the key id leads the sealed value");
    }

    #[test]
    fn another_key_cannot_open_a_sealed_value() {
        let sealed = sealer(1).seal("token");
        assert!(matches!(sealer(2).open(&sealed), Err(SealError::WrongKey(_))));
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let sealer = sealer(3);
        let mut sealed = sealer.seal("token");
        let last = sealed.pop().unwrap();
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(sealer.open(&sealed).is_err(), "a changed ciphertext must not open");
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("ghp_abcdef1234");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(…) …");
        assert_eq!(secret.hint(), "1234");
    }
}
