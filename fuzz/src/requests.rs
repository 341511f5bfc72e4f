//! The properties the request-parser fuzz targets check, and the structured requests the
//! `*_request_json` targets build.
//!
//! A request body comes straight from a client, so `dialect::{anthropic,openai}::parse` must
//! answer every input with a request or an error, never a panic. A structured target builds a
//! syntactically valid JSON request from the fuzzer's data: the fields each dialect knows, each
//! either absent, of the right shape, or of an odd type (a number where a string belongs, an
//! object for a list, ...), with content blocks and tool definitions of every kind, unknown
//! fields, and duplicate keys. Every check parses the body twice and asserts that both runs agree
//! (parsing is deterministic), and that a successful parse has a model and keeps the body as the
//! native request.

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use orchids2api::dialect::{anthropic, openai};
use std::fmt::Write as _;

/// Parses `body` as an Anthropic Messages request, twice, and checks the properties above.
pub fn check_anthropic(body: &[u8]) {
    let body = Bytes::copy_from_slice(body);
    let headers = anthropic_headers();
    let first = anthropic::parse(&body, &headers);
    let second = anthropic::parse(&body, &headers);
    assert_eq!(format!("{first:?}"), format!("{second:?}"), "parsing the same body twice disagrees");
    if let Ok(request) = first {
        assert!(!request.model.is_empty(), "a request parsed without a model");
        let native = request.native.expect("an Anthropic request keeps its body");
        assert_eq!(native.body, body, "the native body differs from the one received");
    }
}

/// Parses `body` as an OpenAI Chat Completions request, twice, and checks the properties above.
pub fn check_openai(body: &[u8]) {
    let body = Bytes::copy_from_slice(body);
    let first = openai::parse(&body);
    let second = openai::parse(&body);
    assert_eq!(format!("{first:?}"), format!("{second:?}"), "parsing the same body twice disagrees");
    if let Ok((request, _)) = first {
        assert!(!request.model.is_empty(), "a request parsed without a model");
        let native = request.native.expect("an OpenAI request keeps its body");
        assert_eq!(native.body, body, "the native body differs from the one received");
    }
}

fn anthropic_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    headers.insert("anthropic-beta", HeaderValue::from_static("interleaved-thinking-2025-05-14"));
    headers
}

/// Deepest nesting written for an arbitrary JSON value; deeper values are written as `null`.
const MAX_DEPTH: usize = 8;

/// Any JSON value, objects with repeatable keys.
#[derive(Debug, Arbitrary)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Word),
    Array(Vec<Json>),
    Object(Vec<(Word, Json)>),
}

/// A string: usually one the parsers look for, sometimes anything.
#[derive(Debug, Arbitrary)]
pub enum Word {
    Known(Known),
    Any(String),
}

/// Strings with a meaning in one of the dialects.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Known {
    Empty,
    User,
    Assistant,
    System,
    Developer,
    Tool,
    Function,
    Text,
    Image,
    ImageUrl,
    Document,
    File,
    ToolUse,
    ToolResult,
    Thinking,
    RedactedThinking,
    Base64,
    Url,
    Auto,
    Any,
    None,
    Required,
    Enabled,
    Disabled,
    Adaptive,
    Refusal,
    Object,
    Model,
    DataUrl,
    Escaped,
}

impl Known {
    fn as_str(self) -> &'static str {
        match self {
            Known::Empty => "",
            Known::User => "user",
            Known::Assistant => "assistant",
            Known::System => "system",
            Known::Developer => "developer",
            Known::Tool => "tool",
            Known::Function => "function",
            Known::Text => "text",
            Known::Image => "image",
            Known::ImageUrl => "image_url",
            Known::Document => "document",
            Known::File => "file",
            Known::ToolUse => "tool_use",
            Known::ToolResult => "tool_result",
            Known::Thinking => "thinking",
            Known::RedactedThinking => "redacted_thinking",
            Known::Base64 => "base64",
            Known::Url => "url",
            Known::Auto => "auto",
            Known::Any => "any",
            Known::None => "none",
            Known::Required => "required",
            Known::Enabled => "enabled",
            Known::Disabled => "disabled",
            Known::Adaptive => "adaptive",
            Known::Refusal => "refusal",
            Known::Object => "object",
            Known::Model => "claude-sonnet-4-5",
            Known::DataUrl => "data:image/png;base64,iVBORw0KGgo=",
            Known::Escaped => "line\n\"quoted\" \\ \u{1} é \u{1F600}",
        }
    }
}

impl Word {
    fn as_str(&self) -> &str {
        match self {
            Word::Known(k) => k.as_str(),
            Word::Any(s) => s,
        }
    }
}

/// A field of a request: absent, of the expected shape, or any JSON value at all.
#[derive(Debug, Arbitrary)]
pub enum Field<T> {
    Absent,
    Value(T),
    Odd(Json),
}

/// Writes JSON text. Objects are written member by member, so keys may repeat.
pub struct Writer(String);

impl Writer {
    fn string(&mut self, s: &str) {
        self.0.push_str(&serde_json::to_string(s).expect("a string serializes"));
    }

    fn json(&mut self, value: &Json, depth: usize) {
        if depth > MAX_DEPTH {
            self.0.push_str("null");
            return;
        }
        match value {
            Json::Null => self.0.push_str("null"),
            Json::Bool(b) => self.0.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => {
                let _ = write!(self.0, "{n}");
            }
            Json::Float(f) if f.is_finite() => {
                let _ = write!(self.0, "{f:?}");
            }
            Json::Float(_) => self.0.push_str("1e400"),
            Json::Str(w) => self.string(w.as_str()),
            Json::Array(items) => {
                self.0.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.0.push(',');
                    }
                    self.json(item, depth + 1);
                }
                self.0.push(']');
            }
            Json::Object(members) => {
                self.0.push('{');
                for (i, (key, item)) in members.iter().enumerate() {
                    if i > 0 {
                        self.0.push(',');
                    }
                    self.string(key.as_str());
                    self.0.push(':');
                    self.json(item, depth + 1);
                }
                self.0.push('}');
            }
        }
    }
}

/// Something that writes itself as a JSON value.
pub trait WriteJson {
    fn write(&self, w: &mut Writer);
}

impl WriteJson for Word {
    fn write(&self, w: &mut Writer) {
        w.string(self.as_str())
    }
}

impl WriteJson for bool {
    fn write(&self, w: &mut Writer) {
        w.0.push_str(if *self { "true" } else { "false" })
    }
}

impl WriteJson for u32 {
    fn write(&self, w: &mut Writer) {
        let _ = write!(w.0, "{self}");
    }
}

impl WriteJson for Json {
    fn write(&self, w: &mut Writer) {
        w.json(self, 1)
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write(&self, w: &mut Writer) {
        w.0.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                w.0.push(',');
            }
            item.write(w);
        }
        w.0.push(']');
    }
}

/// An object under construction: `{` written, members follow.
struct Object<'w> {
    w: &'w mut Writer,
    first: bool,
}

impl<'w> Object<'w> {
    fn new(w: &'w mut Writer) -> Object<'w> {
        w.0.push('{');
        Object { w, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Writer {
        if !self.first {
            self.w.0.push(',');
        }
        self.first = false;
        self.w.string(key);
        self.w.0.push(':');
        self.w
    }

    fn member(&mut self, key: &str, value: &impl WriteJson) -> &mut Self {
        value.write(self.key(key));
        self
    }

    fn field<T: WriteJson>(&mut self, key: &str, field: &Field<T>) -> &mut Self {
        match field {
            Field::Absent => {}
            Field::Value(v) => v.write(self.key(key)),
            Field::Odd(j) => j.write(self.key(key)),
        }
        self
    }

    fn extra(&mut self, extra: &[(Word, Json)]) -> &mut Self {
        for (key, value) in extra {
            value.write(self.key(key.as_str()));
        }
        self
    }

    fn end(&mut self) {
        self.w.0.push('}');
    }
}

/// Writes a structured request as its JSON body.
pub fn body(request: &impl WriteJson) -> Vec<u8> {
    let mut w = Writer(String::new());
    request.write(&mut w);
    w.0.into_bytes()
}

// --- Anthropic Messages ---

/// An Anthropic Messages request.
#[derive(Debug, Arbitrary)]
pub struct AnthropicRequest {
    model: Field<Word>,
    max_tokens: Field<u32>,
    stream: Field<bool>,
    system: Field<StringOrParts<AnthropicBlock>>,
    messages: Field<Vec<AnthropicMessage>>,
    tools: Field<Vec<AnthropicTool>>,
    tool_choice: Field<AnthropicToolChoice>,
    thinking: Field<AnthropicThinking>,
    metadata: Field<Metadata>,
    stop_sequences: Field<Vec<Word>>,
    temperature: Field<Json>,
    top_k: Field<u32>,
    extra: Vec<(Word, Json)>,
}

impl WriteJson for AnthropicRequest {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("stream", &self.stream)
            .field("system", &self.system)
            .field("messages", &self.messages)
            .field("tools", &self.tools)
            .field("tool_choice", &self.tool_choice)
            .field("thinking", &self.thinking)
            .field("metadata", &self.metadata)
            .field("stop_sequences", &self.stop_sequences)
            .field("temperature", &self.temperature)
            .field("top_k", &self.top_k)
            .extra(&self.extra)
            .end();
    }
}

/// Content as a plain string or a list of parts.
#[derive(Debug, Arbitrary)]
pub enum StringOrParts<T> {
    String(Word),
    Parts(Vec<T>),
}

impl<T: WriteJson> WriteJson for StringOrParts<T> {
    fn write(&self, w: &mut Writer) {
        match self {
            StringOrParts::String(s) => s.write(w),
            StringOrParts::Parts(parts) => parts.write(w),
        }
    }
}

#[derive(Debug, Arbitrary)]
pub struct AnthropicMessage {
    role: Field<Word>,
    content: Field<StringOrParts<AnthropicBlock>>,
    extra: Vec<(Word, Json)>,
}

impl WriteJson for AnthropicMessage {
    fn write(&self, w: &mut Writer) {
        Object::new(w).field("role", &self.role).field("content", &self.content).extra(&self.extra).end();
    }
}

/// A content block of any type, with its fields present, absent or odd.
#[derive(Debug, Arbitrary)]
pub enum AnthropicBlock {
    Text {
        text: Field<Word>,
        cache_control: bool,
    },
    Image {
        source: Field<Source>,
    },
    Document {
        source: Field<Source>,
        title: Field<Word>,
    },
    ToolUse {
        id: Field<Word>,
        name: Field<Word>,
        input: Field<Json>,
    },
    ToolResult {
        tool_use_id: Field<Word>,
        content: Field<StringOrParts<AnthropicBlock>>,
        is_error: Field<bool>,
    },
    Thinking {
        thinking: Field<Word>,
        signature: Field<Word>,
    },
    RedactedThinking {
        data: Field<Word>,
    },
    Other {
        kind: Field<Word>,
        extra: Vec<(Word, Json)>,
    },
}

impl WriteJson for AnthropicBlock {
    fn write(&self, w: &mut Writer) {
        let mut o = Object::new(w);
        match self {
            AnthropicBlock::Text { text, cache_control } => {
                o.member("type", &Word::Known(Known::Text)).field("text", text);
                if *cache_control {
                    o.key("cache_control").0.push_str(r#"{"type":"ephemeral"}"#);
                }
            }
            AnthropicBlock::Image { source } => {
                o.member("type", &Word::Known(Known::Image)).field("source", source);
            }
            AnthropicBlock::Document { source, title } => {
                o.member("type", &Word::Known(Known::Document)).field("source", source).field("title", title);
            }
            AnthropicBlock::ToolUse { id, name, input } => {
                o.member("type", &Word::Known(Known::ToolUse))
                    .field("id", id)
                    .field("name", name)
                    .field("input", input);
            }
            AnthropicBlock::ToolResult { tool_use_id, content, is_error } => {
                o.member("type", &Word::Known(Known::ToolResult))
                    .field("tool_use_id", tool_use_id)
                    .field("content", content)
                    .field("is_error", is_error);
            }
            AnthropicBlock::Thinking { thinking, signature } => {
                o.member("type", &Word::Known(Known::Thinking))
                    .field("thinking", thinking)
                    .field("signature", signature);
            }
            AnthropicBlock::RedactedThinking { data } => {
                o.member("type", &Word::Known(Known::RedactedThinking)).field("data", data);
            }
            AnthropicBlock::Other { kind, extra } => {
                o.field("type", kind).extra(extra);
            }
        }
        o.end();
    }
}

/// A media source: `{"type": ..., "media_type", "data" | "url"}`.
#[derive(Debug, Arbitrary)]
pub struct Source {
    kind: Field<Word>,
    media_type: Field<Word>,
    data: Field<Word>,
    url: Field<Word>,
}

impl WriteJson for Source {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("type", &self.kind)
            .field("media_type", &self.media_type)
            .field("data", &self.data)
            .field("url", &self.url)
            .end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct AnthropicTool {
    kind: Field<Word>,
    name: Field<Word>,
    description: Field<Word>,
    input_schema: Field<Json>,
    extra: Vec<(Word, Json)>,
}

impl WriteJson for AnthropicTool {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("type", &self.kind)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("input_schema", &self.input_schema)
            .extra(&self.extra)
            .end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct AnthropicToolChoice {
    kind: Field<Word>,
    name: Field<Word>,
    disable_parallel_tool_use: Field<bool>,
}

impl WriteJson for AnthropicToolChoice {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("type", &self.kind)
            .field("name", &self.name)
            .field("disable_parallel_tool_use", &self.disable_parallel_tool_use)
            .end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct AnthropicThinking {
    kind: Field<Word>,
    budget_tokens: Field<u32>,
}

impl WriteJson for AnthropicThinking {
    fn write(&self, w: &mut Writer) {
        Object::new(w).field("type", &self.kind).field("budget_tokens", &self.budget_tokens).end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct Metadata {
    user_id: Field<Word>,
}

impl WriteJson for Metadata {
    fn write(&self, w: &mut Writer) {
        Object::new(w).field("user_id", &self.user_id).end();
    }
}

// --- OpenAI Chat Completions ---

/// An OpenAI Chat Completions request.
#[derive(Debug, Arbitrary)]
pub struct OpenAiRequest {
    model: Field<Word>,
    messages: Field<Vec<OpenAiMessage>>,
    max_tokens: Field<u32>,
    max_completion_tokens: Field<u32>,
    stop: Field<StringOrParts<Word>>,
    temperature: Field<Json>,
    n: Field<u32>,
    stream: Field<bool>,
    stream_options: Field<StreamOptions>,
    tools: Field<Vec<OpenAiTool>>,
    tool_choice: Field<OpenAiToolChoice>,
    user: Field<Word>,
    reasoning_effort: Field<Word>,
    extra: Vec<(Word, Json)>,
}

impl WriteJson for OpenAiRequest {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("model", &self.model)
            .field("messages", &self.messages)
            .field("max_tokens", &self.max_tokens)
            .field("max_completion_tokens", &self.max_completion_tokens)
            .field("stop", &self.stop)
            .field("temperature", &self.temperature)
            .field("n", &self.n)
            .field("stream", &self.stream)
            .field("stream_options", &self.stream_options)
            .field("tools", &self.tools)
            .field("tool_choice", &self.tool_choice)
            .field("user", &self.user)
            .field("reasoning_effort", &self.reasoning_effort)
            .extra(&self.extra)
            .end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct StreamOptions {
    include_usage: Field<bool>,
}

impl WriteJson for StreamOptions {
    fn write(&self, w: &mut Writer) {
        Object::new(w).field("include_usage", &self.include_usage).end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct OpenAiMessage {
    role: Field<Word>,
    content: Field<StringOrParts<OpenAiPart>>,
    tool_calls: Field<Vec<OpenAiToolCall>>,
    tool_call_id: Field<Word>,
    reasoning_content: Field<Word>,
    name: Field<Word>,
}

impl WriteJson for OpenAiMessage {
    fn write(&self, w: &mut Writer) {
        Object::new(w)
            .field("role", &self.role)
            .field("content", &self.content)
            .field("tool_calls", &self.tool_calls)
            .field("tool_call_id", &self.tool_call_id)
            .field("reasoning_content", &self.reasoning_content)
            .field("name", &self.name)
            .end();
    }
}

/// A content part of any type.
#[derive(Debug, Arbitrary)]
pub enum OpenAiPart {
    Text { text: Field<Word> },
    Refusal { refusal: Field<Word> },
    ImageUrl { url: Field<Word>, detail: Field<Word> },
    File { file_data: Field<Word>, filename: Field<Word> },
    Other { kind: Field<Word>, extra: Vec<(Word, Json)> },
}

impl WriteJson for OpenAiPart {
    fn write(&self, w: &mut Writer) {
        let mut o = Object::new(w);
        match self {
            OpenAiPart::Text { text } => {
                o.member("type", &Word::Known(Known::Text)).field("text", text);
            }
            OpenAiPart::Refusal { refusal } => {
                o.member("type", &Word::Known(Known::Refusal)).field("refusal", refusal);
            }
            OpenAiPart::ImageUrl { url, detail } => {
                o.member("type", &Word::Known(Known::ImageUrl));
                let inner = o.key("image_url");
                Object::new(inner).field("url", url).field("detail", detail).end();
            }
            OpenAiPart::File { file_data, filename } => {
                o.member("type", &Word::Known(Known::File));
                let inner = o.key("file");
                Object::new(inner).field("file_data", file_data).field("filename", filename).end();
            }
            OpenAiPart::Other { kind, extra } => {
                o.field("type", kind).extra(extra);
            }
        }
        o.end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct OpenAiToolCall {
    id: Field<Word>,
    kind: Field<Word>,
    name: Field<Word>,
    /// Usually a JSON text, as the API sends it; sometimes any string.
    arguments: Field<Arguments>,
}

#[derive(Debug, Arbitrary)]
pub enum Arguments {
    Json(Json),
    Text(Word),
}

impl WriteJson for Arguments {
    fn write(&self, w: &mut Writer) {
        match self {
            Arguments::Json(j) => {
                let mut inner = Writer(String::new());
                j.write(&mut inner);
                w.string(&inner.0);
            }
            Arguments::Text(t) => t.write(w),
        }
    }
}

impl WriteJson for OpenAiToolCall {
    fn write(&self, w: &mut Writer) {
        let mut o = Object::new(w);
        o.field("id", &self.id).field("type", &self.kind);
        let inner = o.key("function");
        Object::new(inner).field("name", &self.name).field("arguments", &self.arguments).end();
        o.end();
    }
}

#[derive(Debug, Arbitrary)]
pub struct OpenAiTool {
    kind: Field<Word>,
    name: Field<Word>,
    description: Field<Word>,
    parameters: Field<Json>,
    strict: Field<bool>,
}

impl WriteJson for OpenAiTool {
    fn write(&self, w: &mut Writer) {
        let mut o = Object::new(w);
        o.field("type", &self.kind);
        let inner = o.key("function");
        Object::new(inner)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("parameters", &self.parameters)
            .field("strict", &self.strict)
            .end();
        o.end();
    }
}

#[derive(Debug, Arbitrary)]
pub enum OpenAiToolChoice {
    Mode(Word),
    Named { kind: Field<Word>, name: Field<Word> },
}

impl WriteJson for OpenAiToolChoice {
    fn write(&self, w: &mut Writer) {
        match self {
            OpenAiToolChoice::Mode(mode) => mode.write(w),
            OpenAiToolChoice::Named { kind, name } => {
                let mut o = Object::new(w);
                o.field("type", kind);
                let inner = o.key("function");
                Object::new(inner).field("name", name).end();
                o.end();
            }
        }
    }
}
