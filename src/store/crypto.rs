//! Seals credentials and channel state for storage, and opens them again.
//!
//! A *sealed* value is `enc:v1:` followed by the standard base64 of a 24-byte random nonce and
//! the XChaCha20-Poly1305 ciphertext (with its 16-byte tag) of the UTF-8 value. The 256-bit key
//! is the SHA-256 of a fixed domain label and the configured `secret_key`. XChaCha's 192-bit
//! nonce makes random nonces safe for any number of values under one key.
//!
//! Without `secret_key` the [`Cipher`] is *plain*: values are stored as they are, and reading a
//! sealed value fails ([`OpenError::NoKey`]). With a key, a value that is not sealed is read as
//! plain text (it was stored before the key was configured) and is sealed on its next write.
//!
//! A plain value that itself starts with `enc:v1:` cannot be told from a sealed one; no
//! credential format the channels take starts that way.
//!
//! The key derivation is one hash, not a password hash: `secret_key` must be a random string of
//! at least 32 characters, not a word a person chose (`docs/store.md`).
//!
//! Allocation: sealing and opening allocate the output string and one buffer; they run on admin
//! and start-up paths only.

use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;

/// What every sealed value starts with.
const SEALED: &str = "enc:v1:";
/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Hashed before the configured key, so the derived key serves this purpose only.
const DOMAIN: &[u8] = b"orchids2api store secret_key v1\0";

/// Seals and opens stored secrets; plain when no `secret_key` is configured.
#[derive(Clone)]
pub struct Cipher {
    aead: Option<XChaCha20Poly1305>,
}

/// Why a stored value could not be opened. Never carries the value; the text follows the
/// field's name ("field credential is malformed").
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Occurs when a sealed value is read and no `secret_key` is configured.
    #[error("is encrypted and no secret_key is configured")]
    NoKey,
    /// Occurs when the tag does not verify: another `secret_key` sealed it, or it was altered.
    #[error("does not decrypt with the configured secret_key (another key sealed it, or it was altered)")]
    WrongKey,
    /// Occurs when the text after `enc:v1:` is not base64 of a nonce and a ciphertext, or the
    /// plaintext is not UTF-8.
    #[error("is malformed")]
    Malformed,
}

impl Cipher {
    /// A cipher keyed by `secret_key`, or a plain one for `None`.
    pub fn new(secret_key: Option<&Secret>) -> Cipher {
        let aead = secret_key.map(|secret| {
            let digest =
                Sha256::new().chain_update(DOMAIN).chain_update(secret.expose().as_bytes()).finalize();
            XChaCha20Poly1305::new(Key::from_slice(&digest))
        });
        Cipher { aead }
    }

    /// A cipher that stores values as they are.
    pub fn plain() -> Cipher {
        Cipher { aead: None }
    }

    pub fn is_sealing(&self) -> bool {
        self.aead.is_some()
    }

    /// The stored form of `value`: sealed with a fresh nonce, or the value itself when plain.
    pub fn seal(&self, value: &Secret) -> String {
        let Some(aead) = &self.aead else {
            return value.expose().to_string();
        };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for plaintexts longer than 256 GiB.
        let ciphertext =
            aead.encrypt(&nonce, value.expose().as_bytes()).expect("a stored secret is far below 256 GiB");
        let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        let mut out = String::with_capacity(SEALED.len() + raw.len().div_ceil(3) * 4);
        out.push_str(SEALED);
        BASE64.encode_string(&raw, &mut out);
        out
    }

    /// The value a stored string holds.
    pub fn open(&self, stored: &str) -> Result<Secret, OpenError> {
        let Some(body) = stored.strip_prefix(SEALED) else {
            return Ok(Secret::new(stored));
        };
        let aead = self.aead.as_ref().ok_or(OpenError::NoKey)?;
        let raw = BASE64.decode(body).map_err(|_| OpenError::Malformed)?;
        if raw.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = aead.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| OpenError::Malformed)
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher").field("sealing", &self.is_sealing()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(key: &str) -> Cipher {
        Cipher::new(Some(&Secret::new(key)))
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let value = Secret::new("sk-ant-very-secret");
        let sealed = keyed("k1-0123456789abcdef0123456789abcdef").seal(&value);
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("very-secret"));
        assert_eq!(keyed("k1-0123456789abcdef0123456789abcdef").open(&sealed), Ok(value));
        assert_eq!(keyed("k2-0123456789abcdef0123456789abcdef").open(&sealed), Err(OpenError::WrongKey));
        assert_eq!(Cipher::plain().open(&sealed), Err(OpenError::NoKey));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let cipher = keyed("k");
        let value = Secret::new("same");
        assert_ne!(cipher.seal(&value), cipher.seal(&value));
    }

    #[test]
    fn the_plain_cipher_stores_values_as_they_are() {
        let value = Secret::new("cookie=abc");
        assert_eq!(Cipher::plain().seal(&value), "cookie=abc");
        assert_eq!(Cipher::plain().open("cookie=abc"), Ok(value.clone()));
        // Written before a key was configured: still readable with one.
        assert_eq!(keyed("k").open("cookie=abc"), Ok(value));
    }

    #[test]
    fn altered_or_malformed_values_do_not_open() {
        let cipher = keyed("k");
        let sealed = cipher.seal(&Secret::new("value"));
        let mut raw = BASE64.decode(&sealed[SEALED.len()..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let altered = format!("{SEALED}{}", BASE64.encode(&raw));
        assert_eq!(cipher.open(&altered), Err(OpenError::WrongKey));
        assert_eq!(cipher.open("enc:v1:not base64!"), Err(OpenError::Malformed));
        assert_eq!(cipher.open("enc:v1:AAAA"), Err(OpenError::Malformed));
    }

    #[test]
    fn empty_values_round_trip() {
        let cipher = keyed("k");
        assert_eq!(cipher.open(&cipher.seal(&Secret::new(""))), Ok(Secret::new("")));
    }

    #[test]
    fn debug_shows_no_key() {
        assert_eq!(format!("{:?}", keyed("k")), "Cipher { sealing: true }");
    }
}
