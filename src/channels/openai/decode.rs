//! OpenAI `chat.completion.chunk` SSE events → [`Event`]s.
//!
//! | upstream                                   | event                                   |
//! |--------------------------------------------|-----------------------------------------|
//! | `delta.content`, `delta.refusal`           | `Text`                                  |
//! | `delta.reasoning_content`/`delta.reasoning`| `Thinking`                              |
//! | first `tool_calls[]` item of a call        | `ToolCallStart` (+ `ToolArgs`)          |
//! | later items                                | `ToolArgs`                              |
//! | `finish_reason`                            | `Stop`                                  |
//! | `usage`                                    | `Usage` (`prompt_tokens` − cached)      |
//! | `{"error":{...}}`                          | `Error`                                 |
//! | `[DONE]`                                   | end                                     |
//!
//! Tool calls get the gateway's own 0-based indices in order of appearance: upstream indices
//! are trusted only together with the call id, since some compatible servers number every call 0.

use crate::channels::events::Decoder as FrameDecoder;
use crate::ir::{ErrorKind, Event, Text, UpstreamError};
use crate::protocol::openai::{Chunk, error_kind_for_code, parse_finish_reason};
use crate::stream::json::JsonParser;
use crate::stream::sse::SseEvent;
use std::collections::VecDeque;

#[derive(Default)]
pub struct Decoder {
    parser: JsonParser,
    calls: Vec<CallSlot>,
    finished: bool,
    done: bool,
}

/// One tool call of the answer, as the upstream identifies it.
struct CallSlot {
    upstream_index: Option<u32>,
    id: String,
    /// The name may trail the id; arguments wait for it.
    started: bool,
    pending_args: String,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }
}

impl FrameDecoder for Decoder {
    type Frame = SseEvent;

    fn frame(&mut self, frame: SseEvent, out: &mut VecDeque<Event>) {
        let data = frame.data;
        if data.as_ref() == b"[DONE]" {
            self.done = true;
            return;
        }
        let Decoder { parser, calls, finished, done } = self;
        let Ok(parsed) = parser.parse::<Chunk>(&data) else {
            out.push_back(Event::Error(
                UpstreamError::new(ErrorKind::Protocol)
                    .with_message("upstream sent a chunk that is not JSON"),
            ));
            *done = true;
            return;
        };
        let chunk = &parsed.value;
        if let Some(err) = &chunk.error {
            let mut kind =
                error_kind_for_code(err.code.as_deref(), err.kind.as_deref()).unwrap_or(ErrorKind::Server);
            // OpenAI reports an overloaded model in-band as a `server_error` that says so.
            if kind == ErrorKind::Server
                && err.message.as_deref().is_some_and(|m| m.to_ascii_lowercase().contains("overloaded"))
            {
                kind = ErrorKind::Overloaded;
            }
            let mut e = UpstreamError::new(kind);
            if let Some(m) = &err.message {
                e = e.with_message(m.as_ref());
            }
            out.push_back(Event::Error(e));
            *done = true;
            return;
        }
        if let Some(choice) = &chunk.choices {
            if let Some(delta) = &choice.delta {
                for reasoning in [delta.reasoning_content, delta.reasoning].into_iter().flatten() {
                    if !reasoning.is_empty() {
                        out.push_back(Event::Thinking(parsed.text(reasoning)));
                    }
                }
                for text in [delta.content, delta.refusal].into_iter().flatten() {
                    if !text.is_empty() {
                        out.push_back(Event::Text(parsed.text(text)));
                    }
                }
                for (position, call) in delta.tool_calls.iter().flatten().enumerate() {
                    let function = call.function.as_ref();
                    let slot = slot(calls, call.index.or(Some(position as u32)), call.id);
                    let Some(slot) = slot else { continue };
                    let index = slot as u32;
                    let entry = &mut calls[slot];
                    if !entry.started {
                        match function.and_then(|f| f.name).filter(|n| !n.is_empty()) {
                            Some(name) => {
                                entry.started = true;
                                out.push_back(Event::ToolCallStart {
                                    index,
                                    id: Text::from(entry.id.as_str()),
                                    name: parsed.text(name),
                                });
                                if !entry.pending_args.is_empty() {
                                    let args = std::mem::take(&mut entry.pending_args);
                                    out.push_back(Event::ToolArgs { index, fragment: Text::from(args) });
                                }
                            }
                            None => {
                                if let Some(args) = function.and_then(|f| f.arguments) {
                                    entry.pending_args.push_str(args);
                                }
                                continue;
                            }
                        }
                    }
                    if let Some(args) = function.and_then(|f| f.arguments).filter(|a| !a.is_empty()) {
                        out.push_back(Event::ToolArgs { index, fragment: parsed.text(args) });
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                *finished = true;
                out.push_back(Event::Stop(parse_finish_reason(reason)));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push_back(Event::Usage(usage.into()));
        }
    }

    /// OpenAI ends with `[DONE]`; some compatible servers end the body after the finishing
    /// chunk without it, which is a complete answer too.
    fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self, saw_frames: bool, out: &mut VecDeque<Event>) {
        if !self.done && !self.finished {
            let kind = if saw_frames { ErrorKind::StreamCut } else { ErrorKind::EmptyResponse };
            out.push_back(Event::Error(UpstreamError::new(kind)));
        }
    }
}

/// The slot of the call an item belongs to, opening a new one for a new call id.
fn slot(calls: &mut Vec<CallSlot>, upstream_index: Option<u32>, id: Option<&str>) -> Option<usize> {
    let existing = calls.iter().rposition(|c| c.upstream_index == upstream_index);
    match (existing, id.filter(|i| !i.is_empty())) {
        (Some(n), None) => Some(n),
        (Some(n), Some(id)) if calls[n].id == id => Some(n),
        (_, Some(id)) => {
            calls.push(CallSlot {
                upstream_index,
                id: id.to_string(),
                started: false,
                pending_args: String::new(),
            });
            Some(calls.len() - 1)
        }
        // Arguments for a call that never announced itself: nothing to attach them to.
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{StopReason, Usage};
    use bytes::Bytes;

    fn decode(frames: &[&str], end: bool) -> Vec<Event> {
        let mut d = Decoder::new();
        let mut out = VecDeque::new();
        for f in frames {
            d.frame(
                SseEvent { event: None, data: Bytes::copy_from_slice(f.as_bytes()), id: None, retry: None },
                &mut out,
            );
        }
        if end {
            d.end(!frames.is_empty(), &mut out);
        }
        out.into()
    }

    #[test]
    fn text_reasoning_usage_and_finish() {
        let events = decode(
            &[
                r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
                r#"{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
                r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hi \"there\""}}]}"#,
                r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                r#"{"id":"c","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":60}}}"#,
                "[DONE]",
            ],
            true,
        );
        assert_eq!(
            events,
            vec![
                Event::Thinking(Text::from("think")),
                Event::Text(Text::from("Hi \"there\"")),
                Event::Stop(StopReason::EndTurn),
                Event::Usage(Usage {
                    input: Some(40),
                    output: Some(5),
                    cache_read: Some(60),
                    ..Default::default()
                }),
            ]
        );
    }

    #[test]
    fn parallel_tool_calls_keep_their_indices_and_arguments() {
        let events = decode(
            &[
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}"#,
                r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
                "[DONE]",
            ],
            true,
        );
        assert_eq!(
            events,
            vec![
                Event::ToolCallStart { index: 0, id: Text::from("call_a"), name: Text::from("f") },
                Event::ToolArgs { index: 0, fragment: Text::from("{\"a\":") },
                Event::ToolArgs { index: 0, fragment: Text::from("1}") },
                Event::ToolCallStart { index: 1, id: Text::from("call_b"), name: Text::from("g") },
                Event::ToolArgs { index: 1, fragment: Text::from("{}") },
                Event::Stop(StopReason::ToolUse),
            ]
        );
    }

    #[test]
    fn servers_that_number_every_call_zero_still_get_distinct_calls() {
        let events = decode(
            &[
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            ],
            false,
        );
        let starts: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                Event::ToolCallStart { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(starts, [0, 1]);
    }

    #[test]
    fn in_band_errors_cut_and_empty_streams_are_failures() {
        let events = decode(
            &[r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#],
            true,
        );
        assert!(matches!(&events[..], [Event::Error(e)] if e.kind() == ErrorKind::RateLimited));
        let events = decode(&[r#"{"choices":[{"delta":{"content":"partial"}}]}"#], true);
        assert!(matches!(&events[..], [Event::Text(_), Event::Error(e)] if e.kind() == ErrorKind::StreamCut));
        let events = decode(&[], true);
        assert!(matches!(&events[..], [Event::Error(e)] if e.kind() == ErrorKind::EmptyResponse));
        let events = decode(&["not json"], true);
        assert!(matches!(&events[0], Event::Error(e) if e.kind() == ErrorKind::Protocol));
    }

    #[test]
    fn finish_without_done_is_complete() {
        let events = decode(&[r#"{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}"#], true);
        assert_eq!(events, vec![Event::Text(Text::from("x")), Event::Stop(StopReason::MaxTokens)]);
    }
}
