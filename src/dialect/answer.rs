//! A whole answer, gathered from a stream of events, for clients that did not ask for a stream.
//!
//! The gateway always streams from upstream; a non-streaming client gets the [`Answer`] folded
//! from the same events, rendered by its dialect. Blocks keep the order the model produced them.

use crate::ir::{Event, MediaRef, NativeKind, Protocol, StopReason, Usage};

#[derive(Debug, Default)]
pub struct Answer {
    pub blocks: Vec<AnswerBlock>,
    pub usage: Usage,
    pub stop: Option<StopReason>,
    /// Generated images and videos, in order (also written into the text as markdown).
    pub media: Vec<MediaRef>,
}

#[derive(Debug)]
pub enum AnswerBlock {
    Text(String),
    Thinking {
        text: String,
        signature: Option<String>,
    },
    RedactedThinking(String),
    /// `args` is the concatenation of the streamed fragments: the call's JSON input.
    ToolUse {
        index: u32,
        id: String,
        name: String,
        args: String,
    },
    /// An Anthropic content block the IR does not model, as JSON, with its deltas applied by
    /// the upstream (only `BlockStart` is kept; such blocks arrive complete in practice).
    Native(serde_json::Value),
}

impl Answer {
    /// Folds one event in. `Error` and `KeepAlive` are the caller's business.
    pub fn push(&mut self, event: Event) {
        match event {
            Event::Text(t) => match self.blocks.last_mut() {
                Some(AnswerBlock::Text(s)) => s.push_str(t.as_str()),
                _ => self.blocks.push(AnswerBlock::Text(t.as_str().to_string())),
            },
            Event::Thinking(t) => match self.blocks.last_mut() {
                Some(AnswerBlock::Thinking { text, signature: None }) => text.push_str(t.as_str()),
                _ => {
                    self.blocks.push(AnswerBlock::Thinking { text: t.as_str().to_string(), signature: None })
                }
            },
            Event::ThinkingSignature(sig) => {
                if let Some(AnswerBlock::Thinking { signature, .. }) = self.blocks.last_mut() {
                    signature.get_or_insert_with(String::new).push_str(sig.as_str());
                }
            }
            Event::RedactedThinking(data) => {
                self.blocks.push(AnswerBlock::RedactedThinking(data.as_str().to_string()))
            }
            Event::ToolCallStart { index, id, name } => self.blocks.push(AnswerBlock::ToolUse {
                index,
                id: id.as_str().to_string(),
                name: name.as_str().to_string(),
                args: String::new(),
            }),
            Event::ToolArgs { index, fragment } => {
                let call = self.blocks.iter_mut().rev().find_map(|b| match b {
                    AnswerBlock::ToolUse { index: i, args, .. } if *i == index => Some(args),
                    _ => None,
                });
                if let Some(args) = call {
                    args.push_str(fragment.as_str());
                }
            }
            Event::Usage(u) => self.usage.merge(u),
            Event::Stop(reason) => self.stop = Some(reason),
            Event::Native(frame)
                if frame.protocol == Protocol::Anthropic && frame.kind == NativeKind::BlockStart =>
            {
                if let Ok(v) = serde_json::from_slice(&frame.json) {
                    self.blocks.push(AnswerBlock::Native(v));
                }
            }
            Event::Media(m) => {
                self.push(Event::Text(super::media_markdown(&m).into()));
                self.media.push(m);
            }
            Event::Native(_) | Event::MediaProgress { .. } | Event::KeepAlive | Event::Error(_) => {}
        }
    }

    pub fn has_tool_calls(&self) -> bool {
        self.blocks.iter().any(|b| matches!(b, AnswerBlock::ToolUse { .. }))
    }

    /// The stop reason to report: the upstream's, corrected so that `tool_use` is said exactly
    /// when tool calls were made (AC-12).
    pub fn stop_reason(&self) -> StopReason {
        reconcile_stop(self.stop.clone(), self.has_tool_calls())
    }
}

/// `tool_use` exactly when tool calls were emitted; otherwise the upstream's reason, or
/// `end_turn` when it gave none.
pub fn reconcile_stop(stop: Option<StopReason>, had_tool_calls: bool) -> StopReason {
    match (stop, had_tool_calls) {
        (Some(StopReason::ToolUse) | None, false) => StopReason::EndTurn,
        (Some(StopReason::EndTurn) | None, true) => StopReason::ToolUse,
        (Some(other), _) => other,
    }
}

/// The JSON input of a tool call from its streamed arguments: `{}` when none came, and an object
/// holding the raw text when the upstream produced something that does not parse.
pub fn tool_input(args: &str) -> serde_json::Value {
    if args.trim().is_empty() {
        return serde_json::Value::Object(Default::default());
    }
    serde_json::from_str(args).unwrap_or_else(|_| serde_json::json!({ "_raw_arguments": args }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Text;

    #[test]
    fn tool_arguments_are_concatenated_per_call() {
        let mut a = Answer::default();
        for e in [
            Event::Text(Text::from("Let me check.")),
            Event::ToolCallStart { index: 0, id: "a".into(), name: "f".into() },
            Event::ToolCallStart { index: 1, id: "b".into(), name: "g".into() },
            Event::ToolArgs { index: 0, fragment: "{\"x\":".into() },
            Event::ToolArgs { index: 1, fragment: "{}".into() },
            Event::ToolArgs { index: 0, fragment: "1}".into() },
            Event::Stop(StopReason::EndTurn),
        ] {
            a.push(e);
        }
        assert_eq!(a.blocks.len(), 3);
        match &a.blocks[1] {
            AnswerBlock::ToolUse { args, .. } => assert_eq!(args, "{\"x\":1}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(a.stop_reason(), StopReason::ToolUse);
    }

    #[test]
    fn stop_reason_says_tool_use_only_with_tool_calls() {
        assert_eq!(reconcile_stop(Some(StopReason::ToolUse), false), StopReason::EndTurn);
        assert_eq!(reconcile_stop(None, false), StopReason::EndTurn);
        assert_eq!(reconcile_stop(None, true), StopReason::ToolUse);
        assert_eq!(reconcile_stop(Some(StopReason::MaxTokens), true), StopReason::MaxTokens);
    }
}
