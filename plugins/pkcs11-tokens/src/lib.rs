//! PKCS#11 for sigmirror: RFC 7512 `pkcs11:` URIs ([`uri`]), loading a vendor module once per
//! process ([`module`]), and listing tokens and the URIs of their keys ([`list`]). Shared by the
//! `pkcs11` signer plugin (a `cdylib`, which cannot also be linked into the binary) and
//! `sigmirror pkcs11-tool`, so the URI grammar lives in one place.

mod error;
pub mod list;
pub mod module;
pub mod uri;

pub use error::{Error, Result};
pub use uri::Pkcs11Uri;
