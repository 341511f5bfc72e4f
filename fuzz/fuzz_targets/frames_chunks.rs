#![no_main]
//! Frames the fuzzer builds, encoded, cut where it chooses, and decoded back.

use orchids2api_fuzz::{Framed, check_frames_round_trip};

libfuzzer_sys::fuzz_target!(|input: Framed| check_frames_round_trip(&input));
