#![no_main]
//! `dsse`: see `sigmirror_fuzzing::dsse`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("dsse", data));
