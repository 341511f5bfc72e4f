//! The mock Anthropic Messages upstream: routes, API key and version checks, request checks.
//!
//! Routes: `POST /v1/messages` (stream and non-stream) and `GET /v1/models`; anything else is a
//! 404 `not_found_error`. Both routes need `x-api-key` (missing, or [`BAD_KEY`](super::BAD_KEY):
//! 401 `authentication_error`) and `anthropic-version` (missing: 400 `invalid_request_error`). A
//! body that is not JSON, or lacks `model`, `messages` or `max_tokens`, gets a 400. Every response
//! carries a `request-id` header; error bodies repeat it as `request_id`.

mod error;
mod render;
mod wire;

use std::borrow::Cow;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::ids::Ids;
use super::respond::respond;
use super::scenario::{self, Failure, MODEL_PREFIX, Params, Prompt, Scenario};
use super::script::{self, Reply};

/// The fields of a messages request the mock reads; the rest is accepted and ignored.
#[derive(Deserialize)]
struct MessagesRequest<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    max_tokens: Option<u64>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    stream: Option<bool>,
}

/// Answers one request; `body` is `None` when it was over the size limit.
pub(super) async fn handle(head: &Parts, body: Option<Bytes>, ids: &Ids) -> Response<Reply> {
    let request_id = ids.mint("req_011C", 20);
    let mut response = match (&head.method, head.uri.path()) {
        (&Method::POST, "/v1/messages") => match reject(&head.headers, &request_id) {
            Some(rejection) => rejection,
            None => messages(head, body, ids, &request_id).await,
        },
        (&Method::GET, "/v1/models") => reject(&head.headers, &request_id)
            .or_else(|| {
                scenario::key_failure(&head.headers).map(|failing| match failing {
                    Scenario::Fail(f) => error::failure(f, &request_id, 7),
                    _ => crate::mock::script::html_403(),
                })
            })
            .unwrap_or_else(models),
        _ => error::not_found(&request_id),
    };
    let request_id = HeaderValue::try_from(request_id).expect("ids are ASCII alphanumerics");
    response.headers_mut().insert("request-id", request_id);
    response
}

/// The 401 or 400 for a missing or rejected key or a missing version, or `None` to go on.
fn reject(headers: &HeaderMap, request_id: &str) -> Option<Response<Reply>> {
    match headers.get("x-api-key").map(HeaderValue::as_bytes) {
        None | Some(b"") => Some(error::missing_key(request_id)),
        Some(key) if key == super::BAD_KEY.as_bytes() => {
            Some(error::failure(Failure::Unauthorized, request_id, 0))
        }
        Some(_) if !headers.contains_key("anthropic-version") => Some(error::missing_version(request_id)),
        Some(_) => None,
    }
}

async fn messages(head: &Parts, body: Option<Bytes>, ids: &Ids, request_id: &str) -> Response<Reply> {
    let Some(body) = body else {
        return error::too_large(request_id);
    };
    let request: MessagesRequest<'_> = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return error::bad_body(&err, request_id),
    };
    let Some(model) = request.model.as_deref() else {
        return error::missing_field("model", request_id);
    };
    let Some(messages) = request.messages else {
        return error::missing_field("messages", request_id);
    };
    if request.max_tokens.is_none() {
        return error::missing_field("max_tokens", request_id);
    }
    let scenario = match scenario::select(&head.headers, model) {
        Ok(scenario) => scenario,
        Err(name) => return error::unknown_scenario(name, request_id),
    };
    let params = Params::new(&head.headers, scenario);
    let api = render::Messages {
        ids,
        id: ids.mint("msg_01", 22),
        model,
        request_id,
        retry_after: params.retry_after,
    };
    let prompt = Prompt { messages, tools: request.tools, body_len: body.len() };
    respond(&api, scenario, &params, request.stream.unwrap_or(false), &prompt).await
}

/// One `mock-<scenario>` model per scenario, in one page.
fn models() -> Response<Reply> {
    let data: Vec<wire::Model> = Scenario::ALL
        .iter()
        .map(|(name, _)| wire::Model {
            kind: "model",
            id: format!("{MODEL_PREFIX}{name}"),
            display_name: format!("Mock {name}"),
            created_at: "2025-01-01T00:00:00Z",
        })
        .collect();
    let list = wire::ModelList {
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        has_more: false,
        data,
    };
    script::json(serde_json::to_vec(&list).expect("a model list always serializes"))
}
