//! Library-level integration tests: the plugin loader against real plugin libraries.

mod loader;
