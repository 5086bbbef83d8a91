//! The mirror's operations called as a library, against the real registry: no binary involved.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod journey;
mod signed_store;
mod store_verify;
