//! The host side (feature `host`): load plugin libraries, check the handshake, and call
//! instances safely. All `unsafe` of the host lives here.

use std::ffi::{CStr, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ffi::{
    ABI_VERSION, Buf, ENTRY_SYMBOL, EntryFn, LogFn, STATUS_ERR, STATUS_OK, STATUS_PANIC,
    SignerVTable,
};
use crate::wire::{InstanceConfig, Request};

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginError {
    /// The shared library could not be opened.
    Open {
        /// The library file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library, or its folder, is not safe to run code from (others can change it).
    Unsafe {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The library has no `sigmirror_signer_entry_v1` symbol.
    NoEntry {
        /// The library file.
        path: PathBuf,
    },
    /// The plugin does not speak this host's ABI version.
    AbiMismatch {
        /// The library file.
        path: PathBuf,
        /// What the plugin reported (`None` when it refused the handshake with null).
        plugin_abi: Option<u32>,
    },
    /// The table is malformed (missing name, invalid UTF-8, too small).
    BadTable {
        /// The library file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The plugin returned an error.
    Call {
        /// Plugin name.
        plugin: String,
        /// The plugin's message.
        message: String,
    },
    /// The plugin panicked; the panic was caught inside the plugin.
    Panic {
        /// Plugin name.
        plugin: String,
        /// The panic message.
        message: String,
    },
    /// The plugin returned a status code this host does not know.
    UnknownStatus {
        /// Plugin name.
        plugin: String,
        /// The code.
        status: u32,
    },
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::Open { path, reason } => {
                write!(f, "cannot load plugin {}: {reason}", path.display())
            }
            PluginError::Unsafe { path, reason } => {
                write!(f, "refusing plugins from {}: {reason}", path.display())
            }
            PluginError::NoEntry { path } => write!(
                f,
                "{} is not a sigmirror signer plugin (no symbol sigmirror_signer_entry_v1)",
                path.display()
            ),
            PluginError::AbiMismatch {
                path,
                plugin_abi: Some(v),
            } => write!(
                f,
                "plugin {} speaks ABI version {v}, this sigmirror speaks {ABI_VERSION}",
                path.display()
            ),
            PluginError::AbiMismatch {
                path,
                plugin_abi: None,
            } => write!(
                f,
                "plugin {} does not support ABI version {ABI_VERSION}",
                path.display()
            ),
            PluginError::BadTable { path, reason } => {
                write!(
                    f,
                    "plugin {} has a malformed table: {reason}",
                    path.display()
                )
            }
            PluginError::Call { plugin, message } => write!(f, "{plugin} plugin: {message}"),
            PluginError::Panic { plugin, message } => {
                write!(f, "{plugin} plugin panicked: {message}")
            }
            PluginError::UnknownStatus { plugin, status } => {
                write!(f, "{plugin} plugin returned unknown status {status}")
            }
        }
    }
}

impl std::error::Error for PluginError {}

/// A loaded, handshake-checked plugin library. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

struct Loaded {
    path: PathBuf,
    name: String,
    version: String,
    schemes: Vec<String>,
    flags: u32,
    table: &'static SignerVTable,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.inner.path)
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("schemes", &self.inner.schemes)
            .finish()
    }
}

/// Reads a static NUL-terminated UTF-8 string from the table.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that lives as long as the library.
unsafe fn table_str(path: &Path, field: &str, ptr: *const c_char) -> Result<String, PluginError> {
    if ptr.is_null() {
        return Err(PluginError::BadTable {
            path: path.into(),
            reason: format!("{field} is null"),
        });
    }
    // SAFETY: guaranteed by the caller.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| PluginError::BadTable {
            path: path.into(),
            reason: format!("{field} is not UTF-8"),
        })
}

impl Plugin {
    /// Opens `path`, resolves the entry symbol and checks the ABI handshake.
    ///
    /// Loading a library runs its initialisers, so only call this on files from directories the
    /// user controls (the discovery rules of `docs/plugin-abi.md`). The library is never unloaded:
    /// a plugin may leave thread-local destructors or threads behind that would dangle.
    pub fn load(path: &Path) -> Result<Plugin, PluginError> {
        // SAFETY: loading runs the library's initialisers; the caller only passes files from the
        // plugin directories the user configured or owns (see the function documentation).
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| PluginError::Open {
            path: path.into(),
            reason: e.to_string(),
        })?;
        // SAFETY: the symbol, if present, has the `EntryFn` signature by the ABI contract.
        let entry: EntryFn = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) } {
            Ok(sym) => *sym,
            Err(_) => return Err(PluginError::NoEntry { path: path.into() }),
        };
        // Never unload (see above): the entry and the table now live for the whole process.
        std::mem::forget(lib);
        // SAFETY: `entry` follows the ABI: it takes the host version and returns a static table
        // or null; the library stays loaded forever.
        let table_ptr = unsafe { entry(ABI_VERSION) };
        if table_ptr.is_null() {
            return Err(PluginError::AbiMismatch {
                path: path.into(),
                plugin_abi: None,
            });
        }
        // SAFETY: non-null, points to the plugin's static table, alive for the process lifetime.
        // Reading `abi_version` and `struct_size` first is valid for any ABI version, since they
        // are the first two fields of every version.
        let table: &'static SignerVTable = unsafe { &*table_ptr };
        if table.abi_version != ABI_VERSION {
            return Err(PluginError::AbiMismatch {
                path: path.into(),
                plugin_abi: Some(table.abi_version),
            });
        }
        if table.struct_size < std::mem::size_of::<SignerVTable>() {
            return Err(PluginError::BadTable {
                path: path.into(),
                reason: format!(
                    "table is {} bytes, ABI {ABI_VERSION} needs {}",
                    table.struct_size,
                    std::mem::size_of::<SignerVTable>()
                ),
            });
        }
        // SAFETY: the table strings are static for the life of the (never unloaded) library.
        let (name, version, schemes) = unsafe {
            (
                table_str(path, "name", table.name)?,
                table_str(path, "version", table.version)?,
                table_str(path, "schemes", table.schemes)?,
            )
        };
        if name.is_empty() {
            return Err(PluginError::BadTable {
                path: path.into(),
                reason: "empty name".into(),
            });
        }
        let schemes = schemes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Plugin {
            inner: Arc::new(Loaded {
                path: path.into(),
                name,
                version,
                schemes,
                flags: table.flags,
                table,
            }),
        })
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.inner.version
    }
    /// The key-reference schemes it serves.
    pub fn schemes(&self) -> &[String] {
        &self.inner.schemes
    }
    /// The ABI version it speaks (always [`ABI_VERSION`] once loaded).
    pub fn abi_version(&self) -> u32 {
        self.inner.table.abi_version
    }
    /// Whether its instances need the key password.
    pub fn needs_password(&self) -> bool {
        self.inner.flags & crate::ffi::FLAG_NEEDS_PASSWORD != 0
    }

    /// Takes a plugin-owned buffer: copies the bytes out and frees it with the plugin's function.
    fn take_buf(&self, buf: Buf) -> Vec<u8> {
        let bytes = if buf.ptr.is_null() || buf.len == 0 {
            Vec::new()
        } else {
            // SAFETY: the plugin filled `buf` with `len` initialised bytes it owns.
            unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec()
        };
        // SAFETY: `buf` was produced by this plugin and is freed exactly once, by its own function.
        unsafe { (self.inner.table.free_buf)(buf) };
        bytes
    }

    /// Creates an instance for one key reference.
    pub fn instance(&self, config: &InstanceConfig) -> Result<Instance, PluginError> {
        let cfg =
            zeroize::Zeroizing::new(serde_json::to_vec(config).map_err(|e| PluginError::Call {
                plugin: self.name().into(),
                message: e.to_string(),
            })?);
        let mut err = Buf::empty();
        // SAFETY: `cfg` is valid for the call; `err` is a valid out-pointer; `log_to_tracing` is a
        // static function valid forever.
        let inst = unsafe {
            (self.inner.table.new_instance)(cfg.as_ptr(), cfg.len(), Some(log_to_stderr), &mut err)
        };
        let message = self.take_buf(err);
        if inst.is_null() {
            return Err(PluginError::Call {
                plugin: self.name().into(),
                message: if message.is_empty() {
                    "could not create an instance".into()
                } else {
                    String::from_utf8_lossy(&message).into_owned()
                },
            });
        }
        Ok(Instance {
            plugin: self.clone(),
            ptr: inst,
        })
    }
}

/// Default log callback: plugin messages go to stderr, prefixed, when `SIGMIRROR_PLUGIN_LOG` is set
/// (warnings always).
unsafe extern "C" fn log_to_stderr(level: u32, msg: *const u8, len: usize) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the plugin passes `len` readable bytes valid for the duration of this call.
    let bytes = unsafe { std::slice::from_raw_parts(msg, len) };
    let verbose = std::env::var_os("SIGMIRROR_PLUGIN_LOG").is_some();
    if level <= crate::ffi::log_level::WARN || verbose {
        eprintln!("plugin: {}", String::from_utf8_lossy(bytes));
    }
}

const _: LogFn = log_to_stderr;

/// One plugin instance (one key reference). Dropping it calls the plugin's `drop_instance`.
pub struct Instance {
    plugin: Plugin,
    ptr: *mut c_void,
}

// SAFETY: plugin instances are `Send + Sync` by the ABI contract (the export glue requires
// `SignerPlugin: Send + Sync`), and the pointer is only used through the plugin's functions.
unsafe impl Send for Instance {}
// SAFETY: as above; `call` takes the instance by shared pointer and the plugin type is `Sync`.
unsafe impl Sync for Instance {}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.plugin.name())
            .finish()
    }
}

impl Instance {
    /// The plugin this instance belongs to.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Sends one request and returns the JSON result bytes.
    pub fn call(&self, request: &Request) -> Result<Vec<u8>, PluginError> {
        let req = serde_json::to_vec(request).map_err(|e| PluginError::Call {
            plugin: self.plugin.name().into(),
            message: e.to_string(),
        })?;
        let mut out = Buf::empty();
        // SAFETY: `self.ptr` is a live instance of this plugin; `req` is valid for the call; `out`
        // is a valid out-pointer.
        let status =
            unsafe { (self.plugin.inner.table.call)(self.ptr, req.as_ptr(), req.len(), &mut out) };
        let bytes = self.plugin.take_buf(out);
        let plugin = self.plugin.name().to_owned();
        match status {
            STATUS_OK => Ok(bytes),
            STATUS_ERR => Err(PluginError::Call {
                plugin,
                message: String::from_utf8_lossy(&bytes).into(),
            }),
            STATUS_PANIC => Err(PluginError::Panic {
                plugin,
                message: String::from_utf8_lossy(&bytes).into(),
            }),
            status => Err(PluginError::UnknownStatus { plugin, status }),
        }
    }

    /// Sends one request and decodes the JSON result.
    pub fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        request: &Request,
    ) -> Result<T, PluginError> {
        let bytes = self.call(request)?;
        serde_json::from_slice(&bytes).map_err(|e| PluginError::Call {
            plugin: self.plugin.name().into(),
            message: format!("malformed result for {}: {e}", request.method.name()),
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: `self.ptr` came from this plugin's `new_instance` and is dropped exactly once.
        unsafe { (self.plugin.inner.table.drop_instance)(self.ptr) }
    }
}

/// The file name a plugin called `name` has on this platform, e.g. `libsigmirror_signer_file.so`.
pub fn library_file_name(name: &str) -> String {
    format!(
        "{}sigmirror_signer_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Whether a file name looks like a sigmirror signer plugin library.
pub fn is_plugin_file_name(file_name: &str) -> bool {
    let prefix = format!("{}sigmirror_signer_", std::env::consts::DLL_PREFIX);
    file_name.starts_with(&prefix) && file_name.ends_with(std::env::consts::DLL_SUFFIX)
}
