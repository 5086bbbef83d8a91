#![no_main]
//! `trusted_root`: see `sigmirror_fuzzing::trusted_root`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("trusted_root", data));
