#![no_main]
//! `cosign_bundle`: see `sigmirror_fuzzing::cosign_bundle`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("cosign_bundle", data));
