//! Integration tests of the store, one module per behaviour.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod closure;
mod fixture;
mod gc;
mod index;
mod integrity;
mod lock;
mod source_sink;
