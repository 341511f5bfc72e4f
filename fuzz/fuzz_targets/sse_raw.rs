#![no_main]
//! Raw bytes into the SSE framer, cut where the first byte says.

use orchids2api_fuzz::{RAW_LIMIT, check_sse, cut_raw};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_sse(RAW_LIMIT, &cut_raw(data)));
