//! Warp's protobuf messages (package `warp.multi_agent.v1`), written by hand with `prost` derives
//! from the fact sheet's reconstructed schema (no `protoc` at build time).
//!
//! - [`request`]: `Request`, what the client POSTs (§2.2);
//! - [`response`]: `ResponseEvent`, one event of the answer stream (§3.2);
//! - [`common`]: the `google.protobuf` well-known types (`Struct`, `Value`, `Timestamp`, ...).
//!
//! Unknown fields are skipped when decoding (prost's behaviour), so fields the sheet leaves out,
//! and fields Warp adds later, do not break a decode.

pub(crate) mod common;
pub(crate) mod request;
pub(crate) mod response;

// The well-known types, for the channel (some are not used yet).
#[allow(unused_imports)]
pub(crate) use common::{Duration, Empty, FieldMask, Struct, Timestamp, Value};
pub(crate) use request::*;
pub(crate) use response::*;
