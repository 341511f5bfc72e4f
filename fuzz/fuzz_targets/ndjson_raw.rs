#![no_main]
//! Raw bytes into the NDJSON framer, cut where the first byte says.

use orchids2api_fuzz::{RAW_LIMIT, check_ndjson, cut_raw};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_ndjson(RAW_LIMIT, &cut_raw(data)));
