//! Client authentication: the API key from `Authorization: Bearer`, `x-api-key` or `api-key`,
//! checked against the key set in memory (held only as hashes), and each key's policy — models,
//! requests per minute shared by every instance, requests in flight.
//!
//! Every model endpoint needs a key unless the operator set `auth = "none"` (logged at start-up).

use crate::dialect::{ApiError, Dialect};
use crate::state::Live;
use crate::state::keys::{ClientKey, Refusal};
use http::{HeaderMap, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// The length of a key's requests-per-minute window.
const MINUTE: Duration = Duration::from_secs(60);

/// The caller's key, `None` when authentication is off, or a 401 in waiting.
pub fn authenticate(live: &Live, headers: &HeaderMap) -> Result<Option<Arc<ClientKey>>, ApiError> {
    live.keys.load().check(presented_keys(headers)).map_err(|refusal| match refusal {
        Refusal::Missing => ApiError::missing_key(),
        Refusal::Unknown => ApiError::invalid_key(),
        Refusal::Disabled => {
            ApiError::new(StatusCode::UNAUTHORIZED, "api_key_disabled", "this API key is disabled")
        }
        Refusal::Expired => {
            ApiError::new(StatusCode::UNAUTHORIZED, "api_key_expired", "this API key has expired")
        }
    })
}

/// Applies a key's per-minute limit (counted across every instance through the store) and
/// takes one of its concurrency slots, waiting up to `queue_wait` for one. The returned permit
/// is held for the whole request.
pub async fn admit_key(
    live: &Live,
    key: &ClientKey,
    dialect: Dialect,
    queue_wait: Duration,
) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
    let _ = dialect;
    if let Some(rpm) = key.rpm {
        match live.store.count_in_window(&format!("rpm:{}", key.id), MINUTE).await {
            Ok(count) if count > u64::from(rpm) => {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "key_rate_limited",
                    format!("this API key is limited to {rpm} requests per minute"),
                )
                .with_retry_after(until_next_minute()));
            }
            Ok(_) => {}
            // A store outage must not take the gateway down with it: serve, and say so.
            Err(e) => {
                tracing::warn!(key = %key.name, error = %e, "cannot count requests per minute; not limiting")
            }
        }
    }
    let Some(slots) = &key.slots else { return Ok(None) };
    match tokio::time::timeout(queue_wait, slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(Some(permit)),
        _ => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "key_concurrency_limited",
            format!("this API key may have {} requests in flight at once", key.max_concurrency.unwrap_or(0)),
        )
        .with_retry_after(Duration::from_secs(1))),
    }
}

/// Windows are aligned to whole minutes of the clock.
fn until_next_minute() -> Duration {
    let into = crate::time::now_ms().rem_euclid(60_000);
    Duration::from_millis((60_000 - into) as u64)
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    // See: reference/client-conventions.md §4.1 (AC-01)
    #[test]
    fn ac01_bearer_x_api_key_and_api_key_headers_are_all_read() {
        let h = headers(&[
            ("authorization", "bearer  sk-a "),
            ("x-api-key", "sk-b"),
            ("api-key", "sk-c"),
            ("authorization", "Basic x"),
        ]);
        assert_eq!(presented_keys(&h).collect::<Vec<_>>(), ["sk-a", "sk-b", "sk-c"]);
        assert_eq!(presented_keys(&HeaderMap::new()).count(), 0);
    }
}
