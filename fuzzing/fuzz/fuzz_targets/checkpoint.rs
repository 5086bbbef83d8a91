#![no_main]
//! `checkpoint`: see `sigmirror_fuzzing::checkpoint`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("checkpoint", data));
