#![no_main]
//! `ecdsa_prepared`: see `sigmirror_fuzzing::ecdsa_prepared`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("ecdsa_prepared", data));
