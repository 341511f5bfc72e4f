//! Encoder tests: exact chunk sequences for event sequences.

use super::*;
use crate::dialect::answer::Answer;
use crate::ir::{ErrorKind, Event, StopReason, Text, UpstreamError, Usage};
use bytes::BytesMut;
use serde_json::Value;

fn encode(include_usage: bool, events: Vec<Event>) -> (Vec<Value>, String) {
    let mut enc = StreamEncoder::new("gpt-test", include_usage);
    let mut out = BytesMut::new();
    for e in events {
        enc.event(e, &mut out);
    }
    enc.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    (chunks(&text), text)
}

fn chunks(text: &str) -> Vec<Value> {
    assert!(text.ends_with("data: [DONE]\n\n"), "{text:?}");
    text.split("\n\n")
        .filter(|f| !f.is_empty() && *f != "data: [DONE]")
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").expect("only data lines")).unwrap())
        .collect()
}

#[test]
fn text_stream_chunks_share_id_created_model_and_start_with_the_role() {
    let (c, _) = encode(
        false,
        vec![Event::Text(Text::from("Hel")), Event::Text(Text::from("lo")), Event::Stop(StopReason::EndTurn)],
    );
    assert_eq!(c.len(), 4);
    for chunk in &c {
        assert_eq!(chunk["id"], c[0]["id"]);
        assert_eq!(chunk["created"], c[0]["created"]);
        assert_eq!(chunk["model"], "gpt-test");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert!(chunk.get("usage").is_none(), "no usage field without include_usage (AC-10)");
    }
    assert_eq!(c[0]["choices"][0]["delta"], serde_json::json!({"role": "assistant", "content": ""}));
    assert_eq!(c[1]["choices"][0]["delta"], serde_json::json!({"content": "Hel"}));
    assert_eq!(c[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(c[3]["choices"][0]["delta"], serde_json::json!({}));
}

// See: reference/client-conventions.md §4.10 #8 (AC-09)
#[test]
fn ac09_include_usage_adds_one_choiceless_usage_chunk_and_null_elsewhere() {
    let (c, _) = encode(
        true,
        vec![
            Event::Usage(Usage { input: Some(10), cache_read: Some(90), ..Default::default() }),
            Event::Text(Text::from("x")),
            Event::Usage(Usage { output: Some(3), reasoning: Some(1), ..Default::default() }),
        ],
    );
    let (usage_chunk, rest) = c.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], serde_json::json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 100, "prompt_tokens includes cached tokens (AC-20)");
    assert_eq!(usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"], 90);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 103);
    assert_eq!(usage_chunk["usage"]["completion_tokens_details"]["reasoning_tokens"], 1);
    for chunk in rest {
        assert_eq!(chunk["usage"], Value::Null);
        assert_eq!(chunk["choices"].as_array().unwrap().len(), 1);
    }
}

// See: reference/client-conventions.md §4.10 #5, #6, #7 (AC-11, AC-12, AC-22)
#[test]
fn ac11_ac22_tool_calls_carry_index_and_the_first_item_carries_id_type_name() {
    let (c, _) = encode(
        false,
        vec![
            Event::Text(Text::from("checking")),
            Event::ToolCallStart { index: 0, id: Text::from("call_a"), name: Text::from("f") },
            Event::ToolArgs { index: 0, fragment: Text::from("{\"x\":") },
            Event::ToolArgs { index: 0, fragment: Text::from("1}") },
            Event::ToolCallStart { index: 1, id: Text::from("call_b"), name: Text::from("g") },
            Event::ToolArgs { index: 1, fragment: Text::from("{}") },
            Event::Stop(StopReason::EndTurn),
        ],
    );
    let calls: Vec<&Value> =
        c.iter().filter_map(|ch| ch["choices"][0]["delta"].get("tool_calls")).map(|t| &t[0]).collect();
    assert_eq!(
        calls[0],
        &serde_json::json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}})
    );
    assert_eq!(calls[1], &serde_json::json!({"index": 0, "function": {"arguments": "{\"x\":"}}));
    assert_eq!(calls[3]["index"], 1);
    assert_eq!(calls[3]["id"], "call_b");
    assert_eq!(c.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn ac12_tool_calls_finish_reason_only_with_tool_calls() {
    let (c, _) = encode(false, vec![Event::Text(Text::from("x")), Event::Stop(StopReason::ToolUse)]);
    assert_eq!(c.last().unwrap()["choices"][0]["finish_reason"], "stop");
    let (c, _) = encode(false, vec![Event::Text(Text::from("x")), Event::Stop(StopReason::MaxTokens)]);
    assert_eq!(c.last().unwrap()["choices"][0]["finish_reason"], "length");
}

#[test]
fn thinking_becomes_reasoning_content() {
    let (c, _) = encode(
        false,
        vec![
            Event::Thinking(Text::from("hmm")),
            Event::ThinkingSignature(Text::from("s")),
            Event::Text(Text::from("ok")),
        ],
    );
    assert_eq!(c[1]["choices"][0]["delta"], serde_json::json!({"reasoning_content": "hmm"}));
    assert_eq!(c[2]["choices"][0]["delta"], serde_json::json!({"content": "ok"}));
}

#[test]
fn failure_after_commit_sends_an_error_chunk_then_done() {
    let mut enc = StreamEncoder::new("m", false);
    let mut out = BytesMut::new();
    enc.event(Event::Text(Text::from("partial")), &mut out);
    enc.fail(&crate::dialect::ApiError::from(&UpstreamError::new(ErrorKind::Timeout)), &mut out);
    enc.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    let c = chunks(&text);
    assert_eq!(c.len(), 3);
    assert_eq!(c[2]["error"]["code"], "upstream_timeout");
    assert_eq!(c[2]["error"]["type"], "server_error");
    assert_eq!(text.matches("[DONE]").count(), 1);
}

#[test]
fn keepalive_is_an_sse_comment() {
    let mut enc = StreamEncoder::new("m", false);
    let mut out = BytesMut::new();
    enc.keepalive(&mut out);
    assert_eq!(&out[..], b": keep-alive\n\n");
}

#[test]
fn non_stream_completion_carries_text_reasoning_tools_and_usage() {
    let mut a = Answer::default();
    for e in [
        Event::Thinking(Text::from("r")),
        Event::Text(Text::from("hi")),
        Event::ToolCallStart { index: 0, id: Text::from("call_1"), name: Text::from("f") },
        Event::ToolCallStart { index: 1, id: Text::from("call_2"), name: Text::from("g") },
        Event::ToolArgs { index: 0, fragment: Text::from("{\"a\":1}") },
        Event::Usage(Usage { input: Some(5), cache_read: Some(5), output: Some(2), ..Default::default() }),
    ] {
        a.push(e);
    }
    let v: Value = serde_json::from_slice(&render_answer("gpt-x", &a)).unwrap();
    assert_eq!(v["object"], "chat.completion");
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "hi");
    assert_eq!(choice["message"]["reasoning_content"], "r");
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"],
        serde_json::json!({"name": "f", "arguments": "{\"a\":1}"})
    );
    assert_eq!(choice["message"]["tool_calls"][1]["function"]["arguments"], "{}");
    assert_eq!(v["usage"]["prompt_tokens"], 10);
}

#[test]
fn error_body_has_the_openai_shape() {
    let v: Value =
        serde_json::from_slice(&error_body(&crate::dialect::ApiError::model_not_found("nope"))).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["param"], "model");
    assert!(v["error"]["message"].as_str().unwrap().contains("nope"));
}
