#![no_main]
//! `keys`: see `sigmirror_fuzzing::keys`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("keys", data));
