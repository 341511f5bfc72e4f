//! Renders every error the OpenAI mock answers, in OpenAI's envelope and with OpenAI's statuses.

use bytes::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Method, Response, StatusCode};

use super::wire::{ErrorBody, ErrorEnvelope};
use crate::mock::scenario::Failure;
use crate::mock::script::{self, Reply};

/// What the request said that some error messages repeat.
pub(super) struct Context<'a> {
    pub(super) key: &'a str,
    pub(super) model: &'a str,
    pub(super) retry_after: u64,
}

/// The HTTP error of a scenario.
pub(super) fn failure(failure: Failure, cx: &Context<'_>) -> Response<Reply> {
    match failure {
        Failure::ContextLength => error(
            StatusCode::BAD_REQUEST,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in \
             131072 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            Some("messages"),
            Some("context_length_exceeded"),
        ),
        Failure::Unauthorized => incorrect_key(cx.key),
        Failure::Forbidden => error(
            StatusCode::FORBIDDEN,
            "Country, region, or territory not supported",
            "request_forbidden",
            None,
            Some("unsupported_country_region_territory"),
        ),
        Failure::RateLimited => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Rate limit reached for {} in organization org-mock on requests per min (RPM): Limit 3, \
                     Used 3, Requested 1. Please try again in {}s. Visit \
                     https://platform.openai.com/account/rate-limits to learn more.",
                    cx.model, cx.retry_after
                ),
                "requests",
                None,
                Some("rate_limit_exceeded"),
            );
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(cx.retry_after));
            response
        }
        Failure::Server => error(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR, "server_error", None, None),
        Failure::Overloaded => error(StatusCode::SERVICE_UNAVAILABLE, OVERLOADED, "server_error", None, None),
    }
}

const SERVER_ERROR: &str = "The server had an error while processing your request. Sorry about that!";
const OVERLOADED: &str = "That model is currently overloaded with other requests. You can retry your request, \
    or contact us through our help center at help.openai.com if the error persists.";

/// The overloaded error as a stream frame after a 200: `data: {"error":{...}}`.
pub(super) fn overloaded_frame() -> Bytes {
    let mut frame = b"data: ".to_vec();
    serde_json::to_writer(&mut frame, &envelope(OVERLOADED, "server_error", None, None))
        .expect("an error envelope always serializes");
    frame.extend_from_slice(b"\n\n");
    frame.into()
}

/// A key the API does not know; the message shows it masked.
pub(super) fn incorrect_key(key: &str) -> Response<Reply> {
    let message = format!(
        "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
        mask(key)
    );
    error(StatusCode::UNAUTHORIZED, &message, "invalid_request_error", None, Some("invalid_api_key"))
}

/// No `Authorization: Bearer` header at all.
pub(super) fn missing_key() -> Response<Reply> {
    error(
        StatusCode::UNAUTHORIZED,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using \
         Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) \
         if you're accessing the API from your browser and are prompted for a username and password. You \
         can obtain an API key from https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        None,
        None,
    )
}

pub(super) fn not_found(method: &Method, path: &str) -> Response<Reply> {
    error(
        StatusCode::NOT_FOUND,
        &format!("Invalid URL ({method} {path})"),
        "invalid_request_error",
        None,
        None,
    )
}

/// The body is not JSON, or JSON of the wrong shape.
pub(super) fn bad_body(err: &serde_json::Error) -> Response<Reply> {
    let message = if err.is_data() {
        format!("Invalid request body: {err}")
    } else {
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your \
         HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid \
         JSON. If you have trouble figuring out how to fix this, please contact us through our help center \
         at help.openai.com.)"
            .to_owned()
    };
    error(StatusCode::BAD_REQUEST, &message, "invalid_request_error", None, None)
}

pub(super) fn missing_model() -> Response<Reply> {
    error(StatusCode::BAD_REQUEST, "you must provide a model parameter", "invalid_request_error", None, None)
}

pub(super) fn missing_messages() -> Response<Reply> {
    error(
        StatusCode::BAD_REQUEST,
        "Missing required parameter: 'messages'.",
        "invalid_request_error",
        Some("messages"),
        Some("missing_required_parameter"),
    )
}

/// A `mock-<name>` model or `x-mock-scenario` header naming no scenario.
pub(super) fn unknown_scenario(name: &str) -> Response<Reply> {
    error(
        StatusCode::BAD_REQUEST,
        &format!("unknown mock scenario `{name}` (see docs/mocks.md)"),
        "invalid_request_error",
        Some("model"),
        None,
    )
}

pub(super) fn too_large() -> Response<Reply> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large for the mock upstream.",
        "invalid_request_error",
        None,
        None,
    )
}

fn error(
    status: StatusCode,
    message: &str,
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
) -> Response<Reply> {
    let body = serde_json::to_vec(&envelope(message, kind, param, code))
        .expect("an error envelope always serializes");
    script::full(status, "application/json", body)
}

fn envelope<'a>(
    message: &'a str,
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
) -> ErrorEnvelope<'a> {
    ErrorEnvelope { error: ErrorBody { message, kind, param, code } }
}

/// Shows a key the way OpenAI does in error messages: its ends, the middle starred out.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..6], &chars[chars.len() - 4..]);
    head.iter().chain(std::iter::repeat_n(&'*', chars.len() - 10)).chain(tail).collect()
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_the_middle_of_a_key() {
        assert_eq!(mask("sk-mock-bad"), "sk-moc*-bad");
        assert_eq!(mask("short"), "*****");
    }
}
