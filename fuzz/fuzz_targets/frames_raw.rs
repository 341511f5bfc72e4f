#![no_main]
//! Raw bytes into the frame decoder with either header, cut where the first byte says.

use orchids2api::stream::frames::Prefix;
use orchids2api_fuzz::{RAW_LIMIT, check_frames, cut_raw};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for prefix in [Prefix::Envelope, Prefix::Varint] {
        check_frames(prefix, RAW_LIMIT, &cut_raw(data));
    }
});
