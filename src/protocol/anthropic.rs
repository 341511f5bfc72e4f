//! Anthropic Messages API wire types (<https://docs.anthropic.com/en/api/messages>).
//!
//! Inbound request types borrow from the request body (parsed by simd-json in place); outbound
//! types borrow from the IR; stream events are flat structs so that parsing one allocates nothing.

use super::{AnyJson, StringOrParts};
use crate::ir::{ErrorKind, RawJson, StopReason};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

// ---------------------------------------------------------------------------------------------
// Request, as a client sends it.

#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub system: Option<StringOrParts<'a, SystemBlock<'a>>>,
    #[serde(borrow, default)]
    pub messages: Option<Vec<MessageParam<'a>>>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(borrow, default)]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_k: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(borrow, default)]
    pub tools: Option<Vec<ToolParam<'a>>>,
    #[serde(borrow, default)]
    pub tool_choice: Option<ToolChoiceParam<'a>>,
    #[serde(borrow, default)]
    pub thinking: Option<ThinkingParam<'a>>,
    #[serde(borrow, default)]
    pub metadata: Option<Metadata<'a>>,
    /// Not Anthropic's: the original gateway's session field, still sent by some clients.
    #[serde(borrow, default)]
    pub conversation_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct SystemBlock<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct MessageParam<'a> {
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    #[serde(borrow)]
    pub content: StringOrParts<'a, ContentBlock<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    Image {
        #[serde(borrow)]
        source: Source<'a>,
    },
    Document {
        #[serde(borrow)]
        source: Source<'a>,
        #[serde(borrow, default)]
        title: Option<Cow<'a, str>>,
    },
    ToolUse {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(default)]
        input: Option<AnyJson>,
    },
    ToolResult {
        #[serde(borrow)]
        tool_use_id: Cow<'a, str>,
        #[serde(borrow, default)]
        content: Option<StringOrParts<'a, ContentBlock<'a>>>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Thinking {
        #[serde(borrow)]
        thinking: Cow<'a, str>,
        #[serde(borrow, default)]
        signature: Option<Cow<'a, str>>,
    },
    RedactedThinking {
        #[serde(borrow)]
        data: Cow<'a, str>,
    },
    /// Server-tool blocks and types newer than this gateway: kept on the same-protocol path (the
    /// body travels untouched), dropped when converting.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source<'a> {
    Base64 {
        #[serde(borrow)]
        media_type: Cow<'a, str>,
        #[serde(borrow)]
        data: Cow<'a, str>,
    },
    Url {
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
    Text {
        #[serde(borrow, default)]
        media_type: Option<Cow<'a, str>>,
        #[serde(borrow)]
        data: Cow<'a, str>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct ToolParam<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub description: Option<Cow<'a, str>>,
    /// Absent on server tools (`web_search_20250305`, ...), which only an Anthropic upstream runs.
    #[serde(default)]
    pub input_schema: Option<AnyJson>,
}

#[derive(Debug, Deserialize)]
pub struct ToolChoiceParam<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct ThinkingParam<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default)]
    pub budget_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default)]
    pub user_id: Option<Cow<'a, str>>,
}

// ---------------------------------------------------------------------------------------------
// Request, as the gateway sends it upstream.

#[derive(Debug, Serialize)]
pub struct OutRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<OutText<'a>>,
    pub messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<OutThinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<OutMetadata<'a>>,
    pub stream: bool,
}

#[derive(Debug, Serialize)]
pub struct OutText<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct OutMessage<'a> {
    pub role: &'static str,
    pub content: Vec<OutBlock<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutBlock<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: OutSource<'a>,
    },
    Document {
        source: OutSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a RawJson,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: Vec<OutBlock<'a>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutSource<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
    Text { media_type: &'a str, data: &'a str },
}

#[derive(Debug, Serialize)]
pub struct OutTool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: &'a RawJson,
}

#[derive(Debug, Serialize)]
pub struct OutToolChoice<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct OutThinking {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct OutMetadata<'a> {
    pub user_id: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Stream events. One flat struct covers every event type, so parsing never buffers.

#[derive(Debug, Deserialize)]
pub struct StreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(borrow, default)]
    pub message: Option<MessageStart<'a>>,
    #[serde(borrow, default)]
    pub content_block: Option<BlockStart<'a>>,
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(borrow, default)]
    pub error: Option<WireError<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct MessageStart<'a> {
    #[serde(borrow, default)]
    pub id: Option<&'a str>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub struct BlockStart<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(borrow, default)]
    pub text: Option<&'a str>,
    #[serde(borrow, default)]
    pub thinking: Option<&'a str>,
    #[serde(borrow, default)]
    pub signature: Option<&'a str>,
    #[serde(borrow, default)]
    pub data: Option<&'a str>,
    #[serde(borrow, default)]
    pub id: Option<&'a str>,
    #[serde(borrow, default)]
    pub name: Option<&'a str>,
    /// Usually `{}` (the input streams as `input_json_delta`s); some relays send it whole here.
    #[serde(default)]
    pub input: Option<AnyJson>,
}

#[derive(Debug, Deserialize)]
pub struct Delta<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a str>,
    #[serde(borrow, default)]
    pub text: Option<&'a str>,
    #[serde(borrow, default)]
    pub partial_json: Option<&'a str>,
    #[serde(borrow, default)]
    pub thinking: Option<&'a str>,
    #[serde(borrow, default)]
    pub signature: Option<&'a str>,
    #[serde(borrow, default)]
    pub stop_reason: Option<&'a str>,
    #[serde(borrow, default)]
    pub stop_sequence: Option<&'a str>,
}

/// Usage as Anthropic reports it; `input_tokens` excludes cached tokens.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl From<WireUsage> for crate::ir::Usage {
    fn from(u: WireUsage) -> Self {
        crate::ir::Usage {
            input: u.input_tokens,
            output: u.output_tokens,
            cache_read: u.cache_read_input_tokens,
            cache_write: u.cache_creation_input_tokens,
            reasoning: None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireError<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

/// A non-2xx response body: `{"type":"error","error":{"type","message"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody<'a> {
    #[serde(borrow)]
    pub error: WireError<'a>,
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

pub fn stop_reason_str(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::StopSequence(_) => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
        StopReason::PauseTurn => "pause_turn",
    }
}

/// Unknown reasons read as `end_turn`: the answer ended, and nothing better is known.
pub fn parse_stop_reason(reason: &str, sequence: Option<crate::ir::Text>) -> StopReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence(sequence),
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        "pause_turn" => StopReason::PauseTurn,
        _ => StopReason::EndTurn,
    }
}

/// The `error.type` Anthropic uses for an HTTP status (<https://docs.anthropic.com/en/api/errors>).
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 | 503 => "overloaded_error",
        _ if status >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Classifies an in-band `error` event by its `error.type`.
pub fn error_kind_for_type(kind: &str) -> ErrorKind {
    match kind {
        "overloaded_error" => ErrorKind::Overloaded,
        "rate_limit_error" => ErrorKind::RateLimited,
        "authentication_error" => ErrorKind::Unauthorized,
        "permission_error" => ErrorKind::Forbidden,
        "billing_error" => ErrorKind::QuotaExhausted,
        "invalid_request_error" | "request_too_large" => ErrorKind::InvalidRequest,
        "not_found_error" => ErrorKind::ModelNotFound,
        "timeout_error" => ErrorKind::Timeout,
        _ => ErrorKind::Server,
    }
}
