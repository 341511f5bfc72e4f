//! The Warp channel's protocol layer (Warp terminal's “multi-agent” API,
//! `shared/upstreams/warp.md`): the protobuf messages and the answer-stream decoding.
//!
//! - [`wire`]: `Request` and `ResponseEvent` as hand-written `prost` types;
//! - [`frames`]: SSE + base64 + protobuf → typed [`frames::WarpEvent`]s, as a stream-core framer.
//!
//! The `Channel` itself (request building, reconciliation of snapshots and deltas into IR events,
//! token refresh) is the next step; until it lands, parts of this layer are used only by the mock
//! and the tests.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod frames;
pub(crate) mod wire;

#[cfg(test)]
mod tests;
