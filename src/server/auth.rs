//! Client authentication: the API key from `Authorization: Bearer`, `x-api-key` or `api-key`,
//! checked against the configured keys, which are held only as SHA-256 hashes.
//!
//! Every model endpoint needs a key unless the operator set `auth = "none"` (logged at start-up).

use crate::config::{ApiKeySeed, AuthMode};
use crate::dialect::ApiError;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// A client key's identity and policy.
#[derive(Debug)]
pub struct ClientKey {
    pub name: String,
    /// Model ids this key may use; empty = all.
    pub models: Vec<String>,
}

impl ClientKey {
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}

pub struct KeySet {
    mode: AuthMode,
    by_hash: HashMap<[u8; 32], Arc<ClientKey>>,
}

impl KeySet {
    pub fn new(mode: AuthMode, seeds: &[ApiKeySeed]) -> KeySet {
        let by_hash = seeds
            .iter()
            .map(|s| {
                (hash(s.key.expose()), Arc::new(ClientKey { name: s.name.clone(), models: s.models.clone() }))
            })
            .collect();
        KeySet { mode, by_hash }
    }

    /// The caller's key, `None` when authentication is off, or a 401 in waiting.
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<Arc<ClientKey>>, ApiError> {
        if self.mode == AuthMode::None {
            return Ok(None);
        }
        let mut presented = false;
        for candidate in presented_keys(headers) {
            presented = true;
            if let Some(key) = self.by_hash.get(&hash(candidate)) {
                return Ok(Some(key.clone()));
            }
        }
        Err(if presented { ApiError::invalid_key() } else { ApiError::missing_key() })
    }
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Every key the request carries, in the order the headers are tried.
fn presented_keys(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers.get_all(http::header::AUTHORIZATION).iter().filter_map(|v| {
        let v = v.to_str().ok()?.trim();
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let plain = ["x-api-key", "api-key"]
        .into_iter()
        .flat_map(|name| headers.get_all(name).iter())
        .filter_map(|v| v.to_str().ok().map(str::trim));
    bearer.chain(plain).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn keys() -> KeySet {
        KeySet::new(
            AuthMode::ApiKey,
            &[ApiKeySeed { name: "dev".into(), key: Secret::new("sk-good"), models: vec!["m1".into()] }],
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    // See: reference/client-conventions.md §4.1 (AC-01)
    #[test]
    fn ac01_bearer_and_x_api_key_both_authenticate() {
        let k = keys();
        assert_eq!(k.check(&headers(&[("authorization", "Bearer sk-good")])).unwrap().unwrap().name, "dev");
        assert_eq!(k.check(&headers(&[("authorization", "bearer  sk-good ")])).unwrap().unwrap().name, "dev");
        assert!(k.check(&headers(&[("x-api-key", "sk-good")])).unwrap().is_some());
        assert!(k.check(&headers(&[("api-key", "sk-good")])).unwrap().is_some());
        // The Anthropic SDK may send both; one valid key is enough.
        assert!(
            k.check(&headers(&[("authorization", "Bearer other"), ("x-api-key", "sk-good")]))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn missing_and_wrong_keys_are_told_apart() {
        let k = keys();
        assert_eq!(k.check(&HeaderMap::new()).unwrap_err().code, "missing_api_key");
        assert_eq!(k.check(&headers(&[("authorization", "Basic abc")])).unwrap_err().code, "missing_api_key");
        assert_eq!(k.check(&headers(&[("x-api-key", "sk-bad")])).unwrap_err().code, "invalid_api_key");
    }

    #[test]
    fn auth_none_lets_everyone_in_and_allow_lists_apply() {
        let open = KeySet::new(AuthMode::None, &[]);
        assert!(open.check(&HeaderMap::new()).unwrap().is_none());
        let key = keys().check(&headers(&[("x-api-key", "sk-good")])).unwrap().unwrap();
        assert!(key.allows("m1"));
        assert!(!key.allows("m2"));
    }
}
