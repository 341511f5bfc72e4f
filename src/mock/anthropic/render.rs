//! Renders answers as Anthropic messages: the event stream and the non-stream message.
//!
//! Stream: `message_start` (empty content, `stop_reason: null`, `output_tokens: 1`), `ping`, then
//! per block `content_block_start`, its deltas and `content_block_stop`, with indices counted from
//! 0 (thinking, then text, then each tool use); then `message_delta` with the stop reason and the
//! cumulative usage, then `message_stop`. Each event is `event: <type>\ndata: <json>\n\n`.

use bytes::Bytes;
use hyper::Response;
use serde_json::value::RawValue;

use super::error;
use super::wire::{Block, BlockDelta, CacheCreation, Event, Message, StopDelta, Usage};
use crate::mock::ids::Ids;
use crate::mock::respond::Protocol;
use crate::mock::scenario::{Answer, Failure};
use crate::mock::script::{self, Frame, Reply};

/// One message being answered.
pub(super) struct Messages<'a> {
    pub(super) ids: &'a Ids,
    pub(super) id: String,
    pub(super) model: &'a str,
    pub(super) request_id: &'a str,
    pub(super) retry_after: u64,
}

/// An SSE frame for one event.
pub(super) fn event(event: &Event<'_>) -> Bytes {
    let name = event.name();
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(b"event: ");
    frame.extend_from_slice(name.as_bytes());
    frame.extend_from_slice(b"\ndata: ");
    serde_json::to_writer(&mut frame, event).expect("an event always serializes");
    frame.extend_from_slice(b"\n\n");
    frame.into()
}

/// Ids and signature minted once per answer, shared by its blocks.
struct Minted {
    tool_ids: Vec<String>,
    signature: String,
}

impl Messages<'_> {
    fn mint(&self, answer: &Answer) -> Minted {
        Minted {
            tool_ids: answer.tools.iter().map(|_| self.ids.mint("toolu_01", 22)).collect(),
            signature: if answer.thinking.is_empty() { String::new() } else { self.ids.mint("", 96) },
        }
    }

    fn message<'m>(
        &'m self,
        content: Vec<Block<'m>>,
        stop_reason: Option<&'static str>,
        usage: Usage,
    ) -> Message<'m> {
        Message {
            id: &self.id,
            kind: "message",
            role: "assistant",
            model: self.model,
            content,
            stop_reason,
            stop_sequence: None,
            usage,
        }
    }
}

impl Protocol for Messages<'_> {
    fn frames(&self, answer: &Answer) -> Vec<Frame> {
        let minted = self.mint(answer);
        let start = self.message(Vec::new(), None, usage(answer, 1, true));
        let mut frames = vec![
            Frame::Preamble(event(&Event::MessageStart { message: start })),
            Frame::Preamble(event(&Event::Ping)),
        ];
        let delta = |index: usize, delta: BlockDelta<'_>| event(&Event::ContentBlockDelta { index, delta });
        let mut index = 0;
        if !answer.thinking.is_empty() {
            let mut deltas: Vec<Frame> = answer
                .thinking
                .iter()
                .map(|t| Frame::Delta(delta(index, BlockDelta::Thinking { thinking: t })))
                .collect();
            deltas.push(Frame::Other(delta(index, BlockDelta::Signature { signature: &minted.signature })));
            push_block(&mut frames, index, Block::Thinking { thinking: "", signature: "" }, deltas);
            index += 1;
        }
        if !answer.text.is_empty() {
            let deltas = answer
                .text
                .iter()
                .map(|t| Frame::Delta(delta(index, BlockDelta::Text { text: t })))
                .collect();
            push_block(&mut frames, index, Block::Text { text: "" }, deltas);
            index += 1;
        }
        for (call, id) in answer.tools.iter().zip(&minted.tool_ids) {
            // The API opens every tool input with an empty fragment.
            let deltas = std::iter::once("")
                .chain(call.fragments())
                .map(|partial_json| Frame::Delta(delta(index, BlockDelta::InputJson { partial_json })))
                .collect();
            push_block(
                &mut frames,
                index,
                Block::ToolUse { id, name: &call.name, input: empty_object() },
                deltas,
            );
            index += 1;
        }

        let stop = StopDelta { stop_reason: Some(stop_reason(answer)), stop_sequence: None };
        let usage = usage(answer, answer.usage.output, false);
        frames.push(Frame::Other(event(&Event::MessageDelta { delta: stop, usage })));
        frames.push(Frame::Other(event(&Event::MessageStop)));
        frames
    }

    fn body(&self, answer: &Answer) -> Vec<u8> {
        let minted = self.mint(answer);
        let (thinking, text) = (answer.thinking.concat(), answer.text.concat());
        let inputs: Vec<Box<RawValue>> = answer
            .tools
            .iter()
            .map(|call| {
                RawValue::from_string(call.arguments.clone()).expect("tool arguments are JSON we wrote")
            })
            .collect();
        let mut content = Vec::new();
        if !thinking.is_empty() {
            content.push(Block::Thinking { thinking: &thinking, signature: &minted.signature });
        }
        if !text.is_empty() {
            content.push(Block::Text { text: &text });
        }
        for ((call, id), input) in answer.tools.iter().zip(&minted.tool_ids).zip(&inputs) {
            content.push(Block::ToolUse { id, name: &call.name, input });
        }
        let message =
            self.message(content, Some(stop_reason(answer)), usage(answer, answer.usage.output, true));
        serde_json::to_vec(&message).expect("a message always serializes")
    }

    fn error_frame(&self) -> Bytes {
        error::overloaded_event()
    }

    fn failure(&self, failure: Failure) -> Response<Reply> {
        error::failure(failure, self.request_id, self.retry_after)
    }

    fn bench(&self) -> Response<Reply> {
        let mut body = Vec::with_capacity(BENCH_HEAD.len() + self.model.len() + 2 + BENCH_TAIL.len());
        body.extend_from_slice(BENCH_HEAD.as_bytes());
        serde_json::to_writer(&mut body, self.model).expect("a string always serializes");
        body.extend_from_slice(BENCH_TAIL.as_bytes());
        script::json(body)
    }
}

/// The `bench` answer around its `model`: fixed id, one word.
const BENCH_HEAD: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","model":"#;
const BENCH_TAIL: &str = concat!(
    r#","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"#,
    r#""usage":{"input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"#,
    r#""cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"#,
    r#""output_tokens":1,"service_tier":"standard"}}"#
);

/// `content_block_start`, the block's deltas, `content_block_stop`.
fn push_block(frames: &mut Vec<Frame>, index: usize, content_block: Block<'_>, deltas: Vec<Frame>) {
    frames.push(Frame::Other(event(&Event::ContentBlockStart { index, content_block })));
    frames.extend(deltas);
    frames.push(Frame::Other(event(&Event::ContentBlockStop { index })));
}

fn empty_object() -> &'static RawValue {
    serde_json::from_str("{}").expect("`{}` is JSON")
}

fn stop_reason(answer: &Answer) -> &'static str {
    if answer.tools.is_empty() { "end_turn" } else { "tool_use" }
}

/// The answer's usage with `output_tokens` set; `full` adds the cache breakdown and service tier
/// (`message_start` and the non-stream message have them, `message_delta` does not).
fn usage(answer: &Answer, output_tokens: u64, full: bool) -> Usage {
    let u = answer.usage;
    Usage {
        input_tokens: u.input,
        cache_creation_input_tokens: u.cache_write,
        cache_read_input_tokens: u.cache_read,
        cache_creation: full.then_some(CacheCreation {
            ephemeral_5m_input_tokens: u.cache_write,
            ephemeral_1h_input_tokens: 0,
        }),
        output_tokens,
        service_tier: full.then_some("standard"),
    }
}
