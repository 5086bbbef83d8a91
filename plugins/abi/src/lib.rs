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
//! A backend implements [`p256_key::P256Key`] (open a key reference, give its public key, sign
//! a digest) and exports it; the request dispatch comes with the trait:
//!
//! ```
//! use sigmirror_plugin_abi::export::Logger;
//! use sigmirror_plugin_abi::p256_key::P256Key;
//! use sigmirror_plugin_abi::wire::InstanceConfig;
//!
//! struct Remote;
//! impl P256Key for Remote {
//!     fn open(_config: InstanceConfig, _log: Logger) -> Result<Self, String> {
//!         Ok(Remote)
//!     }
//!     fn public_key_pem(&self) -> Result<String, String> {
//!         Err("offline".into())
//!     }
//!     fn sign_digest(&self, _digest: &[u8; 32]) -> Result<Vec<u8>, String> {
//!         Err("offline".into())
//!     }
//! }
//! sigmirror_plugin_abi::export_signer! { plugin: Remote, name: "remote", schemes: "remote", flags: 0 }
//! ```
//!
//! A plugin that must answer requests its own way implements [`export::SignerPlugin`] instead
//! (the misbehaving test plugin does).
//!
//! The host (feature `host`) loads it with `host::Plugin::load` and calls
//! `host::Instance::call`.

pub mod export;
pub mod ffi;
#[cfg(feature = "host")]
pub mod host;
pub mod p256_key;
pub mod wire;

pub use ffi::ABI_VERSION;
