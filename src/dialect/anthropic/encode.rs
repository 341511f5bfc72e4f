//! Events → Anthropic Messages SSE frames, and a whole [`Answer`] → one `message` body.
//!
//! The stream always has the shape clients rely on (client-conventions §4.3): `message_start`,
//! then per content block `content_block_start` / deltas / `content_block_stop` with contiguous
//! indices from 0 and never a duplicate start (AC-14), then `message_delta` with the stop reason
//! and cumulative usage, then `message_stop` (AC-15). Every `tool_use` block carries at least one
//! `input_json_delta` whose concatenation parses to the input (AC-13). A thinking block that the
//! upstream did not sign gets a gateway signature (prefix [`GATEWAY_SIGNATURE_PREFIX`]), which
//! the gateway recognises and strips when the block comes back.
//!
//! **Allocation**: frames are written straight into the caller's buffer; nothing is allocated
//! per event (bench `convert/openai_to_anthropic/*`).

use crate::dialect::answer::{Answer, AnswerBlock, reconcile_stop, tool_input};
use crate::dialect::{ApiError, new_id};
use crate::ir::{Event, GATEWAY_SIGNATURE_PREFIX, NativeKind, Protocol, StopReason, Usage};
use crate::protocol::anthropic::{error_type_for_status, stop_reason_str};
use crate::stream::json::{write_str, write_str_body, write_u64};
use bytes::{Bytes, BytesMut};

/// The content block currently open in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    None,
    Text,
    Thinking { signed: bool },
    Tool { index: u32, args_sent: bool },
    Native,
}

pub struct StreamEncoder {
    id: String,
    model: String,
    input_estimate: u64,
    started: bool,
    ended: bool,
    open: Open,
    next_index: u32,
    usage: Usage,
    stop: Option<StopReason>,
    had_tool_calls: bool,
}

impl StreamEncoder {
    /// `input_estimate` fills `message_start.usage.input_tokens` when the upstream has not
    /// reported input usage by the time the first content arrives; the final `message_delta`
    /// carries the upstream's figure.
    pub fn new(model: &str, input_estimate: u64) -> StreamEncoder {
        StreamEncoder {
            id: new_id("msg_"),
            model: model.to_string(),
            input_estimate,
            started: false,
            ended: false,
            open: Open::None,
            next_index: 0,
            usage: Usage::default(),
            stop: None,
            had_tool_calls: false,
        }
    }

    pub fn event(&mut self, event: Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            Event::Usage(u) => return self.usage.merge(u),
            Event::Stop(reason) => return self.stop = Some(reason),
            Event::MediaProgress { .. } | Event::KeepAlive | Event::Error(_) => return,
            Event::Media(m) => {
                return self.event(Event::Text(crate::dialect::media_markdown(&m).into()), out);
            }
            _ => {}
        }
        self.start(out);
        match event {
            Event::Text(t) => {
                if t.is_empty() {
                    return;
                }
                if self.open != Open::Text {
                    self.open_block(Open::Text, br#"{"type":"text","text":""}"#, out);
                }
                self.delta_head(out);
                out.extend_from_slice(br#"{"type":"text_delta","text":""#);
                write_str_body(out, t.as_bytes());
                out.extend_from_slice(b"\"}}\n\n");
            }
            Event::Thinking(t) => {
                if t.is_empty() {
                    return;
                }
                if !matches!(self.open, Open::Thinking { .. }) {
                    self.open_block(
                        Open::Thinking { signed: false },
                        br#"{"type":"thinking","thinking":"","signature":""}"#,
                        out,
                    );
                }
                self.delta_head(out);
                out.extend_from_slice(br#"{"type":"thinking_delta","thinking":""#);
                write_str_body(out, t.as_bytes());
                out.extend_from_slice(b"\"}}\n\n");
            }
            Event::ThinkingSignature(sig) => {
                if let Open::Thinking { .. } = self.open {
                    self.signature_delta(sig.as_bytes(), out);
                    self.open = Open::Thinking { signed: true };
                }
            }
            Event::RedactedThinking(data) => {
                let mut block = BytesMut::with_capacity(data.len() + 40);
                block.extend_from_slice(br#"{"type":"redacted_thinking","data":"#);
                write_str(&mut block, data.as_bytes());
                block.extend_from_slice(b"}");
                self.open_block(Open::Native, &block, out);
                self.close_block(out);
            }
            Event::ToolCallStart { index, id, name } => {
                self.had_tool_calls = true;
                let mut block = BytesMut::with_capacity(id.len() + name.len() + 48);
                block.extend_from_slice(br#"{"type":"tool_use","id":"#);
                write_str(&mut block, id.as_bytes());
                block.extend_from_slice(br#","name":"#);
                write_str(&mut block, name.as_bytes());
                block.extend_from_slice(br#","input":{}}"#);
                self.open_block(Open::Tool { index, args_sent: false }, &block, out);
            }
            Event::ToolArgs { index, fragment } => match self.open {
                Open::Tool { index: open, .. } if open == index && !fragment.is_empty() => {
                    self.input_json_delta(fragment.as_bytes(), out);
                    self.open = Open::Tool { index, args_sent: true };
                }
                Open::Tool { index: open, .. } if open == index => {}
                // Arguments for a call whose block is already closed: Anthropic blocks cannot
                // reopen. Upstreams stream parallel calls one after the other, so this is a
                // protocol violation worth a log line, not a broken stream.
                _ => tracing::warn!(index, "tool arguments arrived after their block closed; dropped"),
            },
            Event::Native(frame) if frame.protocol == Protocol::Anthropic => match frame.kind {
                NativeKind::BlockStart => self.open_block(Open::Native, &frame.json, out),
                NativeKind::BlockDelta if self.open != Open::None => {
                    self.delta_head(out);
                    out.extend_from_slice(&frame.json);
                    out.extend_from_slice(b"}\n\n");
                }
                NativeKind::BlockDelta => {}
            },
            Event::Native(_)
            | Event::Media(_)
            | Event::MediaProgress { .. }
            | Event::Usage(_)
            | Event::Stop(_)
            | Event::KeepAlive
            | Event::Error(_) => {}
        }
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close_block(out);
        let stop = reconcile_stop(self.stop.take(), self.had_tool_calls);
        out.extend_from_slice(
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"",
        );
        out.extend_from_slice(stop_reason_str(&stop).as_bytes());
        out.extend_from_slice(b"\",\"stop_sequence\":");
        match &stop {
            StopReason::StopSequence(Some(seq)) => write_str(out, seq.as_bytes()),
            _ => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"},\"usage\":");
        write_usage(out, &self.usage, None);
        out.extend_from_slice(b"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        self.ended = true;
    }

    /// After the response was committed the upstream failed: close what is open, say what went
    /// wrong as an `error` event (which the SDKs raise), then end with `message_delta` and
    /// `message_stop` so that clients that ignore `error` do not hang waiting (AC-15, AC-25).
    pub fn fail(&mut self, error: &ApiError, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close_block(out);
        out.extend_from_slice(b"event: error\ndata: ");
        write_error(out, error, None);
        out.extend_from_slice(b"\n\n");
        self.finish(out);
    }

    pub fn keepalive(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        out.extend_from_slice(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"",
        );
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(b"\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        write_str(out, self.model.as_bytes());
        out.extend_from_slice(b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
        write_usage(out, &self.usage, Some(self.input_estimate));
        out.extend_from_slice(b"}}\n\n");
    }

    fn open_block(&mut self, kind: Open, content_block: &[u8], out: &mut BytesMut) {
        self.close_block(out);
        out.extend_from_slice(
            b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":",
        );
        write_u64(out, u64::from(self.next_index));
        out.extend_from_slice(b",\"content_block\":");
        out.extend_from_slice(content_block);
        out.extend_from_slice(b"}\n\n");
        self.open = kind;
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        match self.open {
            Open::None => return,
            Open::Tool { args_sent: false, .. } => self.input_json_delta(b"{}", out),
            Open::Thinking { signed: false } => {
                let minted = new_id(GATEWAY_SIGNATURE_PREFIX);
                self.signature_delta(minted.as_bytes(), out);
            }
            Open::Text | Open::Thinking { signed: true } | Open::Tool { .. } | Open::Native => {}
        }
        out.extend_from_slice(
            b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
        );
        write_u64(out, u64::from(self.next_index));
        out.extend_from_slice(b"}\n\n");
        self.next_index += 1;
        self.open = Open::None;
    }

    fn delta_head(&self, out: &mut BytesMut) {
        out.extend_from_slice(
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
        );
        write_u64(out, u64::from(self.next_index));
        out.extend_from_slice(b",\"delta\":");
    }

    fn input_json_delta(&self, fragment: &[u8], out: &mut BytesMut) {
        self.delta_head(out);
        out.extend_from_slice(br#"{"type":"input_json_delta","partial_json":""#);
        write_str_body(out, fragment);
        out.extend_from_slice(b"\"}}\n\n");
    }

    fn signature_delta(&self, signature: &[u8], out: &mut BytesMut) {
        self.delta_head(out);
        out.extend_from_slice(br#"{"type":"signature_delta","signature":""#);
        write_str_body(out, signature);
        out.extend_from_slice(b"\"}}\n\n");
    }
}

/// Writes a usage object. `input_fallback` stands in for an unknown `input_tokens`.
fn write_usage(out: &mut BytesMut, usage: &Usage, input_fallback: Option<u64>) {
    out.extend_from_slice(b"{\"input_tokens\":");
    write_u64(out, usage.input.or(input_fallback).unwrap_or(0));
    if let Some(n) = usage.cache_write {
        out.extend_from_slice(b",\"cache_creation_input_tokens\":");
        write_u64(out, n);
    }
    if let Some(n) = usage.cache_read {
        out.extend_from_slice(b",\"cache_read_input_tokens\":");
        write_u64(out, n);
    }
    out.extend_from_slice(b",\"output_tokens\":");
    write_u64(out, usage.output.unwrap_or(0));
    out.extend_from_slice(b"}");
}

/// `{"type":"error","error":{"type","message"}[,"request_id"]}`.
pub(crate) fn write_error(out: &mut BytesMut, error: &ApiError, request_id: Option<&str>) {
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":{\"type\":\"");
    out.extend_from_slice(error_type_for_status(error.status.as_u16()).as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    write_str(out, error.message.as_bytes());
    out.extend_from_slice(b"}");
    if let Some(id) = request_id {
        out.extend_from_slice(b",\"request_id\":");
        write_str(out, id.as_bytes());
    }
    out.extend_from_slice(b"}");
}

/// The non-streaming `message` object.
pub fn render_answer(model: &str, answer: &Answer) -> Bytes {
    let content: Vec<serde_json::Value> = answer
        .blocks
        .iter()
        .map(|b| match b {
            AnswerBlock::Text(text) => serde_json::json!({"type": "text", "text": text}),
            AnswerBlock::Thinking { text, signature } => serde_json::json!({
                "type": "thinking",
                "thinking": text,
                "signature": signature.clone().unwrap_or_else(|| new_id(GATEWAY_SIGNATURE_PREFIX)),
            }),
            AnswerBlock::RedactedThinking(data) => {
                serde_json::json!({"type": "redacted_thinking", "data": data})
            }
            AnswerBlock::ToolUse { id, name, args, .. } => {
                serde_json::json!({"type": "tool_use", "id": id, "name": name, "input": tool_input(args)})
            }
            AnswerBlock::Native(v) => v.clone(),
        })
        .collect();
    let stop = answer.stop_reason();
    let mut usage = serde_json::json!({
        "input_tokens": answer.usage.input.unwrap_or(0),
        "output_tokens": answer.usage.output.unwrap_or(0),
    });
    if let Some(n) = answer.usage.cache_write {
        usage["cache_creation_input_tokens"] = n.into();
    }
    if let Some(n) = answer.usage.cache_read {
        usage["cache_read_input_tokens"] = n.into();
    }
    let body = serde_json::json!({
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_str(&stop),
        "stop_sequence": match &stop { StopReason::StopSequence(Some(s)) => serde_json::Value::from(s.as_str()), _ => serde_json::Value::Null },
        "usage": usage,
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}
