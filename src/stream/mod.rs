//! The stream core: incremental framers that cut upstream bytes into frames without copying.
//!
//! Upstream bodies arrive as `Bytes` chunks split at arbitrary positions. A framer takes each chunk
//! with `push`, hands out complete frames with `next_*`, and keeps at most one unfinished frame
//! back. A frame's payload is a `Bytes` slice of the chunk it arrived in (a reference-count bump,
//! no copy) unless the frame spans chunks, in which case its bytes are gathered once.
//!
//! - [`sse`]: Server-Sent Events (`text/event-stream`), as the WHATWG spec parses them.
//! - [`ndjson`]: newline-delimited JSON, with the optional `data: ` prefix and `[DONE]` marker
//!   that SSE-ish JSON streams use.
//! - [`frames`]: length-prefixed binary frames (a 5-byte flag + big-endian length envelope, or a
//!   protobuf varint length).
//! - [`json`]: parsing a frame's JSON payload with simd-json, handing strings out as slices of the
//!   frame, and writing JSON strings on the way out.

pub mod frames;
pub mod json;
pub mod ndjson;
pub mod sse;

/// Why a framer refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Occurs when one frame grows past the framer's limit before it is complete.
    #[error("frame exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    /// Occurs when the input ends inside a frame that cannot be completed.
    #[error("stream ended inside a frame")]
    Truncated,
    /// Occurs when a binary frame header is malformed (an over-long varint).
    #[error("malformed frame header")]
    BadHeader,
}
