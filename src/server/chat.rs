//! `POST /v1/messages` and `POST /v1/chat/completions`: parse, resolve the model, relay, reply.

use super::body::Slots;
use super::body::{ResponseBody, SseBody};
use super::{Reply, State, auth, read_body};
use crate::channels::ChannelKind;
use crate::dialect::answer::Answer;
use crate::dialect::{self, ApiError, Dialect, ReplyOptions, StreamEncoder};
use crate::ir::{ChatRequest, Event};
use crate::models::Model;
use crate::relay::{Committed, Plan, RelayError};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Duration;

pub async fn handle(
    state: &Arc<State>,
    request: Request<Incoming>,
    dialect: Dialect,
    pin: Option<ChannelKind>,
) -> Result<Reply, ApiError> {
    let key = auth::authenticate(&state.live, request.headers())?;
    let runtime = state.runtime();
    let slot = state.admit(dialect).await?;
    let (parts, body) = request.into_parts();
    let body = read_body(body, &parts.headers, state.max_body).await?;
    let (mut chat, options) = match dialect {
        Dialect::Anthropic => (dialect::anthropic::parse(&body, &parts.headers)?, ReplyOptions::default()),
        Dialect::OpenAi => dialect::openai::parse(&body)?,
    };
    chat.session = session(&parts.headers, chat.session.take(), key.as_deref().map(|k| k.name.as_str()));
    if let Some(key) = &key
        && !key.allows(&chat.model)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "model_not_allowed",
            format!("this API key may not use model `{}`", chat.model),
        )
        .with_param("model"));
    }
    let key_slot = match &key {
        Some(key) => auth::admit_key(&state.live, key, dialect, runtime.concurrency_queue).await?,
        None => None,
    };
    chat.key_id = key.as_ref().map(|k| k.id);
    let model = resolve(state, &chat.model, pin)?;
    if let Some(session) = &chat.session {
        learn_binding(state, session, runtime.session_ttl).await;
    }
    tracing::debug!(key = key.as_ref().map(|k| k.name.as_str()), model = %model.id, channel = %model.channel, stream = chat.stream, "chat request");
    let chat = Arc::new(chat);
    // Identical overlapping requests of one client on one route share an upstream call.
    let scope = format!("{}|{}", key.as_deref().map(|k| k.name.as_str()).unwrap_or("-"), parts.uri.path());
    let plan = Plan {
        request_timeout: runtime.request_timeout,
        idle_timeout: runtime.stream_idle_timeout,
        commit_by: chat.stream.then_some(runtime.ping_interval),
        max_retries: runtime.max_retries,
        retry_delay: runtime.retry_delay,
        session_ttl: runtime.session_ttl,
    };
    let committed = relay(state, &chat, &model, plan, runtime.dedup_window, &scope, &body).await?;
    let slots = (slot, key_slot);
    if chat.stream {
        Ok(stream(&chat, committed, dialect, options, runtime.ping_interval, slots))
    } else {
        // The slots are held until the whole answer is in; the reply itself is one write.
        let reply = whole(&chat, committed, dialect).await;
        drop(slots);
        reply
    }
}

/// Runs the request upstream, or joins an identical one already in flight.
async fn relay(
    state: &Arc<State>,
    chat: &Arc<ChatRequest>,
    model: &Model,
    plan: Plan,
    window: Duration,
    scope: &str,
    body: &Bytes,
) -> Result<Committed, ApiError> {
    let call = {
        let (state, chat, model) = (state.clone(), chat.clone(), model.clone());
        async move { state.relay.run(chat, &model, plan).await }
    };
    state.coalescer.run(window, scope, body, call).await.map_err(relay_error)
}

/// The session a request continues: Claude Code's session header first, then what the body said
/// (`metadata.user_id`, `conversation_id`, `prompt_cache_key`), then `X-Session-Id`. Scoped by
/// client key, so two clients that happen to use the same id do not share state.
fn session(headers: &http::HeaderMap, from_body: Option<String>, key: Option<&str>) -> Option<String> {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let id = header("x-claude-code-session-id")
        .map(str::to_string)
        .or(from_body)
        .or_else(|| header("x-session-id").map(str::to_string))?;
    Some(format!("{}/{id}", key.unwrap_or("-")))
}

/// A session this instance has not seen may be bound on another: take that binding.
async fn learn_binding(state: &State, session: &str, ttl: Duration) {
    if state.live.pool.bound(session).is_some() {
        return;
    }
    match state.live.store.get_session(&crate::state::usage::affinity_key(session)).await {
        Ok(Some(stored)) => {
            if let Some(account) = stored.account_id {
                state.live.pool.bind(session, account, ttl);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "cannot read a session binding; choosing afresh"),
    }
}

/// The first model named `id` (on `pin`, if given) whose channel has accounts.
fn resolve(state: &State, id: &str, pin: Option<ChannelKind>) -> Result<Model, ApiError> {
    let models = state.live.models.load();
    let mut candidates = models.candidates(id, pin).peekable();
    let first = *candidates.peek().ok_or_else(|| ApiError::model_not_found(id))?;
    Ok(candidates.find(|m| state.live.pool.serves(m.channel, &m.upstream)).unwrap_or(first).clone())
}

fn stream(
    chat: &ChatRequest,
    committed: Committed,
    dialect: Dialect,
    options: ReplyOptions,
    ping_interval: Duration,
    slots: Slots,
) -> Reply {
    let Committed { prefix, rest, by_deadline } = committed;
    let estimate = match dialect {
        // message_start carries input usage; when the upstream has not said it yet, a cheap
        // estimate stands in (the final message_delta carries the upstream's count).
        Dialect::Anthropic if !prefix.iter().any(|e| matches!(e, Event::Usage(u) if u.input.is_some())) => {
            chat.native.as_ref().map(|n| n.body.len() as u64 / 4).unwrap_or(0)
        }
        _ => 0,
    };
    let encoder = StreamEncoder::new(dialect, &chat.model, options, estimate);
    let body = SseBody::new(prefix, rest, encoder, ping_interval, by_deadline, slots);
    let mut response = Response::new(ResponseBody::Sse(Box::new(body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

async fn whole(chat: &ChatRequest, committed: Committed, dialect: Dialect) -> Result<Reply, ApiError> {
    let Committed { prefix, mut rest, .. } = committed;
    let mut answer = Answer::default();
    for event in prefix {
        answer.push(event);
    }
    while let Some(event) = rest.next().await {
        if let Event::Error(e) = event {
            // Nothing has been sent yet: a failure mid-answer is still a clean error.
            tracing::warn!(error = %e, "upstream failed while the answer was gathered");
            return Err(ApiError::from(&e));
        }
        answer.push(event);
    }
    let body = dialect::render_answer(dialect, &chat.model, &answer);
    let mut response = Response::new(ResponseBody::full(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

pub(super) fn relay_error(e: RelayError) -> ApiError {
    match e {
        RelayError::PoolExhausted { channel, retry_at } => match crate::relay::retry_after(retry_at) {
            Some(after) => ApiError::pool_exhausted(channel.as_str()).with_retry_after(after),
            // Nothing is merely cooling: the channel has no account that could serve.
            None => ApiError::no_account(channel.as_str()),
        },
        RelayError::Upstream(e) => ApiError::from(&e),
    }
}
