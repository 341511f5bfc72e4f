//! Classifies a failed upstream response (status line, headers, body) into an [`UpstreamError`].
//!
//! The rules every HTTP channel shares: the status decides the kind, an HTML body instead of the
//! API's JSON is a challenge page or a broken endpoint, `Retry-After` says how long a rate limit
//! lasts, and the upstream's own message is kept only where it is about the request (never for
//! auth failures, whose messages can quote the credential).

use crate::ir::{ErrorKind, UpstreamError};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use std::time::{Duration, SystemTime};

/// An error body longer than this is cut; its head is enough to classify it.
pub const MAX_ERROR_BODY: usize = 64 * 1024;
/// How long to wait for an error body before classifying on the status alone.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a protocol's error body says: its message and its error code or type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub message: Option<String>,
    pub code: Option<String>,
}

/// A request that could not be built (a malformed `base_url`): the upstream cannot be reached.
pub fn bad_request_line(e: http::Error) -> UpstreamError {
    UpstreamError::new(ErrorKind::Connect).with_message(format!("bad upstream URL: {e}"))
}

/// The body of a 2xx response; any other response read and classified as a failure.
pub async fn success_body(
    response: http::Response<hyper::body::Incoming>,
    detail: impl FnOnce(&[u8]) -> Option<ErrorDetail>,
    refine: impl FnOnce(&ErrorDetail) -> Option<ErrorKind>,
) -> Result<hyper::body::Incoming, UpstreamError> {
    let (parts, body) = response.into_parts();
    if parts.status.is_success() {
        return Ok(body);
    }
    Err(from_response(parts.status, &parts.headers, body, detail, refine).await)
}

/// Reads (a bounded prefix of) a failed response's body and classifies it.
pub async fn from_response<B>(
    status: StatusCode,
    headers: &HeaderMap,
    body: B,
    detail: impl FnOnce(&[u8]) -> Option<ErrorDetail>,
    refine: impl FnOnce(&ErrorDetail) -> Option<ErrorKind>,
) -> UpstreamError
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let body = read_prefix(body).await;
    classify(status, headers, &body, detail, refine)
}

/// Classification on an error body already in hand.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    detail: impl FnOnce(&[u8]) -> Option<ErrorDetail>,
    refine: impl FnOnce(&ErrorDetail) -> Option<ErrorKind>,
) -> UpstreamError {
    // Cloudflare marks its challenges with `cf-mitigated`, whatever the body.
    if is_html(headers, body) || headers.contains_key("cf-mitigated") {
        let kind = match status.as_u16() {
            403 | 429 | 503 => ErrorKind::Challenge,
            401 => ErrorKind::Unauthorized,
            _ => ErrorKind::Server,
        };
        return UpstreamError::new(kind).with_status(status.as_u16());
    }
    let detail = detail(body);
    let by_status = match status.as_u16() {
        400 | 413 | 422 => ErrorKind::InvalidRequest,
        401 => ErrorKind::Unauthorized,
        402 => ErrorKind::QuotaExhausted,
        403 => ErrorKind::Forbidden,
        // A 404 with the API's error body names the model; a bare 404 is a wrong base URL.
        404 if detail.is_some() => ErrorKind::ModelNotFound,
        408 | 504 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        _ => ErrorKind::Server,
    };
    let detail = detail.unwrap_or_default();
    let kind = match refine(&detail) {
        // The body may sharpen the status (429 `insufficient_quota`), never soften an auth
        // failure or turn a server error into the client's fault.
        Some(refined) if refines(by_status, refined) => refined,
        _ => by_status,
    };
    let mut error = UpstreamError::new(kind).with_status(status.as_u16());
    if let (Some(message), ErrorKind::InvalidRequest | ErrorKind::ModelNotFound) = (detail.message, kind) {
        error = error.with_message(message);
    }
    if let Some(after) = retry_after(headers) {
        error = error.with_retry_after(after);
    }
    error
}

fn refines(by_status: ErrorKind, refined: ErrorKind) -> bool {
    matches!(
        (by_status, refined),
        (ErrorKind::RateLimited, ErrorKind::QuotaExhausted)
            | (ErrorKind::Forbidden, ErrorKind::QuotaExhausted)
            | (ErrorKind::InvalidRequest, ErrorKind::ModelNotFound)
            | (ErrorKind::Server, ErrorKind::Overloaded)
    )
}

/// `Retry-After` in seconds or as an HTTP date; `retry-after-ms` where an API sends it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_millis(ms as u64));
    }
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn is_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let declared = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let head = &body[..body.len().min(256)];
    let head = String::from_utf8_lossy(head).trim_start().to_ascii_lowercase();
    declared || head.starts_with("<!doctype html") || head.starts_with("<html")
}

async fn read_prefix<B>(mut body: B) -> Vec<u8>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut out = Vec::new();
    let read = async {
        while out.len() < MAX_ERROR_BODY {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data[..data.len().min(MAX_ERROR_BODY - out.len())]);
                    }
                }
                _ => break,
            }
        }
    };
    // A slow or endless error body must not hold the request: classify on what arrived.
    let _ = tokio::time::timeout(ERROR_BODY_TIMEOUT, read).await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_detail(body: &[u8]) -> Option<ErrorDetail> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(ErrorDetail {
            message: v["error"]["message"].as_str().map(str::to_string),
            code: v["error"]["code"].as_str().map(str::to_string),
        })
    }

    fn quota(d: &ErrorDetail) -> Option<ErrorKind> {
        (d.code.as_deref() == Some("insufficient_quota")).then_some(ErrorKind::QuotaExhausted)
    }

    fn run(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamError {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        classify(StatusCode::from_u16(status).unwrap(), &map, body.as_bytes(), json_detail, quota)
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            run(401, &[], r#"{"error":{"message":"bad key sk-123"}}"#).kind(),
            ErrorKind::Unauthorized
        );
        assert_eq!(run(403, &[], "{}").kind(), ErrorKind::Forbidden);
        assert_eq!(run(402, &[], "").kind(), ErrorKind::QuotaExhausted);
        assert_eq!(run(500, &[], "oops").kind(), ErrorKind::Server);
        assert_eq!(run(529, &[], "{}").kind(), ErrorKind::Overloaded);
        assert_eq!(run(504, &[], "").kind(), ErrorKind::Timeout);
        assert_eq!(
            run(404, &[], r#"{"error":{"message":"no such model"}}"#).kind(),
            ErrorKind::ModelNotFound
        );
        assert_eq!(run(404, &[], "Not Found").kind(), ErrorKind::Server, "a bare 404 is a wrong endpoint");
    }

    #[test]
    fn rate_limits_carry_retry_after_and_quota_is_told_apart() {
        let e = run(
            429,
            &[("retry-after", "7")],
            r#"{"error":{"message":"slow down","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!((e.kind(), e.retry_after()), (ErrorKind::RateLimited, Some(Duration::from_secs(7))));
        let e = run(429, &[], r#"{"error":{"message":"quota","code":"insufficient_quota"}}"#);
        assert_eq!(e.kind(), ErrorKind::QuotaExhausted);
        let e = run(429, &[("retry-after-ms", "1500")], "{}");
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn html_pages_are_challenges_not_api_errors() {
        let page = "<!DOCTYPE html><html><title>Just a moment...</title></html>";
        assert_eq!(
            run(403, &[("content-type", "text/html; charset=UTF-8")], page).kind(),
            ErrorKind::Challenge
        );
        assert_eq!(run(403, &[], page).kind(), ErrorKind::Challenge);
        assert_eq!(run(502, &[], page).kind(), ErrorKind::Server);
        assert_eq!(run(403, &[("cf-mitigated", "challenge")], "{}").kind(), ErrorKind::Challenge);
    }

    #[test]
    fn only_request_errors_keep_the_upstream_message() {
        let e = run(400, &[], r#"{"error":{"message":"prompt is too long"}}"#);
        assert_eq!(e.client_message(), "prompt is too long");
        let e = run(401, &[], r#"{"error":{"message":"Incorrect API key provided: sk-abc"}}"#);
        assert_eq!(e.message(), None);
        assert!(!e.to_string().contains("sk-abc"));
    }
}
