//! `pkcs11-tool list-tokens` and `pkcs11-tool list-keys-uris`: find the `pkcs11:` URI of a key,
//! as `cosign pkcs11-tool` does.
//!
//! This links `cryptoki` into the CLI rather than going through the pkcs11 plugin: the plugin
//! ABI serves one key reference per instance, and listing a module's tokens is not a signer
//! operation. cryptoki is a thin binding with no system dependencies, and the vendor module is
//! only opened when these commands run. Signing itself always goes through the plugin.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
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

/// The PKCS#11 module, from the flag or `COSIGN_PKCS11_MODULE_PATH`.
#[derive(Debug, Args)]
pub struct ModuleArg {
    /// Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so, ykcs11 or
    /// opensc-pkcs11.so).
    #[arg(long, env = "COSIGN_PKCS11_MODULE_PATH", value_name = "PATH")]
    module_path: String,
}

impl ModuleArg {
    fn open(&self) -> Result<Pkcs11> {
        if !std::path::Path::new(&self.module_path).is_file() {
            bail!("PKCS#11 module {} does not exist", self.module_path);
        }
        let ctx = Pkcs11::new(&self.module_path)
            .with_context(|| format!("cannot load PKCS#11 module {}", self.module_path))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .with_context(|| format!("cannot initialize PKCS#11 module {}", self.module_path))?;
        Ok(ctx)
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
        println!(
            "Listing tokens of PKCS11 module '{}'",
            self.module.module_path
        );
        for slot in ctx
            .get_slots_with_token()
            .context("cannot list PKCS#11 slots")?
        {
            let info = ctx
                .get_token_info(slot)
                .with_context(|| format!("cannot read the token in slot {}", slot.id()))?;
            println!("Token in slot {}", slot.id());
            println!("\tLabel: {}", info.label().trim_end());
            println!("\tManufacturer: {}", info.manufacturer_id().trim_end());
            println!("\tModel: {}", info.model().trim_end());
            println!("\tS/N: {}", info.serial_number().trim_end());
        }
        let _ = ctx.finalize();
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

/// RFC 7512 percent-encoding of everything outside the unreserved characters.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// The label and id of a key object.
fn label_and_id(session: &Session, key: ObjectHandle) -> Result<(Option<String>, Vec<u8>)> {
    let mut label = None;
    let mut id = vec![];
    for attribute in session
        .get_attributes(key, &[AttributeType::Label, AttributeType::Id])
        .context("cannot read key attributes")?
    {
        match attribute {
            Attribute::Label(l) => label = Some(String::from_utf8_lossy(&l).into_owned()),
            Attribute::Id(i) => id = i,
            _ => {}
        }
    }
    Ok((label, id))
}

impl ListKeysUris {
    /// Prints every private key (public keys without a PIN) with its URI.
    pub fn run(self) -> Result<()> {
        let ctx = self.module.open()?;
        let slot = Slot::try_from(self.slot_id).context("invalid slot id")?;
        let info = ctx
            .get_token_info(slot)
            .with_context(|| format!("no token in slot {}", self.slot_id))?;
        let token = info.label().trim_end().to_owned();
        let session = ctx
            .open_ro_session(slot)
            .with_context(|| format!("cannot open a session on token {token:?}"))?;
        let class = match self.pin.as_deref().filter(|p| !p.is_empty()) {
            Some(pin) => {
                let pin = Zeroizing::new(pin.to_owned());
                session
                    .login(UserType::User, Some(&AuthPin::from(pin.as_str())))
                    .with_context(|| format!("cannot log in to token {token:?} (wrong PIN?)"))?;
                ObjectClass::PRIVATE_KEY
            }
            None => ObjectClass::PUBLIC_KEY,
        };
        let keys = session
            .find_objects(&[Attribute::Class(class)])
            .context("cannot search the token")?;
        println!(
            "Listing URIs of keys in slot '{}' of PKCS11 module '{}'",
            self.slot_id, self.module.module_path
        );
        for (n, key) in keys.into_iter().enumerate() {
            let (label, id) = label_and_id(&session, key)?;
            let mut uri = format!(
                "pkcs11:token={};slot-id={}",
                encode(token.as_bytes()),
                self.slot_id
            );
            if !id.is_empty() {
                uri.push_str(&format!(";id={}", encode(&id)));
            }
            if let Some(label) = &label {
                uri.push_str(&format!(";object={}", encode(label.as_bytes())));
            }
            let module = encode(self.module.module_path.as_bytes()).replace("%2f", "/");
            uri.push_str(&format!("?module-path={module}"));
            println!("Object {n}");
            println!("\tLabel: {}", label.as_deref().unwrap_or(""));
            println!(
                "\tID: {}",
                id.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            println!("\tURI: {uri}");
        }
        drop(session);
        let _ = ctx.finalize();
        Ok(())
    }
}
