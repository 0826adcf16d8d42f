//! cargo-fuzz binary for `gavel_fuzz_targets::envelope` (see that crate).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gavel_fuzz_targets::envelope(data));
