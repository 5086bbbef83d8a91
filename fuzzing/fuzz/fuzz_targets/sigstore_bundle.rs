#![no_main]
//! `sigstore_bundle`: see `sigmirror_fuzzing::sigstore_bundle`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("sigstore_bundle", data));
