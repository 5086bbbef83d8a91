//! The plugin host against real plugin libraries: discovery, the ABI handshake, refusals.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod loader;
