//! The three actors of an integration test: mock upstreams, the real gateway, and a raw HTTP
//! client, all on loopback ephemeral ports.
#![allow(dead_code)] // each test binary uses its own subset

pub mod process;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use orchids2api::config::{AccountSeed, ApiKeySeed, Config, ModelSeed};
use orchids2api::mock::{MockKind, MockServer};
use orchids2api::secret::Secret;
use orchids2api::server::Server;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

pub const KEY: &str = "sk-test-client";

/// Every mock scenario; the gateway serves model `mock-<scenario>` on both official channels.
pub const SCENARIOS: &[&str] = &[
    "text",
    "echo",
    "long",
    "tool",
    "tools2",
    "thinking",
    "cache_usage",
    "error_401",
    "error_403",
    "error_429",
    "error_500",
    "error_400",
    "error_529",
    "html_403",
    "empty",
    "empty_body",
    "cut",
    "inband_error",
    "error_before_content",
    "slow_first_byte",
    "silence",
    "bench",
];

/// A gateway in front of one OpenAI mock and one Anthropic mock, with its own data directory.
pub struct Harness {
    pub gateway: Server,
    pub openai: MockServer,
    pub anthropic: MockServer,
    pub data: TempDir,
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "o2a-{tag}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Starts with a config adjusted by `tune` (timeouts, auth, ...).
    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Harness {
        let openai = MockServer::start(MockKind::OpenAi).await.expect("openai mock");
        let anthropic = MockServer::start(MockKind::Anthropic).await.expect("anthropic mock");
        let data = TempDir::new("gw");
        let mut config = config_for(&openai, &anthropic);
        config.data_dir = data.0.clone();
        tune(&mut config);
        let gateway = Server::start(&config).await.expect("gateway");
        Harness { gateway, openai, anthropic, data }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }

    pub fn mock(&self, channel: &str) -> &MockServer {
        match channel {
            "openai" => &self.openai,
            "anthropic" => &self.anthropic,
            other => panic!("no mock for {other}"),
        }
    }
}

pub fn config_for(openai: &MockServer, anthropic: &MockServer) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        request_timeout_s: 10,
        stream_idle_timeout_s: 2,
        api_keys: vec![ApiKeySeed { name: "test".into(), key: Secret::new(KEY), models: vec![] }],
        accounts: vec![
            account("openai", "oa-1", &openai.base_url(), "sk-mock-upstream"),
            account("anthropic", "an-1", &anthropic.base_url(), "sk-ant-mock-upstream"),
        ],
        ..Config::default()
    };
    for channel in ["openai", "anthropic"] {
        for scenario in SCENARIOS {
            config.models.push(ModelSeed {
                id: format!("mock-{scenario}"),
                channel: channel.parse().unwrap(),
                upstream: None,
                display_name: None,
                enabled: true,
            });
        }
    }
    config
}

pub fn account(channel: &str, name: &str, base_url: &str, credential: &str) -> AccountSeed {
    AccountSeed {
        channel: channel.parse().unwrap(),
        name: name.into(),
        base_url: Some(base_url.into()),
        credential: Secret::new(credential),
        weight: 1,
        priority: 0,
        enabled: true,
        max_concurrency: 0,
    }
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Opens a connection and sends one request; returns the response head and the body to read.
pub async fn open(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Incoming> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.expect("handshake");
    tokio::spawn(conn);
    let mut request = http::Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(body.into())).expect("request");
    sender.send_request(request).await.expect("send")
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let response = open(addr, method, path, headers, body).await;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .expect("body within 30 s")
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Reply { status: parts.status.as_u16(), headers: parts.headers, body }
}

/// POST JSON with the test key, Bearer style.
pub async fn post(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    send(
        addr,
        "POST",
        path,
        &[("authorization", &format!("Bearer {KEY}")), ("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// POST JSON the way the Anthropic SDK does (x-api-key + anthropic-version).
pub async fn post_anthropic(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    send(
        addr,
        "POST",
        path,
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// One SSE frame as the client saw it: its `event:` name (if any), its data, and when it came.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: Option<String>,
    pub data: String,
    pub comment: bool,
    pub at: Instant,
}

impl Frame {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("frame data not JSON ({e}): {}", self.data))
    }
}

/// Reads an SSE body to its end, frame by frame, noting arrival times. Frames must be complete
/// (`\n\n`-terminated) by the end of the body.
pub async fn sse_frames(response: http::Response<Incoming>) -> Vec<Frame> {
    let mut body = response.into_body();
    let mut pending = String::new();
    let mut frames = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else { continue };
            pending.push_str(std::str::from_utf8(&data).expect("UTF-8 SSE"));
            while let Some(end) = pending.find("\n\n") {
                let raw: String = pending.drain(..end + 2).collect();
                frames.push(parse_frame(raw.trim_end_matches('\n'), Instant::now()));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("stream ends within 30 s");
    assert!(pending.is_empty(), "stream ended inside a frame: {pending:?}");
    frames
}

fn parse_frame(raw: &str, at: Instant) -> Frame {
    let mut event = None;
    let mut data = Vec::new();
    let mut comment = true;
    for line in raw.split('\n') {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim_start().to_string());
            comment = false;
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
            comment = false;
        } else if !line.starts_with(':') {
            panic!("unexpected SSE line {line:?}");
        }
    }
    Frame { event, data: data.join("\n"), comment, at }
}

/// Streams a request and returns (status, headers, frames).
pub async fn stream(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, http::HeaderMap, Vec<Frame>) {
    let response = open(addr, "POST", path, headers, body.to_string()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, sse_frames(response).await)
}

pub fn bearer() -> String {
    format!("Bearer {KEY}")
}

/// The text of the answer in an Anthropic SSE stream.
pub fn anthropic_text(frames: &[Frame]) -> String {
    frames
        .iter()
        .filter(|f| f.event.as_deref() == Some("content_block_delta"))
        .filter_map(|f| f.json()["delta"]["text"].as_str().map(str::to_string))
        .collect()
}

/// The text of the answer in an OpenAI SSE stream.
pub fn openai_text(frames: &[Frame]) -> String {
    frames
        .iter()
        .filter(|f| !f.comment && f.data != "[DONE]")
        .filter_map(|f| f.json()["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect()
}
