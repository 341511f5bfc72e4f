//! The relay: runs one client request against a channel's accounts and hands back a
//! **committed** stream.
//!
//! A response is *committed* once the gateway has decided to answer with it: from then on the
//! client sees it, and a failure can only end it. The relay commits late, when the upstream has
//! produced real content (text, thinking, a tool call), so every failure before that (a 401, a
//! 429, an HTML page, an empty 200, an in-band error) is still invisible to the client: the
//! failed account is judged and cooled, and the request moves to another account.
//!
//! ```text
//!          ┌──────────── backoff ◄── retryable failure (account judged, session unbound)
//!          ▼                                         ▲
//!   pick ──► call ──► await_content ──────────────────┤
//!    │                     │                          └─ request's fault ──► RelayError
//!    │                     └─ content ──► commit ──► Committed { prefix, rest (leased) }
//!    └─ no account left ──► RelayError (pool exhausted, or the last upstream error)
//! ```
//!
//! Deadlines: `request_timeout` bounds the whole upstream exchange, retries included;
//! `idle_timeout` bounds the silence between two upstream events (keep-alives do not count as
//! activity). Both end the stream with an [`ErrorKind::Timeout`] error event ([`deadlines`]).
//!
//! **Cancellation**: dropping the relay future or the committed stream drops the upstream call and
//! the account's lease; a client that leaves costs the account nothing.

mod deadlines;
mod leased;

use crate::channels::{Call, ChannelKind, Channels, EventStream};
use crate::ir::{ChatRequest, ErrorKind, Event, UpstreamError, Usage};
use crate::models::Model;
use crate::pool::{AccountInfo, HealthState, Lease, NoAccount, Pool, Verdict, now_ms};
use deadlines::Deadlines;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use leased::Leased;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Why the relay could not produce a response.
#[derive(Debug, Clone)]
pub enum RelayError {
    /// No account of the channel can serve now; `retry_at` (Unix ms) is when the first one
    /// comes back from its cooldown, if any.
    PoolExhausted { channel: ChannelKind, retry_at: Option<i64> },
    /// The upstream failed before the response was committed (the last failure, after retries).
    Upstream(UpstreamError),
}

/// A response the gateway has decided to send: the events gathered before the commit, then the
/// rest of the upstream stream.
pub struct Committed {
    pub prefix: Vec<Event>,
    pub rest: EventStream,
    /// True when the commit came from the keep-alive deadline rather than content: the client
    /// has waited a full keep-alive interval already.
    pub by_deadline: bool,
}

/// How one request is run: deadlines and how hard to try (the runtime settings of the moment).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Deadline of the whole upstream exchange, retries included.
    pub request_timeout: Duration,
    /// Longest silence between two upstream events.
    pub idle_timeout: Duration,
    /// Commit without content after this long, so a streaming client hears a keep-alive.
    pub commit_by: Option<Duration>,
    /// Further accounts tried after the first fails.
    pub max_retries: u32,
    /// Base of the exponential backoff between tries.
    pub retry_delay: Duration,
    /// How long a session sticks to its account.
    pub session_ttl: Duration,
}

/// Where the relay reports what attempts taught it: to persist it, share it with other
/// instances, and count it. Called on the request path: implementations hand work off, never
/// wait.
pub trait Observer: Send + Sync + 'static {
    /// An account was judged after a failure; `health` is its state now.
    fn judged(&self, account: &AccountInfo, verdict: &Verdict, health: &HealthState, error: &UpstreamError);
    /// An attempt ended (committed or not) with this usage and outcome.
    /// A session was bound to a new account (to share the binding with other instances).
    fn session_bound(&self, session: &str, account: u64, ttl: Duration);
    /// `key`: the client key that asked, if any.
    fn attempted(
        &self,
        account: &AccountInfo,
        model: &Model,
        key: Option<u64>,
        usage: &Usage,
        error: Option<&UpstreamError>,
    );
}

/// Renews an account's credential when the upstream rejects it
/// ([`crate::state::refresh::Refresher`]); `Ok(None)` when its channel cannot.
pub trait Renew: Send + Sync + 'static {
    fn renew<'a>(
        &'a self,
        account: &'a AccountInfo,
    ) -> BoxFuture<'a, Result<Option<Arc<AccountInfo>>, UpstreamError>>;
}

#[derive(Clone)]
pub struct Relay {
    channels: Channels,
    pool: Arc<Pool>,
    observer: Arc<dyn Observer>,
    renew: Arc<dyn Renew>,
}

/// Backoff waits are capped here whatever the attempt number.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Relay {
    pub fn new(
        channels: Channels,
        pool: Arc<Pool>,
        observer: Arc<dyn Observer>,
        renew: Arc<dyn Renew>,
    ) -> Relay {
        Relay { channels, pool, observer, renew }
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Runs `request` on `model`'s channel, trying up to `1 + plan.max_retries` accounts.
    pub async fn run(
        &self,
        request: Arc<ChatRequest>,
        model: &Model,
        plan: Plan,
    ) -> Result<Committed, RelayError> {
        let deadline = Instant::now() + plan.request_timeout;
        let commit_at = plan.commit_by.map(|d| Instant::now() + d);
        let session = request.session.as_deref();
        let bound_before = session.and_then(|s| self.pool.bound(s));
        let mut tried: Vec<u64> = Vec::new();
        let mut last: Option<UpstreamError> = None;
        let pin = match self.channels.get(model.channel) {
            Some(channel) => match channel.pin(request.clone()) {
                Some(pinning) => pinning.await.map_err(RelayError::Upstream)?,
                None => None,
            },
            None => None,
        };
        // A pinned request may only pick its account: every other one counts as tried.
        let mut others: Vec<u64> = match pin {
            Some(pin) => self
                .pool
                .accounts(model.channel)
                .iter()
                .map(|(info, _)| info.id)
                .filter(|id| *id != pin.account)
                .collect(),
            None => Vec::new(),
        };
        for attempt in 0..=plan.max_retries {
            if attempt > 0 && !back_off(plan.retry_delay, attempt, deadline).await {
                break;
            }
            let excluded: Vec<u64> = tried.iter().chain(&others).copied().collect();
            let picked = self.pool.pick(model.channel, &model.upstream, session, plan.session_ttl, &excluded);
            let picked = match (picked, pin) {
                // A preference, not a rule: any account may start the conversation afresh.
                (Err(_), Some(p)) if !p.strict && !others.is_empty() => {
                    others.clear();
                    self.pool.pick(model.channel, &model.upstream, session, plan.session_ttl, &tried)
                }
                (Err(_), Some(p)) if p.strict && last.is_none() => {
                    return Err(RelayError::Upstream(UpstreamError::new(ErrorKind::Conflict).with_message(
                        "the account that holds this conversation cannot serve now; try again later \
                         or start a new conversation",
                    )));
                }
                (picked, _) => picked,
            };
            let lease = match picked {
                Ok(lease) => lease,
                Err(NoAccount { retry_at }) => {
                    return Err(match last {
                        Some(e) => RelayError::Upstream(e),
                        None => RelayError::PoolExhausted { channel: model.channel, retry_at },
                    });
                }
            };
            if pin.is_some_and(|p| !p.strict) {
                // Tried first; the retries may go anywhere.
                others.clear();
            }
            tried.push(lease.account().id);
            match self.attempt(&lease, &request, model, deadline, commit_at, plan.idle_timeout).await {
                Ok(committed) => {
                    crate::telemetry::record_attempt(model.channel.as_str(), "ok");
                    if let Some(session) = session
                        && bound_before != Some(lease.account().id)
                    {
                        self.observer.session_bound(session, lease.account().id, plan.session_ttl);
                    }
                    let rest = Leased::new(
                        committed.rest,
                        lease,
                        model.clone(),
                        request.key_id,
                        self.observer.clone(),
                    );
                    return Ok(Committed {
                        prefix: committed.prefix,
                        rest: Box::pin(rest),
                        by_deadline: committed.by_deadline,
                    });
                }
                Err(error) => {
                    settle_failure(&lease, model, request.key_id, &error, self.observer.as_ref());
                    if let Some(session) = session {
                        self.pool.unbind(session, lease.account().id);
                    }
                    if !error.is_retryable() {
                        return Err(RelayError::Upstream(error));
                    }
                    last = Some(error);
                }
            }
        }
        Err(match last {
            Some(e) => RelayError::Upstream(e),
            None => RelayError::PoolExhausted { channel: model.channel, retry_at: None },
        })
    }

    /// One account's attempt. A credential the upstream rejects is refreshed (where the
    /// channel can) and the same account tried once more before the failure counts.
    async fn attempt(
        &self,
        lease: &Lease,
        request: &Arc<ChatRequest>,
        model: &Model,
        deadline: Instant,
        commit_at: Option<Instant>,
        idle: Duration,
    ) -> Result<Committed, UpstreamError> {
        let mut account = lease.account().clone();
        let mut renewed = false;
        loop {
            let call = Call {
                account: account.clone(),
                request: request.clone(),
                upstream_model: model.upstream.clone(),
            };
            let result = await_content(self.call(call, deadline, idle), commit_at).await;
            match result {
                Err(e) if e.kind() == ErrorKind::Unauthorized && !renewed => {
                    match self.renew.renew(&account).await {
                        Ok(Some(fresh)) => {
                            tracing::info!(account = %account.name, "credential refreshed after a 401; trying again");
                            account = fresh;
                            renewed = true;
                        }
                        Ok(None) => return Err(e),
                        Err(refresh_error) => {
                            tracing::warn!(account = %account.name, error = %refresh_error, "credential refresh failed");
                            // A refresh that failed for a passing reason (rate limited, network)
                            // says nothing about the credential: judge that failure instead.
                            let credential_refused = matches!(
                                refresh_error.kind(),
                                ErrorKind::Unauthorized | ErrorKind::Forbidden
                            );
                            return Err(if credential_refused { e } else { refresh_error });
                        }
                    }
                }
                other => return other,
            }
        }
    }

    /// The upstream call as one event stream: the wait for the response head (bounded by the
    /// request deadline), then the answer's events under [`Deadlines`]. A failed call is the
    /// stream's only event, so callers see every failure the same way.
    fn call(&self, call: Call, deadline: Instant, idle: Duration) -> EventStream {
        let channel = self.channels.get(call.account.channel).cloned();
        let head = async move {
            let Some(channel) = channel else {
                return failed(UpstreamError::new(ErrorKind::Connect).with_message("channel not available"));
            };
            match tokio::time::timeout_at(deadline, channel.call(call)).await {
                Ok(Ok(stream)) => Box::pin(Deadlines::new(stream, deadline, idle)) as EventStream,
                Ok(Err(e)) => failed(e),
                Err(_) => failed(
                    UpstreamError::new(ErrorKind::Timeout)
                        .with_message("no response head before the deadline"),
                ),
            }
        };
        Box::pin(stream::once(head).flatten())
    }
}

/// Waits before attempt `attempt` (≥ 1): `delay × 2^(attempt−1)`, jittered down to half,
/// capped. False if the wait would pass the request deadline.
async fn back_off(delay: Duration, attempt: u32, deadline: Instant) -> bool {
    let full = delay.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_BACKOFF);
    let wait = full / 2 + full.mul_f64(rand::random::<f64>() / 2.0);
    if Instant::now() + wait >= deadline {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

/// Judges a failed attempt, cools the account, and tells the observer.
fn settle_failure(
    lease: &Lease,
    model: &Model,
    key: Option<u64>,
    error: &UpstreamError,
    observer: &dyn Observer,
) {
    crate::telemetry::record_attempt(model.channel.as_str(), error.kind().code());
    let account = lease.account();
    let verdict = lease.fail(error);
    match &verdict {
        Some(v) => tracing::warn!(
            channel = %model.channel, account = %account.name, model = %model.id, error = %error,
            reason = v.reason.as_str(), cooldown_s = v.cooldown.map(|d| d.as_secs()), "upstream attempt failed"
        ),
        None => {
            tracing::info!(channel = %model.channel, account = %account.name, model = %model.id, error = %error, "upstream rejected the request")
        }
    }
    if let Some(v) = verdict {
        observer.judged(account, &v, &lease.live().health(), error);
    }
    observer.attempted(account, model, key, &Usage::default(), Some(error));
}

/// When a pool-exhausted client should come back, in seconds from now.
pub fn retry_after(retry_at: Option<i64>) -> Option<Duration> {
    retry_at.map(|at| Duration::from_millis(at.saturating_sub(now_ms()).max(1000) as u64))
}

fn failed(error: UpstreamError) -> EventStream {
    Box::pin(stream::iter([Event::Error(error)]))
}

/// Reads events until the first content event, an error, or the end. The events before the
/// content are kept for the encoder (usage, for instance).
async fn await_content(
    mut stream: EventStream,
    commit_by: Option<Instant>,
) -> Result<Committed, UpstreamError> {
    let mut prefix = Vec::new();
    loop {
        let next = match commit_by {
            Some(at) => match tokio::time::timeout_at(at, stream.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(Committed { prefix, rest: stream, by_deadline: true }),
            },
            None => stream.next().await,
        };
        match next {
            Some(Event::Error(e)) => return Err(e),
            Some(event) if event.is_content() => {
                prefix.push(event);
                return Ok(Committed { prefix, rest: stream, by_deadline: false });
            }
            Some(Event::KeepAlive) => {}
            Some(event) => prefix.push(event),
            // Ended well-formed but said nothing (AC-26).
            None => return Err(UpstreamError::new(ErrorKind::EmptyResponse)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{StopReason, Text, Usage};
    use futures_util::stream;

    fn events(list: Vec<Event>) -> EventStream {
        Box::pin(stream::iter(list))
    }

    #[tokio::test]
    async fn commit_waits_for_content_and_keeps_the_prefix() {
        let s = events(vec![
            Event::Usage(Usage { input: Some(3), ..Default::default() }),
            Event::KeepAlive,
            Event::Text(Text::from("")),
            Event::Text(Text::from("hi")),
            Event::Stop(StopReason::EndTurn),
        ]);
        let c = await_content(s, None).await.unwrap();
        assert_eq!(c.prefix.len(), 3, "usage, the empty text, then the content");
        assert!(matches!(c.prefix.last(), Some(Event::Text(t)) if t == "hi"));
        assert_eq!(c.rest.collect::<Vec<_>>().await, vec![Event::Stop(StopReason::EndTurn)]);
    }

    // See: reference/client-conventions.md §4.10 #12 (AC-26)
    #[tokio::test]
    async fn ac26_a_stream_without_content_is_an_empty_response() {
        let s = events(vec![Event::Usage(Usage::default()), Event::Stop(StopReason::EndTurn)]);
        assert_eq!(await_content(s, None).await.err().unwrap().kind(), ErrorKind::EmptyResponse);
    }

    #[tokio::test]
    async fn errors_before_content_are_not_committed() {
        let s = events(vec![Event::Error(UpstreamError::new(ErrorKind::Overloaded))]);
        assert_eq!(await_content(s, None).await.err().unwrap().kind(), ErrorKind::Overloaded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_is_committed_at_the_keepalive_deadline() {
        let s: EventStream = Box::pin(stream::pending());
        let c = await_content(s, Some(Instant::now() + Duration::from_secs(15))).await.unwrap();
        assert!(c.by_deadline);
        assert!(c.prefix.is_empty());
    }

    // See: reference/client-conventions.md §4.10 #15 (AC-28)
    #[tokio::test(start_paused = true)]
    async fn ac28_idle_timeout_ends_a_stream_that_only_keeps_alive() {
        let keepalives = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Event::KeepAlive, ()))
        });
        let first = stream::iter(vec![Event::Text(Text::from("x"))]);
        let inner: EventStream = Box::pin(first.chain(keepalives));
        let guarded =
            Deadlines::new(inner, Instant::now() + Duration::from_secs(3600), Duration::from_secs(10));
        let all: Vec<Event> = guarded.collect().await;
        assert!(matches!(all.last(), Some(Event::Error(e)) if e.kind() == ErrorKind::Timeout));
        assert!(all.len() > 5 && all.len() < 15, "{}", all.len());
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_deadline_ends_a_busy_stream() {
        let busy = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Event::Text(Text::from("x")), ()))
        });
        let guarded =
            Deadlines::new(Box::pin(busy), Instant::now() + Duration::from_secs(5), Duration::from_secs(60));
        let all: Vec<Event> = guarded.collect().await;
        assert!(matches!(all.last(), Some(Event::Error(e)) if e.kind() == ErrorKind::Timeout));
    }

    /// A channel that rejects the credential `stale` and answers any other.
    struct Picky {
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl crate::channels::Channel for Picky {
        fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let stale = call.account.credential.expose() == "stale";
            Box::pin(async move {
                if stale {
                    return Err(UpstreamError::new(ErrorKind::Unauthorized).with_status(401));
                }
                Ok(Box::pin(stream::iter(vec![
                    Event::Text(Text::from("ok")),
                    Event::Stop(StopReason::EndTurn),
                ])) as EventStream)
            })
        }
        fn check(&self, _: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
            Box::pin(async { Ok(()) })
        }
    }

    /// Renews to `fresh` when `works`, counting calls.
    struct FakeRenew {
        works: bool,
        renewals: std::sync::atomic::AtomicUsize,
    }

    impl Renew for FakeRenew {
        fn renew<'a>(
            &'a self,
            account: &'a AccountInfo,
        ) -> BoxFuture<'a, Result<Option<Arc<AccountInfo>>, UpstreamError>> {
            self.renewals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let fresh = AccountInfo { credential: crate::secret::Secret::new("fresh"), ..account.clone() };
            let works = self.works;
            Box::pin(async move { Ok(works.then(|| Arc::new(fresh))) })
        }
    }

    struct Quiet;
    impl Observer for Quiet {
        fn judged(&self, _: &AccountInfo, _: &Verdict, _: &HealthState, _: &UpstreamError) {}
        fn session_bound(&self, _: &str, _: u64, _: Duration) {}
        fn attempted(
            &self,
            _: &AccountInfo,
            _: &Model,
            _: Option<u64>,
            _: &Usage,
            _: Option<&UpstreamError>,
        ) {
        }
    }

    fn relay_with(works: bool) -> (Relay, Arc<std::sync::atomic::AtomicUsize>, Arc<FakeRenew>, Arc<Pool>) {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut channels = Channels::default();
        channels.insert(ChannelKind::Warp, Arc::new(Picky { calls: calls.clone() }));
        let pool = Arc::new(Pool::default());
        pool.replace([crate::pool::AccountSpec {
            info: AccountInfo {
                id: 1,
                channel: ChannelKind::Warp,
                name: "w".into(),
                base_url: String::new(),
                credential: crate::secret::Secret::new("stale"),
                weight: 1,
                priority: 0,
                enabled: true,
                max_concurrency: 0,
                models: None,
                state: None,
            },
            health: HealthState::default(),
        }]);
        let renew = Arc::new(FakeRenew { works, renewals: Default::default() });
        (Relay::new(channels, pool.clone(), Arc::new(Quiet), renew.clone()), calls, renew, pool)
    }

    fn plan() -> Plan {
        Plan {
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            commit_by: None,
            max_retries: 2,
            retry_delay: Duration::ZERO,
            session_ttl: Duration::from_secs(60),
        }
    }

    fn model() -> Model {
        Model {
            id: "m".into(),
            channel: ChannelKind::Warp,
            upstream: "m".into(),
            display_name: None,
            kind: crate::store::ModelKind::Chat,
        }
    }

    #[tokio::test]
    async fn a_rejected_credential_is_refreshed_and_the_same_account_tried_once_more() {
        let (relay, calls, renew, pool) = relay_with(true);
        let Ok(committed) = relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await else {
            panic!("the retry after the refresh should answer");
        };
        assert!(matches!(&committed.prefix[..], [Event::Text(t)] if t == "ok"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(renew.renewals.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(committed);
        assert!(
            pool.pick(ChannelKind::Warp, "m", None, Duration::from_secs(1), &[]).is_ok(),
            "the account is not benched"
        );
    }

    #[tokio::test]
    async fn without_a_refresh_a_rejected_credential_benches_the_account() {
        let (relay, calls, renew, pool) = relay_with(false);
        let err = relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await.err().expect("failed");
        assert!(matches!(err, RelayError::Upstream(e) if e.kind() == ErrorKind::Unauthorized));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "no other account to try");
        assert_eq!(renew.renewals.load(std::sync::atomic::Ordering::SeqCst), 1);
        let health = pool.accounts(ChannelKind::Warp)[0].1.health();
        assert_eq!(health.reason, Some(crate::pool::Reason::AuthFailed));
    }

    /// Serves only from the account named by its credential `ok`; pins as told.
    struct Pinning {
        pin: Option<crate::channels::Pin>,
        seen: Arc<std::sync::Mutex<Vec<u64>>>,
    }

    impl crate::channels::Channel for Pinning {
        fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
            self.seen.lock().unwrap().push(call.account.id);
            let ok = call.account.credential.expose() == "ok";
            Box::pin(async move {
                if !ok {
                    return Err(UpstreamError::new(ErrorKind::NotEntitled).with_status(400));
                }
                Ok(Box::pin(stream::iter(vec![
                    Event::Text(Text::from("ok")),
                    Event::Stop(StopReason::EndTurn),
                ])) as EventStream)
            })
        }
        fn check(&self, _: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
            Box::pin(async { Ok(()) })
        }
        fn pin(
            &self,
            _: Arc<ChatRequest>,
        ) -> Option<BoxFuture<'static, Result<Option<crate::channels::Pin>, UpstreamError>>> {
            let pin = self.pin;
            Some(Box::pin(async move { Ok(pin) }))
        }
    }

    fn pinning(
        pin: Option<crate::channels::Pin>,
        credentials: &[(&str, bool)],
    ) -> (Relay, Arc<std::sync::Mutex<Vec<u64>>>, Arc<Pool>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut channels = Channels::default();
        channels.insert(ChannelKind::Warp, Arc::new(Pinning { pin, seen: seen.clone() }));
        let pool = Arc::new(Pool::default());
        pool.replace(credentials.iter().enumerate().map(|(i, (credential, enabled))| {
            crate::pool::AccountSpec {
                info: AccountInfo {
                    id: i as u64 + 1,
                    channel: ChannelKind::Warp,
                    name: format!("w{i}"),
                    base_url: String::new(),
                    credential: crate::secret::Secret::new(*credential),
                    weight: 1,
                    priority: i as u32,
                    enabled: *enabled,
                    max_concurrency: 0,
                    models: None,
                    state: None,
                },
                health: HealthState::default(),
            }
        }));
        let renew = Arc::new(FakeRenew { works: false, renewals: Default::default() });
        (Relay::new(channels, pool.clone(), Arc::new(Quiet), renew), seen, pool)
    }

    #[tokio::test]
    async fn a_strict_pin_runs_on_its_account_only() {
        let pin = crate::channels::Pin { account: 3, strict: true };
        let (relay, seen, _) = pinning(Some(pin), &[("ok", true), ("ok", true), ("ok", true)]);
        assert!(relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await.is_ok());
        assert_eq!(*seen.lock().unwrap(), vec![3]);

        let (relay, seen, _) = pinning(Some(pin), &[("ok", true), ("ok", true), ("ok", false)]);
        let Err(RelayError::Upstream(e)) =
            relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await
        else {
            panic!("a pinned account that cannot serve is a conflict");
        };
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(seen.lock().unwrap().is_empty(), "no other account was tried");
    }

    #[tokio::test]
    async fn a_loose_pin_prefers_its_account_and_falls_back() {
        let pin = crate::channels::Pin { account: 2, strict: false };
        let (relay, seen, _) = pinning(Some(pin), &[("ok", true), ("ok", true)]);
        assert!(relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await.is_ok());
        assert_eq!(*seen.lock().unwrap(), vec![2]);
        let (relay, seen, _) = pinning(Some(pin), &[("ok", true), ("ok", false)]);
        assert!(relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await.is_ok());
        assert_eq!(*seen.lock().unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn a_plan_restriction_moves_on_without_cooling_the_account() {
        let (relay, seen, pool) = pinning(None, &[("free", true), ("ok", true)]);
        assert!(relay.run(Arc::new(ChatRequest::default()), &model(), plan()).await.is_ok());
        assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
        let accounts = pool.accounts(ChannelKind::Warp);
        assert!(accounts.iter().all(|(_, live)| live.health().reason.is_none()));
    }
}
