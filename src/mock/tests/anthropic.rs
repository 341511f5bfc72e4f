//! The Anthropic mock, scenario by scenario, as a raw HTTP/1.1 client sees it.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Conn, Response, exchange, request};
use crate::mock::{MockKind, MockServer};

async fn server() -> MockServer {
    MockServer::start(MockKind::Anthropic).await.expect("start the mock")
}

const HEADERS: [(&str, &str); 3] =
    [("x-api-key", "sk-ant-test"), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")];

fn post(body: &Value, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = HEADERS.to_vec();
    headers.extend_from_slice(extra);
    request("POST", "/v1/messages", &headers, &body.to_string())
}

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": "Hi"}], "stream": stream})
}

async fn message(model: &str, stream: bool, extra: &[(&str, &str)]) -> Response {
    let server = server().await;
    exchange(server.addr(), &post(&body(model, stream), extra)).await
}

/// The events of a stream as `(name, data)`, checking that each data's `type` is the event name.
fn events(response: &Response) -> Vec<(String, Value)> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream; charset=utf-8"));
    response
        .frames()
        .iter()
        .map(|frame| {
            let name = frame.event.clone().expect("every Anthropic frame names its event");
            let data = frame.json();
            assert_eq!(data["type"], json!(name), "data type matches the event name");
            (name, data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

/// The deltas of block `index`, as their `delta` objects.
fn block_deltas(events: &[(String, Value)], index: usize) -> Vec<Value> {
    events
        .iter()
        .filter(|(name, data)| name == "content_block_delta" && data["index"] == index)
        .map(|(_, data)| data["delta"].clone())
        .collect()
}

fn joined(deltas: &[Value], field: &str) -> String {
    deltas.iter().filter_map(|d| d[field].as_str()).collect()
}

/// Checks the block structure of a complete stream and returns each block's `content_block`.
fn blocks(events: &[(String, Value)]) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut open: Option<u64> = None;
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block starts while another is open");
                assert_eq!(data["index"], blocks.len(), "indices are contiguous from 0");
                open = data["index"].as_u64();
                blocks.push(data["content_block"].clone());
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open, "delta outside its block"),
            "content_block_stop" => assert_eq!(open.take(), data["index"].as_u64()),
            _ => assert_eq!(open, None, "{name} inside a block"),
        }
    }
    blocks
}

fn message_start(events: &[(String, Value)]) -> &Value {
    assert_eq!(events[0].0, "message_start");
    &events[0].1["message"]
}

/// The names of a complete stream with `blocks` content blocks of `deltas` deltas each, as the
/// API sends them.
fn framing(blocks: &[usize]) -> Vec<&'static str> {
    let mut names = vec!["message_start", "ping"];
    for &deltas in blocks {
        names.push("content_block_start");
        names.extend(std::iter::repeat_n("content_block_delta", deltas));
        names.push("content_block_stop");
    }
    names.extend(["message_delta", "message_stop"]);
    names
}

#[tokio::test]
async fn text_stream_follows_the_api_event_order() {
    let response = message("claude-sonnet-4-5", true, &[]).await;
    assert!(response.complete);
    assert!(response.header("request-id").unwrap().starts_with("req_011C"));
    let events = events(&response);
    assert_eq!(names(&events), framing(&[4]));
    let start = message_start(&events);
    assert!(start["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!(
        (
            &start["type"],
            &start["role"],
            &start["model"],
            &start["content"],
            &start["stop_reason"],
            &start["stop_sequence"]
        ),
        (
            &json!("message"),
            &json!("assistant"),
            &json!("claude-sonnet-4-5"),
            &json!([]),
            &Value::Null,
            &Value::Null
        )
    );
    let input_tokens = start["usage"]["input_tokens"].as_u64().unwrap();
    assert!(input_tokens > 0);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(blocks(&events), [json!({"type": "text", "text": ""})]);
    let deltas = block_deltas(&events, 0);
    assert!(deltas.iter().all(|d| d["type"] == "text_delta"));
    assert_eq!(joined(&deltas, "text"), "Hello from the mock.");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"], json!({"stop_reason": "end_turn", "stop_sequence": null}));
    assert_eq!(delta["usage"]["output_tokens"], 4);
    assert_eq!(delta["usage"]["input_tokens"], input_tokens);
    assert_eq!(events[events.len() - 1].1, json!({"type": "message_stop"}));
    assert_eq!(events[1].1, json!({"type": "ping"}));
}

#[tokio::test]
async fn non_stream_text_is_the_full_message() {
    let response = message("claude-haiku-4-5", false, &[]).await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    let text = String::from_utf8(response.body()).unwrap();
    assert!(
        text.starts_with(r#"{"id":"msg_01"#)
            && text.contains(r#"{"type":"text","text":"Hello from the mock."}"#)
    );
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(body["content"], json!([{"type": "text", "text": "Hello from the mock."}]));
    assert_eq!((&body["stop_reason"], &body["stop_sequence"]), (&json!("end_turn"), &Value::Null));
    assert_eq!(body["usage"]["output_tokens"], 4);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(body["usage"]["service_tier"], "standard");
}

#[tokio::test]
async fn echo_repeats_the_last_user_text_blocks() {
    let server = server().await;
    let request = json!({"model": "mock-echo", "max_tokens": 10, "stream": true, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "ping "},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ignored"},
            {"type": "text", "text": "pong", "cache_control": {"type": "ephemeral"}}]}]});
    let events = events(&exchange(server.addr(), &post(&request, &[])).await);
    assert_eq!(joined(&block_deltas(&events, 0), "text"), "ping pong");

    let request =
        json!({"model": "mock-echo", "max_tokens": 10, "messages": [{"role": "user", "content": "écho"}]});
    let body = exchange(server.addr(), &post(&request, &[])).await.json();
    assert_eq!(body["content"][0]["text"], "écho");
}

#[tokio::test]
async fn long_streams_the_requested_number_of_deltas() {
    let response = message("mock-long", true, &[("x-mock-chunks", "9"), ("x-mock-interval-ms", "1")]).await;
    let events = events(&response);
    assert_eq!(names(&events), framing(&[9]));
    assert_eq!(events[events.len() - 2].1["usage"]["output_tokens"], 9);
}

#[tokio::test]
async fn tool_streams_a_text_block_then_a_tool_use_with_json_fragments() {
    let response = message("mock-tool", true, &[]).await;
    let events = events(&response);
    assert_eq!(names(&events), framing(&[2, 4]));
    let blocks = blocks(&events);
    assert_eq!(blocks[0], json!({"type": "text", "text": ""}));
    let tool = &blocks[1];
    assert_eq!((&tool["name"], &tool["input"]), (&json!("get_weather"), &json!({})));
    assert!(tool["id"].as_str().unwrap().starts_with("toolu_01"));
    let deltas = block_deltas(&events, 1);
    assert!(deltas.iter().all(|d| d["type"] == "input_json_delta"));
    assert_eq!(
        serde_json::from_str::<Value>(&joined(&deltas, "partial_json")).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(events[events.len() - 2].1["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_uses_the_first_offered_tool_and_non_stream_has_its_input() {
    let server = server().await;
    let mut request = body("mock-tool", false);
    request["tools"] = json!([{"name": "Read", "input_schema": {"type": "object"}}, {"name": "Bash"}]);
    let body = exchange(server.addr(), &post(&request, &[])).await.json();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["type"], "text");
    let tool = &body["content"][1];
    assert_eq!(
        (&tool["type"], &tool["name"], &tool["input"]),
        (&json!("tool_use"), &json!("Read"), &json!({"city": "Paris"}))
    );
}

#[tokio::test]
async fn tools2_streams_two_tool_use_blocks_after_text() {
    let events = events(&message("mock-tools2", true, &[]).await);
    let blocks = blocks(&events);
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "tool_use", "tool_use"]);
    assert_ne!(blocks[1]["id"], blocks[2]["id"]);
    let cities: Vec<Value> = [1, 2]
        .map(|i| serde_json::from_str(&joined(&block_deltas(&events, i), "partial_json")).unwrap())
        .to_vec();
    assert_eq!(cities, [json!({"city": "Paris"}), json!({"city": "London"})]);
}

#[tokio::test]
async fn thinking_block_ends_with_a_signature_before_the_text_block() {
    let events = events(&message("mock-thinking", true, &[]).await);
    assert_eq!(names(&events), framing(&[4, 4]));
    assert_eq!(blocks(&events)[0], json!({"type": "thinking", "thinking": "", "signature": ""}));
    let thinking = block_deltas(&events, 0);
    let kinds: Vec<&str> = thinking.iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["thinking_delta", "thinking_delta", "thinking_delta", "signature_delta"]);
    assert!(!thinking[3]["signature"].as_str().unwrap().is_empty());
    assert_eq!(joined(&block_deltas(&events, 1), "text"), "Hello from the mock.");

    let body = message("mock-thinking", false, &[]).await.json();
    assert_eq!(body["content"][0]["type"], "thinking");
    assert_eq!(body["content"][0]["thinking"], "The user greets me; I greet back.");
    assert!(!body["content"][0]["signature"].as_str().unwrap().is_empty());
    assert_eq!(body["content"][1]["type"], "text");
}

#[tokio::test]
async fn cache_usage_reports_cache_tokens_at_start_and_end() {
    let events = events(&message("mock-cache_usage", true, &[]).await);
    let start = &message_start(&events)["usage"];
    let end = &events[events.len() - 2].1["usage"];
    for usage in [start, end] {
        assert_eq!(usage["cache_read_input_tokens"], 1024);
        assert_eq!(usage["cache_creation_input_tokens"], 256);
    }
    assert_eq!(start["cache_creation"]["ephemeral_5m_input_tokens"], 256);
    assert_eq!(start["output_tokens"], 1);
    assert!(end["output_tokens"].as_u64().unwrap() > 1);
    assert_eq!(end["input_tokens"], start["input_tokens"]);
}

#[tokio::test]
async fn error_scenarios_answer_in_anthropic_shape_with_the_request_id() {
    let cases = [
        ("error_400", 400, "invalid_request_error"),
        ("error_401", 401, "authentication_error"),
        ("error_403", 403, "permission_error"),
        ("error_429", 429, "rate_limit_error"),
        ("error_500", 500, "api_error"),
        ("error_529", 529, "overloaded_error"),
    ];
    let server = server().await;
    for (name, status, kind) in cases {
        for stream in [false, true] {
            let response = exchange(server.addr(), &post(&body(&format!("mock-{name}"), stream), &[])).await;
            assert_eq!(response.status(), status, "{name}");
            let body = response.json();
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], kind);
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
            assert_eq!(body["request_id"].as_str(), response.header("request-id"));
        }
    }
    let response =
        exchange(server.addr(), &post(&body("mock-error_429", false), &[("x-mock-retry-after", "3")])).await;
    assert_eq!(response.header("retry-after"), Some("3"));
}

#[tokio::test]
async fn key_and_version_are_checked_like_the_api() {
    let server = server().await;
    let text = body("claude", false).to_string();
    let cases = [
        (
            vec![("anthropic-version", "2023-06-01")],
            401,
            "authentication_error",
            "x-api-key header is required",
        ),
        (
            vec![("x-api-key", "sk-mock-bad"), ("anthropic-version", "2023-06-01")],
            401,
            "authentication_error",
            "invalid x-api-key",
        ),
        (vec![("x-api-key", "k")], 400, "invalid_request_error", "anthropic-version: header is required"),
    ];
    for (headers, status, kind, message) in cases {
        for path in ["/v1/messages", "/v1/models"] {
            let method = if path == "/v1/models" { "GET" } else { "POST" };
            let response = exchange(server.addr(), &request(method, path, &headers, &text)).await;
            assert_eq!(response.status(), status);
            let body = response.json();
            assert_eq!((&body["error"]["type"], &body["error"]["message"]), (&json!(kind), &json!(message)));
        }
    }
}

#[tokio::test]
async fn bad_bodies_and_unknown_routes_answer_in_anthropic_shape() {
    let server = server().await;
    let cases = [
        (request("POST", "/v1/messages", &HEADERS, "{\"model\":"), 400, "The request body is not valid JSON"),
        (
            request("POST", "/v1/messages", &HEADERS, r#"{"max_tokens":1,"messages":[]}"#),
            400,
            "model: Field required",
        ),
        (
            request("POST", "/v1/messages", &HEADERS, r#"{"model":"m","messages":[]}"#),
            400,
            "max_tokens: Field required",
        ),
        (post(&body("mock-nope", true), &[]), 400, "unknown mock scenario `nope`"),
        (request("POST", "/v1/complete", &HEADERS, "{}"), 404, "Not Found"),
    ];
    for (raw, status, message) in cases {
        let response = exchange(server.addr(), &raw).await;
        assert_eq!(response.status(), status, "{message}");
        let body = response.json();
        assert_eq!(body["type"], "error");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(message), "{body}");
    }
}

#[tokio::test]
async fn query_strings_do_not_change_the_route() {
    let server = server().await;
    let raw = request("POST", "/v1/messages?beta=true", &HEADERS, &body("claude", false).to_string());
    assert_eq!(exchange(server.addr(), &raw).await.status(), 200);
}

#[tokio::test]
async fn models_lists_one_page_of_mock_models() {
    let server = server().await;
    let body = exchange(server.addr(), &request("GET", "/v1/models?limit=100", &HEADERS, "")).await.json();
    assert_eq!(body["has_more"], false);
    assert_eq!((&body["first_id"], &body["last_id"]), (&json!("mock-text"), &json!("mock-bench")));
    assert_eq!(body["data"][0]["type"], "model");
    assert!(body["data"][0]["display_name"].is_string() && body["data"][0]["created_at"].is_string());
}

#[tokio::test]
async fn empty_stream_has_no_blocks_but_ends_well() {
    let events = events(&message("mock-empty", true, &[]).await);
    assert_eq!(names(&events), framing(&[]));
    assert_eq!(message("mock-empty", false, &[]).await.json()["content"], json!([]));
}

#[tokio::test]
async fn empty_body_is_a_200_with_zero_bytes() {
    let response = message("mock-empty_body", true, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.complete && response.body().is_empty());
}

#[tokio::test]
async fn cut_drops_the_connection_after_three_deltas() {
    let response = message("mock-cut", true, &[]).await;
    assert!(!response.complete);
    let events = events(&response);
    assert_eq!(names(&events), &framing(&[4])[..6]);
    assert!(!names(&events).contains(&"message_stop"));
}

#[tokio::test]
async fn inband_error_follows_two_deltas_and_ends_the_stream() {
    let response = message("mock-inband_error", true, &[]).await;
    assert!(response.complete);
    let events = events(&response);
    let mut expected = framing(&[4])[..5].to_vec();
    expected.push("error");
    assert_eq!(names(&events), expected);
    assert_eq!(
        events.last().unwrap().1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    assert_eq!(message("mock-inband_error", false, &[]).await.status(), 529);
}

#[tokio::test]
async fn error_before_content_comes_right_after_message_start() {
    let events = events(&message("mock-error_before_content", true, &[]).await);
    assert_eq!(names(&events), ["message_start", "ping", "error"]);
    assert_eq!(events[2].1["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn silence_sends_message_start_then_nothing() {
    let server = server().await;
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&post(&body("mock-silence", true), &[])).await;
    assert_eq!(conn.head().await.status, 200);
    for expected in ["message_start", "ping"] {
        match conn.chunk().await {
            super::client::Piece::Data(chunk) => {
                assert_eq!(super::client::Sse::parse(&chunk).event.as_deref(), Some(expected));
            }
            other => panic!("expected {expected}, got {other:?}"),
        }
    }
    assert!(conn.is_quiet_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn bench_answers_a_message() {
    let body = message("mock-bench", false, &[]).await.json();
    assert_eq!((&body["model"], &body["content"][0]["text"]), (&json!("mock-bench"), &json!("ok")));
    let events = events(&message("mock-bench", true, &[]).await);
    assert_eq!(names(&events), framing(&[1]));
}
