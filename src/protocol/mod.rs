//! Wire types of the official protocols, written once and shared by the dialect that serves the
//! protocol to clients and the channel that speaks it to an upstream.
//!
//! Each protocol module holds: the request schema as a client sends it (borrowed serde types,
//! parsed with simd-json), the request schema as the gateway sends it upstream (serialize-only
//! types borrowing from the IR), the stream events (flat structs that parse without buffering),
//! and the protocol's string vocabularies (stop reasons, error types). Imports nothing of ours
//! but `ir` and `stream::json`.
//!
//! Fields keep the upstream's spelling; unknown fields and events are tolerated everywhere.

pub mod anthropic;
pub mod edit;
pub mod openai;
mod value;

pub use value::{AnyJson, OneOrMany, StringOrParts};
