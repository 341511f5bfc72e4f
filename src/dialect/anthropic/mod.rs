//! The Anthropic Messages dialect: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

mod encode;
mod parse;
#[cfg(test)]
mod tests;

pub use encode::{StreamEncoder, render_answer};
pub use parse::parse;

use crate::dialect::ApiError;
use bytes::{Bytes, BytesMut};

/// `{"type":"error","error":{"type","message"},"request_id"}` with the type Anthropic uses for
/// the status.
pub fn error_body(error: &ApiError, request_id: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(128 + error.message.len());
    encode::write_error(&mut out, error, Some(request_id));
    out.freeze()
}
