//! OpenAI Chat Completions response bodies, spelled and ordered as the API sends them.
//!
//! Written from the API reference (`chat.completion`, `chat.completion.chunk`, model list, error
//! envelope), not shared with the gateway's protocol types, so the mock cannot share their bugs.
//! `Option<()>` fields serialize as the `null`s the real API always sends.

use serde::Serialize;

/// The `system_fingerprint` of every mock answer.
pub(super) const FINGERPRINT: &str = "fp_mock0001";

/// A non-stream answer: `chat.completion`.
#[derive(Serialize)]
pub(super) struct Completion<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'static str,
    pub(super) created: u64,
    pub(super) model: &'a str,
    pub(super) choices: [Choice<'a>; 1],
    pub(super) usage: Usage,
    pub(super) service_tier: &'static str,
    pub(super) system_fingerprint: &'static str,
}

#[derive(Serialize)]
pub(super) struct Choice<'a> {
    pub(super) index: u32,
    pub(super) message: Message<'a>,
    pub(super) logprobs: Option<()>,
    pub(super) finish_reason: &'static str,
}

#[derive(Serialize)]
pub(super) struct Message<'a> {
    pub(super) role: &'static str,
    pub(super) content: Option<String>,
    /// Not an OpenAI field: the reasoning text as DeepSeek, vLLM and others return it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tool_calls: Vec<ToolCall<'a>>,
    pub(super) refusal: Option<()>,
    pub(super) annotations: [(); 0],
}

#[derive(Serialize)]
pub(super) struct ToolCall<'a> {
    pub(super) id: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) function: Function<'a>,
}

#[derive(Serialize)]
pub(super) struct Function<'a> {
    pub(super) name: &'a str,
    pub(super) arguments: &'a str,
}

/// One stream event: `chat.completion.chunk`.
#[derive(Serialize)]
pub(super) struct Chunk<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'static str,
    pub(super) created: u64,
    pub(super) model: &'a str,
    pub(super) service_tier: &'static str,
    pub(super) system_fingerprint: &'static str,
    pub(super) choices: Vec<ChunkChoice<'a>>,
    /// Absent unless the request set `stream_options.include_usage`; then `null` on every chunk
    /// but the last one before `[DONE]`, which has no choices and the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
pub(super) struct ChunkChoice<'a> {
    pub(super) index: u32,
    pub(super) delta: Delta<'a>,
    pub(super) logprobs: Option<()>,
    pub(super) finish_reason: Option<&'static str>,
}

/// A chunk's delta; absent fields are left out, as the API does.
#[derive(Default, Serialize)]
pub(super) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<&'a str>,
    /// Not an OpenAI field: reasoning deltas as DeepSeek, vLLM and others stream them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reasoning_content: Option<&'a str>,
    /// `Some(None)` sends `"refusal":null` (the first chunk does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refusal: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tool_calls: Vec<ToolCallDelta<'a>>,
}

/// A tool call piece: the first for a call carries `id`, `type` and `function.name`; later ones
/// only `index` and an `arguments` fragment.
#[derive(Serialize)]
pub(super) struct ToolCallDelta<'a> {
    pub(super) index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<&'static str>,
    pub(super) function: FunctionDelta<'a>,
}

#[derive(Serialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    pub(super) arguments: &'a str,
}

/// `prompt_tokens` is the whole input, cached tokens included.
#[derive(Serialize)]
pub(super) struct Usage {
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
    pub(super) total_tokens: u64,
    pub(super) prompt_tokens_details: PromptDetails,
    pub(super) completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
pub(super) struct PromptDetails {
    pub(super) cached_tokens: u64,
    pub(super) audio_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct CompletionDetails {
    pub(super) reasoning_tokens: u64,
    pub(super) audio_tokens: u64,
    pub(super) accepted_prediction_tokens: u64,
    pub(super) rejected_prediction_tokens: u64,
}

/// `GET /v1/models`.
#[derive(Serialize)]
pub(super) struct ModelList {
    pub(super) object: &'static str,
    pub(super) data: Vec<Model>,
}

#[derive(Serialize)]
pub(super) struct Model {
    pub(super) id: String,
    pub(super) object: &'static str,
    pub(super) created: u64,
    pub(super) owned_by: &'static str,
}

/// `{"error":{"message","type","param","code"}}`, for HTTP errors and in-band stream errors alike.
#[derive(Serialize)]
pub(super) struct ErrorEnvelope<'a> {
    pub(super) error: ErrorBody<'a>,
}

#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    pub(super) message: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) param: Option<&'static str>,
    pub(super) code: Option<&'static str>,
}
