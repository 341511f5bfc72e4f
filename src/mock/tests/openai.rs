//! The OpenAI mock, scenario by scenario, as a raw HTTP/1.1 client sees it.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Conn, Response, exchange, request};
use crate::mock::{MockKind, MockServer};

async fn server() -> MockServer {
    MockServer::start(MockKind::OpenAi).await.expect("start the mock")
}

fn post(body: &Value, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = vec![("authorization", "Bearer sk-test-key"), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    request("POST", "/v1/chat/completions", &headers, &body.to_string())
}

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": stream})
}

async fn chat(model: &str, stream: bool, extra: &[(&str, &str)]) -> Response {
    let server = server().await;
    exchange(server.addr(), &post(&body(model, stream), extra)).await
}

/// The chunks of a complete stream, after checking what every OpenAI stream holds: `data:` frames
/// only, `[DONE]` last, one `id`/`created`/`model`, a first delta with `role: "assistant"`.
fn chunks(response: &Response, model: &str) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream; charset=utf-8"));
    assert!(response.complete, "stream did not end");
    let frames = response.frames();
    assert!(frames.iter().all(|f| f.event.is_none()), "OpenAI streams have no event names");
    let (last, chunks) = frames.split_last().expect("at least [DONE]");
    assert_eq!(last.data, "[DONE]");
    let chunks: Vec<Value> = chunks.iter().map(|f| f.json()).collect();
    let first = &chunks[0];
    assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(
            (&chunk["id"], &chunk["created"], &chunk["model"]),
            (&first["id"], &first["created"], &json!(model))
        );
    }
    assert_eq!(first["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    chunks
}

/// The choice chunks between the role chunk and the finish chunk: their deltas.
fn deltas(chunks: &[Value]) -> Vec<Value> {
    let with_choices: Vec<&Value> =
        chunks.iter().filter(|c| !c["choices"].as_array().unwrap().is_empty()).collect();
    with_choices[1..with_choices.len() - 1].iter().map(|c| c["choices"][0]["delta"].clone()).collect()
}

fn finish_reason(chunks: &[Value]) -> Value {
    let last = chunks.iter().rev().find(|c| !c["choices"].as_array().unwrap().is_empty()).unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    last["choices"][0]["finish_reason"].clone()
}

fn text_of(deltas: &[Value], field: &str) -> String {
    deltas.iter().filter_map(|d| d[field].as_str()).collect()
}

#[tokio::test]
async fn text_stream_is_role_deltas_finish_done_without_usage() {
    let response = chat("gpt-4o-mini", true, &[]).await;
    let chunks = chunks(&response, "gpt-4o-mini");
    let deltas = deltas(&chunks);
    assert_eq!(deltas, ["Hello", " from", " the", " mock."].map(|t| json!({"content": t})));
    assert_eq!(finish_reason(&chunks), "stop");
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "no usage unless include_usage");
    for (i, chunk) in chunks.iter().enumerate() {
        let finish = if i == chunks.len() - 1 { json!("stop") } else { Value::Null };
        assert_eq!(chunk["choices"][0]["finish_reason"], finish);
        assert_eq!(chunk["choices"][0]["index"], 0);
    }
}

#[tokio::test]
async fn include_usage_adds_one_choiceless_usage_chunk_and_nulls_elsewhere() {
    let server = server().await;
    let mut request = body("mock-text", true);
    request["stream_options"] = json!({"include_usage": true});
    let response = exchange(server.addr(), &post(&request, &[])).await;
    let chunks = chunks(&response, "mock-text");
    let (usage_chunk, others) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(others.iter().all(|c| c["usage"].is_null() && c.as_object().unwrap().contains_key("usage")));
    let usage = &usage_chunk["usage"];
    let (prompt, completion) =
        (usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap());
    assert!(prompt > 0);
    assert_eq!(completion, 4);
    assert_eq!(usage["total_tokens"], prompt + completion);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(finish_reason(others), "stop");
}

#[tokio::test]
async fn non_stream_text_is_a_chat_completion_echoing_the_model() {
    let response = chat("gpt-4o", false, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response.header("x-request-id").unwrap().starts_with("req_"));
    let body = response.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(
        body["choices"][0],
        json!({"index": 0, "message": {"role": "assistant", "content": "Hello from the mock.", "refusal": null,
            "annotations": []}, "logprobs": null, "finish_reason": "stop"})
    );
    assert_eq!(body["usage"]["completion_tokens"], 4);
    let text = String::from_utf8(response.body()).unwrap();
    let fields = ["id", "object", "created", "model", "choices", "usage", "system_fingerprint"];
    let positions = fields.map(|f| text.find(&format!("\"{f}\":")).expect(f));
    assert!(positions.is_sorted(), "fields in the API's order: {text}");
}

#[tokio::test]
async fn echo_repeats_the_last_user_message_from_string_or_parts() {
    let server = server().await;
    let request = json!({"model": "mock-echo", "stream": true, "messages": [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": "Bonjour "}, {"type": "image_url", "image_url": {"url": "data:,"}},
            {"type": "text", "text": "le monde"}]}]});
    let response = exchange(server.addr(), &post(&request, &[])).await;
    assert_eq!(text_of(&deltas(&chunks(&response, "mock-echo")), "content"), "Bonjour le monde");

    let request = json!({"model": "mock-echo", "messages": [{"role": "user", "content": "répète ça"}]});
    let response = exchange(server.addr(), &post(&request, &[])).await;
    assert_eq!(response.json()["choices"][0]["message"]["content"], "répète ça");
}

#[tokio::test]
async fn long_streams_the_requested_number_of_deltas() {
    let response = chat("mock-long", true, &[("x-mock-chunks", "7"), ("x-mock-interval-ms", "1")]).await;
    let deltas = deltas(&chunks(&response, "mock-long"));
    assert_eq!(deltas.len(), 7);
    assert_eq!(text_of(&deltas, "content"), "word0 word1 word2 word3 word4 word5 word6 ");
}

#[tokio::test]
async fn tool_streams_a_call_header_then_argument_fragments() {
    let response = chat("mock-tool", true, &[]).await;
    let chunks = chunks(&response, "mock-tool");
    let deltas = deltas(&chunks);
    let calls: Vec<&Value> = deltas.iter().filter_map(|d| d.get("tool_calls")).map(|t| &t[0]).collect();
    let header = calls[0];
    assert_eq!(header["index"], 0);
    assert!(header["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(header["type"], "function");
    assert_eq!(header["function"], json!({"name": "get_weather", "arguments": ""}));
    assert!(calls.len() >= 3, "arguments come in several fragments");
    for fragment in &calls[1..] {
        assert_eq!(fragment.as_object().unwrap().keys().collect::<Vec<_>>(), ["index", "function"]);
        assert_eq!(fragment["index"], 0);
        assert_eq!(fragment["function"].as_object().unwrap().len(), 1);
    }
    let arguments: String = calls.iter().map(|c| c["function"]["arguments"].as_str().unwrap()).collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"city": "Paris"}));
    assert_eq!(finish_reason(&chunks), "tool_calls");
}

#[tokio::test]
async fn tool_uses_the_first_offered_tool_and_non_stream_carries_tool_calls() {
    let server = server().await;
    let request = json!({"model": "mock-tool", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "lookup_weather", "parameters": {"type": "object"}}}]});
    let body = exchange(server.addr(), &post(&request, &[])).await.json();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!((&call["type"], &call["function"]["name"]), (&json!("function"), &json!("lookup_weather")));
    let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "Paris"}));
}

#[tokio::test]
async fn tools2_streams_two_calls_with_indices_0_and_1() {
    let response = chat("mock-tools2", true, &[]).await;
    let chunks = chunks(&response, "mock-tools2");
    let headers: Vec<Value> = deltas(&chunks)
        .iter()
        .filter_map(|d| d.get("tool_calls"))
        .map(|t| t[0].clone())
        .filter(|c| c.get("id").is_some())
        .collect();
    assert_eq!(headers.len(), 2);
    assert_eq!((&headers[0]["index"], &headers[1]["index"]), (&json!(0), &json!(1)));
    assert_ne!(headers[0]["id"], headers[1]["id"]);
    assert_eq!(finish_reason(&chunks), "tool_calls");
}

#[tokio::test]
async fn thinking_streams_reasoning_content_before_content() {
    let response = chat("mock-thinking", true, &[]).await;
    let deltas = deltas(&chunks(&response, "mock-thinking"));
    let kinds: Vec<&str> = deltas
        .iter()
        .map(|d| if d.get("reasoning_content").is_some() { "reasoning" } else { "content" })
        .collect();
    assert_eq!(kinds, ["reasoning", "reasoning", "reasoning", "content", "content", "content", "content"]);
    assert_eq!(text_of(&deltas, "content"), "Hello from the mock.");

    let body = chat("mock-thinking", false, &[]).await.json();
    let message = &body["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "The user greets me; I greet back.");
    assert_eq!(body["usage"]["completion_tokens_details"]["reasoning_tokens"], 3);
}

#[tokio::test]
async fn cache_usage_reports_cached_and_reasoning_tokens_inside_the_totals() {
    let usage = chat("mock-cache_usage", false, &[]).await.json()["usage"].clone();
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1024);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 16);
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 1024 + 256, "prompt_tokens includes cached tokens");
    assert_eq!(usage["completion_tokens"], 4 + 16);
    assert_eq!(usage["total_tokens"], prompt + 20);
}

#[tokio::test]
async fn error_scenarios_answer_in_openai_shape_on_stream_and_non_stream() {
    let cases = [
        ("error_400", 400, "invalid_request_error", json!("context_length_exceeded")),
        ("error_401", 401, "invalid_request_error", json!("invalid_api_key")),
        ("error_403", 403, "request_forbidden", json!("unsupported_country_region_territory")),
        ("error_429", 429, "requests", json!("rate_limit_exceeded")),
        ("error_500", 500, "server_error", Value::Null),
        ("error_529", 503, "server_error", Value::Null),
    ];
    let server = server().await;
    for (name, status, kind, code) in cases {
        for stream in [false, true] {
            let response = exchange(server.addr(), &post(&body(&format!("mock-{name}"), stream), &[])).await;
            assert_eq!(response.status(), status, "{name}");
            let body = response.json();
            let error = body["error"].as_object().unwrap();
            assert_eq!(error.keys().collect::<Vec<_>>(), ["message", "type", "param", "code"], "{name}");
            assert_eq!((&error["type"], &error["code"]), (&json!(kind), &code), "{name}");
            assert!(!error["message"].as_str().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn error_429_carries_retry_after() {
    let response = chat("mock-error_429", false, &[]).await;
    assert_eq!(response.header("retry-after"), Some("7"));
    let response = chat("mock-error_429", false, &[("x-mock-retry-after", "31")]).await;
    assert_eq!(response.header("retry-after"), Some("31"));
    assert!(response.json()["error"]["message"].as_str().unwrap().contains("try again in 31s"));
}

#[tokio::test]
async fn missing_or_bad_key_is_401_in_openai_shape() {
    let server = server().await;
    let request_body = body("gpt-4o", false).to_string();
    let missing =
        request("POST", "/v1/chat/completions", &[("content-type", "application/json")], &request_body);
    let response = exchange(server.addr(), &missing).await;
    assert_eq!(response.status(), 401);
    let error = response.json()["error"].clone();
    assert!(error["message"].as_str().unwrap().starts_with("You didn't provide an API key."));
    assert_eq!((&error["type"], &error["code"]), (&json!("invalid_request_error"), &Value::Null));

    let bad =
        request("POST", "/v1/chat/completions", &[("authorization", "Bearer sk-mock-bad")], &request_body);
    let response = exchange(server.addr(), &bad).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json(),
        json!({"error": {"message": "Incorrect API key provided: sk-moc*-bad. You can find your API key at \
            https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null,
            "code": "invalid_api_key"}})
    );
    let models = request("GET", "/v1/models", &[("authorization", "Bearer sk-mock-bad")], "");
    assert_eq!(exchange(server.addr(), &models).await.status(), 401);
}

#[tokio::test]
async fn bad_bodies_and_unknown_routes_answer_in_openai_shape() {
    let server = server().await;
    let auth = [("authorization", "Bearer k")];
    let cases = [
        (
            request("POST", "/v1/chat/completions", &auth, "{not json"),
            400,
            "We could not parse the JSON body",
        ),
        (
            request("POST", "/v1/chat/completions", &auth, r#"{"messages":[]}"#),
            400,
            "you must provide a model",
        ),
        (
            request("POST", "/v1/chat/completions", &auth, r#"{"model":"m"}"#),
            400,
            "Missing required parameter",
        ),
        (
            request("POST", "/v1/chat/completions", &auth, r#"{"model":"m","messages":[],"stream":"yes"}"#),
            400,
            "Invalid",
        ),
        (post(&body("mock-nope", false), &[]), 400, "unknown mock scenario `nope`"),
        (request("POST", "/v1/completions", &auth, "{}"), 404, "Invalid URL (POST /v1/completions)"),
        (request("GET", "/v1/chat/completions", &auth, ""), 404, "Invalid URL (GET /v1/chat/completions)"),
    ];
    for (raw, status, message) in cases {
        let response = exchange(server.addr(), &raw).await;
        assert_eq!(response.status(), status, "{message}");
        let error = response.json()["error"].clone();
        assert!(error["message"].as_str().unwrap().starts_with(message), "{error}");
        assert_eq!(error["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn models_lists_one_model_per_scenario() {
    let server = server().await;
    let response =
        exchange(server.addr(), &request("GET", "/v1/models", &[("authorization", "Bearer k")], "")).await;
    let body = response.json();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"mock-text") && ids.contains(&"mock-bench") && ids.len() == 22);
    assert_eq!(body["data"][0]["object"], "model");
}

#[tokio::test]
async fn header_selects_the_scenario_over_the_model() {
    let response = chat("gpt-4o", true, &[("x-mock-scenario", "tool")]).await;
    assert_eq!(finish_reason(&chunks(&response, "gpt-4o")), "tool_calls");
}

#[tokio::test]
async fn html_403_is_a_challenge_page() {
    for stream in [false, true] {
        let response = chat("mock-html_403", stream, &[]).await;
        assert_eq!(response.status(), 403);
        assert_eq!(response.header("content-type"), Some("text/html; charset=UTF-8"));
        assert!(String::from_utf8(response.body()).unwrap().starts_with("<!DOCTYPE html>"));
    }
}

#[tokio::test]
async fn empty_has_no_content_but_ends_well() {
    let response = chat("mock-empty", true, &[]).await;
    let chunks = chunks(&response, "mock-empty");
    assert_eq!(chunks.len(), 2, "role chunk and finish chunk");
    assert_eq!(finish_reason(&chunks), "stop");
    let body = chat("mock-empty", false, &[]).await.json();
    assert_eq!(body["choices"][0]["message"]["content"], "");
}

#[tokio::test]
async fn empty_body_is_a_200_with_zero_bytes() {
    let response = chat("mock-empty_body", true, &[]).await;
    assert_eq!(
        (response.status(), response.header("content-type")),
        (200, Some("text/event-stream; charset=utf-8"))
    );
    assert!(response.complete && response.body().is_empty());
    let response = chat("mock-empty_body", false, &[]).await;
    assert_eq!((response.status(), response.header("content-length")), (200, Some("0")));
}

#[tokio::test]
async fn cut_stops_after_three_deltas_without_done() {
    let response = chat("mock-cut", true, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(!response.complete, "the connection is cut, no last chunk");
    let frames = response.frames();
    assert_eq!(frames.len(), 4, "role chunk and three deltas");
    assert!(frames.iter().all(|f| f.data != "[DONE]"));
    assert_eq!(frames[3].json()["choices"][0]["delta"]["content"], " the");

    let response = chat("mock-cut", false, &[]).await;
    let announced: usize = response.header("content-length").unwrap().parse().unwrap();
    assert!(!response.complete && response.body().len() < announced);
}

#[tokio::test]
async fn inband_error_sends_two_deltas_then_an_error_frame_and_ends() {
    let response = chat("mock-inband_error", true, &[]).await;
    assert!(response.complete);
    let frames = response.frames();
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[2].json()["choices"][0]["delta"]["content"], " from");
    let error = frames[3].json();
    assert_eq!(error["error"]["type"], "server_error");
    assert_eq!(error.as_object().unwrap().len(), 1);
    assert_eq!(chat("mock-inband_error", false, &[]).await.status(), 503);
}

#[tokio::test]
async fn error_before_content_sends_the_error_as_the_first_frame() {
    let response = chat("mock-error_before_content", true, &[]).await;
    assert_eq!(response.status(), 200);
    let frames = response.frames();
    assert_eq!(frames.len(), 1);
    assert!(frames[0].json()["error"]["message"].as_str().unwrap().contains("overloaded"));
}

#[tokio::test]
async fn slow_first_byte_then_answers_text() {
    let response = chat("mock-slow_first_byte", true, &[("x-mock-delay-ms", "30")]).await;
    assert_eq!(
        text_of(&deltas(&chunks(&response, "mock-slow_first_byte")), "content"),
        "Hello from the mock."
    );
}

#[tokio::test]
async fn silence_sends_headers_then_nothing() {
    let server = server().await;
    for stream in [true, false] {
        let mut conn = Conn::open(server.addr()).await;
        conn.send(&post(&body("mock-silence", stream), &[])).await;
        let head = conn.head().await;
        assert_eq!(head.status, 200);
        assert!(conn.is_quiet_for(Duration::from_millis(300)).await);
    }
}

#[tokio::test]
async fn bench_answers_the_same_completion_shape() {
    let response = chat("mock-bench", false, &[]).await;
    let body = response.json();
    assert_eq!(body["model"], "mock-bench");
    assert_eq!(body["choices"][0]["message"]["content"], "ok");
    assert_eq!(body["usage"]["total_tokens"], 2);
    let response = chat("mock-bench", true, &[]).await;
    assert_eq!(text_of(&deltas(&chunks(&response, "mock-bench")), "content"), "ok");
}
