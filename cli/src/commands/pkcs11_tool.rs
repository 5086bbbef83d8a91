//! `pkcs11-tool list-tokens` and `pkcs11-tool list-keys-uris`: find the `pkcs11:` URI of a key,
//! as `cosign pkcs11-tool` does.
//!
//! Listing a module's tokens is not a signer operation (the plugin ABI serves one key reference
//! per instance), so this uses `sigmirror_pkcs11` directly, the library the pkcs11 plugin is
//! built on: the URI grammar is the plugin's own. The vendor module is only opened when these
//! commands run; signing always goes through the plugin.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sigmirror_pkcs11::list::{key_uris, tokens};
use sigmirror_pkcs11::module::load_module;
use zeroize::Zeroizing;

/// Subcommands of `pkcs11-tool`.
#[derive(Debug, Subcommand)]
pub enum Pkcs11Tool {
    /// List the tokens a PKCS#11 module offers, with their slots.
    ListTokens(ListTokens),
    /// Print the pkcs11: URI of each key on the token in a slot.
    ListKeysUris(ListKeysUris),
}

impl Pkcs11Tool {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Pkcs11Tool::ListTokens(cmd) => cmd.run(),
            Pkcs11Tool::ListKeysUris(cmd) => cmd.run(),
        }
    }
}

// The PKCS#11 module, from the flag or `COSIGN_PKCS11_MODULE_PATH`.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct ModuleArg {
    /// Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so, ykcs11 or
    /// opensc-pkcs11.so).
    #[arg(long, env = "COSIGN_PKCS11_MODULE_PATH", value_name = "PATH")]
    module_path: String,
}

impl ModuleArg {
    fn open(&self) -> Result<cryptoki::context::Pkcs11> {
        Ok(load_module(&self.module_path)?)
    }
}

/// Arguments of `pkcs11-tool list-tokens`.
#[derive(Debug, Args)]
pub struct ListTokens {
    #[command(flatten)]
    module: ModuleArg,
}

impl ListTokens {
    /// Prints each token with its slot, label, manufacturer, model and serial number.
    pub fn run(self) -> Result<()> {
        let ctx = self.module.open()?;
        outln!(
            "Listing tokens of PKCS11 module '{}'",
            self.module.module_path
        )?;
        for token in tokens(&ctx)? {
            outln!("Token in slot {}", token.slot_id)?;
            outln!("\tLabel: {}", token.label)?;
            outln!("\tManufacturer: {}", token.manufacturer)?;
            outln!("\tModel: {}", token.model)?;
            outln!("\tS/N: {}", token.serial)?;
        }
        Ok(())
    }
}

/// Arguments of `pkcs11-tool list-keys-uris`.
#[derive(Debug, Args)]
pub struct ListKeysUris {
    #[command(flatten)]
    module: ModuleArg,
    /// Slot of the token (as `list-tokens` shows it).
    #[arg(long, value_name = "N")]
    slot_id: u64,
    /// User PIN, to list private keys (without one only public keys are visible). Also read
    /// from COSIGN_PKCS11_PIN. The PIN is never printed: add `pin-value=` or `pin-source=` to a
    /// URI yourself.
    #[arg(
        long,
        env = "COSIGN_PKCS11_PIN",
        hide_env_values = true,
        value_name = "PIN"
    )]
    pin: Option<String>,
}

impl ListKeysUris {
    /// Prints every private key (public keys without a PIN) with its URI.
    pub fn run(self) -> Result<()> {
        let ctx = self.module.open()?;
        let pin = self.pin.map(Zeroizing::new);
        let keys = key_uris(
            &ctx,
            &self.module.module_path,
            self.slot_id,
            pin.as_deref().map(String::as_str),
        )
        .with_context(|| format!("slot {}", self.slot_id))?;
        outln!(
            "Listing URIs of keys in slot '{}' of PKCS11 module '{}'",
            self.slot_id,
            self.module.module_path
        )?;
        for (n, key) in keys.iter().enumerate() {
            outln!("Object {n}")?;
            outln!("\tLabel: {}", key.label.as_deref().unwrap_or(""))?;
            outln!(
                "\tID: {}",
                key.id
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )?;
            outln!("\tURI: {}", key.uri)?;
        }
        Ok(())
    }
}
