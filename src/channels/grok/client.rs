//! grok.com's REST calls with one account: the cookie, the browser's headers, and the status
//! line of each answer classified (fact sheet §1–§2, §7).

use crate::channels::classify::{self, ErrorDetail};
use crate::ir::{ErrorKind, UpstreamError};
use crate::upstream::Upstream;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;

/// One consistent desktop Chrome: the user agent and the client hints that go with it.
const USER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36";
const SEC_CH_UA: &str = r#""Chromium";v="148", "Google Chrome";v="148", "Not/A)Brand";v="99""#;
/// The web client's Sentry baggage, sent on its REST calls other than the chat (fact sheet §1.4).
const BAGGAGE: &str = "sentry-environment=production,sentry-release=d6add6fb0460641fd482d767a335ef72b9b6abb8,sentry-public_key=b311e0f2690c81f25e2c4cf6d4f7ce1c";
/// The chat endpoint, which the web client calls without baggage.
pub const CHAT_PATH: &str = "/rest/app-chat/conversations/new";

/// Largest JSON answer read from a REST call (upload, rate limits, media post).
const MAX_JSON_ANSWER: usize = 1024 * 1024;

/// Cookie attributes that may be pasted along with a cookie string and are not cookies.
const COOKIE_ATTRIBUTES: [&str; 9] =
    ["path", "domain", "expires", "max-age", "secure", "httponly", "samesite", "partitioned", "priority"];

/// The `Cookie` header for a credential: a bare SSO token, `sso=…`, or a whole cookie string whose
/// other cookies are kept (they only ever go to grok hosts).
pub fn cookie(credential: &str) -> Result<HeaderValue, UpstreamError> {
    let credential = credential.trim();
    let bad =
        || UpstreamError::new(ErrorKind::Unauthorized).with_message("the grok credential holds no sso token");
    if !credential.contains('=') {
        if credential.is_empty() {
            return Err(bad());
        }
        return header_value(format!("sso={credential}; sso-rw={credential}"));
    }
    let mut token = None;
    let mut extra = Vec::new();
    for pair in credential.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let (name, value) = (name.trim(), value.trim());
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "sso" => token = Some(value),
            "sso-rw" => {}
            _ if COOKIE_ATTRIBUTES.contains(&lower.as_str()) || name.is_empty() => {}
            _ => extra.push(format!("{name}={value}")),
        }
    }
    let token = token.filter(|t| !t.is_empty()).ok_or_else(bad)?;
    let mut value = format!("sso={token}; sso-rw={token}");
    for pair in extra {
        value.push_str("; ");
        value.push_str(&pair);
    }
    header_value(value)
}

fn header_value(value: String) -> Result<HeaderValue, UpstreamError> {
    HeaderValue::from_str(&value).map_err(|_| {
        UpstreamError::new(ErrorKind::Unauthorized).with_message("the grok credential is not a valid cookie")
    })
}

/// A fresh `x-xai-request-id`: a random UUIDv4, new for every attempt.
fn request_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// An `x-statsig-id`: the web client sends a base64 error string; any plausible one is accepted.
fn statsig_id() -> String {
    use base64::Engine;
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let name: String = (0..10).map(|_| LETTERS[rand::random_range(0..LETTERS.len())] as char).collect();
    let text = format!("x1:TypeError: Cannot read properties of undefined (reading '{name}')");
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// One account's view of grok.com.
#[derive(Clone)]
pub struct Client {
    pub upstream: Upstream,
    /// `https://grok.com`, or the account's own base URL.
    pub base: String,
    pub cookie: HeaderValue,
}

impl Client {
    /// The request builder with the web client's headers; `referer_path` is the page it comes from.
    pub fn request(&self, method: http::Method, path: &str, referer_path: &str) -> http::request::Builder {
        let builder = http::Request::builder();
        let builder = if path == CHAT_PATH { builder } else { builder.header("baggage", BAGGAGE) };
        builder
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "*/*")
            .header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")
            .header(header::CACHE_CONTROL, "no-cache")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, &self.base)
            .header(header::PRAGMA, "no-cache")
            .header(header::REFERER, format!("{}{referer_path}", self.base))
            .header("priority", "u=1, i")
            .header("sec-ch-ua", SEC_CH_UA)
            .header("sec-ch-ua-mobile", "?0")
            .header("sec-ch-ua-platform", "\"macOS\"")
            .header("sec-fetch-dest", "empty")
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-site", "same-origin")
            .header(header::USER_AGENT, USER_AGENT)
            .header("x-statsig-id", statsig_id())
            .header("x-xai-request-id", request_id())
            .header(header::COOKIE, self.cookie.clone())
    }

    /// POSTs JSON; the body of a 2xx answer, or the classified failure.
    pub async fn post(
        &self,
        path: &str,
        referer_path: &str,
        body: &Value,
    ) -> Result<Incoming, UpstreamError> {
        let body = Bytes::from(serde_json::to_vec(body).expect("JSON values serialize"));
        let request = self
            .request(http::Method::POST, path, referer_path)
            .body(Full::new(body))
            .map_err(classify::bad_request_line)?;
        let response = self.upstream.send(request).await?;
        let (parts, body) = response.into_parts();
        if parts.status.is_success() {
            return Ok(body);
        }
        Err(classify::from_response(parts.status, &parts.headers, body, error_detail, refine).await)
    }

    /// POSTs JSON and reads a JSON answer.
    pub async fn post_json(
        &self,
        path: &str,
        referer_path: &str,
        body: &Value,
    ) -> Result<Value, UpstreamError> {
        let body = self.post(path, referer_path, body).await?;
        let bytes = http_body_util::Limited::new(body, MAX_JSON_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                UpstreamError::new(ErrorKind::StreamCut).with_message(format!("grok answer unread: {e}"))
            })?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|_| {
            UpstreamError::new(ErrorKind::Protocol)
                .with_message(format!("grok {path} did not answer with JSON"))
        })
    }
}

/// grok's error body: `{"error":{"code":…,"message":…}}` (code a number or a string).
fn error_detail(body: &[u8]) -> Option<ErrorDetail> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    let (code, message) = match error {
        Value::String(s) => (v.get("code").map(code_text), Some(s.clone())),
        _ => (
            error.get("code").map(code_text),
            error.get("message").and_then(Value::as_str).map(str::to_string),
        ),
    };
    Some(ErrorDetail { message, code })
}

fn code_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn refine(detail: &ErrorDetail) -> Option<ErrorKind> {
    let message = detail.message.as_deref().unwrap_or("").to_ascii_lowercase();
    if message.contains("model is not found") || message.contains("model not found") {
        return Some(ErrorKind::ModelNotFound);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_text(credential: &str) -> String {
        cookie(credential).unwrap().to_str().unwrap().to_string()
    }

    #[test]
    fn credentials_become_the_sso_cookie_pair_with_extras_kept() {
        assert_eq!(cookie_text("abc"), "sso=abc; sso-rw=abc");
        assert_eq!(cookie_text("sso=abc123"), "sso=abc123; sso-rw=abc123");
        assert_eq!(
            cookie_text("foo=1; sso=abc123; Path=/; sso-rw=old; x-userid=u2; HttpOnly"),
            "sso=abc123; sso-rw=abc123; foo=1; x-userid=u2"
        );
        assert!(cookie("notsso=abc").is_err());
        assert!(cookie("  ").is_err());
        assert!(cookie("bad\nvalue").is_err());
    }

    #[test]
    fn request_ids_are_uuids_and_fresh() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn error_bodies_are_read_in_both_shapes() {
        let d = error_detail(br#"{"error":{"code":8,"message":"Too many requests"}}"#).unwrap();
        assert_eq!((d.code.as_deref(), d.message.as_deref()), (Some("8"), Some("Too many requests")));
        let d =
            error_detail(br#"{"code":"resource-exhausted","error":"Too many requests for team"}"#).unwrap();
        assert_eq!(d.code.as_deref(), Some("resource-exhausted"));
        assert_eq!(
            refine(&ErrorDetail { message: Some("Model is not found".into()), code: None }),
            Some(ErrorKind::ModelNotFound)
        );
    }
}
