#![no_main]
//! `plugin_wire`: see `sigmirror_fuzzing::plugin_wire`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sigmirror_fuzzing::run("plugin_wire", data));
