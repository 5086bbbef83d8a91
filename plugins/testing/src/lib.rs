//! A deliberately misbehaving signer plugin for the loader tests. Never shipped.
//!
//! Its behaviour is chosen by the key reference (`testing://MODE`):
//! `panic-on-new`, `error-on-new`, `panic-on-call`, `error-on-call`, `bad-result` (returns JSON
//! the host cannot decode), `ok` (answers `defaultAlgorithm`, and counts calls).
//!
//! The handshake can be broken too, by `SIGMIRROR_TESTING_ABI` at load time: `null` (refuse
//! the host's version), `wrong` (report ABI version 999), `small` (a truncated table).

use std::sync::atomic::{AtomicU64, Ordering};

use sigmirror_plugin_abi::export::{Logger, SignerPlugin};
use sigmirror_plugin_abi::ffi::SignerVTable;
use sigmirror_plugin_abi::wire::{InstanceConfig, Method};

/// One instance in a chosen mode.
struct Misbehaving {
    mode: String,
    calls: AtomicU64,
}

impl SignerPlugin for Misbehaving {
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let mode = config
            .key_ref
            .strip_prefix("testing://")
            .unwrap_or(&config.key_ref)
            .to_owned();
        log.info(&format!("testing plugin in mode {mode}"));
        match mode.as_str() {
            "panic-on-new" => panic!("deliberate panic in new_instance"),
            "error-on-new" => Err("deliberate error in new_instance".into()),
            _ => Ok(Misbehaving {
                mode,
                calls: AtomicU64::new(0),
            }),
        }
    }

    fn handle(&self, method: Method) -> Result<serde_json::Value, String> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        match (self.mode.as_str(), &method) {
            ("panic-on-call", _) if n == 0 => panic!("deliberate panic in call"),
            ("panic-on-call", _) => Ok(serde_json::json!({ "algorithm": "after-panic" })),
            ("error-on-call", _) => Err(format!("deliberate error in {}", method.name())),
            ("bad-result", _) => Ok(serde_json::json!(["not", "an", "object"])),
            (_, Method::DefaultAlgorithm) => {
                Ok(serde_json::json!({ "algorithm": format!("call-{n}") }))
            }
            _ => Err(format!(
                "{} is not supported by the testing plugin",
                method.name()
            )),
        }
    }
}

static GOOD: SignerVTable = sigmirror_plugin_abi::signer_vtable! {
    plugin: Misbehaving,
    name: "testing",
    schemes: "testing",
    flags: 0,
};

static BROKEN: std::sync::OnceLock<SignerVTable> = std::sync::OnceLock::new();

fn variant(abi_version: u32, struct_size: usize) -> SignerVTable {
    SignerVTable {
        abi_version,
        struct_size,
        name: GOOD.name,
        version: GOOD.version,
        schemes: GOOD.schemes,
        flags: GOOD.flags,
        new_instance: GOOD.new_instance,
        call: GOOD.call,
        drop_instance: GOOD.drop_instance,
        free_buf: GOOD.free_buf,
    }
}

/// Entry point, with the handshake broken on request (see the crate documentation).
///
/// # Safety
/// Callable from any thread; returns a pointer to a static table or null.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigmirror_signer_entry_v1(host_abi: u32) -> *const SignerVTable {
    match std::env::var("SIGMIRROR_TESTING_ABI").as_deref() {
        Ok("null") => std::ptr::null(),
        Ok("wrong") => BROKEN.get_or_init(|| variant(999, GOOD.struct_size)),
        Ok("small") => BROKEN.get_or_init(|| variant(host_abi, 8)),
        _ if host_abi != sigmirror_plugin_abi::ABI_VERSION => std::ptr::null(),
        _ => &GOOD,
    }
}
