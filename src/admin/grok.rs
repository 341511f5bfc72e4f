//! `/api/grok/voice/token` and `/api/grok/imagine/...`: grok's voice mode token, and the
//! imagine waterfall (images generated one batch after another for a prompt, watched live).
//!
//! An imagine task is bounded: at most `max_images` images and `max_seconds` seconds, whichever
//! comes first, and at most [`MAX_TASKS`] run at once, so nothing can burn an account's quota
//! forever. Its events (`status`, `image`, `error` frames) are kept for late watchers and
//! streamed to SSE and WebSocket watchers as they happen; a finished task is forgotten after
//! [`KEEP_FINISHED`].

use super::Admin;
use super::json::{self, invalid};
use super::query::Query;
use crate::channels::ChannelKind;
use crate::dialect::ApiError;
use crate::ir::{Block, ChatRequest, Event, MediaKind, MediaRequest, Message, Role, Text};
use crate::relay::{Plan, RelayError};
use crate::server::Reply;
use crate::store::ModelKind;
use bytes::Bytes;
use futures_util::StreamExt;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Imagine tasks running at once, across all admins.
const MAX_TASKS: usize = 4;
const MAX_IMAGES: u32 = 100;
const MAX_SECONDS: u64 = 900;
/// How long a finished task stays watchable.
const KEEP_FINISHED: Duration = Duration::from_secs(600);
/// Pause after a failed batch.
const ERROR_PAUSE: Duration = Duration::from_millis(1500);
/// Failed batches in a row that end a task.
const MAX_FAILURES: u32 = 3;
const RATIOS: [&str; 5] = ["1:1", "16:9", "9:16", "2:3", "3:2"];

// --- voice ---------------------------------------------------------------------------------------

pub async fn voice_token(admin: &Admin, query: Option<&str>) -> Result<Reply, ApiError> {
    let query = Query::parse(query, &["voice", "personality", "speed"])?;
    let word = |name: &'static str, default: &str| -> Result<String, ApiError> {
        let value = query.get(name).unwrap_or(default);
        let ok = !value.is_empty()
            && value.len() <= 32
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(value.to_string())
        } else {
            Err(invalid(name, format!("`{name}` must be a short word")).into())
        }
    };
    let voice = word("voice", "ara")?;
    let personality = word("personality", "assistant")?;
    let speed = match query.get("speed") {
        None => 1.0,
        Some(s) => s.parse::<f64>().ok().filter(|v| *v > 0.0 && *v <= 4.0).ok_or_else(|| {
            ApiError::from(invalid("speed", "`speed` must be a number above 0 and at most 4"))
        })?,
    };
    let lease = admin
        .live
        .pool
        .pick(ChannelKind::Grok, "fast", None, Duration::ZERO, &[])
        .map_err(|_| ApiError::no_account("grok"))?;
    match admin.grok.voice_token(lease.account(), &voice, &personality, speed).await {
        Ok(answer) => {
            lease.succeed();
            Ok(json::reply(StatusCode::OK, &answer))
        }
        Err(e) => {
            lease.fail(&e);
            Err(ApiError::from(&e))
        }
    }
}

// --- imagine -------------------------------------------------------------------------------------

/// The running and recently finished imagine tasks.
#[derive(Default)]
pub struct Imagine {
    tasks: Mutex<HashMap<String, Arc<Task>>>,
}

struct Task {
    /// Every frame so far (for late watchers) and the live feed, updated under one lock.
    log: Mutex<Vec<Bytes>>,
    feed: broadcast::Sender<Bytes>,
    stopped: AtomicBool,
    finished: AtomicBool,
}

impl Task {
    fn emit(&self, frame: Value) {
        let bytes = Bytes::from(frame.to_string());
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.push(bytes.clone());
        let _ = self.feed.send(bytes);
    }

    /// What was said so far and the feed from here on, with nothing lost in between.
    fn watch(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        (log.clone(), self.feed.subscribe())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    prompt: Option<String>,
    aspect_ratio: Option<String>,
    model: Option<String>,
    max_images: Option<u32>,
    max_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stop {
    task_ids: Vec<String>,
}

pub async fn start(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let start: Start = json::decode(body)?;
    let prompt = start.prompt.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    let prompt = prompt.ok_or_else(|| ApiError::from(invalid("prompt", "`prompt` cannot be empty")))?;
    let ratio = start.aspect_ratio.unwrap_or_else(|| "2:3".to_string());
    if !RATIOS.contains(&ratio.as_str()) {
        return Err(
            invalid("aspect_ratio", format!("`aspect_ratio` must be one of {}", RATIOS.join(", "))).into()
        );
    }
    let max_images = start.max_images.unwrap_or(6);
    if !(1..=MAX_IMAGES).contains(&max_images) {
        return Err(invalid("max_images", format!("`max_images` must be 1 to {MAX_IMAGES}")).into());
    }
    let max_seconds = start.max_seconds.unwrap_or(120);
    if !(1..=MAX_SECONDS).contains(&max_seconds) {
        return Err(invalid("max_seconds", format!("`max_seconds` must be 1 to {MAX_SECONDS}")).into());
    }
    let model = image_model(admin, start.model.as_deref())?;
    let task_id = hex::encode(rand::random::<[u8; 16]>());
    let task = Arc::new(Task {
        log: Mutex::new(Vec::new()),
        feed: broadcast::channel(256).0,
        stopped: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    });
    {
        let mut tasks = admin.imagine.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let running = tasks.values().filter(|t| !t.finished.load(Ordering::Acquire)).count();
        if running >= MAX_TASKS {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_tasks",
                format!("{MAX_TASKS} imagine tasks are already running; stop one first"),
            ));
        }
        tasks.insert(task_id.clone(), task.clone());
    }
    let model_id = model.id.clone();
    let run = Run { prompt, ratio: ratio.clone(), max_images, deadline: Duration::from_secs(max_seconds) };
    tokio::spawn(generate(admin.relay.clone(), admin.imagine.clone(), task_id.clone(), task, model, run));
    Ok(json::reply(
        StatusCode::OK,
        &json!({"task_id": task_id, "aspect_ratio": ratio, "model": model_id, "max_images": max_images, "max_seconds": max_seconds}),
    ))
}

pub fn stop(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let stop: Stop = json::decode(body)?;
    let tasks = admin.imagine.tasks.lock().unwrap_or_else(|e| e.into_inner());
    let mut stopped = 0;
    for id in &stop.task_ids {
        if let Some(task) = tasks.get(id)
            && !task.finished.load(Ordering::Acquire)
            && !task.stopped.swap(true, Ordering::AcqRel)
        {
            stopped += 1;
        }
    }
    Ok(json::reply(StatusCode::OK, &json!({ "stopped": stopped })))
}

/// `GET /api/grok/imagine/{task}/sse`: every frame so far, then live ones, until the task ends.
pub fn sse(admin: &Admin, task_id: &str) -> Result<Reply, ApiError> {
    let (past, feed) = watch(admin, task_id)?;
    let frames = frames(past, feed).map(|f| {
        let mut out = Vec::with_capacity(f.len() + 8);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&f);
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    });
    let mut response = http::Response::new(crate::server::ResponseBody::stream(frames));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn watch(admin: &Admin, task_id: &str) -> Result<(Vec<Bytes>, broadcast::Receiver<Bytes>), ApiError> {
    let tasks = admin.imagine.tasks.lock().unwrap_or_else(|e| e.into_inner());
    let task = tasks.get(task_id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "task_not_found", format!("no imagine task `{task_id}`"))
    })?;
    Ok(task.watch())
}

/// The frames of a task: the past ones, then live ones until its last (`status` stopped or
/// completed). A watcher too slow for the feed misses frames, never blocks the task.
pub(super) fn frames(
    past: Vec<Bytes>,
    feed: broadcast::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Bytes> + Send + 'static {
    let ended = past.last().is_some_and(|f| is_last(f));
    let live = futures_util::stream::unfold((feed, ended), |(mut feed, ended)| async move {
        if ended {
            return None;
        }
        loop {
            match feed.recv().await {
                Ok(frame) => {
                    let last = is_last(&frame);
                    return Some((frame, (feed, last)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    futures_util::stream::iter(past).chain(live)
}

fn is_last(frame: &[u8]) -> bool {
    serde_json::from_slice::<Value>(frame).is_ok_and(|v| v["type"] == "status" && v["status"] != "running")
}

fn image_model(admin: &Admin, name: Option<&str>) -> Result<crate::models::Model, ApiError> {
    let models = admin.live.models.load();
    let fits = |m: &&crate::models::Model| {
        m.channel == ChannelKind::Grok
            && m.kind == ModelKind::Image
            && !crate::channels::edits_images(m.channel, &m.upstream)
    };
    let found = match name {
        Some(id) => models.iter().filter(fits).find(|m| m.id == id),
        None => models.iter().find(fits),
    };
    found.cloned().ok_or_else(|| invalid("model", "no such grok image model").into())
}

struct Run {
    prompt: String,
    ratio: String,
    max_images: u32,
    deadline: Duration,
}

async fn generate(
    relay: crate::relay::Relay,
    imagine: Arc<Imagine>,
    task_id: String,
    task: Arc<Task>,
    model: crate::models::Model,
    run: Run,
) {
    let started = Instant::now();
    task.emit(json!({"type": "status", "status": "running", "task_id": task_id, "prompt": run.prompt, "aspect_ratio": run.ratio, "model": model.id}));
    let (mut made, mut failures) = (0u32, 0u32);
    let why = loop {
        if task.stopped.load(Ordering::Acquire) {
            break "stopped";
        }
        if made >= run.max_images {
            break "completed";
        }
        let Some(left) = run.deadline.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) else {
            break "timed_out";
        };
        let request = ChatRequest {
            model: model.id.clone(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Block::Text(Text::from(run.prompt.as_str()))],
            }],
            media: Some(MediaRequest {
                n: (run.max_images - made).min(2) as u8,
                aspect_ratio: Some(run.ratio.clone()),
            }),
            ..ChatRequest::default()
        };
        let plan = Plan {
            request_timeout: left,
            idle_timeout: left,
            commit_by: None,
            max_retries: 2,
            retry_delay: Duration::from_millis(250),
            session_ttl: Duration::ZERO,
        };
        let batch = tokio::time::timeout(left, async {
            let committed = relay.run(Arc::new(request), &model, plan).await.map_err(|e| match e {
                RelayError::PoolExhausted { .. } => "no grok account can generate images now".to_string(),
                RelayError::Upstream(e) => e.client_message(),
            })?;
            let mut events = futures_util::stream::iter(committed.prefix).chain(committed.rest);
            let mut error = None;
            while let Some(event) = events.next().await {
                match event {
                    Event::Media(m) if m.kind == MediaKind::Image && made < run.max_images => {
                        made += 1;
                        task.emit(json!({
                            "type": "image", "sequence": made, "url": m.url.as_str(), "name": m.name.as_str(),
                            "elapsed_ms": started.elapsed().as_millis() as u64, "aspect_ratio": run.ratio,
                        }));
                    }
                    Event::Error(e) => error = Some(e.client_message()),
                    _ => {}
                }
            }
            error.map_or(Ok(()), Err)
        })
        .await;
        match batch {
            Ok(Ok(())) => failures = 0,
            Ok(Err(message)) => {
                failures += 1;
                task.emit(json!({"type": "error", "message": message, "code": "generation_failed"}));
                if failures >= MAX_FAILURES {
                    break "failed";
                }
                tokio::time::sleep(ERROR_PAUSE.min(run.deadline.saturating_sub(started.elapsed()))).await;
            }
            Err(_) => break "timed_out",
        }
    };
    task.emit(json!({"type": "status", "status": why, "images": made, "elapsed_ms": started.elapsed().as_millis() as u64}));
    task.finished.store(true, Ordering::Release);
    tokio::time::sleep(KEEP_FINISHED).await;
    imagine.tasks.lock().unwrap_or_else(|e| e.into_inner()).remove(&task_id);
}

/// `GET /api/grok/imagine/{task_id}/ws`: the same frames as the SSE endpoint, as WebSocket text
/// messages. The client may send `{"type":"stop"}` (stops the task) and `{"type":"ping"}`
/// (answered `{"type":"pong"}`); anything else gets an `unknown_command` error frame. The socket
/// closes after the task's last frame.
pub fn websocket(
    admin: &Admin,
    mut request: http::Request<hyper::body::Incoming>,
    task_id: &str,
) -> Result<Reply, ApiError> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    let headers = request.headers();
    let upgrade = headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get("sec-websocket-key").map(|k| derive_accept_key(k.as_bytes()));
    let (true, Some(accept)) = (upgrade, key) else {
        return Err(ApiError::bad_request(
            "this endpoint speaks WebSocket: send an Upgrade: websocket request",
        ));
    };
    let task = {
        let tasks = admin.imagine.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.get(task_id).cloned().ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "task_not_found", format!("no imagine task `{task_id}`"))
        })?
    };
    let upgrading = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match upgrading.await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(error = %e, "imagine websocket: upgrade failed"),
        };
        let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        serve_socket(socket, task).await;
    });
    let mut response = http::Response::new(crate::server::ResponseBody::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
    headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("Upgrade"));
    headers.insert(
        "sec-websocket-accept",
        http::HeaderValue::from_str(&accept).expect("an accept key is base64"),
    );
    Ok(response)
}

async fn serve_socket<S>(socket: tokio_tungstenite::WebSocketStream<S>, task: Arc<Task>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    let (past, feed) = task.watch();
    let mut frames = Box::pin(frames(past, feed));
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(frame) => {
                    let text = String::from_utf8_lossy(&frame).into_owned();
                    if sink.send(Ws::text(text)).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = sink.send(Ws::Close(None)).await;
                    return;
                }
            },
            message = incoming.next() => {
                let reply = match message {
                    Some(Ok(Ws::Text(text))) => {
                        match serde_json::from_str::<Value>(text.as_str()).ok().as_ref().and_then(|v| v["type"].as_str()) {
                            Some("stop") => {
                                task.stopped.store(true, Ordering::Release);
                                None
                            }
                            Some("ping") => Some(json!({"type": "pong"})),
                            _ => Some(json!({"type": "error", "message": "unknown command", "code": "unknown_command"})),
                        }
                    }
                    Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => None,
                };
                if let Some(reply) = reply
                    && sink.send(Ws::text(reply.to_string())).await.is_err()
                {
                    return;
                }
            }
        }
    }
}
