//! Renders every error the Anthropic mock answers, in Anthropic's envelope and with its statuses.
//!
//! HTTP errors carry the response's `request_id`; the in-band error after a 200 is an `error`
//! stream event without one.

use bytes::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};

use super::wire::{ErrorBody, ErrorEnvelope, Event};
use crate::mock::scenario::Failure;
use crate::mock::script::{self, Reply};

/// The HTTP error of a scenario (or of a bad key, which is [`Failure::Unauthorized`]).
pub(super) fn failure(failure: Failure, request_id: &str, retry_after: u64) -> Response<Reply> {
    match failure {
        Failure::ContextLength => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "prompt is too long: 212345 tokens > 200000 maximum",
            request_id,
        ),
        Failure::Unauthorized => {
            error(StatusCode::UNAUTHORIZED, "authentication_error", "invalid x-api-key", request_id)
        }
        Failure::Forbidden => error(
            StatusCode::FORBIDDEN,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
            request_id,
        ),
        Failure::RateLimited => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization (mock) of 50 requests per \
                 minute. Please reduce the rate of requests, or try again later.",
                request_id,
            );
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Failure::Server => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "Internal server error", request_id)
        }
        Failure::Overloaded => error(OVERLOADED_STATUS, "overloaded_error", "Overloaded", request_id),
    }
}

/// 529, Anthropic's own status for an overloaded API.
const OVERLOADED_STATUS: StatusCode = match StatusCode::from_u16(529) {
    Ok(status) => status,
    Err(_) => panic!("529 is within 100..=999"),
};

/// The overloaded error as a stream event after a 200.
pub(super) fn overloaded_event() -> Bytes {
    super::render::event(&Event::Error {
        error: ErrorBody { kind: "overloaded_error", message: "Overloaded" },
    })
}

pub(super) fn missing_key(request_id: &str) -> Response<Reply> {
    error(StatusCode::UNAUTHORIZED, "authentication_error", "x-api-key header is required", request_id)
}

pub(super) fn missing_version(request_id: &str) -> Response<Reply> {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "anthropic-version: header is required",
        request_id,
    )
}

pub(super) fn not_found(request_id: &str) -> Response<Reply> {
    error(StatusCode::NOT_FOUND, "not_found_error", "Not Found", request_id)
}

/// The body is not JSON, or JSON of the wrong shape.
pub(super) fn bad_body(err: &serde_json::Error, request_id: &str) -> Response<Reply> {
    let message = if err.is_data() {
        format!("Invalid request body: {err}")
    } else {
        format!("The request body is not valid JSON: {err}")
    };
    error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, request_id)
}

/// A required body field is missing (`model`, `messages`, `max_tokens`).
pub(super) fn missing_field(field: &str, request_id: &str) -> Response<Reply> {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", &format!("{field}: Field required"), request_id)
}

/// A `mock-<name>` model or `x-mock-scenario` header naming no scenario.
pub(super) fn unknown_scenario(name: &str, request_id: &str) -> Response<Reply> {
    let message = format!("unknown mock scenario `{name}` (see docs/mocks.md)");
    error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, request_id)
}

pub(super) fn too_large(request_id: &str) -> Response<Reply> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        "Request exceeds the maximum allowed number of bytes.",
        request_id,
    )
}

fn error(status: StatusCode, kind: &'static str, message: &str, request_id: &str) -> Response<Reply> {
    let envelope = ErrorEnvelope { kind: "error", error: ErrorBody { kind, message }, request_id };
    let body = serde_json::to_vec(&envelope).expect("an error envelope always serializes");
    script::full(status, "application/json", body)
}
