//! The HTTP surface: authentication, routing errors, limits, model lists, count_tokens,
//! cancellation, HTTP/2, TLS and graceful drain — over real sockets.

mod common;

use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::time::Duration;

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn message(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 32, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn is_anthropic_error(v: &Value, kind: &str) -> bool {
    v["type"] == "error" && v["error"]["type"] == kind && v["error"]["message"].is_string()
}

fn is_openai_error(v: &Value, code: &str) -> bool {
    v["error"]["code"] == code
        && v["error"]["message"].is_string()
        && v["error"]["type"].is_string()
        && v["error"].get("param").is_some()
}

// See: reference/client-conventions.md §4.1, §4.2 (AC-01, AC-06)
#[tokio::test]
async fn ac01_ac06_keys_from_either_header_and_401_in_the_route_shape() {
    let h = Harness::start().await;
    let a = h.addr();
    let body = message("mock-text", false).to_string();
    let chat_body = chat("mock-text", false).to_string();

    for headers in [vec![("x-api-key", KEY)], vec![("authorization", "Bearer sk-test-client")]] {
        assert_eq!(send(a, "POST", "/v1/messages", &headers, body.clone()).await.status, 200);
        assert_eq!(send(a, "POST", "/v1/chat/completions", &headers, chat_body.clone()).await.status, 200);
        assert_eq!(send(a, "POST", "/v1/messages/count_tokens", &headers, body.clone()).await.status, 200);
        assert_eq!(send(a, "GET", "/v1/models", &headers, "").await.status, 200);
    }

    let r = send(a, "POST", "/v1/messages", &[("x-api-key", "sk-wrong")], body.clone()).await;
    assert_eq!(r.status, 401);
    assert!(is_anthropic_error(&r.json(), "authentication_error"), "{}", r.text());
    let r =
        send(a, "POST", "/v1/chat/completions", &[("authorization", "Bearer sk-wrong")], chat_body.clone())
            .await;
    assert_eq!(r.status, 401);
    assert!(is_openai_error(&r.json(), "invalid_api_key"), "{}", r.text());
    let r = send(a, "POST", "/v1/chat/completions", &[], chat_body).await;
    assert_eq!(r.status, 401);
    assert!(is_openai_error(&r.json(), "missing_api_key"));
    assert_eq!(send(a, "GET", "/v1/models", &[], "").await.status, 401);
    assert_eq!(send(a, "POST", "/v1/messages/count_tokens", &[], body).await.status, 401);
    assert_eq!(
        h.openai.requests().len() + h.anthropic.requests().len(),
        4,
        "failed auth never reaches an upstream"
    );
}

#[tokio::test]
async fn auth_none_opens_model_endpoints() {
    let h = Harness::start_with(|c| c.auth = orchids2api::config::AuthMode::None).await;
    let r = send(h.addr(), "POST", "/v1/chat/completions", &[], chat("mock-text", false).to_string()).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn unknown_models_and_paths_are_404_in_the_route_shape() {
    let h = Harness::start().await;
    let r = post_anthropic(h.addr(), "/v1/messages", &message("no-such-model", false)).await;
    assert_eq!(r.status, 404);
    assert!(is_anthropic_error(&r.json(), "not_found_error"));
    let r = post(h.addr(), "/v1/chat/completions", &chat("no-such-model", false)).await;
    assert_eq!(r.status, 404);
    assert!(is_openai_error(&r.json(), "model_not_found"));
    assert_eq!(r.json()["error"]["param"], "model");
    // A model that exists, but not on the pinned channel.
    let mut config_tweak_model = chat("mock-text", false);
    config_tweak_model["model"] = json!("mock-text");
    assert_eq!(post(h.addr(), "/grok/v1/chat/completions", &config_tweak_model).await.status, 404);

    let r = post(h.addr(), "/v1/completions", &chat("mock-text", false)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["message"], "Invalid URL (POST /v1/completions)");
    let r = post(h.addr(), "/v1/messages/batches", &json!({})).await;
    assert!(is_anthropic_error(&r.json(), "not_found_error"));
    let r = send(h.addr(), "GET", "/v1/chat/completions", &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[tokio::test]
async fn keys_limited_to_models_get_403() {
    let h = Harness::start_with(|c| c.api_keys[0].models = vec!["mock-echo".into()]).await;
    let r = post(h.addr(), "/v1/chat/completions", &chat("mock-text", false)).await;
    assert_eq!(r.status, 403);
    assert!(is_openai_error(&r.json(), "model_not_allowed"));
    assert_eq!(post(h.addr(), "/v1/chat/completions", &chat("mock-echo", false)).await.status, 200);
}

// See: reference/client-conventions.md §4.2 (AC-07)
#[tokio::test]
async fn ac07_oversized_bodies_are_413_in_the_route_shape() {
    let h = Harness::start_with(|c| c.max_body_bytes = 1024).await;
    let big = json!({"model": "mock-text", "max_tokens": 5, "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    let r = post_anthropic(h.addr(), "/v1/messages", &big).await;
    assert_eq!(r.status, 413);
    assert!(is_anthropic_error(&r.json(), "request_too_large"), "{}", r.text());
    let r = post(h.addr(), "/v1/chat/completions", &big).await;
    assert_eq!(r.status, 413);
    assert!(is_openai_error(&r.json(), "request_too_large"));
    // Without a Content-Length (chunked), the limit holds as the body streams in.
    let chunks = futures_util::stream::iter((0..8).map(|_| {
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(bytes::Bytes::from(vec![b' '; 512])))
    }));
    let body = http_body_util::StreamBody::new(chunks);
    let tcp = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let request =
        http::Request::post("/v1/chat/completions").header("authorization", bearer()).body(body).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(h.openai.requests().len(), 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_in_the_route_shape() {
    let h = Harness::start().await;
    let a = h.addr();
    let r = send(a, "POST", "/v1/messages", &[("x-api-key", KEY)], "{\"model\": ").await;
    assert_eq!(r.status, 400);
    assert!(is_anthropic_error(&r.json(), "invalid_request_error"), "{}", r.text());
    let r = send(a, "POST", "/v1/chat/completions", &[("authorization", &bearer())], "not json").await;
    assert_eq!(r.status, 400);
    assert!(is_openai_error(&r.json(), "invalid_json"));
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer())],
        r#"{"model":"mock-text","messages":"x"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(is_openai_error(&r.json(), "invalid_request"));
    let r = post(a, "/v1/chat/completions", &json!({"model": "mock-text", "n": 3, "messages": []})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["param"], "n");
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer()), ("content-encoding", "gzip")],
        "x",
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(h.openai.requests().len(), 0, "bad requests never reach an upstream");
}

// See: reference/client-conventions.md §4.4 (AC-18, AC-19)
#[tokio::test]
async fn ac18_ac19_model_lists_in_both_shapes_with_only_serviceable_models() {
    let h = Harness::start_with(|c| {
        c.models.push(orchids2api::config::ModelSeed {
            id: "grok-4".into(),
            channel: "grok".parse().unwrap(),
            upstream: None,
            display_name: None,
            enabled: true,
        });
        c.models.push(orchids2api::config::ModelSeed {
            id: "claude-sonnet-4-5".into(),
            channel: "anthropic".parse().unwrap(),
            upstream: Some("mock-text".into()),
            display_name: Some("Claude Sonnet 4.5".into()),
            enabled: true,
        });
    })
    .await;
    let a = h.addr();
    let r = send(a, "GET", "/v1/models", &[("authorization", &bearer())], "").await;
    let v = r.json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"mock-text") && ids.contains(&"claude-sonnet-4-5"));
    assert!(!ids.contains(&"grok-4"), "no grok account: not serviceable");
    assert_eq!(ids.iter().filter(|i| **i == "mock-text").count(), 1, "each id once");
    assert_eq!(v["data"][0]["object"], "model");

    let r =
        send(a, "GET", "/v1/models?limit=3", &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")], "")
            .await;
    let v = r.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["has_more"], true);
    assert_eq!(v["data"][0]["type"], "model");
    assert!(v["data"][0]["created_at"].as_str().unwrap().ends_with('Z'));
    let last = v["last_id"].as_str().unwrap().to_string();
    let r = send(
        a,
        "GET",
        &format!("/v1/models?limit=1000&after_id={last}"),
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        "",
    )
    .await;
    let rest = r.json();
    assert_eq!(rest["has_more"], false);
    assert!(
        rest["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "claude-sonnet-4-5" && m["display_name"] == "Claude Sonnet 4.5")
    );

    let r = send(a, "GET", "/anthropic/v1/models", &[("authorization", &bearer())], "").await;
    assert!(r.json()["data"].as_array().unwrap().iter().all(|m| m["owned_by"] == "anthropic"));
    let r = send(a, "GET", "/v1/models/claude-sonnet-4-5", &[("authorization", &bearer())], "").await;
    assert_eq!(
        r.json(),
        json!({"id": "claude-sonnet-4-5", "object": "model", "created": r.json()["created"], "owned_by": "anthropic"})
    );
    let r = send(a, "GET", "/v1/models/grok-4", &[("authorization", &bearer())], "").await;
    assert_eq!(r.status, 404);
}

// See: reference/client-conventions.md §4.8, §4.10 #11 (AC-24)
#[tokio::test]
async fn ac24_count_tokens_is_answered_locally() {
    let h = Harness::start().await;
    let body = json!({"model": "mock-text", "system": "You are terse.", "messages": [{"role": "user", "content": "The quick brown fox jumps over the lazy dog."}],
        "tools": [{"name": "get_weather", "description": "Weather for a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
    let mut counts = Vec::new();
    for _ in 0..100 {
        let r = send(
            h.addr(),
            "POST",
            "/v1/messages/count_tokens?beta=true",
            &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
            body.to_string(),
        )
        .await;
        assert_eq!(r.status, 200);
        counts.push(r.json()["input_tokens"].as_u64().unwrap());
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]));
    assert!(counts[0] > 346 && counts[0] < 450, "system + tool preamble + tool + message: {}", counts[0]);
    assert_eq!(h.anthropic.requests().len() + h.openai.requests().len(), 0, "zero upstream requests");
    let r = send(h.addr(), "POST", "/v1/messages/count_tokens", &[("x-api-key", KEY)], "{").await;
    assert_eq!(r.status, 400);
}

// See: reference/client-conventions.md §4.1 (AC-05)
#[tokio::test]
async fn ac05_a_client_that_leaves_cancels_the_upstream_request() {
    // `silence` holds the upstream stream open; keep-alives keep the client's stream going.
    let h = Harness::start_with(|c| {
        c.ping_interval_s = 1;
        c.stream_idle_timeout_s = 60;
    })
    .await;
    for (path, channel, body) in [
        ("/anthropic/v1/messages", "anthropic", message("mock-silence", true)),
        ("/openai/v1/chat/completions", "openai", chat("mock-silence", true)),
    ] {
        let response = open(h.addr(), "POST", path, &[("authorization", &bearer())], body.to_string()).await;
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        // Read the first frame, then hang up mid-stream.
        let first = body.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(body);
        let index = h.mock(channel).requests().len() - 1;
        assert!(
            h.mock(channel).wait_disconnect(index, Duration::from_secs(3)).await,
            "{channel}: the upstream call was cancelled"
        );
    }
}

#[tokio::test]
async fn concurrency_limit_queues_briefly_then_answers_overloaded_in_the_route_shape() {
    let h = Harness::start_with(|c| {
        c.concurrency_limit = 1;
        c.concurrency_queue_ms = 100;
        c.ping_interval_s = 1;
    })
    .await;
    let first = open(
        h.addr(),
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer())],
        chat("mock-long", true).to_string(),
    )
    .await;
    assert_eq!(first.status(), 200);
    let r = post(h.addr(), "/v1/chat/completions", &chat("mock-text", false)).await;
    assert_eq!(r.status, 503);
    assert!(is_openai_error(&r.json(), "overloaded"));
    let r = post_anthropic(h.addr(), "/v1/messages", &message("mock-text", false)).await;
    assert_eq!(r.status, 529, "Anthropic's overloaded status on its routes");
    assert!(is_anthropic_error(&r.json(), "overloaded_error"));
    // A request that arrives while the slot is taken, but gets it within the queue wait, is served.
    let h2 = Harness::start_with(|c| {
        c.concurrency_limit = 1;
        c.concurrency_queue_ms = 10_000;
    })
    .await;
    let busy = open(
        h2.addr(),
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer())],
        chat("mock-long", true).to_string(),
    )
    .await;
    let text = chat("mock-text", false);
    let queued = post(h2.addr(), "/v1/chat/completions", &text);
    let (queued, frames) = tokio::join!(queued, sse_frames(busy));
    assert_eq!(frames.last().unwrap().data, "[DONE]");
    assert_eq!(queued.status, 200, "served once the slot was free");
    let frames = sse_frames(first).await;
    assert_eq!(frames.last().unwrap().data, "[DONE]");
    assert_eq!(
        post(h.addr(), "/v1/chat/completions", &chat("mock-text", false)).await.status,
        200,
        "the slot is free again"
    );
}

#[tokio::test]
async fn health_ready_metrics_and_request_ids() {
    let h = Harness::start().await;
    let r = send(h.addr(), "GET", "/health", &[], "").await;
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    assert_eq!(send(h.addr(), "GET", "/ready", &[], "").await.status, 200);
    let r = post(h.addr(), "/v1/chat/completions", &chat("mock-text", false)).await;
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    let r = send(
        h.addr(),
        "POST",
        "/v1/messages",
        &[("x-api-key", KEY), ("x-request-id", "trace-123")],
        message("mock-text", false).to_string(),
    )
    .await;
    assert_eq!(r.header("x-request-id"), Some("trace-123"));
    assert_eq!(r.header("request-id"), Some("trace-123"));
    let _ = orchids2api::telemetry::metrics();
    let _ = post(h.addr(), "/v1/chat/completions", &chat("mock-text", false)).await;
    let r = send(h.addr(), "GET", "/metrics", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("o2a_requests_total"), "{}", r.text());
    assert!(r.text().contains("o2a_upstream_attempts_total"));
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let h = Harness::start().await;
    let tcp = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post(format!("http://{}/v1/chat/completions", h.addr()))
        .header("authorization", bearer())
        .body(http_body_util::Full::new(bytes::Bytes::from(chat("mock-text", true).to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let frames = sse_frames(response).await;
    assert_eq!(openai_text(&frames), "Hello from the mock.");
}

#[tokio::test]
async fn tls_listener_negotiates_h2_by_alpn() {
    let dir = std::env::temp_dir().join(format!("o2a-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let h = Harness::start_with(|c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let tls = connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(format!("https://localhost:{}/health", h.addr().port()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}

// See: reference/client-conventions.md §4.10 #18 (AC-30)
#[tokio::test]
async fn ac30_drain_fails_readiness_refuses_new_connections_and_lets_streams_finish() {
    let h = Harness::start_with(|c| c.drain_timeout_s = 10).await;
    let addr = h.addr();
    // A stream of 50 deltas 20 ms apart is in flight when the drain starts.
    let response =
        open(addr, "POST", "/v1/messages", &[("x-api-key", KEY)], message("mock-long", true).to_string())
            .await;
    assert_eq!(response.status(), 200);
    let ready_conn = {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        sender
    };
    let Harness { gateway, openai: _openai, anthropic: _anthropic, data: _data } = h;
    gateway.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
    // A connection opened before the drain can still ask, and hears 503.
    let mut ready_conn = ready_conn;
    let ready = ready_conn
        .send_request(
            http::Request::get("/ready")
                .header("host", addr.to_string())
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
        .await;
    if let Ok(ready) = ready {
        assert_eq!(ready.status(), 503);
    }
    let frames = sse_frames(response).await;
    assert_eq!(
        frames.iter().filter(|f| f.event.as_deref() == Some("content_block_delta")).count(),
        50,
        "the in-flight stream finished"
    );
    assert_eq!(frames.last().unwrap().event.as_deref(), Some("message_stop"));
    tokio::time::timeout(Duration::from_secs(5), gateway.wait())
        .await
        .expect("the server stops once drained");
}

#[tokio::test]
async fn drain_cuts_streams_still_running_at_the_deadline() {
    let h = Harness::start_with(|c| {
        c.drain_timeout_s = 1;
        c.ping_interval_s = 1;
        c.stream_idle_timeout_s = 60;
    })
    .await;
    let response = open(
        h.addr(),
        "POST",
        "/anthropic/v1/messages",
        &[("x-api-key", KEY)],
        message("mock-silence", true).to_string(),
    )
    .await;
    let Harness { gateway, data: _data, .. } = h;
    gateway.shutdown();
    tokio::time::timeout(Duration::from_secs(5), gateway.wait())
        .await
        .expect("stopped at the drain deadline");
    let mut body = response.into_body();
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = body.frame().await {} })
            .await;
    assert!(ended.is_ok(), "the cut stream ends for the client");
}

/// A minimal HTTP proxy that accepts `CONNECT host:port`, checks its credentials, and splices.
async fn connect_proxy(
    expected_auth: &'static str,
) -> (std::net::SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let _ = seen.send(head.clone());
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                if !head.starts_with("CONNECT ") || !head.contains(expected_auth) {
                    let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
                    return;
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else { return };
                let _ = client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn upstream_calls_go_through_the_configured_proxy_with_its_credentials() {
    // "user:p@ss" → Basic dXNlcjpwQHNz
    let (proxy, mut seen) = connect_proxy("Proxy-Authorization: Basic dXNlcjpwQHNz").await;
    let h = Harness::start_with(|c| {
        c.proxy_url = Some(orchids2api::secret::Secret::new(format!("http://user:p%40ss@{proxy}")))
    })
    .await;
    let r = post(h.addr(), "/openai/v1/chat/completions", &chat("mock-text", false)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = seen.recv().await.unwrap();
    assert!(head.starts_with(&format!("CONNECT {} HTTP/1.1", h.openai.addr())), "{head}");
    assert_eq!(h.openai.requests().len(), 1);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start_with(|c| c.header_read_timeout_s = 1).await;
    let mut tcp = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    tcp.write_all(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection was closed after the header-read timeout");
}

#[tokio::test]
async fn identical_overlapping_requests_share_one_upstream_call() {
    for (window, upstream_calls) in [(2000, 1), (0, 2)] {
        let h = Harness::start_with(|c| c.dedup_window_ms = window).await;
        let body = message("mock-long", true).to_string();
        let first =
            open(h.addr(), "POST", "/anthropic/v1/messages", &[("x-api-key", KEY)], body.clone()).await;
        let second = open(h.addr(), "POST", "/anthropic/v1/messages", &[("x-api-key", KEY)], body).await;
        let (a, b) = tokio::join!(sse_frames(first), sse_frames(second));
        for frames in [&a, &b] {
            assert_eq!(
                frames.iter().filter(|f| f.event.as_deref() == Some("content_block_delta")).count(),
                50,
                "window {window}: a whole answer each"
            );
            assert_eq!(frames.last().unwrap().event.as_deref(), Some("message_stop"));
        }
        assert_eq!(h.anthropic.requests().len(), upstream_calls, "window {window}");
    }
}
