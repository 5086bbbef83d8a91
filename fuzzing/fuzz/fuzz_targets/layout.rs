#![no_main]
//! `layout`: see `sigmirror_fuzzing::layout`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("layout", data));
