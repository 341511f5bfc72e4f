//! The mock OpenAI Chat Completions upstream: routes, API key check, request checks.
//!
//! Routes: `POST /v1/chat/completions` (stream and non-stream) and `GET /v1/models`; anything else
//! is a 404 `Invalid URL (METHOD /path)`. Both routes need `Authorization: Bearer <key>`: a missing
//! key, or the key [`BAD_KEY`](super::BAD_KEY), gets OpenAI's 401. A body that is not JSON, or lacks
//! `model` or `messages`, gets OpenAI's 400.

mod error;
mod render;
mod wire;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::ids::Ids;
use super::respond::respond;
use super::scenario::{self, MODEL_PREFIX, Params, Prompt, Scenario};
use super::script::{self, Reply};

/// The fields of a chat completion request the mock reads; the rest is accepted and ignored.
#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// Answers one request; `body` is `None` when it was over the size limit.
pub(super) async fn handle(head: &Parts, body: Option<Bytes>, ids: &Ids) -> Response<Reply> {
    let mut response = match (&head.method, head.uri.path()) {
        (&Method::POST, "/v1/chat/completions") => match reject_key(&head.headers) {
            Some(rejection) => rejection,
            None => chat(head, body, ids).await,
        },
        (&Method::GET, "/v1/models") => reject_key(&head.headers)
            .or_else(|| {
                scenario::key_failure(&head.headers).map(|failing| match failing {
                    Scenario::Fail(f) => {
                        let cx = error::Context {
                            key: bearer(&head.headers).unwrap_or(""),
                            model: "",
                            retry_after: 7,
                        };
                        error::failure(f, &cx)
                    }
                    _ => crate::mock::script::html_403(),
                })
            })
            .unwrap_or_else(models),
        (method, path) => error::not_found(method, path),
    };
    let request_id = HeaderValue::try_from(ids.mint("req_", 32)).expect("ids are ASCII alphanumerics");
    response.headers_mut().insert("x-request-id", request_id);
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|key| !key.is_empty())
}

/// The 401 for a missing or rejected key, or `None` to go on.
fn reject_key(headers: &HeaderMap) -> Option<Response<Reply>> {
    match bearer(headers) {
        None => Some(error::missing_key()),
        Some(key) if key == super::BAD_KEY => Some(error::incorrect_key(key)),
        Some(_) => None,
    }
}

async fn chat(head: &Parts, body: Option<Bytes>, ids: &Ids) -> Response<Reply> {
    let Some(body) = body else {
        return error::too_large();
    };
    let request: ChatRequest<'_> = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return error::bad_body(&err),
    };
    let Some(model) = request.model.as_deref() else {
        return error::missing_model();
    };
    let Some(messages) = request.messages else {
        return error::missing_messages();
    };
    let scenario = match scenario::select(&head.headers, model) {
        Ok(scenario) => scenario,
        Err(name) => return error::unknown_scenario(name),
    };
    let params = Params::new(&head.headers, scenario);
    let chat = render::Chat {
        ids,
        id: ids.mint("chatcmpl-", 29),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        model,
        include_usage: request.stream_options.and_then(|o| o.include_usage).unwrap_or(false),
        error: error::Context {
            key: bearer(&head.headers).unwrap_or(""),
            model,
            retry_after: params.retry_after,
        },
    };
    let prompt = Prompt { messages, tools: request.tools, body_len: body.len() };
    respond(&chat, scenario, &params, request.stream.unwrap_or(false), &prompt).await
}

/// One `mock-<scenario>` model per scenario.
fn models() -> Response<Reply> {
    let list = wire::ModelList {
        object: "list",
        data: Scenario::ALL
            .iter()
            .map(|(name, _)| wire::Model {
                id: format!("{MODEL_PREFIX}{name}"),
                object: "model",
                created: 1_700_000_000,
                owned_by: "orchids2api-mock",
            })
            .collect(),
    };
    script::json(serde_json::to_vec(&list).expect("a model list always serializes"))
}
