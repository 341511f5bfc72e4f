//! The OpenAI Chat Completions dialect: `POST /v1/chat/completions`.

mod encode;
mod parse;
#[cfg(test)]
mod tests;

pub use encode::{StreamEncoder, render_answer};
pub use parse::parse;

use crate::dialect::ApiError;
use bytes::{Bytes, BytesMut};

/// `{"error":{"message","type","param","code"}}`.
pub fn error_body(error: &ApiError) -> Bytes {
    let mut out = BytesMut::with_capacity(128 + error.message.len());
    encode::write_error(&mut out, error);
    out.freeze()
}
