#![no_main]
//! Raw bytes as an Anthropic Messages request body.

use orchids2api_fuzz::requests::check_anthropic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_anthropic(data));
