//! Errors as a client sees them: a status, a machine code and a message, rendered by each dialect
//! in its own envelope.
//!
//! Every failure the gateway reports (a bad request body, a missing key, an unknown model, an
//! upstream failure) becomes an [`ApiError`] first; the route's dialect then writes it as
//! `{"type":"error","error":{...}}` (Anthropic) or `{"error":{...}}` (OpenAI). The status mapping
//! of upstream failures lives in one exhaustive match here, so a new [`ErrorKind`] cannot ship
//! without one.

use crate::ir::{ErrorKind, UpstreamError};
use http::StatusCode;
use std::time::Duration;

/// A client-facing error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_api_key`, `model_not_found`, `rate_limited`, ...).
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, when known (OpenAI `param`).
    pub param: Option<&'static str>,
    /// Seconds to wait before retrying; sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), param: None, retry_after: None }
    }

    pub fn with_param(mut self, param: &'static str) -> ApiError {
        self.param = Some(param);
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> ApiError {
        // Round up: "retry after 0 s" would invite a hot loop.
        self.retry_after = Some(after.as_secs() + u64::from(after.subsec_nanos() > 0));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn invalid_json(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid JSON: {detail}"),
        )
    }

    pub fn missing_key() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "no API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`",
        )
    }

    pub fn invalid_key() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "invalid API key")
    }

    pub fn model_not_found(model: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("model `{model}` does not exist or is not available"),
        )
        .with_param("model")
    }

    pub fn route_not_found(method: &http::Method, path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("Invalid URL ({method} {path})"))
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("method {method} is not allowed on {path}"),
        )
    }

    pub fn body_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("request body exceeds the {limit}-byte limit"),
        )
    }

    /// No account of the channel can ever serve as things stand (none configured, or all out
    /// until an operator acts).
    pub fn no_account(channel: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_account",
            format!("no upstream account is available for channel {channel}"),
        )
    }

    /// Every account that could serve is cooling down or busy; `Retry-After` says when one
    /// comes back.
    pub fn pool_exhausted(channel: &str) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "pool_exhausted",
            format!("every upstream account of channel {channel} is busy or cooling down; retry later"),
        )
    }

    /// The gateway is at its concurrency limit: Anthropic's 529 `overloaded_error` on its
    /// routes (its SDKs retry it), 503 elsewhere.
    pub fn overloaded(dialect: super::Dialect) -> ApiError {
        let status = match dialect {
            super::Dialect::Anthropic => StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            super::Dialect::OpenAi => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, "overloaded", "the gateway is at its concurrency limit")
    }

    pub fn shutting_down() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the gateway is shutting down")
    }

    pub fn not_supported(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_supported", format!("{what} is not supported"))
    }
}

impl From<&UpstreamError> for ApiError {
    fn from(e: &UpstreamError) -> ApiError {
        let kind = e.kind();
        let status = match kind {
            ErrorKind::RateLimited | ErrorKind::QuotaExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::InvalidRequest => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(|s| s.is_client_error() && !matches!(s.as_u16(), 401 | 402 | 403 | 429))
                .unwrap_or(StatusCode::BAD_REQUEST),
            ErrorKind::ModelNotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::NotEntitled => StatusCode::FORBIDDEN,
            ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::Challenge
            | ErrorKind::Server
            | ErrorKind::Connect
            | ErrorKind::EmptyResponse
            | ErrorKind::StreamCut
            | ErrorKind::Protocol => StatusCode::BAD_GATEWAY,
        };
        let mut api = ApiError::new(status, kind.code(), e.client_message());
        if status == StatusCode::TOO_MANY_REQUESTS {
            api = api.with_retry_after(e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER));
        }
        api
    }
}

/// What a client is told to wait when the upstream rate limited without saying for how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_map_to_the_documented_statuses() {
        let cases = [
            (UpstreamError::new(ErrorKind::RateLimited).with_retry_after(Duration::from_millis(1500)), 429),
            (UpstreamError::new(ErrorKind::Unauthorized).with_status(401), 502),
            (UpstreamError::new(ErrorKind::Forbidden).with_status(403), 502),
            (UpstreamError::new(ErrorKind::Server).with_status(500), 502),
            (UpstreamError::new(ErrorKind::Timeout), 504),
            (UpstreamError::new(ErrorKind::EmptyResponse), 502),
            (UpstreamError::new(ErrorKind::InvalidRequest).with_status(413), 413),
            (UpstreamError::new(ErrorKind::InvalidRequest).with_status(401), 400),
            (UpstreamError::new(ErrorKind::Conflict).with_message("gone"), 409),
            (UpstreamError::new(ErrorKind::NotEntitled).with_status(400), 403),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(&e).status.as_u16(), status, "{e:?}");
        }
        let limited = ApiError::from(
            &UpstreamError::new(ErrorKind::RateLimited).with_retry_after(Duration::from_millis(1500)),
        );
        assert_eq!(limited.retry_after, Some(2));
        assert_eq!(ApiError::from(&UpstreamError::new(ErrorKind::EmptyResponse)).code, "empty_response");
    }

    #[test]
    fn upstream_auth_failures_name_no_credential() {
        let e = UpstreamError::new(ErrorKind::Unauthorized)
            .with_status(401)
            .with_message("key sk-abc is invalid");
        let api = ApiError::from(&e);
        assert!(!api.message.contains("sk-abc"), "{}", api.message);
    }
}
