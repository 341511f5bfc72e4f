//! The internal representation: the one contract between client dialects and upstream channels.
//!
//! A dialect parses a client's request into a [`ChatRequest`] and encodes a stream of [`Event`]s
//! back into its wire format; a channel turns a [`ChatRequest`] into an upstream call and the
//! upstream's answer into [`Event`]s. Neither side knows the other: any dialect works on any channel.
//!
//! The content model follows Anthropic's Messages API (the richer of the two official protocols):
//! a conversation is a list of [`Message`]s made of [`Block`]s; tool results are user content;
//! leading system text lives in [`ChatRequest::system`].
//!
//! **Text** is carried as [`Text`], a UTF-8 [`Bytes`] slice. Decoders hand out slices of the
//! upstream's own buffer wherever the upstream encoding allows it (see `stream::json`), so a text
//! delta travels from upstream socket to client socket without being copied into a `String`.

mod error;

pub use error::{ErrorKind, UpstreamError};

use bytes::Bytes;
use std::fmt;
use std::sync::Arc;

/// UTF-8 text held as shared bytes. Constructed only from `&str`/`String` or from bytes checked to
/// be UTF-8, so [`Text::as_str`] never fails.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Text(Bytes);

impl Text {
    pub const fn from_static(s: &'static str) -> Text {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes the caller has already validated as UTF-8.
    ///
    /// Callers are the JSON decoders, whose input slices come from a `&str` the JSON parser produced.
    pub(crate) fn from_utf8_unchecked(bytes: Bytes) -> Text {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    pub fn from_utf8(bytes: Bytes) -> Result<Text, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Text(bytes))
    }

    pub fn as_str(&self) -> &str {
        // SAFETY-free: every constructor checks or guarantees UTF-8; the debug assertion above
        // catches a decoder that breaks the promise in tests.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Bytes::from(s))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// A JSON document kept as its serialized text (tool schemas, tool inputs): the gateway routes
/// these, it never needs their structure, so they are parsed once for validity and kept compact.
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(Arc<str>);

impl RawJson {
    /// Wraps text that is known to be one valid JSON value.
    pub(crate) fn new_unchecked(json: impl Into<Arc<str>>) -> RawJson {
        RawJson(json.into())
    }

    /// Parses `json` to check it, keeping the text as given.
    pub fn parse(json: &str) -> Result<RawJson, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(json)?;
        Ok(RawJson(json.into()))
    }

    pub fn empty_object() -> RawJson {
        RawJson("{}".into())
    }

    pub fn get(&self) -> &str {
        &self.0
    }

    /// True for an object with no members (`{}` with any whitespace).
    pub fn is_empty_object(&self) -> bool {
        let t = self.0.trim();
        t.starts_with('{') && t.ends_with('}') && t[1..t.len() - 1].trim().is_empty()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// Thinking signatures the gateway mints for thinking blocks an upstream did not sign start with
/// this. They mean nothing to Anthropic: channels strip such blocks before calling it.
pub const GATEWAY_SIGNATURE_PREFIX: &str = "o2a1.";

/// The wire protocols the gateway speaks, on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions API.
    OpenAi,
}

/// A client's request, after parsing, in the gateway's own terms.
#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    /// The model id the client asked for (a public id from the model table).
    pub model: String,
    /// Leading system instructions, in order.
    pub system: Vec<Text>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `None`: the client set no limit (OpenAI allows that; channels that need one pick a default).
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub thinking: Option<Thinking>,
    /// Does the client want a stream? Channels always stream from upstream where they can.
    pub stream: bool,
    /// Opaque end-user id (Anthropic `metadata.user_id`, OpenAI `user`).
    pub user: Option<String>,
    /// The client key that asked (its store id), for usage accounting.
    pub key_id: Option<u64>,
    /// The conversation this request continues, when the client names one (Claude Code's session
    /// id, OpenAI `prompt_cache_key`, ...): requests of one session stick to one account.
    pub session: Option<String>,
    /// The client's request as it arrived, for a channel that speaks the same protocol: fields the
    /// IR does not model travel through untouched (design: "same-protocol paths lose nothing").
    pub native: Option<Native>,
    /// For image and video models: what to generate (`None` for chat).
    pub media: Option<MediaRequest>,
}

/// Generation parameters of an image or video request (OpenAI images API, or a chat request to
/// an image/video model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRequest {
    /// How many images (1–10).
    pub n: u8,
    /// Aspect ratio as `w:h` (`1:1`, `16:9`, ...), when the client asked for one.
    pub aspect_ratio: Option<String>,
}

/// The original request body and the protocol it is written in.
#[derive(Clone, Debug)]
pub struct Native {
    pub protocol: Protocol,
    pub body: Bytes,
    /// Request headers worth forwarding to a same-protocol upstream (`anthropic-beta`, ...).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// A system message in the middle of the conversation (OpenAI `system`/`developer` after the
    /// first turn; Claude Code's mid-conversation system messages).
    System,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

#[derive(Clone, Debug)]
pub enum Block {
    Text(Text),
    Image(MediaSource),
    Document {
        source: MediaSource,
        title: Option<String>,
    },
    ToolUse {
        id: String,
        name: String,
        input: RawJson,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<Block>,
        is_error: bool,
    },
    /// Model reasoning replayed by the client. `signature` is only meaningful to the upstream that
    /// minted it; channels that are not Anthropic drop it.
    Thinking {
        text: Text,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

#[derive(Clone, Debug)]
pub enum MediaSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url(String),
    /// Plain text document content (Anthropic `source.type = "text"`).
    Text {
        media_type: String,
        data: String,
    },
}

#[derive(Clone, Debug)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the input object.
    pub input_schema: RawJson,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// The model must call some tool.
    Any,
    None,
    Tool(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thinking {
    Enabled {
        budget_tokens: u32,
    },
    /// Model decides (Claude Code's `{"type":"adaptive"}`).
    Adaptive,
    Disabled,
}

/// Token usage in Anthropic's convention: `input` excludes cached tokens.
///
/// | field       | Anthropic                       | OpenAI                                          |
/// |-------------|---------------------------------|-------------------------------------------------|
/// | input       | `input_tokens`                  | `prompt_tokens − cached_tokens`                 |
/// | output      | `output_tokens`                 | `completion_tokens`                             |
/// | cache_read  | `cache_read_input_tokens`       | `prompt_tokens_details.cached_tokens`           |
/// | cache_write | `cache_creation_input_tokens`   | —                                               |
/// | reasoning   | —                               | `completion_tokens_details.reasoning_tokens`    |
///
/// Every field is optional: an upstream reports usage piecemeal (Anthropic: input in
/// `message_start`, output in `message_delta`), and [`Usage::merge`] folds the reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
}

impl Usage {
    /// Later reports win field by field (upstream counters are cumulative).
    pub fn merge(&mut self, later: Usage) {
        self.input = later.input.or(self.input);
        self.output = later.output.or(self.output);
        self.cache_read = later.cache_read.or(self.cache_read);
        self.cache_write = later.cache_write.or(self.cache_write);
        self.reasoning = later.reasoning.or(self.reasoning);
    }

    /// All input tokens, cached or not (OpenAI `prompt_tokens`).
    pub fn total_input(&self) -> u64 {
        self.input.unwrap_or(0) + self.cache_read.unwrap_or(0) + self.cache_write.unwrap_or(0)
    }
}

/// Why the model stopped.
///
/// | IR            | Anthropic `stop_reason` | OpenAI `finish_reason` |
/// |---------------|-------------------------|------------------------|
/// | EndTurn       | `end_turn`              | `stop`                 |
/// | StopSequence  | `stop_sequence`         | `stop`                 |
/// | MaxTokens     | `max_tokens`            | `length`               |
/// | ToolUse       | `tool_use`              | `tool_calls`           |
/// | Refusal       | `refusal`               | `content_filter`       |
/// | PauseTurn     | `pause_turn`            | `stop`                 |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    StopSequence(Option<Text>),
    MaxTokens,
    ToolUse,
    Refusal,
    PauseTurn,
}

/// One step of an answer. A channel's stream yields these in order; the encoders turn them into
/// client frames.
///
/// Ordering guarantees a channel keeps: `ToolCallStart{index}` precedes every `ToolArgs{index}`;
/// indices count tool calls from 0 in order of their start; `Stop` comes at most once, after all
/// content. `Usage` may come any number of times (merge them). `Error` ends the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Text(Text),
    Thinking(Text),
    /// Opaque signature closing the current thinking block (Anthropic `signature_delta`).
    ThinkingSignature(Text),
    RedactedThinking(Text),
    ToolCallStart {
        index: u32,
        id: Text,
        name: Text,
    },
    /// A fragment of the tool call's JSON arguments; the concatenation of all fragments for an
    /// index is the complete JSON object.
    ToolArgs {
        index: u32,
        fragment: Text,
    },
    Usage(Usage),
    Stop(StopReason),
    /// A frame of the upstream's own protocol that the IR does not model. Only an encoder of the
    /// same protocol uses it; every other encoder ignores it. See [`NativeFrame`].
    Native(NativeFrame),
    /// A generated image or video, stored in the gateway's media cache.
    Media(MediaRef),
    /// How far the generation of image `index` (or of the video) has come, in percent. Only the
    /// Images API's stream shows it; chat encoders ignore it.
    MediaProgress {
        kind: MediaKind,
        index: u32,
        percent: u32,
    },
    /// The upstream is alive but has nothing to say (a ping, an SSE comment).
    KeepAlive,
    Error(UpstreamError),
}

impl Event {
    /// Does this event put something in front of the user? The relay commits a response only
    /// once such an event has arrived.
    pub fn is_content(&self) -> bool {
        match self {
            Event::Text(t) | Event::Thinking(t) => !t.is_empty(),
            Event::ToolCallStart { .. } | Event::RedactedThinking(_) | Event::Native(_) | Event::Media(_) => {
                true
            }
            Event::ThinkingSignature(_)
            | Event::ToolArgs { .. }
            | Event::Usage(_)
            | Event::Stop(_)
            | Event::MediaProgress { .. }
            | Event::KeepAlive
            | Event::Error(_) => false,
        }
    }
}

/// A generated file the gateway holds: where clients fetch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRef {
    pub kind: MediaKind,
    /// Where clients fetch it: under `public_base_url` when set, else a path on the gateway
    /// (`/v1/files/image/<name>`).
    pub url: Text,
    /// The file's name in the cache (content hash and extension).
    pub name: Text,
    pub mime: Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }
}

/// An upstream frame passed through to a client of the same protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeFrame {
    pub protocol: Protocol,
    pub kind: NativeKind,
    /// The JSON object the frame carries (an Anthropic `content_block` for a block start, a
    /// `delta` object for a block delta).
    pub json: Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeKind {
    /// Anthropic: a content block of a type the IR does not model (`server_tool_use`,
    /// `web_search_tool_result`, ...) starts; `json` is the `content_block` object.
    BlockStart,
    /// Anthropic: a delta the IR does not model (`citations_delta`, ...) for the current block;
    /// `json` is the `delta` object.
    BlockDelta,
}
