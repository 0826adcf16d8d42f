//! cargo-fuzz binary for `gavel_fuzz_targets::decide_body` (see that crate).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gavel_fuzz_targets::decide_body(data));
