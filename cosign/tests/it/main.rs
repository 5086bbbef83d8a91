//! Integration tests of sigmirror-cosign's public API (one binary, one module per concern).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod conformance;
mod mutations;
mod policy;
