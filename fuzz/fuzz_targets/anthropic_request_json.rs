#![no_main]
//! A valid JSON Anthropic Messages request the fuzzer builds field by field, odd types included.

use orchids2api_fuzz::requests::{AnthropicRequest, body, check_anthropic};

libfuzzer_sys::fuzz_target!(|request: AnthropicRequest| check_anthropic(&body(&request)));
