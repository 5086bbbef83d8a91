//! The signer-plugin host: finding the plugins ([`discovery`]) and opening a `--key` reference
//! through the one that serves its scheme ([`plugin_signer`]). Every signature sigmirror makes
//! goes through here, key files included (the file plugin).
//!
//! It is a crate of its own so that `sigmirror-cosign`, which the plugins themselves link for
//! key files, does not carry the plugin loader.

pub mod discovery;
mod error;
pub mod plugin_signer;

pub use discovery::Discovery;
pub use error::{Error, Result};
pub use plugin_signer::{PluginSigner, load_public_key, open_signer};
