//! The mock Warp upstream (fact sheet `shared/upstreams/warp.md` §10): Firebase token refresh
//! with rotating refresh tokens, `/client/login`, the two GraphQL queries, and `/ai/multi-agent`
//! answering protobuf requests with base64 protobuf SSE frames.
//!
//! Unlike the OpenAI and Anthropic mocks, this one uses the gateway's Warp wire types
//! (`channels::warp::wire`) to decode requests and encode frames: the schema is hand-written from
//! the fact sheet and a second copy would not be more independent. Its tests pin the bytes against
//! the sheet's captured vectors instead.
//!
//! Routes (any host; the gateway points every Warp URL at the mock):
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/token?key=…`, `POST /proxy/token?key=…` | refresh (see [`token`]) |
//! | `POST /client/login` | 204 + `Set-Cookie`, bearer ID token required |
//! | `POST /graphql/v2?op=…`, `POST /graphql` | see [`graphql`] |
//! | `POST /ai/multi-agent` | see [`agent`] |
//!
//! Every other route is a 404 `{"error":"not found"}`. The scenarios and how one is chosen are in
//! [`scenario`].

mod agent;
mod graphql;
mod scenario;
mod token;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use hyper::header::{HeaderValue, SET_COOKIE};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response, StatusCode};

use super::ids::Ids;
use super::script::{self, Reply};
use scenario::Scenario;

/// Firebase's ID token lifetime, the default TTL of issued ID tokens.
const DEFAULT_TTL_S: u64 = 3600;
/// Bounds on what the mock remembers, so a long benchmark cannot grow it without end.
const MAX_TOKENS: usize = 100_000;
const MAX_CONVERSATIONS: usize = 100_000;

/// What a Warp mock remembers across requests.
pub(super) struct State {
    ttl_s: AtomicU64,
    tokens: Mutex<Tokens>,
    /// Conversation id → the tool call ids issued in it.
    conversations: Mutex<HashMap<String, HashSet<String>>>,
    /// Conversations started by `tool_loop`: their continuations call the next tool.
    loops: Mutex<HashSet<String>>,
}

#[derive(Default)]
struct Tokens {
    live: HashSet<String>,
    retired: HashSet<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub(super) fn new() -> State {
        State {
            ttl_s: AtomicU64::new(DEFAULT_TTL_S),
            tokens: Mutex::new(Tokens::default()),
            conversations: Mutex::new(HashMap::new()),
            loops: Mutex::new(HashSet::new()),
        }
    }

    /// Sets the lifetime of the ID tokens issued from now on.
    pub(super) fn set_ttl(&self, seconds: u64) {
        self.ttl_s.store(seconds, Ordering::Relaxed);
    }

    /// The TTL of a token issued for this request: `x-mock-token-ttl-s`, else the server's.
    fn ttl(&self, headers: &HeaderMap) -> u64 {
        number(headers, "x-mock-token-ttl-s").unwrap_or_else(|| self.ttl_s.load(Ordering::Relaxed))
    }

    fn retry_after(&self, headers: &HeaderMap) -> u64 {
        number(headers, "x-mock-retry-after").unwrap_or(7)
    }

    /// Retires `old` and makes `new` the account's refresh token; `false` if `old` was retired.
    fn rotate(&self, old: &str, new: &str) -> bool {
        let mut tokens = lock(&self.tokens);
        if tokens.retired.contains(old) {
            return false;
        }
        if tokens.retired.len() >= MAX_TOKENS {
            tokens.retired.clear();
        }
        if tokens.live.len() >= MAX_TOKENS {
            tokens.live.clear();
        }
        tokens.live.remove(old);
        tokens.retired.insert(old.to_owned());
        tokens.live.insert(new.to_owned());
        true
    }

    /// Remembers that `tool_call_id` was issued in `conversation`.
    fn issue_call(&self, conversation: &str, tool_call_id: &str) {
        let mut conversations = lock(&self.conversations);
        if conversations.len() >= MAX_CONVERSATIONS && !conversations.contains_key(conversation) {
            conversations.clear();
        }
        conversations.entry(conversation.to_owned()).or_default().insert(tool_call_id.to_owned());
    }

    /// Was `tool_call_id` issued in `conversation`?
    fn was_issued(&self, conversation: &str, tool_call_id: &str) -> bool {
        lock(&self.conversations).get(conversation).is_some_and(|calls| calls.contains(tool_call_id))
    }

    /// Marks `conversation` as a `tool_loop` one.
    fn start_loop(&self, conversation: &str) {
        let mut loops = lock(&self.loops);
        if loops.len() >= MAX_CONVERSATIONS {
            loops.clear();
        }
        loops.insert(conversation.to_owned());
    }

    fn is_loop(&self, conversation: &str) -> bool {
        lock(&self.loops).contains(conversation)
    }

    /// Opens a conversation (without calls) so a continuation of it is known.
    fn open(&self, conversation: &str) {
        lock(&self.conversations).entry(conversation.to_owned()).or_default();
    }
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Answers one request; `body` is `None` when it was over the size limit.
pub(super) async fn handle(head: &Parts, body: Option<Bytes>, ids: &Ids, state: &State) -> Response<Reply> {
    let Some(body) = body else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    if head.method != Method::POST {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    match head.uri.path() {
        "/v1/token" | "/proxy/token" => token::refresh(head, &body, state, ids),
        "/client/login" => login(head, ids),
        "/graphql/v2" | "/graphql" => match authorize(head) {
            Ok(scenario) => graphql::handle(head, &body, scenario),
            Err(response) => *response,
        },
        "/ai/multi-agent" => agent::handle(head, body, ids, state).await,
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Checks the bearer ID token and picks the scenario of a non-agent route; the error response
/// otherwise (boxed: a response is large).
fn authorize(head: &Parts) -> Result<Scenario, Box<Response<Reply>>> {
    let Some(claims) = token::verify(head) else {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, UNAUTHORIZED)));
    };
    let picked =
        scenario::select([scenario::from_header(&head.headers), claims.scenario.as_deref()], Scenario::Text)
            .map_err(|name| Box::new(unknown_scenario(&name)))?;
    if picked == Scenario::Unauthorized {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthorized (mock scenario)")));
    }
    Ok(picked)
}

/// The body of the 401 for a missing, malformed or expired ID token.
const UNAUTHORIZED: &str = "Unauthorized: missing, malformed or expired ID token";

/// `POST /client/login`: 204 with a session cookie.
fn login(head: &Parts, ids: &Ids) -> Response<Reply> {
    if let Err(response) = authorize(head) {
        return *response;
    }
    let mut response = Response::new(Reply::new(Vec::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let cookie = format!("warp_session={}; Path=/; HttpOnly; Secure; SameSite=Lax", ids.mint("", 32));
    response.headers_mut().insert(SET_COOKIE, HeaderValue::try_from(cookie).expect("ids are ASCII"));
    response
}

/// A JSON response.
fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Reply> {
    script::full(status, "application/json", body.to_string())
}

/// Warp's error shape: `{"error": "<message>"}`.
fn error(status: StatusCode, message: &str) -> Response<Reply> {
    json_response(status, &serde_json::json!({ "error": message }))
}

fn unknown_scenario(name: &str) -> Response<Reply> {
    error(StatusCode::BAD_REQUEST, &format!("unknown mock scenario `{name}`"))
}
