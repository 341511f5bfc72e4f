//! The harness: recording, the control endpoint, disconnect detection, h2c, shutdown.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use super::client::{Conn, Piece, exchange, request};
use crate::mock::{MockKind, MockServer, Recording};

const WAIT: Duration = Duration::from_secs(5);

fn chat(model: &str, stream: bool) -> Vec<u8> {
    let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]});
    request("POST", "/v1/chat/completions", &[("authorization", "Bearer k")], &body.to_string())
}

#[tokio::test]
async fn records_method_path_headers_and_body_in_order() {
    let server = MockServer::start(MockKind::OpenAi).await.unwrap();
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}"#;
    let headers =
        [("Authorization", "Bearer sk-1"), ("X-Custom", "Yes"), ("content-type", "application/json")];
    exchange(server.addr(), &request("POST", "/v1/chat/completions?trace=1", &headers, body)).await;
    exchange(server.addr(), &request("GET", "/v1/models", &[("authorization", "Bearer sk-2")], "")).await;

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/v1/chat/completions?trace=1"));
    assert_eq!(first.header("authorization"), Some("Bearer sk-1"));
    assert_eq!(first.header("X-CUSTOM"), Some("Yes"));
    assert!(first.headers.iter().any(|(n, v)| n == "x-custom" && v == "Yes"), "names are lower-case");
    assert_eq!(first.body, Bytes::from_static(body.as_bytes()));
    assert_eq!(first.json()["messages"][0]["content"], "Hi");
    assert_eq!((requests[1].method.as_str(), requests[1].json()), ("GET", Value::Null));

    server.clear();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn control_endpoint_lists_and_clears_without_recording_itself() {
    let server = MockServer::start(MockKind::Anthropic).await.unwrap();
    let headers = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];
    let body = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"é"}]}"#;
    exchange(server.addr(), &request("POST", "/v1/messages", &headers, body)).await;

    let listed = exchange(server.addr(), &request("GET", "/_mock/requests", &[], "")).await.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (&listed[0]["method"], &listed[0]["path"], &listed[0]["body"]),
        (&json!("POST"), &json!("/v1/messages"), &json!(body))
    );
    assert!(listed[0]["headers"].as_array().unwrap().contains(&json!(["x-api-key", "k"])));

    let cleared = exchange(server.addr(), &request("DELETE", "/_mock/requests", &[], "")).await;
    assert_eq!(cleared.status(), 204);
    let listed = exchange(server.addr(), &request("GET", "/_mock/requests", &[], "")).await.json();
    assert_eq!(listed, json!([]));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn recording_off_serves_but_records_nothing() {
    let server = MockServer::start(MockKind::OpenAi).await.unwrap();
    server.set_recording(Recording::Off);
    assert_eq!(exchange(server.addr(), &chat("mock-bench", false)).await.status(), 200);
    assert!(server.requests().is_empty());
    server.set_recording(Recording::On);
    exchange(server.addr(), &chat("mock-bench", false)).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn wait_disconnect_sees_a_client_leaving_mid_stream() {
    let server = MockServer::start(MockKind::OpenAi).await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&chat("mock-silence", true)).await;
    conn.head().await;
    assert!(!server.wait_disconnect(0, Duration::from_millis(100)).await, "still connected");
    drop(conn);
    assert!(server.wait_disconnect(0, WAIT).await);
    assert!(server.wait_disconnect(0, Duration::ZERO).await, "stays true");
}

#[tokio::test]
async fn wait_disconnect_sees_a_client_leaving_before_the_first_byte() {
    let server = MockServer::start(MockKind::OpenAi).await.unwrap();
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&chat("mock-slow_first_byte", true)).await;
    let recorded = async {
        while server.requests().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, recorded).await.expect("the request arrives");
    drop(conn);
    assert!(server.wait_disconnect(0, WAIT).await);
}

#[tokio::test]
async fn a_response_sent_in_full_is_not_a_disconnect() {
    let server = MockServer::start(MockKind::OpenAi).await.unwrap();
    let response = exchange(server.addr(), &chat("mock-text", true)).await;
    assert!(response.complete);
    assert!(!server.wait_disconnect(0, Duration::from_millis(200)).await);
    assert!(!server.wait_disconnect(7, Duration::ZERO).await, "no such request");
}

#[tokio::test]
async fn serves_h2c_and_sees_a_reset_stream_as_a_disconnect() {
    let server = MockServer::start(MockKind::Anthropic).await.unwrap();
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
    let driver = tokio::spawn(connection);

    let post = |model: &str| {
        let body = json!({"model": model, "max_tokens": 5, "stream": true, "messages": [{"role": "user", "content": "Hi"}]});
        hyper::Request::post(format!("http://{}/v1/messages", server.addr()))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    let response = sender.send_request(post("mock-text")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.starts_with("event: message_start\n")
            && text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    );

    let silent = sender.send_request(post("mock-silence")).await.unwrap();
    assert_eq!(silent.status(), 200);
    drop(silent); // resets the stream; the connection stays up
    assert!(server.wait_disconnect(1, WAIT).await);
    assert!(!driver.is_finished());
    assert!(!server.wait_disconnect(0, Duration::ZERO).await);
}

#[tokio::test]
async fn dropping_the_server_closes_open_streams_and_the_port() {
    let server = MockServer::start(MockKind::Anthropic).await.unwrap();
    let addr = server.addr();
    let mut conn = Conn::open(addr).await;
    let body = json!({"model": "mock-silence", "max_tokens": 5, "stream": true, "messages": []});
    let headers = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];
    conn.send(&request("POST", "/v1/messages", &headers, &body.to_string())).await;
    conn.head().await;
    assert!(matches!(conn.chunk().await, Piece::Data(_)), "message_start");

    drop(server);
    assert_eq!(
        conn.chunk().await,
        Piece::Data(Bytes::from_static(b"event: ping\ndata: {\"type\":\"ping\"}\n\n"))
    );
    assert_eq!(conn.chunk().await, Piece::Closed, "the silent stream is cut");
    let refused = async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    assert!(tokio::time::timeout(WAIT, refused).await.is_ok(), "the port closes");
}

#[tokio::test]
async fn kind_parses_and_base_url_matches_the_sdks() {
    assert_eq!("openai".parse::<MockKind>().unwrap(), MockKind::OpenAi);
    assert_eq!("anthropic".parse::<MockKind>().unwrap(), MockKind::Anthropic);
    assert_eq!("grok".parse::<MockKind>().unwrap(), MockKind::Grok);
    assert!("gemini".parse::<MockKind>().unwrap_err().to_string().contains("`gemini`"));
    let openai = MockServer::start(MockKind::OpenAi).await.unwrap();
    assert_eq!(openai.base_url(), format!("http://127.0.0.1:{}/v1", openai.addr().port()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let anthropic = MockServer::start_on(MockKind::Anthropic, listener).await;
    assert_eq!(anthropic.base_url(), format!("http://{}", anthropic.addr()));
}
