//! Secrets (credentials, API keys, passwords) that must never reach a log line or a response.
//!
//! A [`Secret`] prints as `***` in `Debug` and `Display`; code that needs the value calls
//! [`Secret::expose`], which makes every use greppable. [`Secret::fingerprint`] is what admin
//! views and logs may show instead: a short hash that tells two secrets apart without revealing
//! either.

use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first 8 hex digits of the SHA-256 of the value.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(&digest[..4])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "sk-very-secret");
        assert_eq!(s.fingerprint().len(), 8);
        assert_ne!(s.fingerprint(), Secret::new("sk-other").fingerprint());
    }
}
