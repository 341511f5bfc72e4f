//! The Warp channel (Warp terminal's “multi-agent” API, `shared/upstreams/warp.md`).
//!
//! - [`wire`]: `Request` and `ResponseEvent` as hand-written `prost` types;
//! - [`frames`]: SSE + base64 + protobuf → typed [`frames::WarpEvent`]s, as a stream-core framer;
//! - [`auth`]: Firebase refresh token → ID token, `/client/login` ([`Channel::refresh`]);
//! - [`request`]: the latest turn → a protobuf `Request` (HEAD design, §2.4–2.6);
//! - [`decode`]: frames → IR events, snapshot/delta reconciliation, tool mapping (§3.4–3.6);
//! - [`bindings`]: conversation ids and tool-call bindings in the store, shared by instances;
//! - [`graphql`]: per-account limits and model choices (§1.6–1.7).
//!
//! Warp keeps the conversation server-side and per account: a request continues the
//! conversation its client conversation started ([`bindings`]), tool results go back to the
//! conversation and account that issued the calls ([`Channel::pin`]).

pub(crate) mod auth;
#[doc(hidden)]
pub mod bench;
pub(crate) mod bindings;
pub(crate) mod decode;
pub(crate) mod frames;
pub(crate) mod graphql;
pub(crate) mod request;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod wire;

#[cfg(test)]
mod channel_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use prost::Message as _;

use crate::channels::events::FramedEvents;
use crate::channels::{Call, Channel, EventStream, Pin, Refreshed, classify};
use crate::ir::{ChatRequest, ErrorKind, Event, UpstreamError};
use crate::pool::{AccountInfo, Pool};
use crate::secret::Secret;
use crate::store::{AccountPatch, Store};
use crate::time::now_ms;
use crate::upstream::Upstream;

/// What the channel is built from.
pub struct Options {
    pub upstream: Upstream,
    /// Warp's API root (`https://app.warp.dev`); an account's own `base_url` wins.
    pub base_url: String,
    /// The Firebase token endpoint (`https://securetoken.googleapis.com/v1/token`).
    pub auth_url: String,
    pub store: Arc<dyn Store>,
    pub pool: Arc<Pool>,
    /// How long conversation ids and tool-call bindings are kept.
    pub session_ttl: Duration,
}

/// Shared by the channel and its background tasks.
pub(crate) struct Settings {
    pub(crate) upstream: Upstream,
    pub(crate) base_url: String,
    pub(crate) auth_url: String,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) session_ttl: Duration,
    /// Per account: the models it may call (GraphQL `agentMode.choices`) and when its quota
    /// resets, as last read.
    pub(crate) accounts: Mutex<HashMap<u64, graphql::AccountFacts>>,
}

pub struct WarpChannel {
    settings: Arc<Settings>,
}

impl WarpChannel {
    pub fn new(options: Options) -> WarpChannel {
        WarpChannel {
            settings: Arc::new(Settings {
                upstream: options.upstream,
                base_url: options.base_url,
                auth_url: options.auth_url,
                store: options.store,
                pool: options.pool,
                session_ttl: options.session_ttl,
                accounts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Reads every Warp account's limits and model choices every `interval`, until `shutdown`.
    pub fn spawn_quota_reader(
        &self,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let settings = self.settings.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = crate::state::usage::stopped(&mut shutdown) => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                for (account, _) in settings.pool.accounts(crate::channels::ChannelKind::Warp) {
                    let Some(session) = auth::Session::of(account.state.as_ref(), now_ms()) else { continue };
                    if let Err(e) = graphql::sync(&settings, &account, &session).await {
                        tracing::debug!(account = %account.name, error = %e, "warp: limits not read");
                    }
                }
            }
        })
    }
}

impl Settings {
    pub(crate) fn base_url<'a>(&'a self, account: &'a AccountInfo) -> &'a str {
        let own = account.base_url.trim_end_matches('/');
        if own.is_empty() { self.base_url.trim_end_matches('/') } else { own }
    }

    fn facts(&self, account: u64) -> graphql::AccountFacts {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(&account).cloned().unwrap_or_default()
    }
}

impl Channel for WarpChannel {
    fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
        let settings = self.settings.clone();
        Box::pin(async move { run(settings, call).await })
    }

    /// Reads the account's limits and model choices (GraphQL). An account without a live
    /// session is refreshed first, under the same cross-instance lock as every refresh.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let settings = self.settings.clone();
        Box::pin(async move {
            let session = match auth::Session::of(account.state.as_ref(), now_ms()) {
                Some(session) => session,
                None => refresh_for_check(&settings, &account).await?,
            };
            graphql::sync(&settings, &account, &session).await
        })
    }

    fn refresh(
        &self,
        account: Arc<AccountInfo>,
    ) -> Option<BoxFuture<'static, Result<Refreshed, UpstreamError>>> {
        let settings = self.settings.clone();
        Some(Box::pin(async move {
            let base = settings.base_url(&account).to_owned();
            auth::refresh(&settings, &base, &account.credential).await
        }))
    }

    fn pin(
        &self,
        request: Arc<ChatRequest>,
    ) -> Option<BoxFuture<'static, Result<Option<Pin>, UpstreamError>>> {
        let settings = self.settings.clone();
        Some(Box::pin(async move {
            let turn = request::latest_turn(&request);
            let resolved = bindings::resolve(settings.store.as_ref(), &request, &turn).await?;
            Ok(resolved.conversation.map(|(_, account)| Pin { account, strict: resolved.strict }))
        }))
    }
}

/// One call: resolve the conversation, build, send, decode, remember.
async fn run(settings: Arc<Settings>, call: Call) -> Result<EventStream, UpstreamError> {
    let account = call.account.clone();
    let Some(session) = auth::Session::of(account.state.as_ref(), now_ms()) else {
        // The relay refreshes the account and calls again.
        return Err(UpstreamError::new(ErrorKind::Unauthorized).with_message("no live Warp session"));
    };
    let model = call.upstream_model.to_lowercase();
    let facts = settings.facts(account.id);
    if let Some(choices) = &facts.models
        && !choices.is_empty()
        && !model.starts_with("auto")
        && !choices.iter().any(|c| c.eq_ignore_ascii_case(&model))
    {
        return Err(UpstreamError::new(ErrorKind::NotEntitled)
            .with_message(format!("the Warp model `{model}` is not among this account's choices")));
    }
    let turn = request::latest_turn(&call.request);
    let resolved = bindings::resolve(settings.store.as_ref(), &call.request, &turn).await?;
    let conversation = match &resolved.conversation {
        Some((id, owner)) if *owner == account.id => Some(id.clone()),
        Some(_) if resolved.strict => {
            return Err(UpstreamError::new(ErrorKind::Conflict)
                .with_message("the tool results belong to a Warp conversation of another account"));
        }
        // The conversation lives on another account: this one starts afresh.
        _ => None,
    };
    let cx = request::Context {
        conversation_id: conversation.as_deref(),
        model: &model,
        cli_agent: facts.cli_agent.as_deref(),
        computer_use_agent: facts.computer_use_agent.as_deref(),
        now_ms: now_ms(),
    };
    let body = request::build(&call.request, &turn, &resolved.calls, &cx).encode_to_vec();
    let mut builder =
        auth::client_headers(http::Request::post(format!("{}/ai/multi-agent", settings.base_url(&account))))
            .header(AUTHORIZATION, auth::bearer(&session.id_token)?)
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(ACCEPT, "text/event-stream")
            .header(http::header::ACCEPT_ENCODING, "identity");
    if let Some(cookie) = &session.cookie {
        builder = builder.header(http::header::COOKIE, cookie.as_str());
    }
    let request = builder.body(Full::new(Bytes::from(body))).map_err(classify::bad_request_line)?;
    let response = settings.upstream.send(request).await?;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        let error = failure(parts.status, &parts.headers, body, &facts).await;
        if matches!(error.kind(), ErrorKind::RateLimited | ErrorKind::QuotaExhausted) {
            // The limits changed under us: read them again, aside, so the pool knows the reset.
            let (settings, account, session) = (settings.clone(), account.clone(), session.clone());
            tokio::spawn(async move {
                if let Err(e) = graphql::sync(&settings, &account, &session).await {
                    tracing::debug!(account = account.id, error = %e, "warp: limits not read after a 429");
                }
            });
        }
        return Err(error);
    }
    let learned = Arc::new(Mutex::new(decode::Learned::default()));
    let tools = call.request.tools.iter().map(|t| t.name.clone()).collect();
    let decoder = decode::Decoder::new(learned.clone()).with_tools(tools);
    let events = FramedEvents::new(body, frames::WarpFramer::new(), decoder);
    let remember = Remember {
        settings: settings.clone(),
        scope: bindings::scope(&call.request),
        account: account.clone(),
        session,
        learned,
    };
    Ok(remember.around(Box::pin(events)))
}

/// Persists what the answer taught before its end reaches the client, so that the client's next
/// turn (on any instance) finds it.
struct Remember {
    settings: Arc<Settings>,
    scope: String,
    account: Arc<AccountInfo>,
    session: auth::Session,
    learned: Arc<Mutex<decode::Learned>>,
}

impl Remember {
    fn around(self, events: EventStream) -> EventStream {
        let stream = futures_util::stream::unfold(
            (events, Some(self)),
            |(mut events, mut remember)| async move {
                let event = events.next().await?;
                // Also on a failure: tool calls the client already saw may still be answered.
                if matches!(event, Event::Stop(_) | Event::Error(_))
                    && let Some(r) = remember.take()
                {
                    let learned = r.learned.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    if learned.refresh_model_config {
                        // Warp says the account's model choices changed: read them again, aside.
                        let (settings, account, session) =
                            (r.settings.clone(), r.account.clone(), r.session.clone());
                        tokio::spawn(async move {
                            if let Err(e) = graphql::sync(&settings, &account, &session).await {
                                tracing::debug!(account = %account.name, error = %e, "warp: choices not re-read");
                            }
                        });
                    }
                    bindings::remember(
                        r.settings.store.as_ref(),
                        &r.scope,
                        r.account.id,
                        &learned,
                        r.settings.session_ttl,
                    )
                    .await;
                }
                Some((event, (events, remember)))
            },
        );
        Box::pin(stream)
    }
}

/// A failed `/ai/multi-agent` answer, classified with Warp's own signals (§6.1).
async fn failure(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: hyper::body::Incoming,
    facts: &graphql::AccountFacts,
) -> UpstreamError {
    let limited = http_body_util::Limited::new(body, classify::MAX_ERROR_BODY);
    let bytes = match tokio::time::timeout(Duration::from_secs(5), limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        _ => Bytes::new(),
    };
    classify_failure(status, headers, &bytes, facts, now_ms())
}

/// [`failure`] on the body in hand: Warp's quota (429 + `OUT_OF_CREDITS` or its texts, waiting
/// until the reset the limits named), its plan refusals (400 "requested base model … not allowed
/// / no model available", 403 "cloud agent") as [`ErrorKind::NotEntitled`], the rest by the shared
/// rules.
pub(crate) fn classify_failure(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    bytes: &[u8],
    facts: &graphql::AccountFacts,
    now: i64,
) -> UpstreamError {
    let message = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str().map(str::to_owned)))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned());
    let lower = message.to_lowercase();
    let code = headers.get("x-warp-error-code").and_then(|v| v.to_str().ok()).unwrap_or("");
    let status_u16 = status.as_u16();
    let quota = code.eq_ignore_ascii_case("OUT_OF_CREDITS")
        || ["no ai credits remaining", "no remaining quota", "no ai requests remaining", "out of credits"]
            .iter()
            .any(|m| lower.contains(m));
    if status_u16 == 429 && quota {
        let mut error = UpstreamError::new(ErrorKind::QuotaExhausted).with_status(429);
        let reset = facts.reset_at.map(|at| at - now).filter(|ms| *ms > 0);
        if let Some(after) =
            classify::retry_after(headers).or(reset.map(|ms| Duration::from_millis(ms as u64)))
        {
            error = error.with_retry_after(after);
        }
        return error;
    }
    let not_allowed = (status_u16 == 400
        && lower.contains("requested base model")
        && (lower.contains("not allowed") || lower.contains("no model available")))
        || (status_u16 == 403 && lower.contains("cloud agent"));
    if not_allowed {
        return UpstreamError::new(ErrorKind::NotEntitled).with_status(status_u16).with_message(message);
    }
    classify::classify(
        status,
        headers,
        bytes,
        |_| Some(classify::ErrorDetail { message: Some(message), code: None }),
        |_| None,
    )
}

/// The refresh `check` runs for an account without a live session: under the refresh lock, with
/// the rotated token persisted before use.
async fn refresh_for_check(
    settings: &Settings,
    account: &AccountInfo,
) -> Result<auth::Session, UpstreamError> {
    let lock = format!("refresh:{}", account.id);
    let store = settings.store.as_ref();
    let unavailable =
        |e: crate::store::StoreError| UpstreamError::new(ErrorKind::Connect).with_message(e.to_string());
    let Some(token) = store.try_lock(&lock, crate::state::refresh::LOCK_TTL).await.map_err(unavailable)?
    else {
        // Someone else refreshes now: use what they store.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stored = store.get_account(account.id).await.map_err(unavailable)?;
        return stored
            .and_then(|a| auth::Session::of(a.state.as_ref(), now_ms()))
            .ok_or_else(|| UpstreamError::new(ErrorKind::Unauthorized).with_message("no live Warp session"));
    };
    let base = settings.base_url(account).to_owned();
    let outcome = auth::refresh(settings, &base, &account.credential).await;
    let result = match outcome {
        Ok(refreshed) => {
            let session = refreshed.state.as_ref().and_then(|s| auth::Session::of(Some(s), now_ms()));
            let patch = AccountPatch {
                credential: refreshed.credential.clone(),
                state: refreshed.state.clone().map(Some::<Secret>),
                ..AccountPatch::default()
            };
            match store.update_account(account.id, patch).await {
                Ok(_) => session
                    .ok_or_else(|| UpstreamError::new(ErrorKind::Protocol).with_message("empty session")),
                Err(e) => Err(unavailable(e)),
            }
        }
        Err(e) => Err(e),
    };
    let _ = store.unlock(&lock, token).await;
    result
}
