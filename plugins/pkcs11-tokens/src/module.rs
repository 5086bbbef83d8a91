//! Loading a PKCS#11 module once per process.

use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;

use crate::error::{Error, Result};

/// Modules loaded so far. `C_Initialize` may run only once per module and process, and nothing
/// is ever unloaded, so contexts are shared by every user and never finalized.
fn modules() -> &'static Mutex<Vec<(String, Pkcs11)>> {
    static MODULES: OnceLock<Mutex<Vec<(String, Pkcs11)>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(Vec::new()))
}

/// The initialized context of the module at `path`.
pub fn load_module(path: &str) -> Result<Pkcs11> {
    let module = |reason: String| Error::Module {
        path: path.to_owned(),
        reason,
    };
    let mut loaded = modules()
        .lock()
        .map_err(|_| module("internal lock poisoned".into()))?;
    if let Some((_, ctx)) = loaded.iter().find(|(p, _)| p == path) {
        return Ok(ctx.clone());
    }
    if !std::path::Path::new(path).is_file() {
        return Err(Error::ModuleMissing {
            path: path.to_owned(),
        });
    }
    let ctx = Pkcs11::new(path).map_err(|e| module(describe(&e)))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(module(format!("initialization failed: {}", describe(&e)))),
    }
    loaded.push((path.to_owned(), ctx.clone()));
    Ok(ctx)
}

/// A short description of a cryptoki error: the CKR_ name the user can look up first.
pub fn describe(e: &cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, function) => format!("{function} failed: {rv:?}"),
        other => other.to_string(),
    }
}
