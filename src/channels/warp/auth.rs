//! Warp accounts (fact sheet §1): a Firebase refresh token exchanged for an ID token (a JWT), then
//! `POST /client/login`. The ID token, its expiry and the login cookie are the account's channel
//! state; a rotated refresh token replaces the credential.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

use super::Settings;
use crate::channels::{Refreshed, classify};
use crate::ir::{ErrorKind, UpstreamError};
use crate::secret::Secret;
use crate::time::now_ms;

/// The Warp desktop client's public Firebase Web API key (§0).
pub(crate) const FIREBASE_API_KEY: &str = "AIzaSyBdy3O3S9hrdayLJxJ7mriBR4qgUaUygAs";
pub(crate) const CLIENT_ID: &str = "warp-app";
pub(crate) const CLIENT_VERSION: &str = "v0.2026.05.06.15.42.stable_03";
pub(crate) const OS: &str = "Linux";
/// The session is treated as ended this long before the ID token's `exp`.
pub(crate) const MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long an ID token lives when neither its `exp` nor `expires_in` say (55 min).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(55 * 60);
const TIMEOUT: Duration = Duration::from_secs(30);

/// The account's channel state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) id_token: String,
    /// Unix ms after which the ID token is not used (its `exp` minus [`MARGIN`]).
    pub(crate) expires_at: i64,
    /// `name=value` of the `/client/login` cookie, if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cookie: Option<String>,
}

impl Session {
    /// The live session held in an account's state, if any.
    pub(crate) fn of(state: Option<&Secret>, now: i64) -> Option<Session> {
        let session: Session = serde_json::from_str(state?.expose()).ok()?;
        (!session.id_token.is_empty() && session.expires_at > now).then_some(session)
    }
}

/// The refresh token in any of the forms an operator may paste (§1.1): plain, `a----b----token`,
/// a form string, a cookie fragment, JSON `{"refresh_token"}` / `{"auth":{"refreshToken"}}` /
/// Warp's user JSON `{"id_token":{"refresh_token"}}`.
pub(crate) fn refresh_token(credential: &str) -> String {
    let raw = credential.trim();
    if raw.starts_with('{')
        && let Ok(json) = serde_json::from_str::<Value>(raw)
    {
        let found = [
            json.pointer("/id_token/refresh_token"),
            json.get("refresh_token"),
            json.get("refreshToken"),
            json.pointer("/auth/refreshToken"),
        ]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()));
        return found.unwrap_or_default().to_owned();
    }
    if let Some(found) = raw.split(['&', ';', '?']).find_map(|p| p.trim().strip_prefix("refresh_token=")) {
        return found.to_owned();
    }
    raw.rsplit("----").next().unwrap_or(raw).trim().to_owned()
}

/// The `exp` claim of a JWT, in Unix seconds.
pub(crate) fn jwt_exp(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?.get("exp")?.as_i64()
}

/// What a token answer says, by the field precedence of §1.3.
pub(crate) fn parse_token_answer(answer: &Value, now: i64) -> Option<(String, Option<String>, i64)> {
    let field = |names: &[&str]| {
        names.iter().find_map(|n| answer.get(*n).and_then(Value::as_str).filter(|s| !s.is_empty()))
    };
    let jwt = field(&["id_token", "idToken", "access_token"])?.to_owned();
    let rotated = field(&["refresh_token", "refreshToken"]).map(str::to_owned);
    let expires_in = ["expires_in", "expiresIn"].iter().find_map(|n| match answer.get(*n) {
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    });
    let exp_ms = jwt_exp(&jwt)
        .map(|s| s * 1000)
        .or_else(|| expires_in.map(|s| now + s * 1000))
        .unwrap_or(now + DEFAULT_LIFETIME.as_millis() as i64);
    Some((jwt, rotated, exp_ms))
}

/// The Warp client headers (§1.5): no `User-Agent`.
pub(crate) fn client_headers(builder: http::request::Builder) -> http::request::Builder {
    builder
        .header("x-warp-client-id", CLIENT_ID)
        .header("x-warp-client-version", CLIENT_VERSION)
        .header("x-warp-os-category", OS)
        .header("x-warp-os-name", OS)
}

pub(crate) fn bearer(token: &str) -> Result<http::HeaderValue, UpstreamError> {
    http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        UpstreamError::new(ErrorKind::Unauthorized).with_message("the ID token is not a valid header value")
    })
}

/// The refresh (§1.2–1.4): token exchange, then `/client/login`.
pub(crate) async fn refresh(
    settings: &Settings,
    base_url: &str,
    credential: &Secret,
) -> Result<Refreshed, UpstreamError> {
    let token = refresh_token(credential.expose());
    if token.is_empty() {
        return Err(UpstreamError::new(ErrorKind::Unauthorized).with_message("warp refresh token is empty"));
    }
    let separator = if settings.auth_url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}key={FIREBASE_API_KEY}", settings.auth_url);
    let form = format!("grant_type=refresh_token&refresh_token={}", form_encode(&token));
    let request = http::Request::post(url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(Full::new(Bytes::from(form)))
        .map_err(classify::bad_request_line)?;
    let response = tokio::time::timeout(TIMEOUT, settings.upstream.send(request))
        .await
        .map_err(|_| UpstreamError::new(ErrorKind::Timeout).with_message("warp token refresh timed out"))??;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        let status = parts.status.as_u16();
        let error = classify::from_response(parts.status, &parts.headers, body, |_| None, |_| None).await;
        // A refresh token Google refuses (400 INVALID_REFRESH_TOKEN, TOKEN_EXPIRED) is a dead
        // credential, not a bad request.
        return Err(match status {
            400 | 401 | 403 => UpstreamError::new(ErrorKind::Unauthorized)
                .with_status(status)
                .with_message("the refresh token was refused"),
            _ => error,
        });
    }
    let bytes = read_json(body).await?;
    let now = now_ms();
    let (jwt, rotated, exp_ms) = parse_token_answer(&bytes, now).ok_or_else(|| {
        UpstreamError::new(ErrorKind::Protocol).with_message("the token answer has no ID token")
    })?;
    let cookie = login(settings, base_url, &jwt).await?;
    let expires_at = exp_ms - MARGIN.as_millis() as i64;
    let session = Session { id_token: jwt, expires_at, cookie };
    let state = serde_json::to_string(&session).unwrap_or_default();
    Ok(Refreshed {
        credential: rotated.filter(|r| *r != token).map(Secret::new),
        state: Some(Secret::new(state)),
        expires_at: Some(expires_at),
    })
}

/// `POST /client/login` (204 expected); the cookie it sets, if any.
async fn login(settings: &Settings, base_url: &str, jwt: &str) -> Result<Option<String>, UpstreamError> {
    let request =
        client_headers(http::Request::post(format!("{}/client/login", base_url.trim_end_matches('/'))))
            .header(AUTHORIZATION, bearer(jwt)?)
            .header("x-warp-experiment-id", uuid_v4())
            .header(ACCEPT, "*/*")
            .body(Full::new(Bytes::new()))
            .map_err(classify::bad_request_line)?;
    let response = tokio::time::timeout(TIMEOUT, settings.upstream.send(request))
        .await
        .map_err(|_| UpstreamError::new(ErrorKind::Timeout).with_message("warp login timed out"))??;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        return Err(classify::from_response(parts.status, &parts.headers, body, |_| None, |_| None).await);
    }
    Ok(parts
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .find(|c| c.contains('='))
        .map(str::to_owned))
}

pub(crate) async fn read_json(body: hyper::body::Incoming) -> Result<Value, UpstreamError> {
    let bytes = tokio::time::timeout(TIMEOUT, body.collect())
        .await
        .map_err(|_| UpstreamError::new(ErrorKind::Timeout))?
        .map_err(|e| UpstreamError::new(ErrorKind::StreamCut).with_message(e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        UpstreamError::new(ErrorKind::Protocol).with_message(format!("warp answered non-JSON: {e}"))
    })
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
