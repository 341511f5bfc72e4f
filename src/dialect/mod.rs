//! Client dialects: the wire formats clients speak, parsed into the IR and encoded back.
//!
//! A dialect has three parts: `parse` (request body → [`ir::ChatRequest`]), `encode` (events →
//! SSE frames, or one JSON body via [`answer::Answer`]) and the error envelope ([`ApiError`]
//! rendered in the dialect's shape). Dialects know the IR and the protocol wire types, never the
//! channels.

pub mod answer;
pub mod anthropic;
pub mod error;
pub mod openai;

pub use error::ApiError;

use crate::ir;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;

/// The two client dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Anthropic,
    OpenAi,
}

impl Dialect {
    pub fn protocol(self) -> ir::Protocol {
        match self {
            Dialect::Anthropic => ir::Protocol::Anthropic,
            Dialect::OpenAi => ir::Protocol::OpenAi,
        }
    }

    /// Writes `error` as this dialect's JSON error body.
    pub fn error_body(self, error: &ApiError, request_id: &str) -> Bytes {
        match self {
            Dialect::Anthropic => anthropic::error_body(error, request_id),
            Dialect::OpenAi => openai::error_body(error),
        }
    }
}

/// Options of a parsed request that only the client's own dialect cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyOptions {
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
}

/// The encoder for one streamed reply, in the client's dialect.
pub enum StreamEncoder {
    Anthropic(anthropic::StreamEncoder),
    OpenAi(openai::StreamEncoder),
}

impl StreamEncoder {
    pub fn new(dialect: Dialect, model: &str, options: ReplyOptions, input_estimate: u64) -> StreamEncoder {
        match dialect {
            Dialect::Anthropic => {
                StreamEncoder::Anthropic(anthropic::StreamEncoder::new(model, input_estimate))
            }
            Dialect::OpenAi => {
                StreamEncoder::OpenAi(openai::StreamEncoder::new(model, options.include_usage))
            }
        }
    }

    /// Encodes one event. `Error` events are not passed here: the caller ends with [`Self::fail`].
    pub fn event(&mut self, event: ir::Event, out: &mut BytesMut) {
        match self {
            StreamEncoder::Anthropic(e) => e.event(event, out),
            StreamEncoder::OpenAi(e) => e.event(event, out),
        }
    }

    /// The upstream finished: write the terminal frames.
    pub fn finish(&mut self, out: &mut BytesMut) {
        match self {
            StreamEncoder::Anthropic(e) => e.finish(out),
            StreamEncoder::OpenAi(e) => e.finish(out),
        }
    }

    /// The upstream failed after the response was committed: end the stream well-formed.
    pub fn fail(&mut self, error: &ApiError, out: &mut BytesMut) {
        match self {
            StreamEncoder::Anthropic(e) => e.fail(error, out),
            StreamEncoder::OpenAi(e) => e.fail(error, out),
        }
    }

    /// Nothing happened for a while: a frame that keeps idle-timeout proxies from cutting us.
    pub fn keepalive(&mut self, out: &mut BytesMut) {
        match self {
            StreamEncoder::Anthropic(e) => e.keepalive(out),
            StreamEncoder::OpenAi(e) => e.keepalive(out),
        }
    }
}

/// Renders a whole answer as the dialect's non-streaming response body.
pub fn render_answer(dialect: Dialect, model: &str, answer: &answer::Answer) -> Bytes {
    match dialect {
        Dialect::Anthropic => anthropic::render_answer(model, answer),
        Dialect::OpenAi => openai::render_answer(model, answer),
    }
}

/// Parses a JSON request body with simd-json into a borrowed schema type. `scratch` receives a
/// copy of `body`, which simd-json unescapes in place; the result borrows from it.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(
    scratch: &'a mut Vec<u8>,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_json("the body is empty"));
    }
    scratch.clear();
    scratch.extend_from_slice(body);
    simd_json::serde::from_slice(scratch).map_err(|e| {
        // simd-json's errors do not tell bad syntax from a wrong shape; on this cold path,
        // serde_json tells them apart and points at the line and column.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            return ApiError::invalid_json(syntax);
        }
        match e.error() {
            simd_json::ErrorType::Serde(message) => {
                ApiError::bad_request(format!("invalid request: {message}"))
            }
            other => ApiError::bad_request(format!("invalid request: {other:?}")),
        }
    })
}

/// How a generated image or video appears in a chat answer: markdown pointing at the gateway's
/// copy, so it keeps working after the upstream's asset expires.
pub fn media_markdown(media: &ir::MediaRef) -> String {
    match media.kind {
        ir::MediaKind::Image => format!("\n![image]({})\n", media.url),
        ir::MediaKind::Video => format!("\n[video]({})\n", media.url),
    }
}

/// A response id: `prefix` followed by 24 random base-62 characters (two random words, not one
/// draw per character).
pub(crate) fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    for _ in 0..2 {
        // 62^12 < 2^72: twelve digits from 64 random bits plus a little modulo bias, which an
        // identifier can afford.
        let mut n = rand::random::<u128>();
        for _ in 0..12 {
            id.push(ALPHABET[(n % 62) as usize] as char);
            n /= 62;
        }
    }
    id
}

/// Splits a `data:` URL into its media type and base64 payload.
pub(crate) fn split_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((if media_type.is_empty() { "application/octet-stream" } else { media_type }, data))
}
