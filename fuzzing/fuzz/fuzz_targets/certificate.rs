#![no_main]
//! `certificate`: see `sigmirror_fuzzing::certificate`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("certificate", data));
