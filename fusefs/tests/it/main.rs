//! The path-to-node logic without mounting: a store built in the test, viewed through `Vfs`
//! (the real mounts are tested in the CLI's `fuse` tests).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod fixture;
mod hostile;
mod paths;
mod verification;
