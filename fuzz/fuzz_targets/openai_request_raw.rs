#![no_main]
//! Raw bytes as an OpenAI Chat Completions request body.

use orchids2api_fuzz::requests::check_openai;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_openai(data));
