//! Firebase's token refresh (`POST /v1/token?key=…` as securetoken, `POST /proxy/token?key=…` as
//! Warp's proxy of it) and the ID tokens it issues (fact sheet §1.2, §1.3, §10).
//!
//! Refresh tokens rotate: every successful refresh answers a new one and retires the old, which is
//! refused from then on (`400 INVALID_REFRESH_TOKEN`). A token never seen before is accepted as a
//! new account. ID tokens are unsigned-in-practice JWTs (`header.payload.sig`) whose payload has
//! `exp` = now + the TTL ([`super::State::set_ttl`], or `x-mock-token-ttl-s` on the refresh request).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT};
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::json;

use super::scenario::{self, Scenario};
use super::{State, json_response};
use crate::mock::ids::Ids;
use crate::mock::script::Reply;

/// What the gateway's ID tokens claim, as the mock reads them back.
#[derive(Debug, Clone)]
pub(super) struct Claims {
    pub(super) scenario: Option<String>,
}

pub(super) fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Google's error envelope.
fn google_error(status: StatusCode, message: &str, reason: &str) -> Response<Reply> {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": reason}});
    json_response(status, &body)
}

/// `POST /v1/token` and `POST /proxy/token`.
pub(super) fn refresh(head: &Parts, body: &[u8], state: &State, ids: &Ids) -> Response<Reply> {
    let has_key =
        head.uri.query().is_some_and(|q| form(q.as_bytes()).iter().any(|(k, v)| k == "key" && !v.is_empty()));
    if !has_key {
        return google_error(
            StatusCode::BAD_REQUEST,
            "API key not valid. Please pass a valid API key.",
            "INVALID_ARGUMENT",
        );
    }
    let fields = form(body);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("refresh_token") {
        return google_error(StatusCode::BAD_REQUEST, "INVALID_GRANT_TYPE", "INVALID_ARGUMENT");
    }
    let token = match field("refresh_token") {
        Some(t) if !t.is_empty() => t,
        _ => return google_error(StatusCode::BAD_REQUEST, "MISSING_REFRESH_TOKEN", "INVALID_ARGUMENT"),
    };
    let picked = scenario::select(
        [scenario::from_header(&head.headers), scenario::from_refresh_token(token)],
        Scenario::Text,
    );
    let picked = match picked {
        Ok(s) => s,
        Err(name) => return super::unknown_scenario(&name),
    };
    match picked {
        Scenario::TokenInvalid => {
            return google_error(StatusCode::BAD_REQUEST, "INVALID_REFRESH_TOKEN", "INVALID_ARGUMENT");
        }
        Scenario::TokenExpired => {
            return google_error(StatusCode::BAD_REQUEST, "TOKEN_EXPIRED", "INVALID_ARGUMENT");
        }
        Scenario::TokenUnauthorized => {
            return google_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "UNAUTHENTICATED");
        }
        Scenario::TokenRateLimited => {
            let mut response = google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_ATTEMPTS_TRY_LATER",
                "RESOURCE_EXHAUSTED",
            );
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(state.retry_after(&head.headers)));
            return response;
        }
        _ => {}
    }
    let root = token.split('~').next().unwrap_or(token).to_owned();
    let rotated = format!("{root}~{}", ids.mint("", 24));
    if !state.rotate(token, &rotated) {
        return google_error(StatusCode::BAD_REQUEST, "INVALID_REFRESH_TOKEN", "INVALID_ARGUMENT");
    }
    let ttl = state.ttl(&head.headers);
    let user_id = user_id(&root);
    let jwt = issue(&user_id, scenario::from_refresh_token(token), ttl);
    let body = json!({
        "access_token": jwt,
        "expires_in": ttl.to_string(),
        "token_type": "Bearer",
        "refresh_token": rotated,
        "id_token": jwt,
        "user_id": user_id,
        "project_id": "warp-mock",
    });
    json_response(StatusCode::OK, &body)
}

/// A stable user id per account (per refresh token root).
fn user_id(root: &str) -> String {
    let mut hasher = DefaultHasher::new();
    root.hash(&mut hasher);
    format!("mockuser{:016x}", hasher.finish())
}

/// An ID token for `user_id`, expiring `ttl` seconds from now.
pub(super) fn issue(user_id: &str, scenario: Option<&str>, ttl: u64) -> String {
    let now = now_s();
    let header = json!({"alg": "RS256", "kid": "mock", "typ": "JWT"});
    let mut payload = json!({
        "iss": "https://securetoken.google.com/warp-mock",
        "aud": "warp-mock",
        "auth_time": now,
        "user_id": user_id,
        "sub": user_id,
        "iat": now,
        "exp": now + ttl,
    });
    if let Some(name) = scenario {
        payload["mock_scenario"] = json!(name);
    }
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode("mock-signature-never-checked")
    )
}

/// Reads a bearer ID token: `None` if missing, not a JWT, or expired.
pub(super) fn verify(head: &Parts) -> Option<Claims> {
    let value = head.headers.get("authorization")?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_PAD_INDIFFERENT.decode(payload).ok()?).ok()?;
    let exp = payload.get("exp")?.as_u64()?;
    if exp <= now_s() {
        return None;
    }
    Some(Claims { scenario: payload.get("mock_scenario").and_then(|v| v.as_str()).map(str::to_owned) })
}

/// Parses `application/x-www-form-urlencoded` (also a query string).
pub(super) fn form(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut kv = pair.splitn(2, |&b| b == b'=');
            let key = kv.next().unwrap_or_default();
            let value = kv.next().unwrap_or_default();
            (unescape(key), unescape(value))
        })
        .collect()
}

fn unescape(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                match std::str::from_utf8(&input[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
