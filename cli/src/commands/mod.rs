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
pub mod serve;
pub mod shell;
pub mod source;
pub mod sync;
pub mod transfer;
pub mod trust;
pub mod verifier;
pub mod watch;

use anyhow::{Context, Result};
use sigmirror_cosign::keyref::KeyRef;
use sigmirror_cosign::keys::PublicKey;
use sigmirror_signer::{Discovery, PluginSigner};

use crate::password;

/// Opens a signer for `--key`, asking for the password only if its plugin needs one.
/// `stdin_busy` is set when stdin carries data (a blob read from `-`), so the password cannot
/// come from there.
pub fn open_signer(key: &str, stdin_busy: bool) -> Result<PluginSigner> {
    let key = KeyRef::parse(key)?;
    let mut from_stdin = None;
    let mut ask = || password_for(stdin_busy, &mut from_stdin);
    let opened = sigmirror_signer::open_signer(&Discovery::from_env(), &key, &mut ask);
    explain_failure(opened, from_stdin).with_context(|| format!("cannot open key {key}"))
}

/// Adds to a key that failed to open where its password came from, when that was stdin.
fn explain_failure<T, E>(result: std::result::Result<T, E>, from_stdin: Option<usize>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match (result, from_stdin) {
        (Ok(value), _) => Ok(value),
        (Err(e), Some(bytes)) => Err(anyhow::anyhow!(
            "{}; {}",
            crate::exit::message(&anyhow::Error::new(e)),
            password::stdin_hint(bytes)
        )),
        (Err(e), None) => Err(e.into()),
    }
}

/// The public key for verification: a PEM file or `env://` variable is read directly (no
/// plugin, no password); any other reference asks its plugin for the public half.
pub fn load_public_key(key: &str) -> Result<PublicKey> {
    let key = KeyRef::parse(key)?;
    let mut from_stdin = None;
    let mut ask = || password_for(false, &mut from_stdin);
    let loaded = sigmirror_signer::load_public_key(Discovery::from_env, &key, &mut ask);
    explain_failure(loaded, from_stdin).with_context(|| format!("cannot read public key {key}"))
}

/// The key password as cosign reads it, refused when it would have to come from a stdin that
/// carries the blob. `from_stdin` records the length of a password read from stdin.
fn password_for(
    stdin_busy: bool,
    from_stdin: &mut Option<usize>,
) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>> {
    if stdin_busy && password::would_read_stdin() {
        return Err(format!(
            "the blob is read from stdin, so the password cannot be: set {}",
            password::PASSWORD_ENV
        )
        .into());
    }
    let reads_stdin = password::would_read_stdin();
    let password = password::read_password(false)?;
    if reads_stdin {
        *from_stdin = Some(password.len());
    }
    Ok(password)
}
