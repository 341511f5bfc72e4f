//! Encoder tests: exact SSE frame sequences for event sequences.

use super::*;
use crate::dialect::answer::Answer;
use crate::ir::{
    ErrorKind, Event, NativeFrame, NativeKind, Protocol, StopReason, Text, UpstreamError, Usage,
};
use bytes::BytesMut;
use serde_json::Value;

/// Runs events through an encoder and returns the frames as (event name, data JSON).
fn encode(events: Vec<Event>) -> Vec<(String, Value)> {
    let mut enc = StreamEncoder::new("claude-test", 42);
    let mut out = BytesMut::new();
    for e in events {
        enc.event(e, &mut out);
    }
    enc.finish(&mut out);
    frames(&out)
}

fn frames(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).unwrap();
    assert!(text.ends_with("\n\n"), "stream must end with a complete frame: {text:?}");
    text.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (event, data) = f.split_once('\n').unwrap();
            let event = event.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], event.as_str(), "data.type must equal the event name");
            (event, data)
        })
        .collect()
}

fn names(frames: &[(String, Value)]) -> Vec<&str> {
    frames.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn text_stream_has_the_exact_frame_sequence() {
    let f = encode(vec![
        Event::Usage(Usage { input: Some(10), ..Default::default() }),
        Event::Text(Text::from("Hel")),
        Event::Text(Text::from("lo \"world\"\n")),
        Event::Stop(StopReason::EndTurn),
        Event::Usage(Usage { output: Some(5), ..Default::default() }),
    ]);
    assert_eq!(
        names(&f),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &f[0].1["message"];
    assert_eq!(start["model"], "claude-test");
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["content"], serde_json::json!([]));
    assert_eq!(start["usage"]["input_tokens"], 10);
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(f[1].1["content_block"], serde_json::json!({"type": "text", "text": ""}));
    assert_eq!(f[3].1["delta"], serde_json::json!({"type": "text_delta", "text": "lo \"world\"\n"}));
    assert_eq!(f[5].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(f[5].1["usage"]["output_tokens"], 5);
    assert_eq!(f[5].1["usage"]["input_tokens"], 10);
}

#[test]
fn input_estimate_fills_message_start_when_upstream_is_silent_about_input() {
    let f = encode(vec![Event::Text(Text::from("x"))]);
    assert_eq!(f[0].1["message"]["usage"]["input_tokens"], 42);
}

// See: reference/client-conventions.md §4.10 #1, #2 (AC-13, AC-14)
#[test]
fn ac13_ac14_thinking_text_and_two_tools_get_contiguous_indices_and_parseable_inputs() {
    let f = encode(vec![
        Event::Thinking(Text::from("let me think")),
        Event::ThinkingSignature(Text::from("sig-1")),
        Event::Text(Text::from("Calling tools.")),
        Event::ToolCallStart { index: 0, id: Text::from("toolu_1"), name: Text::from("get_weather") },
        Event::ToolArgs { index: 0, fragment: Text::from("{\"city\":") },
        Event::ToolArgs { index: 0, fragment: Text::from("\"Paris\"}") },
        Event::ToolCallStart { index: 1, id: Text::from("toolu_2"), name: Text::from("now") },
        Event::Stop(StopReason::ToolUse),
    ]);
    let mut starts = Vec::new();
    let mut inputs: std::collections::BTreeMap<u64, String> = Default::default();
    let mut open: Option<u64> = None;
    for (name, data) in &f {
        match name.as_str() {
            "content_block_start" => {
                let i = data["index"].as_u64().unwrap();
                assert!(open.is_none(), "a block started while another was open");
                assert!(!starts.contains(&i), "duplicate content_block_start for {i}");
                starts.push(i);
                open = Some(i);
            }
            "content_block_delta" => {
                assert_eq!(Some(data["index"].as_u64().unwrap()), open);
                if data["delta"]["type"] == "input_json_delta" {
                    inputs
                        .entry(open.unwrap())
                        .or_default()
                        .push_str(data["delta"]["partial_json"].as_str().unwrap());
                }
            }
            "content_block_stop" => assert_eq!(open.take(), Some(data["index"].as_u64().unwrap())),
            _ => {}
        }
    }
    assert_eq!(starts, [0, 1, 2, 3]);
    assert_eq!(serde_json::from_str::<Value>(&inputs[&2]).unwrap(), serde_json::json!({"city": "Paris"}));
    assert_eq!(
        serde_json::from_str::<Value>(&inputs[&3]).unwrap(),
        serde_json::json!({}),
        "a tool with no arguments still gets one delta"
    );
    assert_eq!(f[1].1["content_block"]["type"], "thinking");
    assert_eq!(f[3].1["delta"], serde_json::json!({"type": "signature_delta", "signature": "sig-1"}));
    assert_eq!(
        f[8].1["content_block"],
        serde_json::json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}})
    );
    assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn unsigned_thinking_gets_a_gateway_signature() {
    let f = encode(vec![Event::Thinking(Text::from("hmm")), Event::Text(Text::from("ok"))]);
    let sig = f.iter().find(|(_, d)| d["delta"]["type"] == "signature_delta").expect("a signature_delta");
    assert!(sig.1["delta"]["signature"].as_str().unwrap().starts_with(crate::ir::GATEWAY_SIGNATURE_PREFIX));
}

// See: reference/client-conventions.md §4.10 #3, #4 (AC-15)
#[test]
fn ac15_stream_without_content_or_stop_still_ends_with_message_delta_and_stop() {
    let f = encode(vec![]);
    assert_eq!(names(&f), ["message_start", "message_delta", "message_stop"]);
    assert_eq!(f[1].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn tool_use_stop_without_tool_calls_becomes_end_turn() {
    let f = encode(vec![Event::Text(Text::from("x")), Event::Stop(StopReason::ToolUse)]);
    assert_eq!(f[f.len() - 2].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn failure_after_commit_closes_blocks_then_error_then_terminal_frames() {
    let mut enc = StreamEncoder::new("m", 1);
    let mut out = BytesMut::new();
    enc.event(Event::Text(Text::from("partial")), &mut out);
    let err = crate::dialect::ApiError::from(&UpstreamError::new(ErrorKind::StreamCut));
    enc.fail(&err, &mut out);
    enc.finish(&mut out); // ignored: already ended
    let f = frames(&out);
    assert_eq!(
        names(&f),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "error",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(f[4].1["error"]["type"], "api_error");
    assert!(f[4].1["error"]["message"].as_str().unwrap().contains("ended unexpectedly"));
}

#[test]
fn keepalive_before_content_opens_the_message_then_pings() {
    let mut enc = StreamEncoder::new("m", 1);
    let mut out = BytesMut::new();
    enc.keepalive(&mut out);
    enc.keepalive(&mut out);
    enc.finish(&mut out);
    assert_eq!(names(&frames(&out)), ["message_start", "ping", "ping", "message_delta", "message_stop"]);
}

#[test]
fn native_blocks_pass_through_with_our_indices() {
    let f = encode(vec![
        Event::Text(Text::from("a")),
        Event::Native(NativeFrame {
            protocol: Protocol::Anthropic,
            kind: NativeKind::BlockStart,
            json: bytes::Bytes::from_static(
                br#"{"type":"server_tool_use","id":"srv_1","name":"web_search","input":{}}"#,
            ),
        }),
        Event::Native(NativeFrame {
            protocol: Protocol::Anthropic,
            kind: NativeKind::BlockDelta,
            json: bytes::Bytes::from_static(
                br#"{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}"#,
            ),
        }),
        Event::Native(NativeFrame {
            protocol: Protocol::OpenAi,
            kind: NativeKind::BlockStart,
            json: bytes::Bytes::from_static(b"{}"),
        }),
    ]);
    assert_eq!(f[4].1["index"], 1);
    assert_eq!(f[4].1["content_block"]["type"], "server_tool_use");
    assert_eq!(f[5].1["delta"]["partial_json"], "{\"query\":\"x\"}");
    assert_eq!(
        names(&f).iter().filter(|n| **n == "content_block_start").count(),
        2,
        "other protocols' native frames are ignored"
    );
}

#[test]
fn cache_usage_is_reported_in_anthropic_buckets() {
    let f = encode(vec![
        Event::Usage(Usage {
            input: Some(3),
            cache_read: Some(100),
            cache_write: Some(20),
            ..Default::default()
        }),
        Event::Text(Text::from("x")),
        Event::Usage(Usage { output: Some(7), ..Default::default() }),
    ]);
    let u = &f[0].1["message"]["usage"];
    assert_eq!(
        (
            u["input_tokens"].as_u64(),
            u["cache_read_input_tokens"].as_u64(),
            u["cache_creation_input_tokens"].as_u64()
        ),
        (Some(3), Some(100), Some(20))
    );
    assert_eq!(f[f.len() - 2].1["usage"]["output_tokens"], 7);
}

#[test]
fn non_stream_message_has_blocks_in_order() {
    let mut a = Answer::default();
    for e in [
        Event::Usage(Usage { input: Some(4), ..Default::default() }),
        Event::Thinking(Text::from("t")),
        Event::ThinkingSignature(Text::from("s")),
        Event::Text(Text::from("hi")),
        Event::ToolCallStart { index: 0, id: Text::from("toolu_1"), name: Text::from("f") },
        Event::ToolArgs { index: 0, fragment: Text::from("{\"a\":1}") },
        Event::Stop(StopReason::ToolUse),
        Event::Usage(Usage { output: Some(9), ..Default::default() }),
    ] {
        a.push(e);
    }
    let v: Value = serde_json::from_slice(&render_answer("claude-x", &a)).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-x");
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0], serde_json::json!({"type": "thinking", "thinking": "t", "signature": "s"}));
    assert_eq!(v["content"][1], serde_json::json!({"type": "text", "text": "hi"}));
    assert_eq!(
        v["content"][2],
        serde_json::json!({"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}})
    );
    assert_eq!(v["usage"], serde_json::json!({"input_tokens": 4, "output_tokens": 9}));
}

#[test]
fn error_body_has_the_anthropic_shape() {
    let body = error_body(&crate::dialect::ApiError::invalid_key(), "req_1");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid API key"}, "request_id": "req_1"})
    );
}
