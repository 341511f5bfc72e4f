#![no_main]
//! Chunks the fuzzer builds one by one into the SSE framer, with a limit it picks.

use orchids2api_fuzz::{Chunked, check_sse};

libfuzzer_sys::fuzz_target!(|input: Chunked| check_sse(input.limit.into(), &input.chunks()));
