//! `/api/keys`: client API keys — list, create (the key is shown once, then only its prefix),
//! read, change, delete.
//!
//! A new key is 32 random bytes from the operating system's generator (through `rand`'s
//! thread-local CSPRNG), written `sk-o2a-` + 43 base62 digits. The store keeps its SHA-256
//! ([`KeyHash`]) and a display prefix; no view ever shows the key or its hash again.
//!
//! `expires_at` is an RFC 3339 stamp (`2027-01-31T00:00:00Z`, any offset), like every time the
//! admin API shows.

use super::json::{self, FieldError, Patch, invalid, not_null, nullable, required};
use super::{Admin, not_found, store_error};
use crate::dialect::ApiError;
use crate::server::Reply;
use crate::state::display_prefix;
use crate::store::{ApiKey, ApiKeyPatch, KeyHash, NewApiKey};
use crate::time::{now_ms, parse_rfc3339, rfc3339};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// What every generated key starts with.
const KEY_PREFIX: &str = "sk-o2a-";
/// Longest key name and model id accepted.
const MAX_NAME: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: Option<String>,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
    max_concurrency: Option<u32>,
    expires_at: Option<String>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default, deserialize_with = "nullable")]
    name: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    models: Patch<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    rpm: Patch<u32>,
    #[serde(default, deserialize_with = "nullable")]
    max_concurrency: Patch<u32>,
    #[serde(default, deserialize_with = "nullable")]
    expires_at: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Patch<bool>,
}

pub async fn list(admin: &Admin) -> Result<Reply, ApiError> {
    let keys = admin.live.store.list_keys().await.map_err(store_error)?;
    Ok(json::reply(StatusCode::OK, &keys.iter().map(view).collect::<Vec<_>>()))
}

pub async fn get(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    let key =
        admin.live.store.get_key(id).await.map_err(store_error)?.ok_or_else(|| not_found("API key", id))?;
    Ok(json::reply(StatusCode::OK, &view(&key)))
}

pub async fn create(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let c: Create = json::decode(body)?;
    let secret = generate();
    let new = NewApiKey {
        name: checked_name(&required("name", c.name)?)?,
        hash: KeyHash::of(&secret),
        prefix: display_prefix(&secret),
        models: checked_models(c.models.unwrap_or_default())?,
        rpm: c.rpm.map(|n| at_least_one("rpm", n)).transpose()?,
        max_concurrency: c.max_concurrency.map(|n| at_least_one("max_concurrency", n)).transpose()?,
        expires_at: c.expires_at.as_deref().map(checked_expiry).transpose()?,
        enabled: c.enabled.unwrap_or(true),
    };
    let key = admin.live.store.create_key(new).await.map_err(store_error)?;
    tracing::info!(key = key.id, name = %key.name, "admin: API key created");
    let mut shown = view(&key);
    shown["key"] = Value::String(secret);
    Ok(json::reply(StatusCode::CREATED, &shown))
}

pub async fn update(admin: &Admin, id: u64, body: &[u8]) -> Result<Reply, ApiError> {
    let u: Update = json::decode(body)?;
    let patch = ApiKeyPatch {
        name: not_null("name", u.name)?.map(|n| checked_name(&n)).transpose()?,
        // `null` is the empty allow-list: every model.
        models: u.models.map(|m| checked_models(m.unwrap_or_default())).transpose()?,
        rpm: u.rpm.map(|n| n.map(|n| at_least_one("rpm", n)).transpose()).transpose()?,
        max_concurrency: u
            .max_concurrency
            .map(|n| n.map(|n| at_least_one("max_concurrency", n)).transpose())
            .transpose()?,
        expires_at: u.expires_at.map(|e| e.as_deref().map(checked_expiry).transpose()).transpose()?,
        enabled: not_null("enabled", u.enabled)?,
        last_used_at: None,
    };
    let key = admin
        .live
        .store
        .update_key(id, patch)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("API key", id))?;
    tracing::info!(key = id, "admin: API key updated");
    Ok(json::reply(StatusCode::OK, &view(&key)))
}

pub async fn delete(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    if !admin.live.store.delete_key(id).await.map_err(store_error)? {
        return Err(not_found("API key", id));
    }
    tracing::info!(key = id, "admin: API key deleted");
    Ok(json::no_content())
}

/// What the admin API shows of a key: never the key, never its hash.
fn view(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "models": k.models,
        "rpm": k.rpm,
        "max_concurrency": k.max_concurrency,
        "expires_at": k.expires_at.map(rfc3339),
        "enabled": k.enabled,
        "last_used_at": k.last_used_at.map(rfc3339),
        "created_at": rfc3339(k.created_at),
        "updated_at": rfc3339(k.updated_at),
    })
}

/// A fresh key: `sk-o2a-` and 256 random bits in base62.
fn generate() -> String {
    format!("{KEY_PREFIX}{}", base62(&rand::random::<[u8; 32]>()))
}

/// `bytes` as a big-endian number in base62, always 43 digits (62^43 > 2^256).
fn base62(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut number = *bytes;
    let mut out = [b'0'; 43];
    for slot in out.iter_mut().rev() {
        // One long division of `number` by 62; the remainder is the next digit.
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        *slot = DIGITS[remainder as usize];
    }
    out.iter().map(|&b| char::from(b)).collect()
}

pub(super) fn checked_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid("name", format!("`name` must be 1 to {MAX_NAME} characters")));
    }
    Ok(name.to_string())
}

pub(super) fn checked_models(models: Vec<String>) -> Result<Vec<String>, FieldError> {
    if models.iter().any(|m| m.trim().is_empty() || m.chars().count() > MAX_NAME) {
        return Err(invalid(
            "models",
            format!("each of `models` must be a model id of 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(models.into_iter().map(|m| m.trim().to_string()).collect())
}

fn at_least_one(param: &'static str, n: u32) -> Result<u32, FieldError> {
    if n == 0 {
        return Err(invalid(param, format!("`{param}` must be at least 1 (null: unlimited)")));
    }
    Ok(n)
}

/// An RFC 3339 expiry in the future, as Unix ms.
fn checked_expiry(stamp: &str) -> Result<i64, FieldError> {
    let at = parse_rfc3339(stamp).ok_or_else(|| {
        invalid("expires_at", "`expires_at` must be an RFC 3339 time such as 2027-01-31T00:00:00Z")
    })?;
    if at <= now_ms() {
        return Err(invalid("expires_at", "`expires_at` is in the past"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_base62() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        for key in [&a, &b] {
            let digits = key.strip_prefix(KEY_PREFIX).unwrap();
            assert_eq!(digits.len(), 43, "{key}");
            assert!(digits.bytes().all(|c| c.is_ascii_alphanumeric()), "{key}");
        }
        assert_eq!(base62(&[0; 32]), "0".repeat(43));
        let mut one = [0; 32];
        one[31] = 63;
        assert_eq!(base62(&one), format!("{}11", "0".repeat(41)));
        assert_eq!(&base62(&[0xff; 32])[..4], "yhjs", "2^256 - 1 fits in 43 digits");
    }

    #[test]
    fn expiries_are_rfc3339_in_the_future() {
        assert!(checked_expiry("2999-01-01T00:00:00Z").is_ok());
        assert_eq!(
            checked_expiry("2000-01-01T00:00:00Z").unwrap_err().message,
            "`expires_at` is in the past"
        );
        assert_eq!(checked_expiry("1767225600000").unwrap_err().param, Some("expires_at"));
    }
}
