#![no_main]
//! `pkcs11_uri`: see `sigmirror_fuzzing::pkcs11_uri`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("pkcs11_uri", data));
