#![no_main]
//! `payload`: see `sigmirror_fuzzing::payload`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("payload", data));
