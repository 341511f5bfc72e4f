//! OpenAI Chat Completions wire types (<https://platform.openai.com/docs/api-reference/chat>).
//!
//! Inbound request types borrow from the request body; outbound types borrow from the IR; the
//! stream chunk type keeps only the first choice (the gateway serves `n = 1`), so parsing a chunk
//! allocates nothing unless it carries tool calls.

use super::{AnyJson, OneOrMany, StringOrParts};
use crate::ir::{ErrorKind, RawJson, StopReason, Usage};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Request, as a client sends it.

#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub messages: Option<Vec<MessageParam<'a>>>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(borrow, default)]
    pub stop: Option<OneOrMany<Cow<'a, str>>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(borrow, default)]
    pub tools: Option<Vec<ToolParam<'a>>>,
    #[serde(borrow, default)]
    pub tool_choice: Option<ToolChoiceParam<'a>>,
    #[serde(borrow, default)]
    pub user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub reasoning_effort: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub prompt_cache_key: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct MessageParam<'a> {
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    #[serde(borrow, default)]
    pub content: Option<StringOrParts<'a, ContentPart<'a>>>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ToolCallParam<'a>>>,
    #[serde(borrow, default)]
    pub tool_call_id: Option<Cow<'a, str>>,
    /// Reasoning a client replays (DeepSeek-style); carried as unsigned thinking.
    #[serde(borrow, default)]
    pub reasoning_content: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    ImageUrl {
        #[serde(borrow)]
        image_url: ImageUrl<'a>,
    },
    File {
        #[serde(borrow)]
        file: FileParam<'a>,
    },
    Refusal {
        #[serde(borrow)]
        refusal: Cow<'a, str>,
    },
    /// Audio and types newer than this gateway.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct ImageUrl<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub struct FileParam<'a> {
    /// A `data:` URL with the file's bytes.
    #[serde(borrow, default)]
    pub file_data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub filename: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallParam<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub function: FunctionCallParam<'a>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCallParam<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The arguments as a JSON text (a string holding JSON).
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolParam<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub function: Option<FunctionDef<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub description: Option<Cow<'a, str>>,
    #[serde(default)]
    pub parameters: Option<AnyJson>,
}

/// `"auto" | "none" | "required"` or `{"type":"function","function":{"name":...}}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ToolChoiceParam<'a> {
    Mode(#[serde(borrow)] Cow<'a, str>),
    Named {
        #[serde(borrow)]
        function: NamedFunction<'a>,
    },
}

#[derive(Debug, Deserialize)]
pub struct NamedFunction<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
}

// ---------------------------------------------------------------------------------------------
// Request, as the gateway sends it upstream.

#[derive(Debug, Serialize)]
pub struct OutRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<OutStreamOptions>,
}

#[derive(Debug, Serialize)]
pub struct OutStreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Serialize)]
pub struct OutMessage<'a> {
    pub role: &'static str,
    pub content: OutContent<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OutToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum OutContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<OutPart<'a>>),
    Null(()),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutPart<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: OutImageUrl },
    File { file: OutFile<'a> },
}

#[derive(Debug, Serialize)]
pub struct OutImageUrl {
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct OutFile<'a> {
    pub file_data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct OutToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OutFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub struct OutFunctionCall<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

#[derive(Debug, Serialize)]
pub struct OutTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OutFunctionDef<'a>,
}

#[derive(Debug, Serialize)]
pub struct OutFunctionDef<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: &'a RawJson,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum OutToolChoice<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        function: OutNamedFunction<'a>,
    },
}

#[derive(Debug, Serialize)]
pub struct OutNamedFunction<'a> {
    pub name: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Stream chunks.

#[derive(Debug, Deserialize)]
pub struct Chunk<'a> {
    /// The first choice only (the gateway asks for `n = 1`).
    #[serde(borrow, default, deserialize_with = "first_choice")]
    pub choices: Option<Choice<'a>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(borrow, default)]
    pub error: Option<WireError<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Choice<'a> {
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct Delta<'a> {
    #[serde(borrow, default)]
    pub content: Option<&'a str>,
    /// DeepSeek, vLLM, and most relays.
    #[serde(borrow, default)]
    pub reasoning_content: Option<&'a str>,
    /// OpenRouter and some others.
    #[serde(borrow, default)]
    pub reasoning: Option<&'a str>,
    #[serde(borrow, default)]
    pub refusal: Option<&'a str>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(borrow, default)]
    pub id: Option<&'a str>,
    #[serde(borrow, default)]
    pub function: Option<FunctionDelta<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    pub name: Option<&'a str>,
    #[serde(borrow, default)]
    pub arguments: Option<&'a str>,
}

/// Usage as OpenAI reports it; `prompt_tokens` includes cached tokens.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens);
        Usage {
            input: u.prompt_tokens.map(|p| p.saturating_sub(cached.unwrap_or(0))),
            output: u.completion_tokens,
            cache_read: cached,
            cache_write: None,
            reasoning: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireError<'a> {
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_code")]
    pub code: Option<String>,
}

/// A non-2xx response body: `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody<'a> {
    #[serde(borrow)]
    pub error: WireError<'a>,
}

fn first_choice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Choice<'de>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Choice<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of choices")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Choice<'de>>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_any(V)
}

/// Error codes are strings in OpenAI's API and numbers in some compatible ones.
fn lenient_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or number code")
        }
        fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(s.to_string()))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
            Ok(Some(n.to_string()))
        }
        fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n.to_string()))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

pub fn finish_reason_str(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence(_) | StopReason::PauseTurn => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
    }
}

pub fn parse_finish_reason(reason: &str) -> StopReason {
    match reason {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// The `error.type` the gateway uses on OpenAI routes for an HTTP status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 | 400 | 405 | 409 | 413 | 422 => "invalid_request_error",
        429 => "rate_limit_error",
        _ if status >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Refines a classification by OpenAI's error `code`/`type` where the status alone is ambiguous.
pub fn error_kind_for_code(code: Option<&str>, kind: Option<&str>) -> Option<ErrorKind> {
    match code.or(kind)? {
        "insufficient_quota" | "billing_hard_limit_reached" => Some(ErrorKind::QuotaExhausted),
        "rate_limit_exceeded" | "requests" | "tokens" => Some(ErrorKind::RateLimited),
        "model_not_found" => Some(ErrorKind::ModelNotFound),
        "context_length_exceeded" | "invalid_request_error" => Some(ErrorKind::InvalidRequest),
        "invalid_api_key" | "authentication_error" => Some(ErrorKind::Unauthorized),
        "server_error" => Some(ErrorKind::Server),
        _ => None,
    }
}
