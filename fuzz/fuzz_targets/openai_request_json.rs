#![no_main]
//! A valid JSON OpenAI Chat Completions request the fuzzer builds field by field, odd types
//! included.

use orchids2api_fuzz::requests::{OpenAiRequest, body, check_openai};

libfuzzer_sys::fuzz_target!(|request: OpenAiRequest| check_openai(&body(&request)));
