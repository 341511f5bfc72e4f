//! Every error the Grok mock answers, in grok.com's shapes.

use hyper::header::{CACHE_CONTROL, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::json;

use super::scenario::Failure;
use super::wire;
use crate::mock::script::{self, Reply};

fn json_error(status: StatusCode, body: &serde_json::Value) -> Response<Reply> {
    script::full(status, "application/json", serde_json::to_vec(body).expect("JSON always serializes"))
}

/// The HTTP error of a failure scenario.
pub(super) fn failure(failure: Failure, retry_after: u64) -> Response<Reply> {
    match failure {
        Failure::Unauthenticated => unauthenticated(),
        Failure::Blocked => json_error(
            StatusCode::FORBIDDEN,
            &json!({"error": {"code": "blocked-user", "message": "user is blocked"}}),
        ),
        Failure::RateLimited => {
            let mut response = too_many_requests();
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Failure::Server => json_error(StatusCode::INTERNAL_SERVER_ERROR, &wire::error(13, "Internal error")),
        Failure::ModelNotFound => invalid(StatusCode::BAD_REQUEST, "Model is not found"),
    }
}

/// 401 `{"error":{"code":16,"message":"Unauthenticated"}}`: no, mismatched or rejected SSO cookie.
pub(super) fn unauthenticated() -> Response<Reply> {
    json_error(StatusCode::UNAUTHORIZED, &wire::error(16, "Unauthenticated"))
}

/// 429 `{"error":{"code":8,"message":"Too many requests"}}`: the quota is spent.
pub(super) fn too_many_requests() -> Response<Reply> {
    json_error(StatusCode::TOO_MANY_REQUESTS, &wire::error(8, "Too many requests"))
}

/// 400 `{"error":{"code":3,"message":...}}`: a payload the API rejects.
pub(super) fn invalid(status: StatusCode, message: &str) -> Response<Reply> {
    json_error(status, &wire::error(3, message))
}

/// 400 `{"error":{"message":"Model is not found"}}`: `rate-limits` for an unknown mode (no code).
pub(super) fn unknown_mode() -> Response<Reply> {
    json_error(StatusCode::BAD_REQUEST, &json!({"error": {"message": "Model is not found"}}))
}

/// 400 `{"error":{"message":"missing <header>"}}`: a browser header the web app always sends.
pub(super) fn missing_header(name: &str) -> Response<Reply> {
    json_error(StatusCode::BAD_REQUEST, &json!({"error": {"message": format!("missing {name}")}}))
}

/// 404 `{"error":{"code":5,"message":"Not Found"}}`.
pub(super) fn not_found() -> Response<Reply> {
    json_error(StatusCode::NOT_FOUND, &wire::error(5, "Not Found"))
}

/// 400 naming a scenario that does not exist.
pub(super) fn unknown_scenario(name: &str) -> Response<Reply> {
    invalid(StatusCode::BAD_REQUEST, &format!("unknown mock scenario `{name}` (see docs/mocks.md)"))
}

pub(super) fn too_large() -> Response<Reply> {
    invalid(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
}

/// The assets CDN's refusal of a request without the SSO cookie.
pub(super) fn asset_forbidden() -> Response<Reply> {
    script::full(StatusCode::FORBIDDEN, "text/plain; charset=utf-8", "Forbidden\n")
}

/// The assets CDN's answer for a path it does not hold.
pub(super) fn asset_not_found() -> Response<Reply> {
    script::full(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "Not Found\n")
}

/// `html_403`: Cloudflare's managed challenge page in front of grok.com.
pub(super) fn cloudflare_challenge() -> Response<Reply> {
    const PAGE: &str = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
        <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\
        <meta name=\"robots\" content=\"noindex,nofollow\"></head><body>\
        <div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">\
        <h1 class=\"zone-name-title h1\">grok.com</h1>\
        <h2 class=\"h2\" id=\"challenge-running\">Verifying you are human. This may take a few seconds.</h2>\
        <noscript><div class=\"h2\">Enable JavaScript and cookies to continue</div></noscript></div></div>\
        <script>(function(){window._cf_chl_opt={cvId: '3',cZone: 'grok.com',cType: 'managed',\
        cRay: '8f0c1a2b3c4d5e6f',cH: 'mock',cUPMDTk: '/rest/app-chat/conversations/new?__cf_chl_tk=mock',\
        cFPWv: 'b',cITimeS: '1700000000'};var cpo=document.createElement('script');\
        cpo.src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8f0c1a2b3c4d5e6f';\
        document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>\n";
    let mut response = script::full(StatusCode::FORBIDDEN, "text/html; charset=UTF-8", PAGE);
    let headers = response.headers_mut();
    headers.insert("server", HeaderValue::from_static("cloudflare"));
    headers.insert("cf-mitigated", HeaderValue::from_static("challenge"));
    headers.insert("cf-ray", HeaderValue::from_static("8f0c1a2b3c4d5e6f-SJC"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, no-store, no-cache"));
    response
}
