#![no_main]
//! `manifest`: see `sigmirror_fuzzing::manifest`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("manifest", data));
