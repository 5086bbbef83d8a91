#![no_main]
//! `reference`: see `sigmirror_fuzzing::reference`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("reference", data));
