//! Library-level integration tests: the plugin loader against real plugin libraries.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod loader;
