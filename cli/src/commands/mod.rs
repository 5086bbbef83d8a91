//! One module per group of commands; each takes its parsed arguments and does the work through
//! the libraries.

pub mod attach;
pub mod attest;
pub mod blob;
pub mod download;
pub mod image;
pub mod keys;
pub mod mirror;
pub mod mount;
pub mod pkcs11_tool;
pub mod plugins;
pub mod registry;
pub mod source;
pub mod transfer;

use anyhow::{Context, Result};
use sigmirror_core::keyref::KeyRef;
use sigmirror_core::keys::PublicKey;
use sigmirror_core::plugins::Discovery;
use sigmirror_core::signer::{PluginSigner, Signer as _};

use crate::password;

/// Opens a signer for `--key`, asking for the password only if its plugin needs one.
/// `stdin_busy` is set when stdin carries data (a blob read from `-`), so the password cannot
/// come from there.
pub fn open_signer(key: &str, stdin_busy: bool) -> Result<PluginSigner> {
    let key = KeyRef::parse(key)?;
    let discovery = Discovery::from_env();
    let plugin = discovery.for_key(&key)?;
    let password = if plugin.needs_password() {
        if stdin_busy && password::would_read_stdin() {
            anyhow::bail!(
                "the blob is read from stdin, so the password cannot be: set {}",
                password::PASSWORD_ENV
            );
        }
        Some(password::read_password(false)?)
    } else {
        None
    };
    PluginSigner::open(plugin, &key, password.as_deref().map(|p| p.as_slice()))
        .with_context(|| format!("cannot open key {key}"))
}

/// The public key for verification: a PEM file or `env://` variable is read directly (no
/// plugin, no password); any other reference asks its plugin for the public half.
pub fn load_public_key(key: &str) -> Result<PublicKey> {
    let key_ref = KeyRef::parse(key)?;
    match key_ref.scheme() {
        "file" | "env" => {
            let pem = sigmirror_core::keyref::read_key_material(&key_ref)?;
            PublicKey::from_pem(&pem).with_context(|| format!("cannot read public key {key_ref}"))
        }
        _ => Ok(open_signer(key, false)?.public_key()?),
    }
}
