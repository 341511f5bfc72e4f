//! The HTTP server: one hyper `Service` over a hand-rolled router.
//!
//! [`Server::start`] binds the listener and serves HTTP/1.1 and HTTP/2 (h2c by prior knowledge,
//! or ALPN under TLS). Each request is routed ([`router`]), authenticated ([`auth`]) and
//! handled; every failure becomes an [`ApiError`] rendered in the route's dialect, with the
//! right status, in one place ([`error_response`]).
//!
//! Draining: [`Server::shutdown`] turns `/ready` to 503 and stops accepting; connections finish
//! their in-flight requests (streams included) until `drain_timeout_s`, then are cut.

mod auth;
mod body;
mod chat;
mod files;
mod images;
mod listener;
mod models;
pub mod router;

pub use body::ResponseBody;

use crate::admin::Admin;
use crate::channels::grok::{self, GrokChannel};
use crate::channels::{ChannelKind, Channels};
use crate::coalesce::Coalescer;
use crate::config::{AuthMode, Config};
use crate::dialect::{ApiError, Dialect};
use crate::media::fetch::{FetchPolicy, Fetcher};
use crate::media::{MediaCache, MediaOptions};
use crate::relay::Relay;
use crate::state::Live;
use crate::state::refresh::Refresher;
use crate::state::settings::Runtime;
use crate::state::usage::StoreObserver;
use crate::upstream::{Upstream, UpstreamOptions};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use router::Route;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

pub type Reply = Response<ResponseBody>;

/// Everything a request handler reads. Built once at start-up; the tables inside [`Live`]
/// follow the store.
pub struct State {
    live: Arc<Live>,
    admin: Admin,
    /// Cached images and videos, served at `/v1/files/...`.
    media: Arc<MediaCache>,
    coalescer: Arc<Coalescer>,
    relay: Relay,
    max_body: u64,
    /// Largest image one image edit takes.
    max_image_bytes: u64,
    limiter: Option<Arc<Semaphore>>,
    ready: AtomicBool,
    started: SystemTime,
}

impl State {
    fn new(
        config: &Config,
        live: Arc<Live>,
        relay: Relay,
        media: Arc<MediaCache>,
        grok: Arc<GrokChannel>,
    ) -> State {
        let admin = Admin::new(config, live.clone(), relay.clone(), media.clone(), grok);
        if config.auth == AuthMode::None {
            tracing::warn!("auth = \"none\": model endpoints accept requests without an API key");
        }
        State {
            live,
            admin,
            media,
            coalescer: Arc::new(Coalescer::default()),
            relay,
            max_body: config.max_body_bytes,
            max_image_bytes: config.max_image_bytes,
            limiter: (config.concurrency_limit > 0)
                .then(|| Arc::new(Semaphore::new(config.concurrency_limit))),
            ready: AtomicBool::new(true),
            started: SystemTime::now(),
        }
    }

    fn runtime(&self) -> Runtime {
        **self.live.runtime.load()
    }

    /// A slot under `concurrency_limit`, waiting up to `concurrency_queue_ms` for one; then an
    /// overload error in the dialect's own terms.
    async fn admit(&self, dialect: Dialect) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(None) };
        match tokio::time::timeout(self.runtime().concurrency_queue, limiter.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(ApiError::overloaded(dialect)),
        }
    }
}

/// A running gateway.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens the store, loads it, binds `config.listen` and starts serving.
    pub async fn start(config: &Config) -> anyhow::Result<Server> {
        let store = crate::store::open(config).await.map_err(|e| anyhow::anyhow!("store: {e}"))?;
        let live = Live::load(store.clone(), config).await.map_err(|e| anyhow::anyhow!("store: {e}"))?;
        let (shutdown, signal) = watch::channel(false);
        let sync = live.spawn_sync(signal.clone());
        let (observer, recorder) = StoreObserver::start(store.clone(), signal.clone());
        let upstream = Upstream::new(&UpstreamOptions {
            connect_timeout: Duration::from_secs(config.connect_timeout_s),
            proxy_url: config.proxy_url.as_ref().map(|p| p.expose().to_string()),
        })?;
        let media = Arc::new(
            MediaCache::open(MediaOptions::from_config(config))
                .await
                .map_err(|e| anyhow::anyhow!("media cache under {}: {e}", config.data_dir.display()))?,
        );
        let mut channels = Channels::official(upstream.clone(), &config.anthropic_version);
        let upstream_for_warp = upstream.clone();
        let grok = Arc::new(GrokChannel::new(grok::Options {
            upstream,
            base_url: config.grok_base_url.clone(),
            assets_url: config.grok_assets_url.clone(),
            media: media.clone(),
            tool_cards: config.grok_tool_cards,
            pool: live.pool.clone(),
            fetcher: Arc::new(Fetcher::from_config(config)?),
            client_urls: FetchPolicy::client_urls(config, config.max_image_bytes),
        }));
        let mut tasks = vec![crate::telemetry::spawn_upkeep(signal.clone())];
        if config.grok_quota_interval_s > 0 {
            tasks.push(
                grok.spawn_quota_reader(Duration::from_secs(config.grok_quota_interval_s), signal.clone()),
            );
        }
        channels.insert(ChannelKind::Grok, grok.clone());
        let warp = crate::channels::warp::WarpChannel::new(crate::channels::warp::Options {
            upstream: upstream_for_warp,
            base_url: config.warp_base_url.clone(),
            auth_url: config.warp_auth_url.clone(),
            store: store.clone(),
            pool: live.pool.clone(),
            session_ttl: Duration::from_secs(config.session_ttl_s),
        });
        if config.warp_quota_interval_s > 0 {
            tasks.push(
                warp.spawn_quota_reader(Duration::from_secs(config.warp_quota_interval_s), signal.clone()),
            );
        }
        channels.insert(ChannelKind::Warp, Arc::new(warp));
        let refresher = Refresher::new(store, channels.clone());
        let scheduler = refresher.spawn_scheduler(live.pool.clone(), signal.clone());
        let relay = Relay::new(channels, live.pool.clone(), observer, refresher);
        let state = Arc::new(State::new(config, live, relay, media, grok));
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(listener::tls_acceptor(cert, key)?),
            _ => None,
        };
        let tcp = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let addr = tcp.local_addr()?;
        let options = listener::Options {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_s),
            drain_timeout: Duration::from_secs(config.drain_timeout_s),
        };
        let serving = tokio::spawn(listener::serve(tcp, tls, state.clone(), options, signal));
        // The listener drains first; the recorder writes the last usage after it.
        tasks.extend([serving, sync, scheduler, recorder]);
        Ok(Server { addr, state, shutdown, tasks })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the gateway holds in memory (for tests and tools).
    pub fn live(&self) -> &Arc<Live> {
        &self.state.live
    }

    /// The media cache (`data_dir/media`), for channels that store what they fetch (as an
    /// `Arc<dyn channels::MediaSink>`) and for tests.
    pub fn media(&self) -> Arc<MediaCache> {
        self.state.media.clone()
    }

    /// Starts draining: readiness fails, the listener closes, in-flight requests may finish.
    pub fn shutdown(&self) {
        self.state.ready.store(false, Ordering::Release);
        let _ = self.shutdown.send(true);
    }

    /// Resolves when the server has stopped (after a drain, or if the listener failed) and its
    /// background tasks have written what they held.
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Serves one request.
async fn handle(state: Arc<State>, request: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let request_id = request_id(request.headers());
    let route = router::route(request.method(), request.uri().path());
    let (dialect, name) = (route.dialect(), route.name());
    let allow = match route {
        Route::MethodNotAllowed { allow, .. } => Some(allow),
        _ => None,
    };
    let result = match route {
        Route::Messages { pin } => chat::handle(&state, request, Dialect::Anthropic, pin).await,
        Route::ChatCompletions { pin } => chat::handle(&state, request, Dialect::OpenAi, pin).await,
        Route::ImageGenerations { pin } => images::generations(&state, request, pin).await,
        Route::ImageEdits { pin } => images::edits(&state, request, pin).await,
        Route::CountTokens { .. } => count_tokens(&state, request).await,
        Route::ListModels { pin } => models::list(&state, request.headers(), request.uri().query(), pin),
        Route::GetModel { pin, id } => models::get(&state, request.headers(), id, pin),
        Route::File(file) => {
            Ok(files::serve(&state, request.method(), request.headers(), file, &request_id).await)
        }
        Route::InvalidFileName => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_file_name", "invalid file name"))
        }
        Route::Health => Ok(json_reply(StatusCode::OK, br#"{"status":"ok"}"#)),
        Route::Ready if state.ready.load(Ordering::Acquire) => {
            Ok(json_reply(StatusCode::OK, br#"{"status":"ready"}"#))
        }
        Route::Ready => Ok(json_reply(StatusCode::SERVICE_UNAVAILABLE, br#"{"status":"draining"}"#)),
        Route::Metrics => Ok(metrics_reply()),
        Route::Admin => Ok(state.admin.handle(request, &request_id).await),
        Route::MethodNotAllowed { .. } => {
            Err(ApiError::method_not_allowed(request.method(), request.uri().path()))
        }
        Route::NotFound { .. } => Err(ApiError::route_not_found(request.method(), request.uri().path())),
    };
    let mut response = result.unwrap_or_else(|e| error_response(dialect, &e, &request_id));
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v.clone());
        if dialect == Dialect::Anthropic {
            response.headers_mut().insert("request-id", v);
        }
    }
    let status = response.status().as_u16();
    crate::telemetry::record_request(name, status, started.elapsed());
    tracing::debug!(route = name, status, elapsed_ms = started.elapsed().as_millis() as u64, request_id = %request_id, "request");
    response
}

async fn count_tokens(state: &State, request: Request<Incoming>) -> Result<Reply, ApiError> {
    auth::authenticate(&state.live, request.headers())?;
    let (parts, body) = request.into_parts();
    let body = read_body(body, &parts.headers, state.max_body).await?;
    let chat = crate::dialect::anthropic::parse(&body, &parts.headers)?;
    let tokens = crate::tokens::count_request(&chat);
    Ok(json_reply(StatusCode::OK, format!(r#"{{"input_tokens":{tokens}}}"#).as_bytes()))
}

/// The request body, up to `limit` bytes (413 beyond). Bodies are read as sent: a compressed
/// body would dodge the limit's meaning, so it is refused (415).
pub(crate) async fn read_body(body: Incoming, headers: &HeaderMap, limit: u64) -> Result<Bytes, ApiError> {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
        && !encoding.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            "compressed request bodies are not supported",
        ));
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    match Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(ApiError::body_too_large(limit)),
        Err(_) => Err(ApiError::bad_request("the request body could not be read")),
    }
}

/// An error as the route's dialect writes it, with `Retry-After` where it applies.
pub(crate) fn error_response(dialect: Dialect, error: &ApiError, request_id: &str) -> Reply {
    let mut response = json_reply(error.status, &dialect.error_body(error, request_id));
    if let Some(after) = error.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    response
}

pub(crate) fn json_reply(status: StatusCode, body: &[u8]) -> Reply {
    let mut response = Response::new(ResponseBody::full(Bytes::copy_from_slice(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn metrics_reply() -> Reply {
    let text = crate::telemetry::metrics().map(|h| h.render()).unwrap_or_default();
    let mut response = Response::new(ResponseBody::full(text));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// The client's `x-request-id` when it is a sane token, otherwise a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| crate::dialect::new_id("req_"))
}
