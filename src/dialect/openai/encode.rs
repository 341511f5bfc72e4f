//! Events → OpenAI `chat.completion.chunk` SSE frames, and a whole [`Answer`] → one
//! `chat.completion` body.
//!
//! Guarantees (client-conventions §4.3): every chunk carries the same `id`, `created` and
//! `model`; the first delta carries `role: "assistant"`; tool-call items always carry `index`,
//! the first item of a call carries `id`, `type`, `function.name` and `arguments: ""` (AC-11);
//! `finish_reason: "tool_calls"` only when calls were emitted (AC-12); with
//! `stream_options.include_usage` exactly one usage chunk with `choices: []` precedes `[DONE]`
//! and every other chunk says `usage: null`, without it no usage chunk at all (AC-09, AC-10).
//! Thinking is sent as `reasoning_content` deltas.
//!
//! **Allocation**: the chunk prefix (`id`, `created`, `model`) is rendered once per response;
//! each event is written straight into the caller's buffer.

use crate::dialect::answer::{Answer, AnswerBlock, reconcile_stop};
use crate::dialect::{ApiError, new_id};
use crate::ir::{Event, StopReason, Usage};
use crate::protocol::openai::{error_type_for_status, finish_reason_str};
use crate::stream::json::{write_str, write_str_body, write_u64};
use bytes::{Bytes, BytesMut};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct StreamEncoder {
    /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":`
    prefix: Vec<u8>,
    /// What closes a chunk whose choice has no finish reason.
    suffix: &'static [u8],
    include_usage: bool,
    id: String,
    created: u64,
    model: String,
    started: bool,
    ended: bool,
    usage: Usage,
    stop: Option<StopReason>,
    had_tool_calls: bool,
}

const SUFFIX: &[u8] = b",\"logprobs\":null,\"finish_reason\":null}]}\n\n";
const SUFFIX_WITH_USAGE: &[u8] = b",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";

impl StreamEncoder {
    pub fn new(model: &str, include_usage: bool) -> StreamEncoder {
        let id = new_id("chatcmpl-");
        let created = unix_now();
        let mut prefix = BytesMut::with_capacity(128 + model.len());
        prefix.extend_from_slice(b"data: {\"id\":\"");
        prefix.extend_from_slice(id.as_bytes());
        prefix.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
        write_u64(&mut prefix, created);
        prefix.extend_from_slice(b",\"model\":");
        write_str(&mut prefix, model.as_bytes());
        prefix.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        StreamEncoder {
            prefix: prefix.to_vec(),
            suffix: if include_usage { SUFFIX_WITH_USAGE } else { SUFFIX },
            include_usage,
            id,
            created,
            model: model.to_string(),
            started: false,
            ended: false,
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
            Event::Media(m) => {
                return self.event(Event::Text(crate::dialect::media_markdown(&m).into()), out);
            }
            Event::KeepAlive
            | Event::Error(_)
            | Event::Native(_)
            | Event::ThinkingSignature(_)
            | Event::RedactedThinking(_) => return,
            _ => {}
        }
        self.start(out);
        match event {
            Event::Text(t) if !t.is_empty() => {
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(b"{\"content\":\"");
                write_str_body(out, t.as_bytes());
                out.extend_from_slice(b"\"}");
                out.extend_from_slice(self.suffix);
            }
            Event::Thinking(t) if !t.is_empty() => {
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(b"{\"reasoning_content\":\"");
                write_str_body(out, t.as_bytes());
                out.extend_from_slice(b"\"}");
                out.extend_from_slice(self.suffix);
            }
            Event::ToolCallStart { index, id, name } => {
                self.had_tool_calls = true;
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                write_u64(out, u64::from(index));
                out.extend_from_slice(b",\"id\":");
                write_str(out, id.as_bytes());
                out.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
                write_str(out, name.as_bytes());
                out.extend_from_slice(b",\"arguments\":\"\"}}]}");
                out.extend_from_slice(self.suffix);
            }
            Event::ToolArgs { index, fragment } if !fragment.is_empty() => {
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                write_u64(out, u64::from(index));
                out.extend_from_slice(b",\"function\":{\"arguments\":\"");
                write_str_body(out, fragment.as_bytes());
                out.extend_from_slice(b"\"}}]}");
                out.extend_from_slice(self.suffix);
            }
            _ => {}
        }
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        let stop = reconcile_stop(self.stop.take(), self.had_tool_calls);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"{},\"logprobs\":null,\"finish_reason\":\"");
        out.extend_from_slice(finish_reason_str(&stop).as_bytes());
        out.extend_from_slice(b"\"}]");
        if self.include_usage {
            out.extend_from_slice(b",\"usage\":null}\n\ndata: {\"id\":\"");
            out.extend_from_slice(self.id.as_bytes());
            out.extend_from_slice(b"\",\"object\":\"chat.completion.chunk\",\"created\":");
            write_u64(out, self.created);
            out.extend_from_slice(b",\"model\":");
            write_str(out, self.model.as_bytes());
            out.extend_from_slice(b",\"choices\":[],\"usage\":");
            write_usage(out, &self.usage);
        }
        out.extend_from_slice(b"}\n\ndata: [DONE]\n\n");
        self.ended = true;
    }

    /// After the response was committed the upstream failed: an error chunk, then `[DONE]`.
    pub fn fail(&mut self, error: &ApiError, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        out.extend_from_slice(b"data: ");
        write_error(out, error);
        out.extend_from_slice(b"\n\ndata: [DONE]\n\n");
        self.ended = true;
    }

    pub fn keepalive(&mut self, out: &mut BytesMut) {
        if !self.ended {
            out.extend_from_slice(b": keep-alive\n\n");
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":\"\"}");
        out.extend_from_slice(self.suffix);
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// OpenAI usage: `prompt_tokens` counts every input token, cached ones included (AC-20).
fn write_usage(out: &mut BytesMut, usage: &Usage) {
    let prompt = usage.total_input();
    let completion = usage.output.unwrap_or(0);
    out.extend_from_slice(b"{\"prompt_tokens\":");
    write_u64(out, prompt);
    out.extend_from_slice(b",\"completion_tokens\":");
    write_u64(out, completion);
    out.extend_from_slice(b",\"total_tokens\":");
    write_u64(out, prompt + completion);
    out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
    write_u64(out, usage.cache_read.unwrap_or(0));
    out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
    write_u64(out, usage.reasoning.unwrap_or(0));
    out.extend_from_slice(b"}}");
}

/// `{"error":{"message","type","param","code"}}`.
pub(crate) fn write_error(out: &mut BytesMut, error: &ApiError) {
    out.extend_from_slice(b"{\"error\":{\"message\":");
    write_str(out, error.message.as_bytes());
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(error_type_for_status(error.status.as_u16()).as_bytes());
    out.extend_from_slice(b"\",\"param\":");
    match error.param {
        Some(p) => write_str(out, p.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"code\":");
    write_str(out, error.code.as_bytes());
    out.extend_from_slice(b"}}");
}

/// The non-streaming `chat.completion` object.
pub fn render_answer(model: &str, answer: &Answer) -> Bytes {
    write_answer(&new_id("chatcmpl-"), unix_now(), model, answer)
}

/// Writes the `chat.completion` object straight into one buffer: `id`, `object`, `created`,
/// `model`, one choice whose `message` has `role`, `content` (the text blocks joined; `null`
/// when there is no text but tool calls), `refusal: null`, then `reasoning_content` (the
/// thinking joined) and `tool_calls` when there are any, then `logprobs`, `finish_reason`, and
/// `usage` as the stream's usage chunk writes it.
fn write_answer(id: &str, created: u64, model: &str, answer: &Answer) -> Bytes {
    let text_bytes: usize = answer
        .blocks
        .iter()
        .map(|b| match b {
            AnswerBlock::Text(t) | AnswerBlock::Thinking { text: t, .. } => t.len(),
            AnswerBlock::ToolUse { id, name, args, .. } => id.len() + name.len() + args.len() + 64,
            AnswerBlock::RedactedThinking(_) | AnswerBlock::Native(_) => 0,
        })
        .sum();
    let mut out = BytesMut::with_capacity(512 + model.len() + text_bytes + text_bytes / 8);
    out.extend_from_slice(b"{\"id\":");
    write_str(&mut out, id.as_bytes());
    out.extend_from_slice(b",\"object\":\"chat.completion\",\"created\":");
    write_u64(&mut out, created);
    out.extend_from_slice(b",\"model\":");
    write_str(&mut out, model.as_bytes());
    out.extend_from_slice(b",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    let has_text = answer.blocks.iter().any(|b| matches!(b, AnswerBlock::Text(t) if !t.is_empty()));
    let has_tool_calls = answer.blocks.iter().any(|b| matches!(b, AnswerBlock::ToolUse { .. }));
    if !has_text && has_tool_calls {
        out.extend_from_slice(b"null");
    } else {
        out.extend_from_slice(b"\"");
        for block in &answer.blocks {
            if let AnswerBlock::Text(t) = block {
                write_str_body(&mut out, t.as_bytes());
            }
        }
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b",\"refusal\":null");
    if answer.blocks.iter().any(|b| matches!(b, AnswerBlock::Thinking { text, .. } if !text.is_empty())) {
        out.extend_from_slice(b",\"reasoning_content\":\"");
        for block in &answer.blocks {
            if let AnswerBlock::Thinking { text, .. } = block {
                write_str_body(&mut out, text.as_bytes());
            }
        }
        out.extend_from_slice(b"\"");
    }
    if has_tool_calls {
        out.extend_from_slice(b",\"tool_calls\":[");
        let calls = answer.blocks.iter().filter_map(|b| match b {
            AnswerBlock::ToolUse { id, name, args, .. } => Some((id, name, args)),
            _ => None,
        });
        for (i, (id, name, args)) in calls.enumerate() {
            if i > 0 {
                out.extend_from_slice(b",");
            }
            out.extend_from_slice(b"{\"id\":");
            write_str(&mut out, id.as_bytes());
            out.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
            write_str(&mut out, name.as_bytes());
            out.extend_from_slice(b",\"arguments\":");
            let args = if args.trim().is_empty() { "{}" } else { args.as_str() };
            write_str(&mut out, args.as_bytes());
            out.extend_from_slice(b"}}");
        }
        out.extend_from_slice(b"]");
    }
    out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
    write_str(&mut out, finish_reason_str(&answer.stop_reason()).as_bytes());
    out.extend_from_slice(b"}],\"usage\":");
    write_usage(&mut out, &answer.usage);
    out.extend_from_slice(b"}");
    out.freeze()
}

#[cfg(test)]
mod render_tests {
    use super::*;

    /// The `serde_json::Value` rendering `write_answer` replaced, kept to show the bytes are the
    /// same.
    fn reference(id: &str, created: u64, model: &str, answer: &Answer) -> Vec<u8> {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut tool_calls = Vec::new();
        for block in &answer.blocks {
            match block {
                AnswerBlock::Text(t) => text.push_str(t),
                AnswerBlock::Thinking { text: t, .. } => reasoning.push_str(t),
                AnswerBlock::ToolUse { id, name, args, .. } => tool_calls.push(serde_json::json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": if args.trim().is_empty() { "{}" } else { args.as_str() }},
                })),
                AnswerBlock::RedactedThinking(_) | AnswerBlock::Native(_) => {}
            }
        }
        let mut message = serde_json::json!({
            "role": "assistant",
            "content": if text.is_empty() && !tool_calls.is_empty() { serde_json::Value::Null } else { text.into() },
            "refusal": null,
        });
        if !reasoning.is_empty() {
            message["reasoning_content"] = reasoning.into();
        }
        if !tool_calls.is_empty() {
            message["tool_calls"] = tool_calls.into();
        }
        let mut usage = BytesMut::new();
        write_usage(&mut usage, &answer.usage);
        let usage: serde_json::Value = serde_json::from_slice(&usage).unwrap_or_default();
        let body = serde_json::json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason_str(&answer.stop_reason()),
            }],
            "usage": usage,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn tool(index: u32, id: &str, name: &str, args: &str) -> AnswerBlock {
        AnswerBlock::ToolUse { index, id: id.into(), name: name.into(), args: args.into() }
    }

    #[test]
    fn answers_render_byte_for_byte_as_the_json_value_rendering_did() {
        let thinking = |t: &str| AnswerBlock::Thinking { text: t.into(), signature: Some("sig".into()) };
        let answers = [
            Answer::default(),
            Answer { blocks: vec![AnswerBlock::Text("ok".into())], ..Default::default() },
            Answer {
                blocks: vec![
                    AnswerBlock::Text("line\n\"quoted\" \\ \u{1}\u{8}\u{c}\t\r é 😀 \u{7f}".into()),
                    AnswerBlock::RedactedThinking("x".into()),
                    AnswerBlock::Text(" more".into()),
                ],
                usage: Usage {
                    input: Some(10),
                    output: Some(3),
                    cache_read: Some(1024),
                    ..Default::default()
                },
                stop: Some(StopReason::MaxTokens),
                ..Default::default()
            },
            Answer {
                blocks: vec![
                    thinking("hmm "),
                    thinking(""),
                    thinking("so"),
                    AnswerBlock::Text("answer".into()),
                ],
                usage: Usage { reasoning: Some(16), cache_write: Some(5), ..Default::default() },
                stop: Some(StopReason::EndTurn),
                ..Default::default()
            },
            Answer {
                blocks: vec![
                    tool(0, "call_1", "get_weather", "{\"city\":\"Paris\"}"),
                    tool(1, "call_2", "noop", " "),
                ],
                stop: Some(StopReason::ToolUse),
                ..Default::default()
            },
            Answer {
                blocks: vec![
                    AnswerBlock::Text(String::new()),
                    tool(0, "c", "f", ""),
                    AnswerBlock::Native(serde_json::json!({"type": "server_tool_use"})),
                ],
                stop: Some(StopReason::StopSequence(Some(crate::ir::Text::from("END")))),
                ..Default::default()
            },
            Answer {
                blocks: vec![AnswerBlock::Text("before".into()), tool(0, "c\"1", "n\\m", "{\"a\":\"\\n\"}")],
                stop: Some(StopReason::Refusal),
                ..Default::default()
            },
        ];
        for answer in &answers {
            let model = "gpt-4o \"mini\"";
            let got = write_answer("chatcmpl-abc", 1_700_000_000, model, answer);
            let want = reference("chatcmpl-abc", 1_700_000_000, model, answer);
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{answer:?}");
        }
    }
}
