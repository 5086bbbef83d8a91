//! The contract between sigmirror and its signer plugins.
//!
//! A signer plugin is a `cdylib` that exports one C symbol, `sigmirror_signer_entry_v1`, which
//! returns a static [`ffi::SignerVTable`]: the ABI version, the plugin's name and the key-reference
//! schemes it serves, and four functions (create an instance, call it, drop it, free a buffer).
//! Requests and results are JSON bytes ([`wire`]), so host and plugin need not share a compiler,
//! an allocator or a runtime. Every exported function catches panics; buffers are freed by the
//! side that allocated them; libraries are never unloaded. `docs/plugin-abi.md` is the normative
//! reference.
//!
//! A plugin implements [`export::SignerPlugin`] and exports it:
//!
//! ```
//! use sigmirror_plugin_abi::export::{Logger, SignerPlugin};
//! use sigmirror_plugin_abi::wire::{InstanceConfig, Method};
//!
//! struct Echo;
//! impl SignerPlugin for Echo {
//!     fn new(_config: InstanceConfig, _log: Logger) -> Result<Self, String> {
//!         Ok(Echo)
//!     }
//!     fn handle(&self, method: Method) -> Result<serde_json::Value, String> {
//!         Err(format!("{} is not supported", method.name()))
//!     }
//! }
//! sigmirror_plugin_abi::export_signer! { plugin: Echo, name: "echo", schemes: "echo", flags: 0 }
//! ```
//!
//! The host (feature `host`) loads it with `host::Plugin::load` and calls
//! `host::Instance::call`.

pub mod export;
pub mod ffi;
#[cfg(feature = "host")]
pub mod host;
pub mod wire;

pub use ffi::ABI_VERSION;
