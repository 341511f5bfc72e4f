//! Every mock scenario through the real gateway, for both client dialects × both official
//! channels, asserting what a client sees on the wire (and what the upstream received).

mod common;

use common::*;
use serde_json::{Value, json};

/// The four (dialect, channel) combinations: the route pins the channel.
const COMBOS: [(Dialect, &str); 4] = [
    (Dialect::Anthropic, "anthropic"),
    (Dialect::Anthropic, "openai"),
    (Dialect::OpenAi, "openai"),
    (Dialect::OpenAi, "anthropic"),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dialect {
    Anthropic,
    OpenAi,
}

fn path(dialect: Dialect, channel: &str) -> String {
    match dialect {
        Dialect::Anthropic => format!("/{channel}/v1/messages"),
        Dialect::OpenAi => format!("/{channel}/v1/chat/completions"),
    }
}

fn body(dialect: Dialect, scenario: &str, stream: bool, user: &str) -> Value {
    match dialect {
        Dialect::Anthropic => json!({
            "model": format!("mock-{scenario}"), "max_tokens": 256, "stream": stream,
            "messages": [{"role": "user", "content": user}],
        }),
        Dialect::OpenAi => json!({
            "model": format!("mock-{scenario}"), "stream": stream, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": user}],
        }),
    }
}

async fn streamed(
    h: &Harness,
    dialect: Dialect,
    channel: &str,
    scenario: &str,
) -> (u16, http::HeaderMap, Vec<Frame>) {
    stream(
        h.addr(),
        &path(dialect, channel),
        &[("authorization", &bearer()), ("anthropic-version", "2023-06-01")],
        &body(dialect, scenario, true, "Hi there"),
    )
    .await
}

async fn whole(h: &Harness, dialect: Dialect, channel: &str, scenario: &str, user: &str) -> Reply {
    post(h.addr(), &path(dialect, channel), &body(dialect, scenario, false, user)).await
}

fn names(frames: &[Frame]) -> Vec<&str> {
    frames.iter().filter(|f| !f.comment).map(|f| f.event.as_deref().unwrap_or("data")).collect()
}

/// Checks the invariants of an Anthropic stream (AC-13, AC-14, AC-15) and returns its blocks as
/// (type, text or tool input).
fn anthropic_blocks(frames: &[Frame]) -> Vec<(String, Value)> {
    let events: Vec<(&str, Value)> =
        frames.iter().filter(|f| !f.comment).map(|f| (f.event.as_deref().unwrap(), f.json())).collect();
    assert_eq!(events.first().map(|e| e.0), Some("message_start"), "{events:?}");
    let n = events.len();
    assert_eq!((events[n - 2].0, events[n - 1].0), ("message_delta", "message_stop"), "{events:?}");
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut open = None;
    for (name, data) in &events {
        assert_eq!(data["type"], *name);
        match *name {
            "content_block_start" => {
                assert_eq!(data["index"].as_u64(), Some(blocks.len() as u64), "indices contiguous from 0");
                assert!(open.is_none());
                open = Some(blocks.len());
                let kind = data["content_block"]["type"].as_str().unwrap().to_string();
                blocks.push((kind, String::new()));
            }
            "content_block_delta" => {
                let i = data["index"].as_u64().unwrap() as usize;
                assert_eq!(Some(i), open);
                let d = &data["delta"];
                let piece = d["text"]
                    .as_str()
                    .or(d["thinking"].as_str())
                    .or(d["partial_json"].as_str())
                    .unwrap_or("");
                blocks[i].1.push_str(piece);
            }
            "content_block_stop" => assert_eq!(open.take(), data["index"].as_u64().map(|i| i as usize)),
            _ => {}
        }
    }
    blocks
        .into_iter()
        .map(|(kind, text)| {
            let value = if kind == "tool_use" {
                serde_json::from_str(&text).expect("input_json_delta fragments concatenate to JSON (AC-13)")
            } else {
                Value::String(text)
            };
            (kind, value)
        })
        .collect()
}

/// What an OpenAI stream said, gathered.
struct OpenAiStream {
    text: String,
    reasoning: String,
    /// (id, name, arguments)
    calls: Vec<(String, String, Value)>,
    finish: String,
    usage: Value,
}

/// Checks the invariants of an OpenAI stream (AC-09, AC-11) and gathers what it said.
fn openai_parts(frames: &[Frame]) -> OpenAiStream {
    let data: Vec<&Frame> = frames.iter().filter(|f| !f.comment).collect();
    assert_eq!(data.last().map(|f| f.data.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|f| f.json()).collect();
    let id = chunks[0]["id"].clone();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (mut text, mut reasoning, mut finish) = (String::new(), String::new(), String::new());
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut usage = Value::Null;
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        if c["choices"].as_array().unwrap().is_empty() {
            usage = c["usage"].clone();
            continue;
        }
        assert_eq!(c["usage"], Value::Null, "usage: null on content chunks when include_usage is set");
        let choice = &c["choices"][0];
        let delta = &choice["delta"];
        text.push_str(delta["content"].as_str().unwrap_or(""));
        reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or(""));
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().expect("every tool_calls item has an index") as usize;
            if index == calls.len() {
                assert_eq!(call["type"], "function");
                assert_eq!(call["function"]["arguments"], "");
                calls.push((
                    call["id"].as_str().unwrap().into(),
                    call["function"]["name"].as_str().unwrap().into(),
                    String::new(),
                ));
            } else {
                assert!(call.get("id").is_none());
                calls[index].2.push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = f.to_string();
        }
    }
    let calls = calls
        .into_iter()
        .map(|(id, name, args)| (id, name, serde_json::from_str(&args).expect("arguments are JSON")))
        .collect();
    OpenAiStream { text, reasoning, calls, finish, usage }
}

#[tokio::test]
async fn text_streams_with_the_exact_event_sequence() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        let (status, headers, frames) = streamed(&h, dialect, channel, "text").await;
        assert_eq!(status, 200, "{dialect:?} via {channel}");
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(headers["cache-control"], "no-cache");
        assert!(headers.get("content-encoding").is_none(), "SSE is never compressed (AC-04)");
        match dialect {
            Dialect::Anthropic => {
                assert_eq!(
                    names(&frames),
                    [
                        "message_start",
                        "content_block_start",
                        "content_block_delta",
                        "content_block_delta",
                        "content_block_delta",
                        "content_block_delta",
                        "content_block_stop",
                        "message_delta",
                        "message_stop"
                    ],
                    "{channel}"
                );
                assert_eq!(anthropic_text(&frames), "Hello from the mock.");
                let start = frames[0].json();
                assert_eq!(start["message"]["model"], "mock-text", "the client's model id is echoed");
                let delta = frames[frames.len() - 2].json();
                assert_eq!(delta["delta"]["stop_reason"], "end_turn");
                assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
            }
            Dialect::OpenAi => {
                let OpenAiStream { text, calls, finish, usage, .. } = openai_parts(&frames);
                assert_eq!(text, "Hello from the mock.", "{channel}");
                assert!(calls.is_empty());
                assert_eq!(finish, "stop");
                assert!(
                    usage["prompt_tokens"].as_u64().unwrap() > 0
                        && usage["completion_tokens"].as_u64().unwrap() > 0
                );
                let chunk = frames[0].json();
                assert_eq!(chunk["model"], "mock-text");
            }
        }
    }
}

#[tokio::test]
async fn text_answers_whole_when_not_streaming() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        let r = whole(&h, dialect, channel, "text", "Hi").await;
        assert_eq!(r.status, 200, "{dialect:?} via {channel}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        match dialect {
            Dialect::Anthropic => {
                assert_eq!(v["type"], "message");
                assert_eq!(v["model"], "mock-text");
                assert_eq!(v["content"], json!([{"type": "text", "text": "Hello from the mock."}]));
                assert_eq!(v["stop_reason"], "end_turn");
            }
            Dialect::OpenAi => {
                assert_eq!(v["object"], "chat.completion");
                assert_eq!(v["choices"][0]["message"]["content"], "Hello from the mock.");
                assert_eq!(v["choices"][0]["finish_reason"], "stop");
            }
        }
    }
}

#[tokio::test]
async fn requests_convert_both_ways_and_reach_the_upstream_with_its_credentials() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        h.mock(channel).clear();
        let r = whole(&h, dialect, channel, "echo", "ping pong ball").await;
        assert_eq!(r.status, 200, "{dialect:?} via {channel}: {}", r.text());
        let v = r.json();
        let answer = match dialect {
            Dialect::Anthropic => v["content"][0]["text"].as_str().unwrap().to_string(),
            Dialect::OpenAi => v["choices"][0]["message"]["content"].as_str().unwrap().to_string(),
        };
        assert_eq!(answer.trim(), "ping pong ball", "{dialect:?} via {channel}");

        let sent = &h.mock(channel).requests()[0];
        let up = sent.json();
        assert_eq!(up["stream"], true, "the gateway always streams from upstream");
        assert_eq!(up["model"], "mock-echo");
        match channel {
            "anthropic" => {
                assert_eq!(sent.path, "/v1/messages");
                assert_eq!(sent.header("x-api-key"), Some("sk-ant-mock-upstream"));
                assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
                assert!(sent.header("authorization").is_none(), "the client's key is not forwarded");
            }
            _ => {
                assert_eq!(sent.path, "/v1/chat/completions");
                assert_eq!(sent.header("authorization"), Some("Bearer sk-mock-upstream"));
                assert_eq!(up["stream_options"], json!({"include_usage": true}));
            }
        }
    }
}

#[tokio::test]
async fn same_protocol_requests_keep_fields_the_gateway_does_not_model() {
    let h = Harness::start().await;
    let r = send(
        h.addr(),
        "POST",
        "/anthropic/v1/messages?beta=true",
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("anthropic-beta", "context-management-2025-06-27")],
        json!({"model": "mock-text", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
               "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}, "output_config": {"effort": "high"}})
        .to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = &h.anthropic.requests()[0];
    assert_eq!(sent.header("anthropic-beta"), Some("context-management-2025-06-27"));
    assert_eq!(sent.json()["context_management"]["edits"][0]["type"], "clear_tool_uses_20250919");
    assert_eq!(sent.json()["output_config"], json!({"effort": "high"}));

    let r = post(
        h.addr(),
        "/openai/v1/chat/completions",
        &json!({"model": "mock-text", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"50256": -100}, "seed": 7}),
    )
    .await;
    assert_eq!(r.status, 200);
    let up = h.openai.requests()[0].json();
    assert_eq!(up["logit_bias"], json!({"50256": -100}));
    assert_eq!(up["seed"], 7);
}

// See: reference/client-conventions.md §4.10 #1, #5, #6, #7 (AC-11, AC-12, AC-13, AC-22)
#[tokio::test]
async fn tool_calls_stream_as_real_tool_calls() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        for (scenario, expected) in [("tool", vec!["Paris"]), ("tools2", vec!["Paris", "London"])] {
            let (status, _, frames) = streamed(&h, dialect, channel, scenario).await;
            assert_eq!(status, 200);
            match dialect {
                Dialect::Anthropic => {
                    let blocks = anthropic_blocks(&frames);
                    assert_eq!(blocks[0].0, "text", "{channel} {scenario}");
                    let tools: Vec<&Value> =
                        blocks.iter().filter(|b| b.0 == "tool_use").map(|b| &b.1).collect();
                    let cities: Vec<&str> = tools.iter().map(|t| t["city"].as_str().unwrap()).collect();
                    assert_eq!(cities, expected, "{channel} {scenario}");
                    let stop = frames
                        .iter()
                        .rev()
                        .find(|f| f.event.as_deref() == Some("message_delta"))
                        .unwrap()
                        .json();
                    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
                    let start = frames
                        .iter()
                        .find(|f| f.json()["content_block"]["type"] == "tool_use")
                        .unwrap()
                        .json();
                    assert_eq!(start["content_block"]["name"], "get_weather");
                    assert_eq!(start["content_block"]["input"], json!({}));
                }
                Dialect::OpenAi => {
                    let OpenAiStream { text, calls, finish, .. } = openai_parts(&frames);
                    assert!(!text.is_empty(), "{channel} {scenario}: text before the calls is kept");
                    let cities: Vec<&str> = calls.iter().map(|c| c.2["city"].as_str().unwrap()).collect();
                    assert_eq!(cities, expected, "{channel} {scenario}");
                    assert!(calls.iter().all(|c| c.1 == "get_weather" && !c.0.is_empty()));
                    assert_eq!(finish, "tool_calls");
                }
            }
        }
    }
}

#[tokio::test]
async fn tool_calls_come_whole_when_not_streaming() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        let v = whole(&h, dialect, channel, "tools2", "weather?").await.json();
        match dialect {
            Dialect::Anthropic => {
                let tools: Vec<&Value> =
                    v["content"].as_array().unwrap().iter().filter(|b| b["type"] == "tool_use").collect();
                assert_eq!(tools.len(), 2, "{channel}");
                assert_eq!(tools[1]["input"], json!({"city": "London"}));
                assert_eq!(v["stop_reason"], "tool_use");
            }
            Dialect::OpenAi => {
                let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
                assert_eq!(calls.len(), 2, "{channel}");
                assert_eq!(calls[0]["type"], "function");
                let args: Value =
                    serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
                assert_eq!(args, json!({"city": "London"}));
                assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
            }
        }
    }
}

#[tokio::test]
async fn thinking_becomes_thinking_blocks_or_reasoning_content() {
    let h = Harness::start().await;
    for (dialect, channel) in COMBOS {
        let (_, _, frames) = streamed(&h, dialect, channel, "thinking").await;
        match dialect {
            Dialect::Anthropic => {
                let blocks = anthropic_blocks(&frames);
                assert_eq!(blocks[0].0, "thinking", "{channel}");
                assert!(!blocks[0].1.as_str().unwrap().is_empty());
                assert_eq!(blocks[1].0, "text");
                let sig = frames
                    .iter()
                    .find(|f| f.json()["delta"]["type"] == "signature_delta")
                    .expect("a signature")
                    .json();
                let sig = sig["delta"]["signature"].as_str().unwrap();
                // A signature from Anthropic is Anthropic's; thinking from elsewhere gets ours.
                assert_eq!(sig.starts_with("o2a1."), channel == "openai", "{channel}: {sig}");
            }
            Dialect::OpenAi => {
                let OpenAiStream { text, reasoning, .. } = openai_parts(&frames);
                assert!(!reasoning.is_empty(), "{channel}");
                assert!(!text.is_empty());
            }
        }
    }
}

// See: reference/client-conventions.md §4.5, §4.10 #9 (AC-20)
#[tokio::test]
async fn ac20_cache_usage_maps_between_the_two_conventions() {
    let h = Harness::start().await;
    // The mocks report input = request bytes / 4, cache read 1024, cache write 256. Anthropic
    // counts input without cache; OpenAI's prompt_tokens counts everything, cached_tokens ⊆ it.
    for (dialect, channel) in COMBOS {
        h.mock(channel).clear();
        let v = whole(&h, dialect, channel, "cache_usage", "same prompt").await.json();
        let x = (h.mock(channel).requests()[0].body.len() as u64 / 4).max(1);
        let what = format!("{dialect:?} via {channel}: {v}");
        let u = &v["usage"];
        match (dialect, channel) {
            (Dialect::Anthropic, "anthropic") => {
                assert_eq!(
                    (
                        u["input_tokens"].as_u64(),
                        u["cache_read_input_tokens"].as_u64(),
                        u["cache_creation_input_tokens"].as_u64()
                    ),
                    (Some(x), Some(1024), Some(256)),
                    "{what}"
                );
            }
            (Dialect::Anthropic, _) => {
                // OpenAI has no cache-write bucket: those tokens stay in uncached input.
                assert_eq!(
                    (u["input_tokens"].as_u64(), u["cache_read_input_tokens"].as_u64()),
                    (Some(x + 256), Some(1024)),
                    "{what}"
                );
                assert!(u.get("cache_creation_input_tokens").is_none(), "{what}");
            }
            (Dialect::OpenAi, _) => {
                assert_eq!(u["prompt_tokens"].as_u64(), Some(x + 1024 + 256), "{what}");
                assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 1024, "{what}");
                assert_eq!(
                    u["total_tokens"].as_u64(),
                    Some(x + 1280 + u["completion_tokens"].as_u64().unwrap()),
                    "{what}"
                );
            }
        }
    }
}

/// Upstream failures before any content: a status-shaped error, never a 200. Each case gets a
/// fresh gateway: the failure cools its only account.
#[tokio::test]
async fn upstream_failures_become_route_shaped_errors() {
    let cases: &[(&str, u16, &str)] = &[
        ("error_401", 502, "upstream_auth_failed"),
        ("error_403", 502, "upstream_forbidden"),
        ("error_429", 429, "rate_limited"),
        ("error_500", 502, "upstream_error"),
        ("error_400", 400, "invalid_request"),
        ("error_529", 503, "upstream_overloaded"),
        ("html_403", 502, "upstream_challenge"),
        ("empty", 502, "empty_response"),
        ("empty_body", 502, "empty_response"),
        ("error_before_content", 503, "upstream_overloaded"),
        ("silence", 504, "upstream_timeout"),
    ];
    let mut all = Vec::new();
    for (dialect, channel) in COMBOS {
        for &(scenario, status, code) in cases {
            for stream in [false, true] {
                all.push(check_failure(dialect, channel, scenario, stream, status, code));
            }
        }
    }
    // The cases are independent (one gateway each): run them side by side.
    futures_util::future::join_all(all).await;
}

async fn check_failure(
    dialect: Dialect,
    channel: &str,
    scenario: &str,
    stream: bool,
    status: u16,
    code: &str,
) {
    let h = Harness::start().await;
    let r = post(h.addr(), &path(dialect, channel), &body(dialect, scenario, stream, "hi")).await;
    let what = format!("{scenario} {dialect:?} via {channel}, stream {stream}");
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    let v = r.json();
    match dialect {
        Dialect::Anthropic => {
            assert_eq!(v["type"], "error", "{what}");
            assert!(v["error"]["type"].is_string() && v["error"]["message"].is_string(), "{what}");
        }
        Dialect::OpenAi => assert_eq!(v["error"]["code"], code, "{what}: {v}"),
    }
    let text = r.text();
    assert!(
        !text.contains("sk-mock-upstream") && !text.contains("sk-ant-mock-upstream"),
        "{what}: no credential"
    );
    if status == 429 {
        assert_eq!(r.header("retry-after"), Some("7"), "{what}");
    }
}

#[tokio::test]
async fn upstream_request_errors_keep_the_upstream_reason() {
    let h = Harness::start().await;
    let r = whole(&h, Dialect::Anthropic, "anthropic", "error_400", "x").await;
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("prompt is too long"));
    let r = whole(&h, Dialect::OpenAi, "openai", "error_400", "x").await;
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("context length"), "{}", r.text());
}

// See: reference/client-conventions.md §4.9 (AC-25)
#[tokio::test]
async fn ac25_failures_after_content_end_the_stream_well_formed() {
    for (dialect, channel) in COMBOS {
        let h = Harness::start().await;
        for scenario in ["cut", "inband_error"] {
            let (status, _, frames) = streamed(&h, dialect, channel, scenario).await;
            let what = format!("{scenario} {dialect:?} via {channel}");
            assert_eq!(status, 200, "{what}");
            match dialect {
                Dialect::Anthropic => {
                    assert!(!anthropic_text(&frames).is_empty(), "{what}: the partial answer arrived");
                    let events = names(&frames);
                    assert!(events.contains(&"error"), "{what}: {events:?}");
                    assert_eq!(&events[events.len() - 2..], ["message_delta", "message_stop"], "{what}");
                    anthropic_blocks(&frames);
                }
                Dialect::OpenAi => {
                    assert!(!openai_text(&frames).is_empty(), "{what}");
                    let data: Vec<&Frame> = frames.iter().filter(|f| !f.comment).collect();
                    assert_eq!(data.last().unwrap().data, "[DONE]", "{what}");
                    let error = data[data.len() - 2].json();
                    assert!(error["error"]["message"].is_string(), "{what}: {error}");
                }
            }
        }
        // A non-streaming client hears nothing until the answer is whole: the cut is an error.
        let r = whole(&h, dialect, channel, "cut", "x").await;
        assert_eq!(r.status, 502, "cut {dialect:?} via {channel}: {}", r.text());
    }
}

#[tokio::test]
async fn a_slow_first_byte_is_waited_for() {
    let h = Harness::start().await;
    let r = whole(&h, Dialect::OpenAi, "anthropic", "slow_first_byte", "x").await;
    assert_eq!(r.status, 200);
}

// See: reference/client-conventions.md §4.3 (AC-17)
#[tokio::test]
async fn ac17_keepalives_flow_while_the_upstream_thinks() {
    let h = Harness::start_with(|c| c.ping_interval_s = 1).await;
    for (dialect, channel) in COMBOS {
        let (status, _, frames) = streamed(&h, dialect, channel, "slow_first_byte").await;
        assert_eq!(status, 200);
        match dialect {
            Dialect::Anthropic => {
                let events = names(&frames);
                assert_eq!(events[..2], ["message_start", "ping"], "{channel}: {events:?}");
                assert_eq!(anthropic_text(&frames), "Hello from the mock.");
            }
            Dialect::OpenAi => {
                assert!(frames[0].comment, "{channel}: a keep-alive comment comes first");
                assert_eq!(openai_text(&frames), "Hello from the mock.");
            }
        }
    }
}

// See: reference/client-conventions.md §4.10 #16 (AC-04)
#[tokio::test]
async fn ac04_deltas_reach_the_client_as_the_upstream_sends_them() {
    let h = Harness::start().await;
    // `long` sends 50 deltas 20 ms apart: about a second from first to last. A gateway that
    // buffered the answer would deliver them all at once.
    let (_, _, frames) = streamed(&h, Dialect::Anthropic, "anthropic", "long").await;
    let deltas: Vec<&Frame> =
        frames.iter().filter(|f| f.event.as_deref() == Some("content_block_delta")).collect();
    assert_eq!(deltas.len(), 50);
    let spread = deltas[49].at - deltas[0].at;
    assert!(spread.as_millis() >= 500, "deltas arrived within {spread:?}: the stream was buffered");
}

#[tokio::test]
async fn unpinned_routes_pick_the_channel_by_model() {
    let h = Harness::start().await;
    let r = whole(&h, Dialect::OpenAi, "openai", "text", "x").await;
    assert_eq!(r.status, 200);
    let r = post(h.addr(), "/v1/chat/completions", &body(Dialect::OpenAi, "text", false, "x")).await;
    assert_eq!(r.status, 200);
    // The model table lists the openai channel first for every mock model.
    assert_eq!(h.openai.requests().len(), 2);
    assert_eq!(h.anthropic.requests().len(), 0);
}
