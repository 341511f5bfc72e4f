//! Anthropic Messages SSE events → [`Event`]s.
//!
//! | upstream                                       | event                                 |
//! |------------------------------------------------|---------------------------------------|
//! | `message_start.message.usage`                  | `Usage`                               |
//! | `content_block_start` text / thinking          | (`Text` / `Thinking` if non-empty)    |
//! | `content_block_start` redacted_thinking        | `RedactedThinking`                    |
//! | `content_block_start` tool_use                 | `ToolCallStart` (+ `ToolArgs` if the  |
//! |                                                | input came whole)                     |
//! | `content_block_start` of another type          | `Native(BlockStart)`                  |
//! | `text_delta` / `thinking_delta`                | `Text` / `Thinking`                   |
//! | `signature_delta`                              | `ThinkingSignature`                   |
//! | `input_json_delta` on a tool_use block         | `ToolArgs`                            |
//! | any other delta                                | `Native(BlockDelta)`                  |
//! | `message_delta`                                | `Stop`, `Usage`                       |
//! | `ping`                                         | `KeepAlive`                           |
//! | `error`                                        | `Error` (by `error.type`)             |
//! | `message_stop`                                 | end                                   |
//!
//! Most frames of an answer are text, thinking or tool-argument deltas. Those written exactly as
//! the API writes them (`{"type":"content_block_delta","index":N,"delta":{"type":"text_delta",
//! "text":"…"}}`, likewise `thinking_delta` and `input_json_delta`) are recognised by their bytes
//! and skip the JSON parser: the string is sliced out of the frame, or unescaped when it has the
//! usual escapes, and the event is the one the parser would give. Any other frame, or a string
//! with a `\u` escape, is parsed. `convert/anthropic_to_*` in `benches/convert.rs` measure the
//! difference.

use crate::channels::events::Decoder as FrameDecoder;
use crate::ir::{ErrorKind, Event, NativeFrame, NativeKind, Protocol, Text, UpstreamError};
use crate::protocol::anthropic::{StreamEvent, error_kind_for_type, parse_stop_reason};
use crate::stream::json::JsonParser;
use crate::stream::sse::SseEvent;
use bytes::Bytes;
use std::collections::VecDeque;
use std::ops::Range;

#[derive(Default)]
pub struct Decoder {
    parser: JsonParser,
    /// What each upstream block index holds, by index.
    blocks: Vec<BlockKind>,
    tools: u32,
    done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    Tool(u32),
    Native,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }
}

impl FrameDecoder for Decoder {
    type Frame = SseEvent;

    fn frame(&mut self, frame: SseEvent, out: &mut VecDeque<Event>) {
        if let Some(delta) = plain_delta(&frame.data)
            && self.take_plain(&frame.data, delta, out)
        {
            return;
        }
        self.parse_frame(frame, out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

/// The delta types [`plain_delta`] recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlainDelta {
    Text,
    Thinking,
    InputJson,
}

/// A content block delta written exactly as the API writes it: its type, its block index, and
/// where its string's body (between the quotes) lies in `data`. The body is not checked here.
fn plain_delta(data: &[u8]) -> Option<(PlainDelta, u32, Range<usize>)> {
    const HEAD: &[u8] = br#"{"type":"content_block_delta","index":"#;
    const TEXT: &[u8] = br#","delta":{"type":"text_delta","text":""#;
    const THINKING: &[u8] = br#","delta":{"type":"thinking_delta","thinking":""#;
    const INPUT_JSON: &[u8] = br#","delta":{"type":"input_json_delta","partial_json":""#;
    const TAIL: &[u8] = br#""}}"#;
    let rest = data.strip_prefix(HEAD)?;
    // A JSON number that fits the parser's u32: no leading zero, at most nine digits.
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let index = rest[..digits].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let rest = &rest[digits..];
    let (kind, rest) = if let Some(rest) = rest.strip_prefix(TEXT) {
        (PlainDelta::Text, rest)
    } else if let Some(rest) = rest.strip_prefix(INPUT_JSON) {
        (PlainDelta::InputJson, rest)
    } else {
        (PlainDelta::Thinking, rest.strip_prefix(THINKING)?)
    };
    let body = rest.strip_suffix(TAIL)?;
    let start = data.len() - TAIL.len() - body.len();
    Some((kind, index, start..start + body.len()))
}

impl Decoder {
    /// Maps a frame [`plain_delta`] recognised, if the parser would map it to the same event:
    /// the string reads without the parser ([`JsonParser::literal_text`]) and, for tool
    /// arguments, the block is a tool call. False leaves the frame to [`Self::parse_frame`].
    /// Never changes the decoder's state: the parser changes none for these deltas either.
    fn take_plain(
        &mut self,
        data: &Bytes,
        (kind, index, body): (PlainDelta, u32, Range<usize>),
        out: &mut VecDeque<Event>,
    ) -> bool {
        let tool = match (kind, self.blocks.get(index as usize)) {
            (PlainDelta::InputJson, Some(BlockKind::Tool(tool))) => Some(*tool),
            (PlainDelta::InputJson, _) => return false,
            _ => None,
        };
        let empty = body.is_empty();
        let Some(text) = self.parser.literal_text(data, body) else { return false };
        if !empty {
            out.push_back(match tool {
                Some(index) => Event::ToolArgs { index, fragment: text },
                None if kind == PlainDelta::Thinking => Event::Thinking(text),
                None => Event::Text(text),
            });
        }
        true
    }

    /// Maps one frame with the JSON parser: every frame [`plain_delta`] does not take.
    fn parse_frame(&mut self, frame: SseEvent, out: &mut VecDeque<Event>) {
        let data = frame.data;
        let Decoder { parser, blocks, tools, done } = self;
        let Ok(parsed) = parser.parse::<StreamEvent>(&data) else {
            out.push_back(Event::Error(
                UpstreamError::new(ErrorKind::Protocol)
                    .with_message("upstream sent an event that is not JSON"),
            ));
            *done = true;
            return;
        };
        let ev = &parsed.value;
        match ev.kind {
            "message_start" => {
                if let Some(usage) = ev.message.as_ref().and_then(|m| m.usage) {
                    out.push_back(Event::Usage(usage.into()));
                }
            }
            "content_block_start" => {
                let Some(block) = &ev.content_block else { return };
                let index = ev.index.unwrap_or(blocks.len() as u32) as usize;
                let kind = match block.kind {
                    "text" => {
                        if let Some(t) = block.text.filter(|t| !t.is_empty()) {
                            out.push_back(Event::Text(parsed.text(t)));
                        }
                        BlockKind::Text
                    }
                    "thinking" => {
                        if let Some(t) = block.thinking.filter(|t| !t.is_empty()) {
                            out.push_back(Event::Thinking(parsed.text(t)));
                        }
                        if let Some(s) = block.signature.filter(|s| !s.is_empty()) {
                            out.push_back(Event::ThinkingSignature(parsed.text(s)));
                        }
                        BlockKind::Thinking
                    }
                    "redacted_thinking" => {
                        out.push_back(Event::RedactedThinking(parsed.text(block.data.unwrap_or_default())));
                        BlockKind::Native
                    }
                    "tool_use" => {
                        let tool = *tools;
                        *tools += 1;
                        out.push_back(Event::ToolCallStart {
                            index: tool,
                            id: parsed.text(block.id.unwrap_or_default()),
                            name: parsed.text(block.name.unwrap_or_default()),
                        });
                        if let Some(input) = block.input.as_ref().filter(|i| !i.0.is_empty_object()) {
                            out.push_back(Event::ToolArgs {
                                index: tool,
                                fragment: Text::from(input.0.get()),
                            });
                        }
                        BlockKind::Tool(tool)
                    }
                    _ => {
                        if let Some(json) = member(&data, "content_block") {
                            out.push_back(native(NativeKind::BlockStart, json));
                        }
                        BlockKind::Native
                    }
                };
                if blocks.len() <= index {
                    blocks.resize(index + 1, BlockKind::Native);
                }
                blocks[index] = kind;
            }
            "content_block_delta" => {
                let Some(delta) = &ev.delta else { return };
                let block = ev.index.and_then(|i| blocks.get(i as usize).copied());
                match (delta.kind.unwrap_or_default(), block) {
                    ("text_delta", _) => {
                        if let Some(t) = delta.text.filter(|t| !t.is_empty()) {
                            out.push_back(Event::Text(parsed.text(t)));
                        }
                    }
                    ("thinking_delta", _) => {
                        if let Some(t) = delta.thinking.filter(|t| !t.is_empty()) {
                            out.push_back(Event::Thinking(parsed.text(t)));
                        }
                    }
                    ("signature_delta", _) => {
                        if let Some(s) = delta.signature.filter(|s| !s.is_empty()) {
                            out.push_back(Event::ThinkingSignature(parsed.text(s)));
                        }
                    }
                    ("input_json_delta", Some(BlockKind::Tool(tool))) => {
                        if let Some(j) = delta.partial_json.filter(|j| !j.is_empty()) {
                            out.push_back(Event::ToolArgs { index: tool, fragment: parsed.text(j) });
                        }
                    }
                    _ => {
                        if let Some(json) = member(&data, "delta") {
                            out.push_back(native(NativeKind::BlockDelta, json));
                        }
                    }
                }
            }
            "message_delta" => {
                if let Some(reason) = ev.delta.as_ref().and_then(|d| d.stop_reason) {
                    let sequence = ev.delta.as_ref().and_then(|d| d.stop_sequence).map(|s| parsed.text(s));
                    out.push_back(Event::Stop(parse_stop_reason(reason, sequence)));
                }
                if let Some(usage) = ev.usage {
                    out.push_back(Event::Usage(usage.into()));
                }
            }
            "message_stop" => *done = true,
            "ping" => out.push_back(Event::KeepAlive),
            "error" => {
                let (kind, message) = match &ev.error {
                    Some(e) => (e.kind.as_deref().map(error_kind_for_type), e.message.as_deref()),
                    None => (None, None),
                };
                let mut error = UpstreamError::new(kind.unwrap_or(ErrorKind::Server));
                if let Some(m) = message {
                    error = error.with_message(m);
                }
                out.push_back(Event::Error(error));
                *done = true;
            }
            // `content_block_stop` closes what the IR leaves implicit; unknown events are newer
            // than this gateway.
            _ => {}
        }
    }
}

fn native(kind: NativeKind, json: Bytes) -> Event {
    Event::Native(NativeFrame { protocol: Protocol::Anthropic, kind, json })
}

/// One member of the event object as JSON text: the rare path for blocks the IR does not model.
fn member(data: &Bytes, key: &str) -> Option<Bytes> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    serde_json::to_vec(v.get(key)?).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{StopReason, Usage};

    fn decode(frames: &[&str]) -> Vec<Event> {
        let mut d = Decoder::new();
        let mut out = VecDeque::new();
        for f in frames {
            d.frame(
                SseEvent { event: None, data: Bytes::copy_from_slice(f.as_bytes()), id: None, retry: None },
                &mut out,
            );
        }
        d.end(!frames.is_empty(), &mut out);
        out.into()
    }

    #[test]
    fn documented_stream_decodes_to_events() {
        let events = decode(&[
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Paris\"}"}}"#,
            r#"{"type":"content_block_stop","index":2}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}"#,
            r#"{"type":"message_stop"}"#,
        ]);
        assert_eq!(
            events,
            vec![
                Event::Usage(Usage {
                    input: Some(25),
                    output: Some(1),
                    cache_read: Some(100),
                    ..Default::default()
                }),
                Event::KeepAlive,
                Event::Thinking(Text::from("Let me see")),
                Event::ThinkingSignature(Text::from("EqQB")),
                Event::Text(Text::from("Hello")),
                Event::ToolCallStart { index: 0, id: Text::from("toolu_1"), name: Text::from("get_weather") },
                Event::ToolArgs { index: 0, fragment: Text::from("{\"city\": \"Paris\"}") },
                Event::Stop(StopReason::ToolUse),
                Event::Usage(Usage { output: Some(42), ..Default::default() }),
            ]
        );
    }

    #[test]
    fn server_tool_blocks_pass_as_native_frames() {
        let events = decode(&[
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srv","name":"web_search","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            r#"{"type":"message_stop"}"#,
        ]);
        assert!(
            matches!(&events[0], Event::Native(f) if f.kind == NativeKind::BlockStart && f.json.starts_with(b"{\"type\":\"server_tool_use\""))
        );
        assert!(matches!(&events[1], Event::Native(f) if f.kind == NativeKind::BlockDelta));
        assert_eq!(events.len(), 2);
    }

    /// Runs `frame` between a tool block's start and one of its argument deltas, through the
    /// decoder as it is and through the parser alone; returns both runs' events and state.
    fn both_paths(frame: &[u8]) -> [(Vec<Event>, bool, Vec<BlockKind>, u32); 2] {
        let start = br#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#;
        let later = br#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#;
        [true, false].map(|plain| {
            let mut d = Decoder::new();
            let mut out = VecDeque::new();
            for f in [&start[..], frame, later] {
                let event = SseEvent { event: None, data: Bytes::copy_from_slice(f), id: None, retry: None };
                if plain {
                    d.frame(event, &mut out);
                } else {
                    d.parse_frame(event, &mut out);
                }
            }
            (Vec::from(out), d.done, d.blocks.clone(), d.tools)
        })
    }

    /// Every frame gives the same events, and leaves the decoder able to go on the same way,
    /// whether or not `plain_delta` takes it.
    #[test]
    fn plain_deltas_decode_as_the_parser_does() {
        let frames: [&[u8]; 26] = [
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}"#,
            br#"{"type":"content_block_delta","index":3,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
            "{\"type\":\"content_block_delta\",\"index\":123456789,\"delta\":{\"type\":\"text_delta\",\"text\":\"é 😀 \u{7f}\"}}".as_bytes(),
            br#"{"type":"content_block_delta","index":1234567890,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":99999999999,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\nb \"q\""}}"#,
            b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tab\there\"}}",
            b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xff\xfe\"}}",
            b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xed\xa0\x80\"}}",
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}} "#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","citations":[]}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"},"extra":1}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x""#,
            br#"{"type":"content_block_delta", "index":0,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","text":"x"}}"#,
            br#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","thinking":"x"}}"#,
            br#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"path\": \"src/a.rs\\n\"}"}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            br#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            br#"{"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"x"}}"#,
        ];
        for frame in frames {
            let [plain, parsed] = both_paths(frame);
            assert_eq!(plain, parsed, "{}", String::from_utf8_lossy(frame));
        }
        assert!(plain_delta(frames[0]).is_some() && plain_delta(frames[2]).is_some());
        assert!(plain_delta(frames[22]).is_some(), "escaped tool arguments take the fast path");
    }

    /// Strings built from pieces that stress unescaping (every JSON escape, `\u` escapes and
    /// surrogates, invalid escapes, raw quotes and control bytes, invalid UTF-8, a trailing
    /// backslash), in every delta type, on a tool block, another block and a missing one.
    #[test]
    fn generated_deltas_decode_as_the_parser_does() {
        const PIECES: [&[u8]; 20] = [
            b"a",
            b" word",
            "é".as_bytes(),
            "😀".as_bytes(),
            br#"\""#,
            br"\\",
            br"\/",
            br"\b",
            br"\f",
            br"\n",
            br"\r",
            br"\t",
            br"\u0041",
            br"\ud83d\ude00",
            br"\x",
            b"\"",
            b"\x01",
            b"\xff",
            br"\",
            b"}}",
        ];
        let mut seed = 12345u64;
        let mut next = |below: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % below
        };
        let heads: [&[u8]; 3] = [
            br#","delta":{"type":"text_delta","text":""#,
            br#","delta":{"type":"thinking_delta","thinking":""#,
            br#","delta":{"type":"input_json_delta","partial_json":""#,
        ];
        for _ in 0..3000 {
            let mut body = Vec::new();
            for _ in 0..next(6) {
                body.extend_from_slice(PIECES[next(PIECES.len())]);
            }
            let index = [b"0".as_slice(), b"2", b"9"][next(3)];
            let head = heads[next(3)];
            let frame =
                [br#"{"type":"content_block_delta","index":"#.as_slice(), index, head, &body, br#""}}"#]
                    .concat();
            let [plain, parsed] = both_paths(&frame);
            assert_eq!(plain, parsed, "{}", String::from_utf8_lossy(&frame));
        }
    }

    #[test]
    fn errors_and_cut_streams() {
        let events = decode(&[
            r#"{"type":"message_start","message":{"usage":{"input_tokens":1}}}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ]);
        assert!(matches!(&events[1], Event::Error(e) if e.kind() == ErrorKind::Overloaded));
        assert_eq!(events.len(), 2, "an error ends the stream");
        let events =
            decode(&[r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#]);
        assert!(matches!(&events[..], [Event::Text(_), Event::Error(e)] if e.kind() == ErrorKind::StreamCut));
        assert!(matches!(&decode(&[])[..], [Event::Error(e)] if e.kind() == ErrorKind::EmptyResponse));
    }
}
