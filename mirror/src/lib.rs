//! The mirror's operations as library functions: [`pull`] (registry → store),
//! [`push`] (store → registry), [`load`] (layout → store),
//! [`save`] (registry or store → layout) and [`copy`] (registry →
//! registry). Options go in, progress comes out through a `Progress` the caller passes, and a
//! summary comes back; the binary only parses, calls and prints.
//!
//! This is where the async transfer engine meets the synchronous store: [`BlockingStore`]
//! moves the store's writes to tokio's blocking pool, and [`AnySource`] is what `--offline`
//! switches read-only commands to.

mod any_source;
pub mod audit;
mod error;
pub mod ops;
pub mod policy;
mod store_sink;
pub mod sync;
pub mod watch;

pub use any_source::AnySource;
pub use error::{Error, Result, full_message};
pub use ops::{Batch, CopyOptions, copy, load, load_to_registry, pull, push, save};
pub use store_sink::BlockingStore;
