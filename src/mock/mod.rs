//! Faithful mock upstreams of the OpenAI Chat Completions and Anthropic Messages APIs, and of
//! grok.com's web app API (`grok`, see `docs/mocks.md` for its own routes and scenarios).
//!
//! # Brief overview
//!
//! A [`MockServer`] listens on a loopback port and plays one API ([`MockKind`]) over HTTP/1.1 and
//! h2c. It speaks exactly the real protocol — status codes, error envelopes, SSE framing, field
//! names and order — so a gateway tested against it meets nothing friendlier than the real thing.
//! Its responses are written from the APIs' documentation with types of its own, never with the
//! gateway's protocol types, so it cannot share their bugs.
//!
//! What it answers is a **scenario** (`text`, `tool`, `cut`, `error_429`, ...), chosen per request
//! by the `x-mock-scenario` header or else by a model named `mock-<scenario>`; any other model gets
//! `text`. `docs/mocks.md` lists the scenarios and the `x-mock-*` parameter headers.
//!
//! The request path, one module per step: `serve` (accept, read the body, record it) →
//! `openai` / `anthropic` (route, key, request checks) → `respond` (scenario → what to send) →
//! `openai::render` / `anthropic::render` (the wire format) → `script` (the body, frame by frame).
//!
//! Every request except the control endpoint is recorded ([`MockServer::requests`], or
//! `GET /_mock/requests` from another process; `DELETE /_mock/requests` clears). Recording can be
//! turned off ([`Recording::Off`]) when the mock is a benchmark baseline.
//!
//! # Shutdown
//!
//! Dropping the [`MockServer`] stops everything it spawned: the accept loop, every connection and
//! hyper's h2 stream tasks all watch one stop signal owned by the server. They finish at their next
//! poll, so the port closes and in-flight responses are cut shortly after the drop, not during it.
//! [`MockServer`] is purposefully not `Clone`: its drop is the shutdown.
//!
//! # Disconnects
//!
//! [`MockServer::wait_disconnect`] tells whether the client abandoned a request before its
//! response ended (closed the connection, reset the h2 stream): the way to check that a gateway
//! cancels its upstream call when its own client goes away.

mod anthropic;
mod grok;
mod ids;
mod openai;
mod record;
mod respond;
mod scenario;
mod script;
mod serve;
#[cfg(test)]
mod tests;
mod warp;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use grok::{BAD_SSO, QUOTA_TOKEN_PREFIX, SCENARIO_TOKEN_PREFIX, grok_scenarios};
pub use record::{RECORD_LIMIT, RecordedRequest};

/// The API key both mocks reject with their 401; any other non-empty key is accepted.
pub const BAD_KEY: &str = "sk-mock-bad";

/// Which API a mock server plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockKind {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`, `GET /v1/models`.
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages`, `GET /v1/models`.
    Anthropic,
    /// Warp's multi-agent API: Firebase token refresh, `/client/login`, GraphQL,
    /// `POST /ai/multi-agent` (protobuf in, base64 protobuf SSE out).
    Warp,
    /// grok.com's web app: `POST /rest/app-chat/conversations/new` (NDJSON), uploads, rate limits,
    /// media posts, LiveKit tokens, and the assets host (`GET /users/...`) on the same port.
    Grok,
}

impl FromStr for MockKind {
    type Err = UnknownMockKind;

    /// Parses `openai`, `anthropic`, `warp` or `grok`.
    fn from_str(s: &str) -> Result<MockKind, UnknownMockKind> {
        match s {
            "openai" => Ok(MockKind::OpenAi),
            "anthropic" => Ok(MockKind::Anthropic),
            "warp" => Ok(MockKind::Warp),
            "grok" => Ok(MockKind::Grok),
            _ => Err(UnknownMockKind(s.to_owned())),
        }
    }
}

/// Occurs when a mock kind is not `openai`, `anthropic`, `warp` or `grok`.
#[derive(Debug)]
pub struct UnknownMockKind(String);

impl fmt::Display for UnknownMockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown mock kind `{}` (expected `openai`, `anthropic`, `warp` or `grok`)", self.0)
    }
}

impl std::error::Error for UnknownMockKind {}

/// Whether a mock server records the requests it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recording {
    /// Record every request (the default of [`MockServer::start`]).
    On,
    /// Record nothing: the cheapest way to serve, for benchmarks (CLI: `--no-record`).
    Off,
}

/// A running mock upstream. Dropping it shuts it down (see the module doc).
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<serve::Shared>,
    /// Never sent on: dropping it is the stop signal every task of this server watches.
    _stop: watch::Sender<()>,
}

impl MockServer {
    /// Starts a mock on `127.0.0.1` and a free port, recording requests.
    pub async fn start(kind: MockKind) -> io::Result<MockServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        MockServer::launch(kind, listener, Recording::On)
    }

    /// Starts a mock on a listener bound by the caller, recording requests.
    ///
    /// # Panics
    ///
    /// If the listener's local address cannot be read (a listener `bind` returned always has one).
    pub async fn start_on(kind: MockKind, listener: TcpListener) -> MockServer {
        MockServer::launch(kind, listener, Recording::On).expect("a bound listener has a local address")
    }

    fn launch(kind: MockKind, listener: TcpListener, recording: Recording) -> io::Result<MockServer> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(serve::Shared {
            kind,
            recorder: record::Recorder::new(),
            ids: ids::Ids::new(),
            warp: warp::State::new(),
            grok: grok::State::default(),
        });
        shared.recorder.set(recording == Recording::On);
        let (stop, stopped) = watch::channel(());
        serve::spawn(listener, shared.clone(), stopped);
        Ok(MockServer { addr, shared, _stop: stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API root as the official SDKs take it: `http://ADDR/v1` for OpenAI, `http://ADDR` for
    /// Anthropic, Warp (every Warp host — app, securetoken — maps to this one root) and Grok
    /// (`http://ADDR` is both the web app base and the assets base).
    pub fn base_url(&self) -> String {
        match self.shared.kind {
            MockKind::OpenAi => format!("http://{}/v1", self.addr),
            MockKind::Anthropic | MockKind::Warp | MockKind::Grok => format!("http://{}", self.addr),
        }
    }

    /// Warp mock: the lifetime of the ID tokens its token endpoint issues from now on (default
    /// 3600 s, Firebase's). A short one makes a gateway's refresh-ahead logic observable.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.shared.warp.set_ttl(ttl.as_secs());
    }

    /// Turns recording on or off from now on; already recorded requests stay.
    pub fn set_recording(&self, recording: Recording) {
        self.shared.recorder.set(recording == Recording::On);
    }

    /// Every request recorded so far, in the order received (at most [`RECORD_LIMIT`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.requests()
    }

    /// Forgets the recorded requests; the next one gets index 0.
    pub fn clear(&self) {
        self.shared.recorder.clear();
    }

    /// Waits until the client abandons the request at `index` of [`MockServer::requests`]: closes
    /// its connection or resets its h2 stream before the response's last byte was sent.
    ///
    /// Returns `true` as soon as that has happened (also if it happened before the call), `false`
    /// after `timeout` or if no request has that index. A request whose response was sent in full
    /// is never abandoned, whatever the client does afterwards.
    pub async fn wait_disconnect(&self, index: usize, timeout: Duration) -> bool {
        self.shared.recorder.wait_abandoned(index, timeout).await
    }
}

/// Serves a mock on `listen` until ctrl-c or SIGTERM: the `orchids2api mock <kind>` command.
pub async fn run(kind: MockKind, listen: SocketAddr, recording: Recording) -> io::Result<()> {
    let server = MockServer::launch(kind, TcpListener::bind(listen).await?, recording)?;
    tracing::info!(addr = %server.addr(), base_url = %server.base_url(), ?recording, "mock upstream listening");
    shutdown_signal().await?;
    tracing::info!("mock upstream stopping");
    Ok(())
}

async fn shutdown_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
