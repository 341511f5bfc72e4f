//! The mock of grok.com's web app API: routes, cookie check, browser headers, payload checks, and
//! the state a real account has (uploaded files, per-mode query quotas).
//!
//! Routes (all `POST` JSON, under `/rest/`): `app-chat/conversations/new` (the NDJSON chat
//! stream), `app-chat/upload-file`, `rate-limits`, `media/post/create`, `livekit/tokens`; and the
//! assets host on the same port: `GET`/`HEAD /users/...` ([`assets`]). Anything else is a 404
//! `{"error":{"code":5,"message":"Not Found"}}`. `docs/mocks.md` has the whole contract.
//!
//! **Auth.** Every `/rest/` and asset request needs `Cookie: sso=<T>; sso-rw=<T>` with the same
//! `T`. Without it, or with `T` = [`BAD_SSO`], `/rest/` answers 401
//! `{"error":{"code":16,"message":"Unauthenticated"}}` and the assets host 403. `/rest/` requests
//! must also carry the browser headers the web app sends: `x-xai-request-id`, `origin`, `referer`
//! and `user-agent` (else 400 `{"error":{"message":"missing <header>"}}`).
//!
//! **Tokens.** `scenario-<name>` picks a scenario for every request of that account (failure
//! scenarios also fail its uploads, rate-limit checks...); `quota-<n>-<anything>` starts the
//! account with `n` queries per mode instead of 20.

mod assets;
mod error;
mod scenario;
mod stream;
mod wire;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use self::scenario::{Params, Scenario};
use super::ids::Ids;
use super::script::{self, Reply};

/// The SSO token the mock rejects with its 401 (403 on the assets host).
pub const BAD_SSO: &str = "sso-mock-bad";
/// SSO tokens `scenario-<name>` pick that scenario for every request of the account.
pub const SCENARIO_TOKEN_PREFIX: &str = "scenario-";
/// SSO tokens `quota-<n>-<anything>` start with `n` remaining queries per mode.
pub const QUOTA_TOKEN_PREFIX: &str = "quota-";
/// Queries per mode of an ordinary token, and `totalQueries` of every token with fewer.
const DEFAULT_QUOTA: u64 = 20;
/// The modes `rate-limits` and `modeId` know.
const MODES: [&str; 5] = ["fast", "auto", "expert", "heavy", "grok-420-computer-use-sa"];
/// The browser headers every `/rest/` request must carry.
const BROWSER_HEADERS: [&str; 4] = ["x-xai-request-id", "origin", "referer", "user-agent"];

/// The names of the Grok mock's chat scenarios, for tests and docs.
pub fn grok_scenarios() -> impl Iterator<Item = &'static str> {
    Scenario::ALL.iter().map(|(name, _)| *name)
}

/// What the Grok mock remembers between requests.
#[derive(Default)]
pub(in crate::mock) struct State {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Uploaded files by `fileMetadataId`.
    uploads: HashMap<String, Upload>,
    /// Remaining queries by (token, mode), once the account has been seen.
    remaining: HashMap<(String, String), u64>,
}

struct Upload {
    token: String,
    uri: String,
    mime: String,
    bytes: Bytes,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remaining queries of a token for a mode.
    fn remaining(&self, token: &str, mode: &str) -> u64 {
        *self
            .lock()
            .remaining
            .entry((token.to_owned(), mode.to_owned()))
            .or_insert_with(|| start_quota(token))
    }

    /// Spends one query; `false` if none is left.
    fn take_query(&self, token: &str, mode: &str) -> bool {
        let mut inner = self.lock();
        let left =
            inner.remaining.entry((token.to_owned(), mode.to_owned())).or_insert_with(|| start_quota(token));
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }

    /// Whether `id` (a `fileMetadataId` or `fileUri`) was uploaded by `token`.
    fn owns(&self, token: &str, id: &str) -> bool {
        let inner = self.lock();
        inner.uploads.get(id).map(|u| u.token == token).unwrap_or_else(|| {
            inner.uploads.values().any(|u| u.token == token && u.uri == id.trim_start_matches('/'))
        })
    }

    /// The MIME type and bytes uploaded at `uri` (`users/<uid>/<fileId>/content`).
    pub(super) fn upload_by_uri(&self, uri: &str) -> Option<(String, Bytes)> {
        self.lock().uploads.values().find(|u| u.uri == uri).map(|u| (u.mime.clone(), u.bytes.clone()))
    }
}

/// The quota a token starts with: `n` for `quota-<n>-...`, else 20.
fn start_quota(token: &str) -> u64 {
    token
        .strip_prefix(QUOTA_TOKEN_PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_QUOTA)
}

/// The user id of an account: a stable UUID-shaped hash of its token.
fn user_id(token: &str) -> String {
    let hash = |salt: u64| {
        token
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    };
    let h = format!("{:016x}{:016x}", hash(0), hash(0x9E37_79B9_7F4A_7C15));
    format!("{}-{}-4{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

#[derive(Clone, Copy)]
enum Route {
    Chat,
    Upload,
    RateLimits,
    MediaPost,
    Livekit,
}

/// Answers one request; `body` is `None` when it was over the size limit.
pub(super) async fn handle(head: &Parts, body: Option<Bytes>, ids: &Ids, state: &State) -> Response<Reply> {
    let path = head.uri.path();
    if path.starts_with("/users/") && matches!(head.method, Method::GET | Method::HEAD) {
        return match sso(&head.headers) {
            Some(_) => assets::serve(path, head.method == Method::HEAD, state),
            None => error::asset_forbidden(),
        };
    }
    let route = match (&head.method, path) {
        (&Method::POST, "/rest/app-chat/conversations/new") => Route::Chat,
        (&Method::POST, "/rest/app-chat/upload-file") => Route::Upload,
        (&Method::POST, "/rest/rate-limits") => Route::RateLimits,
        (&Method::POST, "/rest/media/post/create") => Route::MediaPost,
        (&Method::POST, "/rest/livekit/tokens") => Route::Livekit,
        _ => return error::not_found(),
    };
    let Some(token) = sso(&head.headers) else {
        return error::unauthenticated();
    };
    if let Some(missing) = BROWSER_HEADERS.iter().find(|name| !head.headers.contains_key(**name)) {
        return error::missing_header(missing);
    }
    let Some(body) = body else {
        return error::too_large();
    };
    let params = Params::new(&head.headers);
    // A failure named by the header or the token fails every route of the account.
    match scenario::named_by_request(&head.headers, token) {
        Err(name) => return error::unknown_scenario(name),
        Ok(Some(failing)) if failing.is_http_error() && !matches!(route, Route::Chat) => {
            return http_error(failing, &params);
        }
        Ok(_) => {}
    }
    let payload: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(payload)) => payload,
        Ok(_) => return error::invalid(StatusCode::BAD_REQUEST, "the body must be a JSON object"),
        Err(err) => return error::invalid(StatusCode::BAD_REQUEST, &format!("invalid JSON: {err}")),
    };
    match route {
        Route::Chat => chat(head, &payload, token, ids, state, &params).await,
        Route::Upload => upload(&payload, token, ids, state),
        Route::RateLimits => rate_limits(&payload, token, state),
        Route::MediaPost => media_post(&payload, ids),
        Route::Livekit => livekit(&payload, ids),
    }
}

/// The SSO token of `Cookie: sso=<T>; sso-rw=<T>`; `None` if either is missing or empty, they
/// differ, or the token is [`BAD_SSO`].
fn sso(headers: &HeaderMap) -> Option<&str> {
    let (mut sso, mut sso_rw) = (None, None);
    for value in headers.get_all(COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            match pair.trim().split_once('=') {
                Some(("sso", v)) => sso = Some(v.trim()),
                Some(("sso-rw", v)) => sso_rw = Some(v.trim()),
                _ => {}
            }
        }
    }
    let token = sso.filter(|t| !t.is_empty() && *t != BAD_SSO)?;
    (sso_rw == Some(token)).then_some(token)
}

fn http_error(scenario: Scenario, params: &Params) -> Response<Reply> {
    match scenario {
        Scenario::Fail(failure) => error::failure(failure, params.retry_after),
        _ => error::cloudflare_challenge(),
    }
}

fn json_reply(value: &Value) -> Response<Reply> {
    script::json(serde_json::to_vec(value).expect("JSON always serializes"))
}

fn bad_request(message: &str) -> Response<Reply> {
    error::invalid(StatusCode::BAD_REQUEST, message)
}

/// `POST /rest/app-chat/conversations/new`: checks the payload, spends a query, plays the scenario.
async fn chat(
    head: &Parts,
    payload: &Map<String, Value>,
    token: &str,
    ids: &Ids,
    state: &State,
    params: &Params,
) -> Response<Reply> {
    let Some(message) = payload.get("message").and_then(Value::as_str) else {
        return bad_request("message must be a string");
    };
    let attachments: Vec<String> = match payload.get("fileAttachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => match items.iter().map(|v| v.as_str().map(str::to_owned)).collect() {
            Some(ids) => ids,
            None => return bad_request("fileAttachments must be an array of strings"),
        },
        Some(_) => return bad_request("fileAttachments must be an array of strings"),
    };
    if message.trim().is_empty() && attachments.is_empty() {
        return bad_request("message is empty");
    }
    let mode_id = payload.get("modeId").and_then(Value::as_str);
    let model_name = payload.get("modelName").and_then(Value::as_str);
    let Some(model) = model_name.or(mode_id) else {
        return bad_request("modeId or modelName is required");
    };
    if mode_id.is_some_and(|mode| !MODES.contains(&mode)) {
        return bad_request("Model is not found");
    }
    if let Some(unknown) = attachments.iter().find(|id| !state.owns(token, id)) {
        return bad_request(&format!("file attachment `{unknown}` not found"));
    }
    let payload_value = Value::Object(payload.clone());
    let scenario = match scenario::select(&head.headers, token, message, &payload_value) {
        Ok(scenario) => scenario,
        Err(name) => return error::unknown_scenario(&name),
    };
    if !params.delay.is_zero() {
        tokio::time::sleep(params.delay).await;
    }
    if scenario.is_http_error() {
        return http_error(scenario, params);
    }
    if !state.take_query(token, mode_id.unwrap_or("fast")) {
        return error::too_many_requests();
    }
    let uid = user_id(token);
    let chat = stream::Chat { message, model, attachments: &attachments, uid: &uid, payload: &payload_value };
    let mut response = Response::new(Reply::new(stream::script(scenario, &chat, ids, params)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `POST /rest/app-chat/upload-file`: keeps the bytes for the assets host and the chat's checks.
fn upload(payload: &Map<String, Value>, token: &str, ids: &Ids, state: &State) -> Response<Reply> {
    let content = payload.get("content").and_then(Value::as_str).unwrap_or("");
    if content.is_empty() {
        return bad_request("content is empty");
    }
    let Ok(bytes) = STANDARD.decode(content) else {
        return bad_request("content is not valid base64");
    };
    let name = payload.get("fileName").and_then(Value::as_str).unwrap_or("file.bin");
    let mime = payload.get("fileMimeType").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let id = ids.uuid();
    let uri = format!("users/{}/{id}/content", user_id(token));
    state.lock().uploads.insert(
        id.clone(),
        Upload { token: token.to_owned(), uri: uri.clone(), mime: mime.to_owned(), bytes: bytes.into() },
    );
    json_reply(&json!({
        "fileMetadataId": id,
        "fileUri": uri,
        "fileName": name,
        "fileMimeType": mime,
        "createTime": wire::now(),
        "fileSource": "SELF_UPLOAD_FILE_SOURCE",
    }))
}

/// `POST /rest/rate-limits`: the account's remaining queries for one mode.
fn rate_limits(payload: &Map<String, Value>, token: &str, state: &State) -> Response<Reply> {
    let Some(mode) = payload.get("modelName").and_then(Value::as_str).filter(|m| MODES.contains(m)) else {
        return error::unknown_mode();
    };
    let remaining = state.remaining(token, mode);
    json_reply(&json!({
        "windowSizeSeconds": 72_000,
        "remainingQueries": remaining,
        "totalQueries": start_quota(token).max(DEFAULT_QUOTA),
        "lowEffortRateLimits": null,
        "highEffortRateLimits": null,
    }))
}

/// `POST /rest/media/post/create`: `{"mediaType", "prompt" | "mediaUrl"}` → a post id.
fn media_post(payload: &Map<String, Value>, ids: &Ids) -> Response<Reply> {
    if payload.get("mediaType").and_then(Value::as_str).is_none_or(str::is_empty) {
        return bad_request("mediaType is required");
    }
    let has = |key: &str| payload.get(key).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !has("prompt") && !has("mediaUrl") {
        return bad_request("prompt or mediaUrl is required");
    }
    json_reply(&json!({"post": {"id": format!("post-{}", ids.hex(16))}}))
}

/// `POST /rest/livekit/tokens`: `sessionPayload` must be a JSON document in a string.
fn livekit(payload: &Map<String, Value>, ids: &Ids) -> Response<Reply> {
    let session = payload.get("sessionPayload").and_then(Value::as_str);
    if session.is_none_or(|s| serde_json::from_str::<Map<String, Value>>(s).is_err()) {
        return bad_request("sessionPayload must be a JSON object encoded as a string");
    }
    json_reply(&json!({"token": format!("lk-{}", ids.hex(32)), "livekitUrl": "wss://livekit.grok.com"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(value: &'static str) -> HeaderMap {
        [(COOKIE, HeaderValue::from_static(value))].into_iter().collect()
    }

    #[test]
    fn sso_needs_both_cookies_with_one_token() {
        assert_eq!(sso(&cookie("sso=abc; sso-rw=abc")), Some("abc"));
        assert_eq!(sso(&cookie("a=1; sso-rw=abc;sso=abc; cf_clearance=x")), Some("abc"));
        assert_eq!(sso(&cookie("sso=abc")), None);
        assert_eq!(sso(&cookie("sso=abc; sso-rw=abd")), None);
        assert_eq!(sso(&cookie("sso=; sso-rw=")), None);
        assert_eq!(sso(&cookie("sso=sso-mock-bad; sso-rw=sso-mock-bad")), None);
        assert_eq!(sso(&HeaderMap::new()), None);
    }

    #[test]
    fn quotas_and_user_ids_come_from_the_token() {
        assert_eq!(start_quota("quota-3-a"), 3);
        assert_eq!(start_quota("quota-0"), 0);
        assert_eq!(start_quota("plain"), 20);
        assert_eq!(user_id("a"), user_id("a"));
        assert_ne!(user_id("a"), user_id("b"));
        assert_eq!(user_id("a").len(), 36);
    }
}
