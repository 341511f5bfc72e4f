#![no_main]
//! Chunks the fuzzer builds one by one into the NDJSON framer, with a limit it picks.

use orchids2api_fuzz::{Chunked, check_ndjson};

libfuzzer_sys::fuzz_target!(|input: Chunked| check_ndjson(input.limit.into(), &input.chunks()));
