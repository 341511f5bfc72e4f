//! Anthropic Messages response bodies and stream events, spelled and ordered as the API sends them.
//!
//! Written from the API reference (messages, streaming, errors, models), not shared with the
//! gateway's protocol types, so the mock cannot share their bugs. Tagged enums put `"type"` first,
//! as the API does; `Option<()>` fields serialize as the API's `null`s.

use serde::Serialize;
use serde_json::value::RawValue;

/// One stream event; its SSE `event:` line is [`Event::name`], its `data:` line this JSON.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Event<'a> {
    MessageStart { message: Message<'a> },
    Ping,
    ContentBlockStart { index: usize, content_block: Block<'a> },
    ContentBlockDelta { index: usize, delta: BlockDelta<'a> },
    ContentBlockStop { index: usize },
    MessageDelta { delta: StopDelta, usage: Usage },
    MessageStop,
    Error { error: ErrorBody<'a> },
}

impl Event<'_> {
    /// The event type, which is also the SSE event name.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::Ping => "ping",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
            Event::Error { .. } => "error",
        }
    }
}

/// The `message` object: the whole non-stream answer, or (empty) in `message_start`.
#[derive(Serialize)]
pub(super) struct Message<'a> {
    pub(super) id: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) role: &'static str,
    pub(super) model: &'a str,
    pub(super) content: Vec<Block<'a>>,
    pub(super) stop_reason: Option<&'static str>,
    pub(super) stop_sequence: Option<()>,
    pub(super) usage: Usage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block<'a> {
    Text { text: &'a str },
    Thinking { thinking: &'a str, signature: &'a str },
    ToolUse { id: &'a str, name: &'a str, input: &'a RawValue },
}

/// A `content_block_delta`'s `delta`; `"type"` is `text_delta`, `thinking_delta`, ...
#[derive(Serialize)]
#[serde(tag = "type")]
pub(super) enum BlockDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
pub(super) struct StopDelta {
    pub(super) stop_reason: Option<&'static str>,
    pub(super) stop_sequence: Option<()>,
}

/// `input_tokens` counts uncached input only. `message_start` and the non-stream message carry the
/// `cache_creation` breakdown and `service_tier`; `message_delta` carries cumulative counts without
/// them.
#[derive(Serialize)]
pub(super) struct Usage {
    pub(super) input_tokens: u64,
    pub(super) cache_creation_input_tokens: u64,
    pub(super) cache_read_input_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cache_creation: Option<CacheCreation>,
    pub(super) output_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) service_tier: Option<&'static str>,
}

#[derive(Serialize)]
pub(super) struct CacheCreation {
    pub(super) ephemeral_5m_input_tokens: u64,
    pub(super) ephemeral_1h_input_tokens: u64,
}

/// An HTTP error body: `{"type":"error","error":{"type","message"},"request_id"}`.
#[derive(Serialize)]
pub(super) struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) error: ErrorBody<'a>,
    pub(super) request_id: &'a str,
}

#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) message: &'a str,
}

/// `GET /v1/models`.
#[derive(Serialize)]
pub(super) struct ModelList {
    pub(super) data: Vec<Model>,
    pub(super) has_more: bool,
    pub(super) first_id: Option<String>,
    pub(super) last_id: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Model {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) created_at: &'static str,
}
